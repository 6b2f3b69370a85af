"""Generative-AI lists and cancellation notices end to end on the tiny self-made site: two
tables in one file, the source's known errors detected and flagged, a notice's PDF with a row
split by a page break, and the cancellation reaching filings, changes and the release."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_e2e_tiny_site import run, table
from tests.tinysite import (
    BAIDU,
    BIANYING,
    CANCELLATION_ID,
    DOUBAO,
    DS_D,
    MISFILED,
    MISMATCH,
    SWAPPED,
    TRUNCATED,
    WENXIN,
    TinySite,
    serve_site,
)


@pytest.fixture
def site() -> Iterator[TinySite]:
    with serve_site() as running:
        yield running


def genai(data_dir: Path) -> dict[str, dict[str, Any]]:
    return {f["filing_number"]: f for f in table(data_dir, "filings")
            if f["list_kind"].startswith("genai")}


def test_one_file_gives_filings_and_registrations(site: TinySite, tmp_path: Path) -> None:
    done = run(site, tmp_path)
    assert done.returncode == 0, done.stderr
    rows = genai(tmp_path)
    kinds = {number: f["list_kind"] for number, f in rows.items()}
    assert kinds == {WENXIN: "genai_filing", DOUBAO: "genai_filing", SWAPPED: "genai_filing",
                     TRUNCATED: "genai_filing", MISMATCH: "genai_filing",
                     MISFILED: "genai_registration", BIANYING: "genai_registration"}
    wenxin = rows[WENXIN]
    assert (wenxin["name"], wenxin["company"], wenxin["province"]) == (
        "文心一言", "北京百度网讯科技有限公司", "北京市")
    assert wenxin["filed_on"].isoformat() == "2023-08-31"
    assert json.loads(wenxin["number_parts"]) == {
        "kind": "filing", "province_token": "Beijing", "name_token": "WenXinYiYan",
        "date": "2023-08-21", "sequence": None}
    assert json.loads(rows[DOUBAO]["number_parts"])["sequence"] == "0001"
    batch = next(b for b in table(tmp_path, "batches") if b["batch_id"] == "genai/2024-08")
    assert batch["row_count"] == 7 and batch["list_kind"] == "genai_filing"


def test_known_source_errors_are_flagged(site: TinySite, tmp_path: Path) -> None:
    done = run(site, tmp_path)
    assert done.returncode == 0, done.stderr
    rows = genai(tmp_path)

    def flags(number: str) -> list[str]:
        found: list[str] = json.loads(rows[number]["quality_flags"])
        return found

    swapped = rows[SWAPPED]
    assert (swapped["name"], swapped["company"]) == ("智能助理（井然）大模型",
                                                     "广东智媒云图科技股份有限公司")
    assert flags(SWAPPED) == ["name_company_swapped"]
    assert flags(MISFILED) == ["registration_in_filing_table"]
    assert flags(MISMATCH) == ["province_token_mismatch"]
    assert rows[MISMATCH]["province"] == "江苏省"  # 属地 wins over the number's token
    assert flags(TRUNCATED) == ["truncated_number"] and rows[TRUNCATED]["number_valid"] is False
    bianying = rows[BIANYING]
    assert bianying["filed_on"].isoformat() == "2024-05-06" and bianying["remarks"] == "补登"
    for flag in ("name_company_swapped", "registration_in_filing_table",
                 "province_token_mismatch", "truncated_number"):
        assert f"1 filing(s) flagged {flag}" in done.stderr  # in the run's summary too
    listing = next(r for r in table(tmp_path, "listings") if r["filing_number"] == SWAPPED)
    raw = json.loads(listing["raw"])  # the row as published, before the correction
    assert raw["大模型名称"] == "广东智媒云图科技股份有限公司"


def test_a_cancellation_notice_cancels_its_filings(site: TinySite, tmp_path: Path) -> None:
    assert run(site, tmp_path).returncode == 0
    site.options.cancellation = True
    done = run(site, tmp_path)
    assert done.returncode == 0, done.stderr
    cancellations = table(tmp_path, "cancellations")
    assert [(c["notice_id"], c["filing_number"], c["cancelled_month"], c["list_kinds"])
            for c in cancellations] == [
        (CANCELLATION_ID, BAIDU, "2025-07", '["algorithm"]'),
        (CANCELLATION_ID, DS_D, "2025-07", '["deep_synthesis"]')]
    assert cancellations[0]["notice_date"].isoformat() == "2025-07-14"
    assert cancellations[0]["source_url"] == (
        f"https://beian.cac.gov.cn/api/file/fileDownLoad?noticeId={CANCELLATION_ID}")
    filings = {f["filing_number"]: f for f in table(tmp_path, "filings")}
    for number in (BAIDU, DS_D):
        assert filings[number]["status"] == "cancelled"
        assert filings[number]["cancelled_on"].isoformat() == "2025-07-14"
    assert json.loads(filings[BAIDU]["quality_flags"]) == ["cancellation_not_in_list"]
    assert json.loads(filings[DS_D]["quality_flags"]) == []  # its list says 已注销 too
    releases = sorted(p.name for p in (tmp_path / "releases").iterdir()
                      if not p.name.startswith("."))
    changes = [c for c in table(tmp_path, "changes") if c["release_id"] == releases[-1]]
    assert [(c["filing_number"], c["change"], json.loads(c["fields"])) for c in changes] == [
        (BAIDU, "cancelled", ["quality_flags", "status", "cancelled_on"]),
        # already cancelled according to its list: the notice adds the date, and the
        # mismatch flag (cancelled in the list, in no notice) goes
        (DS_D, "modified", ["quality_flags", "cancelled_on"])]
    notice = [r for r in table(tmp_path, "listings") if r["list_kind"] == "cancellation"]
    assert [r["filing_number"] for r in notice] == [DS_D, BAIDU]  # the split row is whole
    baidu_row = notice[1]
    assert baidu_row["category"] == "检索过滤类" and baidu_row["role"] is None
    batch = next(b for b in table(tmp_path, "batches") if b["list_kind"] == "cancellation")
    assert batch["file_format"] == "pdf" and batch["row_count"] == 2


def test_both_discovery_routes_are_compared(site: TinySite, tmp_path: Path) -> None:
    done = run(site, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "announcement not on the beian notice board" in done.stderr
    assert "c_1688910683316256.htm" in done.stderr  # the first batch, never announced there
    record = json.loads(sorted((tmp_path / "raw" / "crawls").iterdir())[-1].read_text())
    notes = record["sources"]["cn_cac_deep_synthesis"]["notes"]
    assert any("c_1688910683316256.htm" in n for n in notes)
    assert not any(n.startswith("warning:") for n in notes)
