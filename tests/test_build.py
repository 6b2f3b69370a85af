"""The build and release stages on hand-made archives: versions, header mapping, the
contract's invariants, and what schema.py generates (Parquet, SQLite, Datasette metadata)."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cac_filings import documents
from cac_filings.archive import RawArchive
from cac_filings.build import Acceptance, BuildResult, build_tables
from cac_filings.build.rows import ParsedFile
from cac_filings.config import Settings
from cac_filings.errors import ArchiveError, InvariantError
from cac_filings.metadata import datasette_metadata
from cac_filings.release import build_release, check_invariants, write_release
from cac_filings.schema import TABLES
from cac_filings.search import fts_query
from cac_filings.sources import Source, load_sources
from tests.conftest import run_cli
from tests.docx_fixtures import Table, make_docx, row
from tests.tinysite import ALGO_HEADER, BAIDU, DOUYIN, DS_A, DS_HEADER, KUAISHOU

ALGO_URL = "https://www.cac.gov.cn/2022-08/12/c_1661927474338504.htm"


def algo_docx(*rows: tuple[str, ...], header: tuple[str, ...] = ALGO_HEADER) -> bytes:
    return make_docx([Table((row(*header, header=True), *(row(*r) for r in rows)))])


def douyin(remarks: str = "", number: str = DOUYIN) -> tuple[str, ...]:
    return ("1", "抖音推荐算法", "个性化推送类", "北京抖音信息服务有限公司", "抖音（APP）",
            "应用于信息推荐场景。", number, remarks)


def entry(archive: RawArchive, period: str, body: bytes, fetched_at: str, *,
          kind: str = "algorithm", source: str = "cn_cac_algorithm") -> dict[str, Any]:
    """A crawl-record entry for one attachment, its bytes put into the archive."""
    sha = archive.put(body)
    return {
        "source": source, "list_kind": kind, "batch_id": f"{kind}/{period}", "period": period,
        "batch_no": None, "title": f"清单（{period}）", "announcement_url": ALGO_URL,
        "announcement_title": "公告", "published_on": "2022-08-12",
        "published_on_precision": "day",
        "attachment_url": f"https://www.cac.gov.cn/cms/pub/interact/downloadfile.jsp?f={period}",
        "file_sha256": sha, "file_format": "docx", "file_size": len(body),
        "fetched_at": fetched_at, "downloaded": True,
    }


def crawl(archive: RawArchive, crawl_id: str, entries: list[dict[str, Any]], *,
          status: str = "ok", source: str = "cn_cac_algorithm") -> None:
    archive.save_crawl({
        "crawl_id": crawl_id, "started_at": f"{crawl_id[:4]}-{crawl_id[4:6]}-{crawl_id[6:8]}"
                                            f"T{crawl_id[9:11]}:00:00Z",
        "status": "complete" if status == "ok" else "failed",
        "sources": {source: {"status": status, "batches": entries}},
    })


@pytest.fixture
def sources() -> list[Source]:
    return load_sources()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def test_an_edited_reupload_is_a_new_version(settings: Settings,
                                             sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    old = algo_docx(douyin())
    new = algo_docx(douyin("2023年8月更新应用产品"), ("2", "百度搜索算法", "检索过滤类",
                                                     "北京百度网讯科技有限公司", "百度（APP）",
                                                     "搜索。", BAIDU, ""))
    crawl(archive, "20230701T10", [entry(archive, "2022-08", old, "2023-07-01T10:00:00Z")])
    crawl(archive, "20240105T10", [entry(archive, "2022-08", new, "2024-01-05T10:00:00Z")])
    result = build_tables(archive, sources, workers=1)

    versions = [(b["version"], b["is_current"], b["row_count"]) for b in result.tables["batches"]]
    assert versions == [(1, False, 1), (2, True, 2)]
    assert [(r["version"], r["row_number"]) for r in result.tables["listings"]] == [
        (1, 1), (2, 1), (2, 2)]
    filings = {f["filing_number"]: f for f in result.tables["filings"]}
    assert set(filings) == {DOUYIN, BAIDU}
    assert filings[DOUYIN]["remarks"] == "2023年8月更新应用产品"  # the current version wins
    assert result.tables["batches"][0]["fetched_at"] == "2023-07-01T10:00:00Z"


def test_companies_come_from_the_current_version_only(settings: Settings,
                                                      sources: list[Source]) -> None:
    # v1 said the company was renamed; the re-upload took that back. Only v2 counts.
    archive = RawArchive(settings.raw_dir)
    renamed = douyin("原主体名称“北京微播视界科技有限公司”变更为“北京抖音信息服务有限公司”")
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(renamed),
                                         "2023-07-01T10:00:00Z")])
    crawl(archive, "20240105T10", [entry(archive, "2022-08", algo_docx(douyin()),
                                         "2024-01-05T10:00:00Z")])
    result = build_tables(archive, sources, workers=1)
    (company,) = result.tables["companies"]
    assert company["company"] == "北京抖音信息服务有限公司"
    assert json.loads(company["former_names"]) == []


def test_a_file_that_two_batches_list_is_listed_by_each(settings: Settings,
                                                       sources: list[Source]) -> None:
    # One file, parsed once: its rows become the first batch's listings, and the second
    # batch's are copies of them (a row is never shared by two listings).
    archive = RawArchive(settings.raw_dir)
    body = algo_docx(douyin())
    crawl(archive, "20230701T10", [entry(archive, period, body, "2023-07-01T10:00:00Z")
                                   for period in ("2022-08", "2022-10")])
    for workers in (1, 2):
        listings = build_tables(archive, sources, workers=workers).tables["listings"]
        assert [(r["batch_id"], r["version"], r["filing_number"]) for r in listings] == [
            ("algorithm/2022-08", 1, DOUYIN), ("algorithm/2022-10", 1, DOUYIN)]
        assert listings[0] is not listings[1]


def test_a_failed_crawl_does_not_decide_what_is_listed(settings: Settings,
                                                       sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    first = entry(archive, "2022-08", algo_docx(douyin()), "2023-07-01T10:00:00Z")
    crawl(archive, "20230701T10", [first])
    crawl(archive, "20230702T10", [], status="failed")
    result = build_tables(archive, sources, workers=1)
    assert [b["batch_id"] for b in result.tables["batches"]] == ["algorithm/2022-08"]
    assert result.crawl_ids == {"cn_cac_algorithm": "20230701T10"}


def test_parallel_and_serial_builds_agree(settings: Settings, sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    crawl(archive, "20230701T10", [
        entry(archive, "2022-08", algo_docx(douyin()), "2023-07-01T10:00:00Z"),
        entry(archive, "2022-10", algo_docx(douyin(number=KUAISHOU)), "2023-07-01T10:00:01Z"),
    ])
    serial = build_tables(archive, sources, workers=1)
    parallel = build_tables(archive, sources, workers=2)
    assert serial.tables == parallel.tables


def test_a_build_and_the_next_one_never_import_pandas(settings: Settings) -> None:
    # pyarrow imports pandas, when it is installed, behind some innocent calls (pa.scalar,
    # Schema.empty_table, pq.read_table); that import costs a fifth of a whole build.
    archive = RawArchive(settings.raw_dir)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(douyin()),
                                         "2023-07-01T10:00:00Z")])
    script = (
        "import sys\n"
        "from cac_filings.cli import app\n"
        "for _ in range(2):\n"
        "    try:\n"
        f"        app(['build', '--data-dir', {str(settings.data_dir)!r}, '--quiet'])\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, exc.code\n"
        "print('pandas' in sys.modules)\n"
        # The process can still use pandas through pyarrow (store.py kept pyarrow from
        # importing it, not from using it).
        "import pandas, pyarrow as pa, pyarrow.parquet as pq\n"
        f"frame = pq.read_table({str(settings.published / 'filings.parquet')!r}).to_pandas()\n"
        "print(len(frame), pa.array(pandas.Series(['抖音', None])).to_pylist())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-2:] == ["False", "1 ['抖音', None]"]
    assert len(list(settings.releases_dir.iterdir())) == 2


def test_no_crawl_at_all_says_what_to_do(settings: Settings, sources: list[Source]) -> None:
    with pytest.raises(ArchiveError, match="cac-filings crawl"):
        build_tables(RawArchive(settings.raw_dir), sources)
    done = run_cli("build", "--data-dir", str(settings.data_dir))
    assert done.returncode == 3 and "no successful crawl" in done.stderr


@pytest.mark.parametrize(("header", "warning", "held_back"), [
    # A column no spec names: the table is read, the cells stay in raw, a maintainer is told.
    ((*ALGO_HEADER[:-1], "备注说明"), "unknown column '备注说明'", None),
    (ALGO_HEADER[:4] + ALGO_HEADER[5:], None, None),  # no 应用产品: optional, still builds
    # No 备案编号: the table's required fields cannot be found, the batch is held back.
    (tuple(h for h in ALGO_HEADER if h != "备案编号"), None,
     "no column for required field 'filing_number'"),
])
def test_headers_map_by_meaning(settings: Settings, sources: list[Source],
                                header: tuple[str, ...], warning: str | None,
                                held_back: str | None) -> None:
    archive = RawArchive(settings.raw_dir)
    cells = dict(zip(ALGO_HEADER, douyin("备注一"), strict=True))
    body = algo_docx(tuple(cells.get(h, "x") for h in header), header=header)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", body, "2023-07-01T10:00:00Z")])
    result = build_tables(archive, sources, workers=1)
    if held_back is None:
        (row,) = result.tables["listings"]
        assert json.loads(row["raw"])[header[-1]] == cells.get(header[-1], "x")
        assert ("unknown_column" in json.loads(row["quality_flags"])) == (warning is not None)
        assert [p.reason for p in result.problems if warning and warning in p.reason] == (
            [result.problems[0].reason] if warning else [])
        return
    assert not result.tables["listings"]
    (problem,) = result.problems
    assert (problem.severity, problem.stage, problem.batch_id, problem.version) == (
        "held_back", "extract", "algorithm/2022-08", 1)
    assert held_back in problem.reason
    assert "清单（2022-08）" in problem.reason and "algorithm/2022-08 v1" in problem.reason


def test_an_unreadable_file_is_named_by_each_batch_that_lists_it(settings: Settings,
                                                                  sources: list[Source]) -> None:
    # One file, parsed (and cached) once, listed by two batches; then the first batch is
    # re-titled on the site, its bytes unchanged: each reason names its own batch as it is now.
    archive = RawArchive(settings.raw_dir)
    header = tuple(h for h in ALGO_HEADER if h != "备案编号")
    cells = dict(zip(ALGO_HEADER, douyin(), strict=True))
    body = algo_docx(tuple(cells[h] for h in header), header=header)
    first, second = (entry(archive, period, body, "2023-07-01T10:00:00Z")
                     for period in ("2022-08", "2022-10"))
    cache = settings.data_dir / "cache"
    retitled = {**first, "title": "清单（改名）",
                "attachment_url": first["attachment_url"] + "&v=2"}
    for entries in ([first, second], [retitled, second]):
        crawl(archive, f"2023070{len(archive.crawls()) + 1}T10", entries)
        result = build_tables(archive, sources, workers=1, cache_dir=cache)
        held = [p for p in result.problems if p.severity == "held_back"]
        reasons = {p.batch_id: p.reason for p in held}
        for problem in held:  # in a summary's line, what went wrong comes before the file
            assert problem.line().startswith(
                f"{problem.batch_id} v1 held back (extract): table 1 has no header row "), (
                problem.line())
            assert problem.line().endswith(problem.reason.split("]: ")[0] + "]")
        assert set(reasons) == {"algorithm/2022-08", "algorithm/2022-10"}
        for batch in entries:
            reason = reasons[batch["batch_id"]]
            assert reason.startswith(f"{batch['title']} [{batch['batch_id']} v1, ")
            assert batch["attachment_url"] + "]" in reason
            assert "no column for required field 'filing_number'" in reason
            assert "\x1f" not in reason
    assert list(cache.rglob("*.pickle"))  # the second build read the file's result from there


def test_a_deep_synthesis_header_in_the_algorithm_source_is_reported(
        settings: Settings, sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    body = algo_docx(("1", "豆包", "服务提供者", "北京抖音信息服务有限公司", "--", "对话。",
                      DS_A, ""), header=DS_HEADER)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", body, "2023-07-01T10:00:00Z")])
    result = build_tables(archive, sources, workers=1)
    (problem,) = result.problems
    assert problem.severity == "warning" and "unknown column '角色'" in problem.reason
    (row,) = result.tables["listings"]
    assert json.loads(row["raw"])["角色"] == "服务提供者"
    assert "unknown_column" in json.loads(row["quality_flags"])


def test_an_unknown_role_is_kept_and_flagged(settings: Settings, sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    body = algo_docx(("1", "豆包", "服务使用者", "北京抖音信息服务有限公司", "--", "对话。",
                      DS_A, ""), header=DS_HEADER)
    crawl(archive, "20230701T10", [entry(archive, "2023-06", body, "2023-07-01T10:00:00Z",
                                         kind="deep_synthesis", source="cn_cac_deep_synthesis")],
          source="cn_cac_deep_synthesis")
    (filing,) = build_tables(archive, sources, workers=1).tables["filings"]
    assert filing["role"] is None and "role_unknown" in json.loads(filing["quality_flags"])


def built(settings: Settings, sources: list[Source], category: str = "检索过滤类",
          acceptance: Acceptance | None = None) -> BuildResult:
    archive = RawArchive(settings.raw_dir)
    crawl(archive, "20230701T10", [
        entry(archive, "2022-08", algo_docx(douyin(), (
            "2", "百度搜索算法", category, "北京百度网讯科技有限公司", "百度（APP）", "搜索。",
            BAIDU, "已注销")), "2023-07-01T10:00:00Z")])
    return build_tables(archive, sources, workers=1, acceptance=acceptance)


def test_unknown_category_is_kept_and_flagged(settings: Settings,
                                              sources: list[Source]) -> None:
    result = built(settings, sources, category="未知类", acceptance=Acceptance(
        frozenset({"known_categories"}), "reviewed"))
    baidu = next(f for f in result.tables["filings"] if f["filing_number"] == BAIDU)
    assert baidu["category"] == "未知类"
    # 已注销 in its 备注 but no cancellation notice names it: kept, and flagged too.
    assert json.loads(baidu["quality_flags"]) == ["cancellation_not_in_notices",
                                                  "unknown_category"]
    assert baidu["status"] == "cancelled"
    assert "1 filing(s) flagged unknown_category" in result.warnings


def test_an_unknown_category_holds_its_batch_back_until_accepted(
        settings: Settings, sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    crawl(archive, "20230701T10", [
        entry(archive, "2022-08", algo_docx(douyin()), "2023-07-01T10:00:00Z"),
        entry(archive, "2022-10", algo_docx((
            "1", "百度搜索算法", "未知类", "北京百度网讯科技有限公司", "百度（APP）", "搜索。",
            BAIDU, "")), "2023-07-01T10:00:01Z")])
    result = build_tables(archive, sources, workers=1)
    (problem,) = result.held_back
    assert (problem.batch_id, problem.gate) == ("algorithm/2022-10", "known_categories")
    assert "algorithm: 未知类" in problem.reason
    assert [f["filing_number"] for f in result.tables["filings"]] == [DOUYIN]  # the rest goes on
    accepted = build_tables(archive, sources, workers=1, acceptance=Acceptance(
        frozenset({"known_categories:algorithm/2022-10"}), "a new category"))
    assert not accepted.problems and len(accepted.tables["filings"]) == 2
    assert accepted.accepted[0]["gate"] == "known_categories"


def test_a_row_without_a_number_is_listed_but_not_a_filing(settings: Settings,
                                                          sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(
        douyin(), ("2", "某算法", "检索过滤类", "某公司", "某（APP）", "检索。", " ", ""),
        ("3", "另一算法", "检索过滤类", "另一公司", "另一（APP）", "检索。", "", "")),
        "2023-07-01T10:00:00Z")])
    result = build_tables(archive, sources, workers=1)
    unnumbered = [r for r in result.tables["listings"] if not r["filing_number"]]
    assert [r["name"] for r in unnumbered] == ["某算法", "另一算法"]
    assert all("number_missing" in json.loads(r["quality_flags"]) for r in unnumbered)
    assert [f["filing_number"] for f in result.tables["filings"]] == [DOUYIN]
    assert ("2 listing row(s) without a filing number (flagged number_missing) are in "
            "listings but not in filings") in result.warnings
    write_release(settings, result)  # one filing per number still holds


def test_release_files_follow_the_schema(settings: Settings, sources: list[Source]) -> None:
    release = write_release(settings, built(settings, sources))
    assert os.readlink(settings.published) == f"releases/{release.release_id}"
    for table in TABLES:
        parquet = pq.read_table(release.path / f"{table.name}.parquet")
        assert parquet.schema.names == table.column_names
        for column in table.columns:
            field = parquet.schema.field(column.name)
            assert field.metadata[b"description"].decode() == column.en
            assert field.metadata[b"description_zh"].decode() == column.zh
            if column.type == "date":
                assert field.type == pa.date32()
        assert pq.ParquetFile(release.path / f"{table.name}.parquet").metadata.row_group(
            0).column(0).compression == "ZSTD"
    db = sqlite3.connect(release.path / "cac_filings.db")
    tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    assert {t.name for t in TABLES} <= tables and "filings_fts" in tables
    indexes = {r[0] for r in db.execute("select name from sqlite_master where type='index'")}
    assert "idx_filings_company" in indexes
    one_char = db.execute("select f.name from filings f join filings_fts s on s.rowid = f.rowid"
                          " where filings_fts match ?", [fts_query("音")]).fetchall()
    assert one_char == [("抖音推荐算法",)]
    assert db.execute("select number_valid from filings limit 1").fetchone() == (1,)


def test_metadata_describes_every_column(settings: Settings) -> None:
    meta = datasette_metadata("20260101T000000Z", "2026-01-01T00:00:00Z")
    assert meta["license"] and meta["source_url"].startswith("https://www.cac.gov.cn/")
    tables = meta["databases"]["cac_filings"]["tables"]
    for table in TABLES:
        described = tables[table.name]["columns"]
        assert set(described) == set(table.column_names)
        assert all(" · " in text for text in described.values())  # English · 中文
    assert tables["filings"]["fts_table"] == "filings_fts"
    assert set(tables["filings"]["facets"]) >= {"list_kind", "province", "role", "category"}


def rejected(result: BuildResult, settings: Settings, fix: dict[str, Any]) -> str:
    """Publish a good release, then a broken one; return the refusal message."""
    good = write_release(settings, result)
    broken = dataclasses.replace(result, tables={k: list(v) for k, v in result.tables.items()})
    for name, rows in fix.items():
        broken.tables[name] = rows
    with pytest.raises(InvariantError) as info:
        write_release(settings, broken)
    assert os.readlink(settings.published) == f"releases/{good.release_id}"
    (kept,) = settings.releases_dir.glob(".rejected-*")
    # Its SQLite stages were begun before the checks: the file it cannot have is gone.
    assert (kept / "manifest.json").is_file() and not list(kept.glob("cac_filings.db*"))
    return str(info.value)


def test_a_lost_row_is_refused(settings: Settings, sources: list[Source]) -> None:
    result = built(settings, sources)
    message = rejected(result, settings, {"listings": result.tables["listings"][:1]})
    assert "batch_row_counts_match_files" in message and "algorithm/2022-08 v1" in message
    assert "2 rows in the file, 1 in listings" in message


def test_a_row_the_reader_dropped_holds_its_batch_back(
        settings: Settings, sources: list[Source], monkeypatch: pytest.MonkeyPatch) -> None:
    # The file's own row count (its <w:tr> elements) disagrees with the rows the reader
    # accounted for: a row vanished in assembly, though listings would match the data rows.
    result = built(settings, sources)
    # header, data, repeated, blank and merged rows (RawTable.physical_rows)
    assert all(c.source_rows == c.physical_rows for _, _, c in result.checks)
    write_release(settings, result)
    original = documents._Assembler.row

    def drop_the_second(self: Any, table: Any, cells: list[str], auto: bool) -> str:
        return "data" if cells[0] == "2" else original(self, table, cells, auto)

    monkeypatch.setattr(documents._Assembler, "row", drop_the_second)
    later = build_tables(RawArchive(settings.raw_dir), sources, workers=1,
                         previous=json.loads((settings.published / "manifest.json").read_text()))
    (problem,) = later.held_back
    assert (problem.gate, problem.batch_id) == ("every_row_in_listings", "algorithm/2022-08")
    assert "the file has 3 rows, of which 2 are accounted for" in problem.reason
    assert later.tables["filings"] == []  # held back, never half-read


@pytest.mark.parametrize("fork", [True, False], ids=["stages-forked", "without-fork"])
def test_a_duplicate_number_is_refused(settings: Settings, sources: list[Source], fork: bool,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from cac_filings import release

    monkeypatch.setattr(release, "can_fork", lambda: fork)
    result = built(settings, sources)
    filings = result.tables["filings"]
    message = rejected(result, settings, {"filings": [*filings, filings[0]]})
    assert "filing_number_unique_per_list_kind" in message
    assert f"{filings[0]['filing_number']} ×2" in message


def test_a_number_twice_in_one_file_is_held_back_once(settings: Settings,
                                                      sources: list[Source]) -> None:
    archive = RawArchive(settings.raw_dir)
    twice = algo_docx(douyin(), ("2", "抖音推荐算法", "个性化推送类", "北京抖音信息服务有限公司",
                                 "抖音（APP）", "应用于信息推荐场景。", DOUYIN, ""))
    crawl(archive, "20230701T10", [entry(archive, "2022-08", twice, "2023-07-01T10:00:00Z")])
    (problem,) = build_tables(archive, sources, workers=1).held_back
    assert problem.gate == "no_duplicate_in_batch"
    assert f"1 number(s) listed twice in the file (quality flag duplicate_in_batch): {DOUYIN} ×2" \
        in problem.reason
    _, release = build_release(settings, sources, acceptance=Acceptance(
        frozenset({"no_duplicate_in_batch"}), "listed twice by CAC"))
    assert release.manifest["acceptance"]["accepted"][0]["batch_id"] == "algorithm/2022-08"
    # A later release with another file is judged on that file only.
    crawl(archive, "20230801T10", [
        entry(archive, "2022-08", twice, "2023-07-01T10:00:00Z"),
        entry(archive, "2022-10", algo_docx(douyin(number=BAIDU)), "2023-08-01T10:00:00Z")])
    later, _ = build_release(settings, sources)
    assert later.problems == [] and len(later.tables["batches"]) == 2


def test_a_pdf_table_with_a_gap_in_its_serial_numbers_is_held_back(
        settings: Settings, sources: list[Source]) -> None:
    from cac_filings.build import _Previous as Previous
    from cac_filings.build import choose_versions
    from cac_filings.build.select import select_batches as select

    result = built(settings, sources)
    archive = RawArchive(settings.raw_dir)
    selection = select(archive, sources)
    ((_, _, check),) = result.checks
    check.pdf_serial_problems = ["table on page 1 (algorithm): 序号 1–3 (1 missing, 0 repeated)"]
    parsed: dict[tuple[str, str], ParsedFile | str] = {
        ("cn_cac_algorithm", selection.batches[0].versions[0].sha256): ParsedFile([], check)}
    choice = choose_versions(selection, parsed, Previous.of(None), Acceptance(), 0.1)
    assert choice.chosen == [] and [(p.gate, p.severity) for p in choice.problems] == [
        ("pdf_rows_whole", "held_back")]
    assert "序号 1–3 (1 missing" in choice.problems[0].reason


def test_an_emptied_table_is_refused(settings: Settings, sources: list[Source]) -> None:
    result = built(settings, sources)
    message = rejected(result, settings, {"products": []})
    assert "no_table_emptied" in message and "products" in message


def test_invariants_pass_on_a_good_build(settings: Settings, sources: list[Source]) -> None:
    result = built(settings, sources)
    assert all(a.ok for a in check_invariants(result, None))
    _, release = build_release(settings, sources, publish=False)
    assert not settings.published.exists() and release.path.is_dir()


def test_the_release_is_a_valid_data_package(settings: Settings, sources: list[Source]) -> None:
    frictionless = pytest.importorskip("frictionless")
    release = write_release(settings, built(settings, sources))
    package = json.loads((release.path / "datapackage.json").read_text())
    csv = {r["name"]: r for r in package["resources"] if r["format"] == "csv"}
    filings = csv["filings-csv"]["schema"]
    assert [f["name"] for f in filings["fields"]] == next(
        t for t in TABLES if t.name == "filings").column_names
    assert filings["primaryKey"] == ["list_kind", "filing_number"]
    assert {f["name"]: f["type"] for f in filings["fields"]}["products"] == "array"
    parquet = {r["name"]: r for r in package["resources"] if r["format"] == "parquet"}
    assert set(parquet) == {t.name for t in TABLES}
    # Typed like the CSV files, not left to a guess (a column of codes read as year-months).
    for table in TABLES:
        fields = parquet[table.name]["schema"]["fields"]
        assert [f["name"] for f in fields] == table.column_names, table.name
    # A null in an integer column reaches frictionless as pandas' NaN: it must validate.
    assert any(b["batch_no"] is None for b in result_rows(release.path, "batches"))
    report = frictionless.validate(str(release.path / "datapackage.json"))
    assert report.valid, report.flatten(["resource", "type", "message"])[:5]


def result_rows(folder: Path, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.ParquetFile(folder / f"{name}.parquet").read().to_pylist()
    return rows
