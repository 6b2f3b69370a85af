"""Gates after review: every new file version is judged whichever crawl fetched it, per list
of a batch; a version published once never vanishes; a retired source's batches can be
accepted away; statements and thresholds count as new; warnings fail a run once; an
unexpected error is one line, a documented status and a runs.jsonl record."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import apsw
import pytest

from cac_filings.archive import RawArchive
from cac_filings.build import Acceptance, _Previous, build_tables, choose_versions
from cac_filings.build.rows import FileCheck, ParsedFile
from cac_filings.build.select import select_batches
from cac_filings.config import Settings
from cac_filings.errors import InvariantError
from cac_filings.release import build_release, published_manifest
from cac_filings.sources import Source, load_sources
from tests.conftest import invoke
from tests.test_build import algo_docx, crawl, douyin, entry
from tests.test_e2e_tiny_site import table
from tests.test_no_wedge import last_run, run
from tests.tinysite import BAIDU, DS_C, KUAISHOU, TinySite


@pytest.fixture
def sources() -> list[Source]:
    return load_sources()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:  # as tests/test_build.py's
    return Settings(data_dir=tmp_path)


def baidu() -> tuple[str, ...]:
    return ("2", "百度搜索算法", "检索过滤类", "北京百度网讯科技有限公司", "百度（APP）", "搜索。",
            BAIDU, "")


def versions(settings: Settings) -> list[tuple[int, bool, int]]:
    from cac_filings.schema import BATCHES
    from cac_filings.store import load_rows

    return [(b["version"], b["is_current"], b["row_count"])
            for b in load_rows(settings.published.resolve(), BATCHES)]


# ---------------------------------------------------------------- (2) every new sha is judged


def test_a_version_a_failed_crawl_fetched_goes_through_the_shrink_gate(
        settings: Settings, sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(douyin(), baidu()),
                                         "2023-07-01T10:00:00Z")])
    build_release(settings, sources)
    # A crawl that failed half-way had already fetched a re-upload with one row of two.
    shrunk = entry(archive, "2022-08", algo_docx(douyin()), "2023-07-02T10:00:00Z")
    crawl(archive, "20230702T10", [shrunk], status="failed")
    result, _ = build_release(settings, sources)
    assert versions(settings) == [(1, True, 2)]  # not published, not even as history
    assert any("v2 (no longer served by the site) is not published: the new version has 1 "
               "rows where the published one has 2" in w for w in result.warnings)
    # The next good crawl finds the site serving it: held back, v1 stays current.
    crawl(archive, "20230703T10", [shrunk | {"fetched_at": "2023-07-03T10:00:00Z"}])
    result, _ = build_release(settings, sources)
    assert [(p.version, p.gate, p.severity) for p in result.problems] == [
        (2, "batch_shrink", "held_back")]
    assert versions(settings) == [(1, True, 2)]


def test_a_file_published_for_one_batch_is_judged_again_for_another(
        settings: Settings, sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    twice = algo_docx(douyin(), ("2", *douyin()[1:]))
    crawl(archive, "20230701T10", [entry(archive, "2022-08", twice, "2023-07-01T10:00:00Z")])
    build_release(settings, sources, acceptance=Acceptance(
        frozenset({"no_duplicate_in_batch:algorithm/2022-08"}), "listed twice by CAC"))
    crawl(archive, "20230801T10", [
        entry(archive, "2022-08", twice, "2023-07-01T10:00:00Z"),
        entry(archive, "2022-10", twice, "2023-08-01T10:00:00Z")])
    result, _ = build_release(settings, sources)
    assert [(p.batch_id, p.gate) for p in result.held_back] == [
        ("algorithm/2022-10", "no_duplicate_in_batch")]
    assert [b["batch_id"] for b in result.tables["batches"]] == ["algorithm/2022-08"]


# ---------------------------------------------------------------- (11) shrink per list kind


def test_the_shrink_gate_is_per_list_of_a_batch(settings: Settings,
                                                 sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(douyin()),
                                         "2023-07-01T10:00:00Z")])
    crawl(archive, "20230801T10", [entry(archive, "2022-08", algo_docx(douyin(), baidu()),
                                         "2023-08-01T10:00:00Z")])
    selection = select_batches(archive, sources)
    (batch,) = selection.batches
    old, new = batch.versions
    previous = _Previous(
        shas={old.sha256}, current={batch.batch_id: old.sha256},
        rows={(batch.batch_id, old.sha256): 100}, first_seen={},
        rows_by_kind={(batch.batch_id, old.sha256): {"genai_filing": 90,
                                                     "genai_registration": 10}})

    def judged(kinds: dict[str, int]) -> list[tuple[str | None, str]]:
        total = sum(kinds.values())
        check = FileCheck(tables=2, physical_rows=total, source_rows=total, data_rows=total,
                          kinds=kinds)
        parsed: dict[tuple[str, str], ParsedFile | str] = {
            (batch.source, old.sha256): ParsedFile([], FileCheck()),
            (batch.source, new.sha256): ParsedFile([], check)}
        choice = choose_versions(selection, parsed, previous, Acceptance(), 0.1)
        return [(p.gate, p.reason) for p in choice.problems]

    # 5% fewer rows in all, but the 登记 list lost every row: held back, that list named.
    ((gate, reason),) = judged({"genai_filing": 95, "genai_registration": 0})
    assert gate == "batch_shrink"
    assert "0 genai_registration rows where the published one has 10" in reason
    assert "genai_filing" not in reason
    assert judged({"genai_filing": 90, "genai_registration": 10}) == []
    assert judged({"genai_filing": 95, "genai_registration": 9}) == []


def test_a_release_records_each_files_rows_per_list_kind(settings: Settings,
                                                         sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(douyin(), baidu()),
                                         "2023-07-01T10:00:00Z")])
    result = build_tables(archive, sources, workers=1)
    assert [i["rows_by_kind"] for i in result.inputs] == [{"algorithm": 2}]


# ---------------------------------------------------------------- (4) never silently gone


def test_an_older_version_that_cannot_be_read_now_is_carried_forward(
        settings: Settings, sources: list[Source]) -> None:
    from cac_filings.schema import LISTINGS
    from cac_filings.store import load_rows

    archive = RawArchive(settings.raw_dir)
    first = entry(archive, "2022-08", algo_docx(douyin()), "2023-07-01T10:00:00Z")
    crawl(archive, "20230701T10", [first])
    crawl(archive, "20240105T10", [entry(archive, "2022-08", algo_docx(douyin("更新"), baidu()),
                                         "2024-01-05T10:00:00Z")])
    build_release(settings, sources)
    published = load_rows(settings.published.resolve(), LISTINGS)
    obj = settings.raw_dir / "objects" / first["file_sha256"][:2] / first["file_sha256"]
    flipped = bytearray(obj.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01  # a failing disk
    obj.write_bytes(bytes(flipped))

    result, release = build_release(settings, sources)
    assert release.published
    assert versions(settings) == [(1, False, 1), (2, True, 2)]
    assert load_rows(settings.published.resolve(), LISTINGS) == published
    (problem,) = result.problems
    assert (problem.version, problem.stage, problem.severity) == (1, "archive", "warning")
    assert "carried forward as release" in problem.reason
    # Carried forward again by the next build, from the release that carried it.
    result, _ = build_release(settings, sources)
    assert versions(settings) == [(1, False, 1), (2, True, 2)]
    assert result.new_warnings == []  # said once: no exit 5 for it on every run


# ---------------------------------------------------------------- (8) a retired source


def test_a_retired_sources_batches_refuse_the_release_until_their_removal_is_accepted(
        published_site: tuple[TinySite, Path]) -> None:
    _, data = published_site
    settings = Settings(data_dir=data)
    kept = [s for s in load_sources() if s.spec.name != "cn_cac_deep_synthesis"]
    with pytest.raises(InvariantError) as refused:
        build_release(settings, kept)
    assert "published_batches_kept: deep_synthesis/2023-06 was published" in str(refused.value)
    assert ("its source cn_cac_deep_synthesis is no longer in scrapers/ (if it was removed on "
            "purpose, rerun with --accept batch_removed:deep_synthesis/2023-06)"
            in str(refused.value))
    accept = frozenset({"batch_removed:deep_synthesis/2023-06",
                        "batch_removed:deep_synthesis/2023-08", "no_large_drop"})
    result, release = build_release(settings, kept, acceptance=Acceptance(accept, "retired"))
    assert release.published
    assert [a["batch_id"] for a in result.accepted] == ["deep_synthesis/2023-06",
                                                        "deep_synthesis/2023-08"]
    assert not any(b.startswith("deep_synthesis/") for b in
                   (b["batch_id"] for b in result.tables["batches"]))
    assert [p.gate for p in result.problems] == []


# ---------------------------------------------------------------- (7), (10) new to publish


def test_a_changed_statement_is_new(published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.vague_statement = True
    code, output = run(site, data)
    assert "nothing new" not in output
    assert code == 5, output
    assert [p["stage"] for p in table(data, "problems")] == ["statement"]
    manifest = published_manifest(Settings(data_dir=data))
    assert manifest is not None
    assert any(c.get("statement_url", "").endswith("htm") for c in manifest["candidates"])


def test_a_threshold_given_when_nothing_is_new_takes_effect(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.shrink = True
    code, output = run(site, data, "--refresh-attachments")
    assert code == 5 and "gate batch_shrink" in output
    code, output = run(site, data, "--max-batch-shrink", "0.6", "--max-shrink", "0.6")
    assert code == 0, output
    assert "nothing new" not in output
    assert DS_C in {f["filing_number"] for f in table(data, "filings")}
    assert table(data, "problems") == []
    code, output = run(site, data, "--max-batch-shrink", "0.6", "--max-shrink", "0.6")
    assert code == 0 and "nothing new" in output


# ---------------------------------------------------------------- (18) warnings fail once


def test_a_warning_that_stays_fails_only_the_run_that_found_it(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.extra_header = True  # an unknown column: a warning until it is mapped
    code, output = run(site, data, "--refresh-attachments")
    assert code == 5, output
    assert last_run(data)["new_warnings"]
    code, output = run(site, data)
    assert code == 0 and "nothing new" in output, output
    site.options.third_attachment = True  # something new: built, the warning still listed
    code, output = run(site, data)
    assert code == 0, output
    assert [p["stage"] for p in table(data, "problems")] == ["extract"]
    assert KUAISHOU in {f["filing_number"] for f in table(data, "filings")}


def test_a_held_back_batch_keeps_failing(published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.shrink = True
    assert run(site, data, "--refresh-attachments")[0] == 5
    code, output = run(site, data)
    assert code == 5 and "nothing new" in output


# ---------------------------------------------------------------- (5) one line and a record


def test_an_unexpected_error_is_one_line_status_70_and_a_record(
        published_site: tuple[TinySite, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, data = published_site
    from cac_filings import release

    def broken(*_: object, **__: object) -> None:
        raise KeyError("listings")

    monkeypatch.setattr(release, "add_history", broken)
    done = invoke("build", "--data-dir", str(data))
    assert done.exit_code == 70
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "internal error: KeyError: 'listings'" in errors[0]
    assert "Traceback" not in done.stderr + done.stdout
    record = last_run(data)
    assert (record["status"], record["exit_code"]) == ("internal-error", 70)
    assert "KeyError" in str(record["error"])
    shown = invoke("build", "--data-dir", str(data), env={**os.environ,
                                                          "CAC_FILINGS_DEBUG": "1"})
    assert shown.exit_code == 70 and "Traceback" in shown.stderr


@pytest.mark.parametrize("error", [apsw.FullError("database or disk is full"),
                                   sqlite3.OperationalError("database or disk is full")],
                         ids=["apsw", "sqlite3"])
def test_sqlite_finding_the_disk_full_is_status_6(
        published_site: tuple[TinySite, Path], monkeypatch: pytest.MonkeyPatch,
        error: Exception) -> None:
    _, data = published_site
    published = os.readlink(data / "published")
    from cac_filings import release

    def full(*_: object, **__: object) -> None:
        raise error

    monkeypatch.setattr(release, "can_fork", lambda: False)
    monkeypatch.setattr(release, "write_sqlite", full)
    done = invoke("build", "--data-dir", str(data))
    assert done.exit_code == 6
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "the disk is full" in errors[0]
    assert "Traceback" not in done.stderr
    assert os.readlink(data / "published") == published
    assert last_run(data)["exit_code"] == 6


def test_the_sqlite_writers_process_reporting_a_full_disk_names_the_file() -> None:
    from cac_filings.cli import _as_os_error

    found = _as_os_error(RuntimeError(
        "writing /srv/data/releases/.tmp-1/cac_filings.db failed: sqlite3.OperationalError: "
        "database or disk is full"))
    assert found is not None and found.filename == "/srv/data/releases/.tmp-1/cac_filings.db"
    read_only = _as_os_error(RuntimeError(
        "writing /srv/data/releases/.tmp-1/cac_filings.db failed: apsw.ReadOnlyError: "
        "attempt to write a readonly database"))
    assert read_only is not None and read_only.errno == errno.EROFS
    assert read_only.filename == "/srv/data/releases/.tmp-1/cac_filings.db"
    assert _as_os_error(RuntimeError("something else")) is None


def test_a_file_that_cannot_be_read_is_said_as_a_read() -> None:
    from cac_filings.cli import _cannot_write
    from cac_filings.config import Settings

    settings = Settings(data_dir=Path("/data"))
    gone = _cannot_write(settings, FileNotFoundError(errno.ENOENT, "No such file or directory",
                                                     "/data/raw/objects/ab/abc"))
    assert str(gone).startswith("cannot read /data/raw/objects/ab/abc: No such file")
    full = _cannot_write(settings, OSError(errno.ENOSPC, "No space left on device", "/data/x"))
    assert str(full).startswith("cannot write to /data/x: the disk is full")
