"""Never lose a row silently, never wedge: per-batch loss gates, clean recovery from kills,
corrupt archives and deleted files, and failures that end in one line and a record."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cac_filings.lock import BusyError, data_dir_lock
from cac_filings.release import content_fingerprint
from tests.conftest import invoke
from tests.test_e2e_tiny_site import FAST_RETRIES, table
from tests.tinysite import BAIDU, DOUYIN, LONG, TinySite, serve_site


def run(site: TinySite, data: Path, *extra: str) -> tuple[int, str]:
    """One `cac-filings run` against the tiny site, in this process: (exit status, output)."""
    done = invoke("run", "--no-serve", "--data-dir", str(data), "--www-base", site.url,
                  "--beian-base", site.url, "--delay", "0", *extra,
                  env={**os.environ, **FAST_RETRIES})
    return done.exit_code, done.stdout + done.stderr


def current_batches(data: Path) -> dict[str, dict[str, object]]:
    return {b["batch_id"]: b for b in table(data, "batches") if b["is_current"]}


# ---------------------------------------------------------------- losses are never silent


def test_a_batch_whose_link_vanishes_stays_published_until_its_removal_is_accepted(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    before = content_fingerprint((data / "published").resolve())
    site.options.unlinked = True
    code, output = run(site, data)
    assert code == 5, output
    batch = current_batches(data)["algorithm/2022-10"]
    assert batch["is_linked"] is False
    assert {LONG} <= {f["filing_number"] for f in table(data, "filings")}
    (problem,) = table(data, "problems")
    assert (problem["stage"], problem["gate"]) == ("link", "batch_removed")
    assert "--accept batch_removed:algorithm/2022-10" in problem["reason"]
    after = content_fingerprint((data / "published").resolve())
    assert {k: v for k, v in after.items() if k != "batches"} == {
        k: v for k, v in before.items() if k != "batches"}  # only is_linked changed
    # A maintainer confirms CAC withdrew it: it goes, as a recorded removal.
    code, output = run(site, data, "--accept", "batch_removed:algorithm/2022-10",
                       "--accept-reason", "withdrawn by CAC", "--max-shrink", "0.5")
    assert code == 0, output
    assert "algorithm/2022-10" not in current_batches(data)
    removed = {c["filing_number"] for c in table(data, "changes") if c["change"] == "removed"}
    assert LONG in removed


def test_a_link_text_changed_to_click_here_loses_nothing(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    before = content_fingerprint((data / "published").resolve())
    site.options.click_here = True
    code, output = run(site, data)
    assert code == 0, output
    assert content_fingerprint((data / "published").resolve()) == before


def test_a_reupload_with_only_its_header_row_is_held_back(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.header_only = True
    code, output = run(site, data, "--refresh-attachments")
    assert code == 5, output
    (problem,) = table(data, "problems")
    assert (problem["batch_id"], problem["gate"]) == ("algorithm/2022-10", "batch_shrink")
    assert "the new version has 0 rows where the published one has 2" in problem["reason"]
    assert {LONG} <= {f["filing_number"] for f in table(data, "filings")}


def test_a_number_listed_again_under_another_company_is_flagged_and_said(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.company_changed = True
    code, output = run(site, data, "--refresh-attachments")
    assert code == 0, output
    douyin = next(f for f in table(data, "filings")
                  if (f["list_kind"], f["filing_number"]) == ("algorithm", DOUYIN))
    assert "company_changed" in json.loads(douyin["quality_flags"])
    assert (f"algorithm {DOUYIN}: company 北京抖音信息服务有限公司 → 北京某某网络技术有限公司"
            in output)
    baidu = next(f for f in table(data, "filings") if f["filing_number"] == BAIDU)
    assert "company_changed" not in json.loads(baidu["quality_flags"])


# ---------------------------------------------------------------- no wedge


def test_a_corrupt_archived_file_is_carried_forward_and_the_next_run_fetches_it_again(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    before = content_fingerprint((data / "published").resolve())
    filings = table(data, "filings")
    sha = next(b["file_sha256"] for b in table(data, "batches")
               if b["batch_id"] == "algorithm/2022-08")
    obj = data / "raw" / "objects" / sha[:2] / sha
    flipped = bytearray(obj.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01  # one bit, as a failing disk would
    obj.write_bytes(bytes(flipped))

    # The batch's published version cannot be read now: it is held back, and stays current
    # as the published release had it; the release is not refused for one file.
    built = invoke("build", "--data-dir", str(data))
    assert built.exit_code == 5, built.stdout + built.stderr
    assert "is corrupt (sha256 mismatch); the next `cac-filings run` downloads it again" \
        in built.stderr
    assert table(data, "filings") == filings
    (problem,) = [p for p in table(data, "problems") if p["batch_id"] == "algorithm/2022-08"]
    assert (problem["stage"], problem["severity"]) == ("archive", "held_back")

    code, output = run(site, data)  # no --refresh needed: the archive is checked
    # Fetched again, and said: a new warning (status 5 once), in the release's problems.
    assert code == 5, output
    assert f"archived file {sha} was corrupt" in output
    assert obj.read_bytes() != bytes(flipped)
    assert list((data / "raw" / "corrupt").iterdir())  # the bad copy, kept aside
    (warning,) = [p for p in table(data, "problems") if p["file_sha256"] == sha]
    assert (warning["batch_id"], warning["stage"], warning["severity"]) == (
        "raw archive", "archive", "warning")
    assert table(data, "filings") == filings  # the data as before the disk damage
    code, output = run(site, data)
    assert code == 0, output  # reported once
    assert content_fingerprint((data / "published").resolve()) == before


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / ".lock").write_text(json.dumps({"pid": int(dead.stdout), "command": "run"}))
    # A leftover worker of that run (it inherited the lock) still holds it.
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDWR)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('held', flush=True)\ntime.sleep(60)", str(tmp_path / ".lock"),
         "cac_filings-worker"], stdout=subprocess.PIPE, text=True)
    try:
        assert leftover.stdout is not None and leftover.stdout.readline() == "held\n"
        with data_dir_lock(tmp_path, "run") as stopped:
            assert stopped == [leftover.pid]
        assert leftover.wait(timeout=5) == -signal.SIGKILL
    finally:
        leftover.kill()


def test_a_live_holder_is_never_taken_over(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, json, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
         "os.write(fd, json.dumps({'pid': os.getpid()}).encode())\n"
         "print('held', flush=True)\ntime.sleep(60)", str(tmp_path / ".lock"),
         "cac_filings-run"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(BusyError, match=f"PID {holder.pid}"), \
                data_dir_lock(tmp_path, "run"):
            pass
        assert holder.poll() is None
    finally:
        holder.kill()


# ---------------------------------------------------------------- one line and a record


def last_run(data: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(
        (data / "runs.jsonl").read_text().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(("code", "says"), [(errno.EROFS, "the file system is read-only"),
                                            (errno.ENOSPC, "the disk is full")])
def test_a_data_folder_that_cannot_be_written_is_one_line_and_status_6(
        published_site: tuple[TinySite, Path], monkeypatch: pytest.MonkeyPatch, code: int,
        says: str) -> None:
    site, data = published_site
    published_id = os.readlink(data / "published")
    from cac_filings import archive

    def refuse(path: Path, payload: bytes, **_: object) -> None:
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(archive, "write_atomic", refuse)
    status, output = run(site, data, "--refresh-attachments")
    assert status == 6
    errors = [line for line in output.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and says in errors[0] and "Traceback" not in output
    assert "nothing already published was touched" in errors[0]
    assert os.readlink(data / "published") == published_id
    record = last_run(data)
    assert record["exit_code"] == 6 and says in str(record["error"])


def test_sigterm_ends_a_run_with_one_line_status_143_and_a_record(tmp_path: Path) -> None:
    with serve_site() as site:
        site.options.slow_downloads = 3.0  # the run is in the middle of a download
        process = subprocess.Popen(
            [sys.executable, "-m", "cac_filings.cli", "run", "--no-serve", "--data-dir",
             str(tmp_path), "--www-base", site.url, "--beian-base", site.url, "--delay", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not any("downloadfile.jsp" in path for path in site.paths()):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 143
    assert "interrupted by SIGTERM" in stderr and "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if "ERROR" in line] == [
        next(line for line in stderr.splitlines() if "interrupted by SIGTERM" in line)]
    record = last_run(tmp_path)
    assert record["exit_code"] == 143 and record["status"] == "failed"
    with serve_site() as site:  # and the next run works, with no clean-up
        code, output = run(site, tmp_path)
        assert code == 0, output
