"""A bad night loses nothing: kill -9 (or SIGTERM) in the middle of a build or a crawl.
(Runs under injected faults are in test_faults.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cac_filings.release import content_fingerprint
from tests.conftest import run_against, run_cli, start_replica

pytestmark = pytest.mark.replica

# The soak's kinds of fault but 429 (its Retry-After of 2 s is waited for,
# and the rate-limit test meets it), with stalls cut short by a short read timeout. The soak
# (make soak) runs the whole profile for 20 seeds.
QUICK_PROFILE = "503=0.12,timeout=0.03,reset=0.04,truncate=0.04,waf=0.04,empty=0.04"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cac_filings.cli", *args]


def wait_for(condition: object, process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():  # type: ignore[operator]
        assert process.poll() is None, f"the process ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within 60 s"
        time.sleep(0.005)


def test_kill_9_during_a_build_leaves_published_intact(clean: Path) -> None:
    published = os.readlink(clean / "published")
    fingerprint = content_fingerprint((clean / "published").resolve())
    build = subprocess.Popen(cli("build", "--data-dir", str(clean), "--quiet"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    releases = clean / "releases"
    wait_for(lambda: any(p.name.startswith(".tmp-") and (p / "cac_filings.db").exists()
                         for p in releases.iterdir()), build, "a release being written")
    build.send_signal(signal.SIGKILL)
    build.wait(timeout=10)
    assert os.readlink(clean / "published") == published
    assert content_fingerprint((clean / "published").resolve()) == fingerprint
    assert [p for p in releases.iterdir() if p.name.startswith(".tmp-")]  # the debris

    done = run_cli("build", "--data-dir", str(clean), "--quiet")
    assert done.returncode == 0, done.stderr
    assert os.readlink(clean / "published") != published
    assert not [p for p in releases.iterdir() if p.name.startswith(".tmp-")]
    assert content_fingerprint((clean / "published").resolve()) == fingerprint


def children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_build_killed_while_parsing_takes_its_workers_with_it(
        clean: Path, tmp_path: Path, sig: signal.Signals) -> None:
    """Parse workers die with the run and never keep the lock: the next run just works."""
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    scratch = tmp_path / "data"
    scratch.mkdir()
    os.symlink(clean / "raw", scratch / "raw")  # a cold parse cache: every file is parsed
    build = subprocess.Popen(cli("build", "--data-dir", str(scratch), "--quiet"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: len(children(build.pid)) >= 2, build, "two parse workers")
    workers = children(build.pid)
    build.send_signal(sig)
    _, stderr = build.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers):
        assert time.monotonic() < deadline, "a parse worker outlived its run"
        time.sleep(0.01)
    if sig == signal.SIGTERM:
        assert build.returncode == 143 and "interrupted by SIGTERM" in stderr, stderr
        record = json.loads((scratch / "runs.jsonl").read_text().splitlines()[-1])
        assert record["exit_code"] == 143
    # The next build, with the parse cache of the clean run (the killed one cached little):
    # what it shows is that nobody holds the lock, not how long parsing takes.
    shutil.copytree(clean / "cache", scratch / "cache", dirs_exist_ok=True)
    done = run_cli("build", "--data-dir", str(scratch), "--quiet")
    assert done.returncode == 0, done.stderr  # not 4: nobody holds the lock


def test_a_crawl_killed_halfway_resumes_without_fetching_again(
        tmp_path_factory: pytest.TempPathFactory, clean: Path) -> None:
    process, replica = start_replica(tmp_path_factory.mktemp("replica") / "requests.jsonl")
    try:
        data = tmp_path_factory.mktemp("killed")

        def downloads() -> list[str]:
            return [str(r["path"]) for r in replica.requests()
                    if "downloadfile.jsp" in str(r["path"]) or "fileDownLoad" in str(r["path"])]

        first = subprocess.Popen(
            cli("run", "--no-serve", "--quiet", "--data-dir", str(data), "--www-base",
                replica.www, "--beian-base", replica.beian, "--delay", "0.05"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        wait_for(lambda: len(downloads()) >= 5, first, "five downloads")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert not (data / "published").exists()

        logged = len(replica.requests())
        # The next run resumes the crawl and publishes. (With the clean run's parse cache: the
        # files are the same, and how long parsing takes is not what this is about.)
        shutil.copytree(clean / "cache", data / "cache")
        done = run_against(replica, data)
        assert done.returncode == 0, done.stderr
        assert content_fingerprint((data / "published").resolve()) == \
            content_fingerprint((clean / "published").resolve())
        # The second run's requests: from its first page on. A download the killed process
        # finished may be logged by the replica just after the kill; it is not the new run's.
        later = replica.requests()[logged:]
        first_page = next(i for i, r in enumerate(later) if "downloadfile.jsp" not in str(
            r["path"]) and "fileDownLoad" not in str(r["path"]))
        again = [str(r["path"]) for r in later[first_page:]
                 if "downloadfile.jsp" in str(r["path"]) or "fileDownLoad" in str(r["path"])]
        # (A record being rewritten at the kill is a .tmp file beside it: not a record.)
        record = json.loads(sorted((data / "raw" / "crawls").glob("*.json"))[0].read_text())
        # What the killed run archived and recorded, as the replica logs request paths.
        recorded = {b["attachment_url"].split(".cac.gov.cn", 1)[1]
                    for s in record["sources"].values() for b in s["batches"]}
        assert len(recorded) >= 4, "the killed crawl recorded what it had archived"
        assert not recorded & set(again), "a file archived before the kill was fetched again"
        assert len(again) == len(set(again))
        listed = json.loads(sorted((data / "raw" / "crawls").glob("*.json"))[-1].read_text())
        every = {b["attachment_url"].split(".cac.gov.cn", 1)[1]
                 for s in listed["sources"].values() for b in s["batches"]}
        assert recorded | set(again) == every  # together they are every attachment
    finally:
        process.terminate()
        process.wait(timeout=10)




# A SIGTERM before the command's guard is in place (as typer reads the options): the process
# has main()'s handler, which notes it; `cac-filings ARGS` is then started as the console
# script starts it.
EARLY_SIGTERM = """
import os, signal, sys
from cac_filings import cli
cli._hold_early()
os.kill(os.getpid(), signal.SIGTERM)
sys.argv = ["cac-filings", *sys.argv[1:]]
cli.main()
"""


def test_a_sigterm_before_the_guard_stops_the_run_with_a_line_and_a_record(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", EARLY_SIGTERM, "build", "--data-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 143, done.stderr
    assert "interrupted by SIGTERM" in done.stderr and "Traceback" not in done.stderr
    (record,) = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert (record["command"], record["status"], record["exit_code"]) == ("build", "failed", 143)


def test_a_sigterm_before_a_command_without_a_guard_ends_it_as_the_signal_would(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", EARLY_SIGTERM, "sources"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGTERM, (done.returncode, done.stderr)
    assert "cn_cac_algorithm" not in done.stdout  # it never ran
