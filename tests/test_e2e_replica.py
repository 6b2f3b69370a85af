"""End to end against ../shared/cac-replica: `cac-filings run --no-serve`, then every batch's
rows checked against its own file, read independently with python-docx (conftest.docx_cells)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from datasette.app import Datasette

from cac_filings.archive import RawArchive
from cac_filings.schema import DATA_TABLES
from tests.conftest import CleanRun, DocxCells, Replica, run_cli

pytestmark = pytest.mark.replica


@pytest.fixture(scope="module")
def published(clean_run: CleanRun) -> Path:
    """The data folder of a `cac-filings run` against the replica: the session's clean run
    (conftest.clean_run), this module's copy."""
    assert "cac-filings summary" in clean_run.stdout
    return clean_run.data


def rows(data_dir: Path, table: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = pq.read_table(data_dir / "published" / f"{table}.parquet"
                                                 ).to_pylist()
    return result


def catalog(replica: Replica) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((replica.data / "catalog.json").read_text("utf-8"))
    return loaded


def expected_titles(replica: Replica) -> set[str]:
    """The list attachments and cancellation notices in the replica's own catalog."""
    wanted = ("互联网信息服务算法备案清单", "深度合成服务算法备案清单", "生成式人工智能服务已备案")
    found = {a["fText"] for a in catalog(replica)["attachments"].values()
             if any(w in a["fText"] for w in wanted)}
    return found | {n["title"] for n in catalog(replica)["notices"] if n["type"] == 1}


def docx_data_rows(tables: DocxCells) -> int:
    """Data rows as python-docx sees them: every table row but the header and its repeats."""
    total = 0
    for cells in tables:
        header = ["".join(c.split()) for c in cells[0]]
        total += sum(1 for r in cells[1:] if ["".join(c.split()) for c in r] != header)
    return total


def test_every_listed_batch_is_published(published: Path, replica: Replica) -> None:
    batches = rows(published, "batches")
    assert {b["title"] for b in batches} == expected_titles(replica)
    assert all(b["attachment_url"].startswith((
        "https://www.cac.gov.cn/cms/pub/interact/downloadfile.jsp?",
        "https://beian.cac.gov.cn/api/file/fileDownLoad?noticeId=")) for b in batches)
    assert {b["file_format"] for b in batches} == {"docx", "pdf"}
    manifest = json.loads((published / "published" / "manifest.json").read_text())
    assert manifest["assertions"] and all(a["ok"] for a in manifest["assertions"])


def test_row_counts_match_each_file(published: Path,
                                    docx_cells: Callable[[bytes], DocxCells]) -> None:
    archive = RawArchive(published / "raw")
    listings = rows(published, "listings")
    per_batch: dict[tuple[str, int], int] = {}
    for row in listings:
        key = (row["batch_id"], row["version"])
        per_batch[key] = per_batch.get(key, 0) + 1
    for batch in rows(published, "batches"):
        if batch["file_format"] != "docx":
            continue  # PDFs: test_pdf_tables_lose_and_split_no_row
        expected = docx_data_rows(docx_cells(archive.get(batch["file_sha256"])))
        assert batch["row_count"] == expected, batch["batch_id"]
        assert per_batch[(batch["batch_id"], batch["version"])] == expected, batch["batch_id"]


def test_file_order_and_auto_numbering(published: Path) -> None:
    listings = rows(published, "listings")
    by_batch: dict[str, list[dict[str, Any]]] = {}
    for row in listings:
        if row["list_kind"] in ("algorithm", "deep_synthesis"):
            by_batch.setdefault(row["batch_id"], []).append(row)
    for batch_rows in by_batch.values():
        assert [r["row_number"] for r in batch_rows] == list(range(1, len(batch_rows) + 1))
        printed = [r["serial"] for r in batch_rows]
        # Either every 序号 is printed (1..n) or Word numbers the rows and none is text.
        assert printed == [str(n) for n in range(1, len(batch_rows) + 1)] or \
            all(s is None for s in printed)
    # The 2024年6月 deep-synthesis list: auto-numbered, 主要用途 spanning two grid columns.
    june = by_batch["deep_synthesis/2024-06"]
    assert all(r["serial"] is None for r in june)
    raw = json.loads(june[0]["raw"])
    assert list(raw) == ["序号", "算法名称", "角色", "主体名称", "应用产品", "主要用途", "备案编号",
                         "备注"]
    assert raw["主要用途"] and raw["主要用途"] != raw["备案编号"]


def test_number_anomalies_are_kept_and_flagged(published: Path) -> None:
    filings = {(f["list_kind"], f["filing_number"]): f for f in rows(published, "filings")}
    long_number = filings[("algorithm", "网信算备1101082242366066220017号")]
    assert long_number["number_valid"] is False
    assert "number_malformed" in json.loads(long_number["quality_flags"])
    bad_check = filings[("algorithm", "网信算备440305295988702220055号")]
    assert bad_check["number_valid"] is False
    assert json.loads(bad_check["quality_flags"]) == ["check_digit_failed"]
    assert bad_check["province"] == "广东省"
    valid = [f for f in filings.values() if f["number_valid"]]
    assert len(valid) == len(filings) - 2


def test_numbers_across_batches_and_lists(published: Path) -> None:
    filings = rows(published, "filings")
    twice = [f for f in filings if f["filing_number"] == "网信算备330110807992101250019号"]
    assert len(twice) == 1 and twice[0]["first_batch_id"] != twice[0]["last_batch_id"]
    kinds: dict[str, set[str]] = {}
    for f in filings:
        kinds.setdefault(f["filing_number"], set()).add(f["list_kind"])
    assert sum(1 for k in kinds.values() if len(k) == 2) == 10
    lists = [r for r in rows(published, "listings")
             if r["list_kind"] in ("algorithm", "deep_synthesis")]
    assert len(lists) == len([f for f in filings if f["list_kind"] in (
        "algorithm", "deep_synthesis")]) + 1  # one number listed twice


def test_companies_and_products(published: Path) -> None:
    companies = {c["company"]: c for c in rows(published, "companies")}
    bytedance = companies["北京抖音信息服务有限公司"]
    assert bytedance["province"] == "北京市" and bytedance["n_filings"] >= 10
    assert bytedance["pinyin"].startswith("bei jing dou yin")
    assert all("(" not in name and " " not in name for name in companies)
    products = rows(published, "products")
    pairs = {(p["product_name"], p["product_type"]) for p in products}
    assert ("抖音短视频", "APP") in pairs
    types = {p["product_type"] for p in products}
    assert types >= {"APP", "网站", "小程序", "公众账号", "其他", None}
    renamed = [c for c in companies.values() if json.loads(c["former_names"])]
    assert renamed, "former names from 原主体名称“X”变更为“Y” remarks"


def test_every_request_sent_a_referer(clean_run: CleanRun) -> None:
    requests = [r for r in clean_run.requests
                if not str(r["path"]).startswith("/__replica__")]
    assert requests
    assert all(r["referer"] for r in requests)
    assert not [r for r in requests if r["fault"]]


def test_chinese_search_in_datasette(published: Path) -> None:
    release = (published / "published").resolve()
    metadata = json.loads((release / "metadata.json").read_text())

    async def search(table: str, query: str) -> list[dict[str, Any]]:
        ds = Datasette([str(release / "cac_filings.db")], immutables=[], metadata=metadata)
        response = await ds.client.get(f"/cac_filings/{table}.json",
                                       params={"_search": query, "_shape": "array"})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    douyin = asyncio.run(search("filings", "抖音"))
    assert douyin and all("抖" in json.dumps(r, ensure_ascii=False) for r in douyin)
    assert asyncio.run(search("companies", "百度"))
    longer = asyncio.run(search("filings", "北京抖音信息服务"))
    assert longer and all(r["company"] == "北京抖音信息服务有限公司" for r in longer)
    by_number = asyncio.run(search("filings", "1101088234839"))  # an entity code prefix
    assert by_number and all("1101088234839" in r["filing_number"] for r in by_number)
    assert asyncio.run(search("filings", "不存在的算法名称xyz")) == []


def test_common_words_are_ranked_by_score_at_cacs_scale(published: Path) -> None:
    """The registry CAC publishes today is searched as every match scored, common words too:
    their first 50 are the best scored (short names having the word first), not the first
    50 of the index's order (one list, in number order)."""
    import sqlite3

    from cac_filings.search import parse_search
    from cac_filings.web.db import Reader
    from cac_filings.web.release import Release
    from cac_filings.web.search_results import SECTIONS, run_search

    release = Release.load((published / "published").resolve())
    conn = sqlite3.connect(f"file:{release.db_file}?immutable=1", uri=True)
    try:
        reader = Reader(conn)
        for text in ["大模型", "北京", "算法"]:
            query = parse_search(text)
            matches = conn.execute("select count(*) from filings_fts where filings_fts "
                                   "match ?", [query.match]).fetchone()[0]
            assert matches > 200, text  # read in tiers before, as a registry of a million
            shown = run_search(reader, text, 50, release.summaries)["sections"][0]["rows"]
            scored = reader.rows(SECTIONS[0].sql, {"query": query.match, "limit": 50,
                                                   "text": query.terms[0].text})
            assert [r["filing_number"] for r in shown] == [
                r["filing_number"] for r in scored], text
            assert len({r["list_kind"] for r in shown}) > 1, text
    finally:
        conn.close()


def test_rebuild_is_byte_identical(published: Path) -> None:
    first = (published / "published").resolve()
    done = run_cli("build", "--data-dir", str(published), "--no-publish", "--quiet",
                   process=True)
    assert done.returncode == 0, done.stderr
    second = max((p for p in (published / "releases").iterdir() if not p.name.startswith(".")),
                 key=lambda p: p.name)
    assert second != first
    for table in DATA_TABLES:  # changes and releases depend on the chain of releases
        name = f"{table.name}.parquet"
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert os.readlink(published / "published") == f"releases/{first.name}"


def test_second_run_downloads_no_attachment(published: Path, replica: Replica) -> None:
    before = len(replica.requests())
    done = run_cli("run", "--no-serve", "--data-dir", str(published), "--www-base", replica.www,
                   "--beian-base", replica.beian, "--delay", "0", "--quiet")
    assert done.returncode == 0, done.stderr
    again = replica.requests()[before:]
    assert again and not [r for r in again if "downloadfile.jsp" in str(r["path"])]
    pages = [r for r in again if str(r["path"]).endswith(".htm")]
    assert pages and all(r["cond"] for r in pages)


def test_pdf_tables_lose_and_split_no_row(published: Path, replica: Replica) -> None:
    listings = rows(published, "listings")
    pdf_batches = [b for b in rows(published, "batches") if b["file_format"] == "pdf"]
    assert {b["list_kind"] for b in pdf_batches} == {"genai_filing", "cancellation"}
    for batch in pdf_batches:
        of_batch = [r for r in listings if r["batch_id"] == batch["batch_id"]]
        assert len(of_batch) == batch["row_count"]
        for kind in {r["list_kind"] for r in of_batch}:
            serials = [int(r["serial"]) for r in of_batch if r["list_kind"] == kind]
            assert sorted(serials) == list(range(min(serials), max(serials) + 1)), kind
    # A notice's title says how many numbers it cancels: 关于注销“…”等28个算法备案编号的公告.
    for notice in (n for n in catalog(replica)["notices"] if n["type"] == 1):
        said = int(re.search(r"等(\d+)个", notice["title"]).group(1))  # type: ignore[union-attr]
        of_notice = [r for r in listings if r["batch_id"] == f"cancellation/{notice['noticeId']}"]
        assert len(of_notice) == said
        assert all(re.fullmatch(r"网信算备\d{21}号", r["filing_number"]) for r in of_notice)


def test_generative_ai_lists(published: Path, replica: Replica) -> None:
    titles = {a["fText"] for a in catalog(replica)["attachments"].values()
              if "生成式人工智能服务已备案" in a["fText"]}
    batches = [b for b in rows(published, "batches") if b["batch_id"].startswith("genai/")]
    assert {b["title"] for b in batches} == titles
    listings = [r for r in rows(published, "listings") if r["batch_id"].startswith("genai/")]
    assert sum(b["row_count"] for b in batches) == len(listings)
    headers = {h for r in listings for h in json.loads(r["raw"])}
    assert {"模型名称", "大模型名称", "备案号", "备案编号", "应用/功能名称", "上线编号"} <= headers
    for row in listings:
        registration = re.search(r"\d{8}S\d+$", row["filing_number"]) is not None
        assert (row["list_kind"] == "genai_registration") == registration, row["filing_number"]
    first = [r for r in listings if r["batch_id"] == "genai/2024-04"]
    assert {r["list_kind"] for r in first} == {"genai_filing"}  # the first list: 备案 only
    swapped = [r for r in listings if "name_company_swapped" in r["quality_flags"]]
    assert len(swapped) == 6 and all("公司" in r["company"] for r in swapped)
    flags = {f for r in listings for f in json.loads(r["quality_flags"])}
    assert {"province_token_mismatch", "province_token_unknown"} <= flags
    filings = [f for f in rows(published, "filings") if f["list_kind"].startswith("genai")]
    assert {f["province"] for f in filings} >= {"北京市", "上海市", "国资委"}
    assert all(f["filed_on"] is not None for f in filings)


def test_cancellations_join_their_filings(published: Path, replica: Replica) -> None:
    cancellations = rows(published, "cancellations")
    notices = [n for n in catalog(replica)["notices"] if n["type"] == 1]
    assert {c["notice_id"] for c in cancellations} == {n["noticeId"] for n in notices}
    filings: dict[str, list[dict[str, Any]]] = {}
    for filing in rows(published, "filings"):
        filings.setdefault(filing["filing_number"], []).append(filing)
    for cancelled in cancellations:
        joined = filings[cancelled["filing_number"]]
        assert json.loads(cancelled["list_kinds"]) == sorted(f["list_kind"] for f in joined)
        assert all(f["status"] == "cancelled" and f["cancelled_on"] == cancelled["notice_date"]
                   for f in joined)
    assert all(c["cancelled_month"] == "2025-07" for c in cancellations)
