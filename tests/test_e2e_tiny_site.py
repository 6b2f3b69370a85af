"""End to end on the tiny self-made site (tests/tinysite.py): the pipeline is proven even
where ../shared is absent. Runs the real command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from cac_filings.schema import DATA_TABLES
from tests.conftest import Invoked, run_cli, serving
from tests.tinysite import (
    BAIDU,
    BIANYING,
    CHAIN_PAGE,
    DOUYIN,
    DS_A,
    DS_B,
    DS_C,
    DS_D,
    KUAISHOU,
    LONG,
    NEWS_PAGE,
    TinySite,
    serve_site,
)

FAST_RETRIES = {"CAC_FILINGS_ATTEMPTS": "2", "CAC_FILINGS_RETRY_BASE": "0.01"}


def run(site: TinySite, data_dir: Path, *extra: str, process: bool = False
        ) -> subprocess.CompletedProcess[str] | Invoked:
    """`cac-filings run` against the tiny site (in this process unless `process`)."""
    return run_cli("run", "--no-serve", "--data-dir", str(data_dir), "--www-base", site.url,
                   "--beian-base", site.url, "--delay", "0", *extra,
                   env={**os.environ, **FAST_RETRIES}, process=process)


def table(data_dir: Path, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(data_dir / "published" / f"{name}.parquet"
                                               ).to_pylist()
    return rows


@pytest.fixture
def site() -> Iterator[TinySite]:
    with serve_site() as running:
        yield running


@pytest.fixture
def published(site: TinySite, tmp_path: Path) -> Path:
    done = run(site, tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_run_publishes_every_row(site: TinySite, tmp_path: Path) -> None:
    done = run(site, tmp_path, process=True)  # the command, end to end, as a user runs it
    assert done.returncode == 0, done.stderr
    assert "batches found      5" in done.stdout
    assert "rows               batches 5, listings 15, filings 14" in done.stdout
    assert "INFO" in done.stderr  # not a terminal: plain log lines

    batches = {b["batch_id"]: b for b in table(tmp_path, "batches")}
    assert set(batches) == {"algorithm/2022-08", "algorithm/2022-10", "deep_synthesis/2023-06",
                            "deep_synthesis/2023-08", "genai/2024-08"}
    assert [b["row_count"] for b in batches.values()] == [2, 2, 2, 2, 7]  # genai: 6 + 1
    assert batches["algorithm/2022-08"]["published_on"].isoformat() == "2022-08-12"
    # In place, first crawl: dated by its period (the first day of the month after it).
    assert batches["algorithm/2022-10"]["published_on"].isoformat() == "2022-11-01"
    assert batches["algorithm/2022-10"]["published_on_precision"] == "period"
    assert batches["deep_synthesis/2023-06"]["batch_no"] is None
    assert batches["deep_synthesis/2023-08"]["batch_no"] == 2
    assert batches["deep_synthesis/2023-08"]["published_on"].isoformat() == "2023-09-01"
    assert all(b["attachment_url"].startswith("https://www.cac.gov.cn/cms/pub/interact/")
               for b in batches.values())

    filings = {(f["list_kind"], f["filing_number"]): f for f in table(tmp_path, "filings")
               if not f["list_kind"].startswith("genai")}
    assert set(filings) == {("algorithm", n) for n in (DOUYIN, BAIDU, LONG)} | {
        ("deep_synthesis", n) for n in (DS_A, DS_B, DS_C, DS_D)}
    douyin = filings[("algorithm", DOUYIN)]
    assert (douyin["first_batch_id"], douyin["last_batch_id"]) == ("algorithm/2022-08",
                                                                    "algorithm/2022-10")
    assert json.loads(douyin["products"]) == [{"name": "抖音", "type": "APP"}]
    assert douyin["province"] == "北京市" and douyin["number_valid"] is True
    long_number = filings[("algorithm", LONG)]
    assert long_number["number_valid"] is False and long_number["region_code"] is None
    assert long_number["company"] == "腾讯科技（深圳）有限公司"
    assert filings[("deep_synthesis", DS_A)]["company"] == "北京抖音信息服务有限公司"
    purpose = filings[("deep_synthesis", DS_A)]["purpose"]
    assert purpose == "应用于对话生成场景，根据用户输入生成文本。"  # two paragraphs, joined
    assert filings[("deep_synthesis", DS_B)]["role"] == "technical_supporter"
    assert json.loads(filings[("deep_synthesis", DS_B)]["products"]) == []
    assert filings[("deep_synthesis", DS_D)]["status"] == "cancelled"
    assert json.loads(filings[("algorithm", BAIDU)]["products"]) == [
        {"name": "百度", "type": "APP"}, {"name": "百度", "type": "网站"}]

    listings = [r for r in table(tmp_path, "listings") if r["batch_id"] == "deep_synthesis/2023-08"]
    assert [r["row_number"] for r in listings] == [1, 2]  # the repeated header is not a row
    assert [r["serial"] for r in listings] == [None, None]  # Word auto-numbering
    raw = json.loads(listings[0]["raw"])
    assert raw["主要用途"] == "应用于图像生成场景。" and raw["备案编号"] == DS_C

    companies = {c["company"]: c for c in table(tmp_path, "companies")}
    assert json.loads(companies["北京抖音信息服务有限公司"]["former_names"]) == [
        "北京微播视界科技有限公司"]
    assert companies["北京抖音信息服务有限公司"]["list_kinds"] == (
        '["algorithm","deep_synthesis","genai_registration"]')
    assert companies["北京字节跳动科技有限公司"]["list_kinds"] == '["genai_filing"]'


def test_requests_are_polite_and_targeted(published: Path, site: TinySite) -> None:
    paths = site.paths()
    assert CHAIN_PAGE not in paths and NEWS_PAGE not in paths  # distractors never opened
    assert not [p for p in paths if "CCC" in p]
    assert "/wxzw/wxfb/A093702index_3.htm" not in paths  # the pager said two pages
    for path, headers in site.requests:
        assert headers.get("referer"), path
        assert headers.get("user-agent", "").startswith("cac-filings/"), path
    downloads = [(p, h) for p, h in site.requests if "downloadfile.jsp" in p]
    assert len(downloads) == 5
    assert all(h["referer"].startswith(site.url + "/20") for _, h in downloads)
    log = [json.loads(line) for line in
           (published / "raw" / "fetch_log.jsonl").read_text().splitlines()]
    assert log and all(e["url"].startswith(("https://www.cac.gov.cn/",
                                            "https://beian.cac.gov.cn/")) for e in log)


def test_rebuild_offline_is_byte_identical(published: Path) -> None:
    first = (published / "published").resolve()
    done = run_cli("build", "--data-dir", str(published))
    assert done.returncode == 0, done.stderr
    second = (published / "published").resolve()
    assert second != first
    for table in DATA_TABLES:  # changes and releases depend on the chain of releases
        name = f"{table.name}.parquet"
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["previous_release_id"] == first.name
    sums = (second / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ")[1] for line in sums}
    assert listed == {p.relative_to(second).as_posix() for p in second.rglob("*")
                      if p.is_file()} - {"SHA256SUMS"}
    assert "csv/filings.csv" in listed


def test_new_attachment_is_dated_when_first_seen(published: Path, site: TinySite) -> None:
    site.options.third_attachment = True
    done = run(site, published)
    assert done.returncode == 0, done.stderr
    assert "new files          1" in done.stdout
    batches = {b["batch_id"]: b for b in table(published, "batches")}
    new = batches["algorithm/2023-01"]
    assert new["published_on_precision"] == "observed"
    assert new["published_on"] is not None
    assert batches["algorithm/2022-10"]["published_on_precision"] == "period"
    numbers = {f["filing_number"] for f in table(published, "filings")}
    assert KUAISHOU in numbers
    downloads = [p for p in site.paths() if "downloadfile.jsp" in p]
    assert len(downloads) == 6  # only the new attachment was downloaded again


def test_waf_block_fails_and_keeps_what_was_published(published: Path,
                                                      site: TinySite) -> None:
    before = os.readlink(published / "published")
    releases = sorted((published / "releases").iterdir())
    site.options.waf = True
    done = run(site, published)
    assert done.returncode == 1
    assert "WAF" in done.stderr and "https://www.cac.gov.cn/" in done.stderr
    assert os.readlink(published / "published") == before
    assert sorted((published / "releases").iterdir()) == releases


def test_changed_layout_is_an_error_naming_the_page(site: TinySite, tmp_path: Path) -> None:
    site.options.broken_layout = True
    site.options.constant_etag = True  # the mended page comes with the same ETag
    done = run(site, tmp_path, "--source", "cn_cac_algorithm")
    assert done.returncode == 1
    assert "page layout changed" in done.stderr
    assert "c_1661927474338504.htm" in done.stderr and "#BodyLabel" in done.stderr
    assert not (tmp_path / "published").exists()
    record = json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[-1])
    assert (record["status"], record["exit_code"]) == ("failed", 1)
    # The site is mended: the next run reads the page again, not its stored answer (by a
    # conditional request the site would answer 304), and publishes.
    site.options.broken_layout = False
    done = run(site, tmp_path, "--source", "cn_cac_algorithm")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "published").exists()


def test_articles_whose_layout_changed_are_read_again_once_mended(site: TinySite,
                                                                  tmp_path: Path) -> None:
    site.options.broken_layout = True
    site.options.constant_etag = True
    assert run(site, tmp_path).returncode != 0  # every article unreadable
    site.options.broken_layout = False
    done = run(site, tmp_path)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[-1])
    assert record["status"] == "published" and not record["held_back"]


def test_a_damaged_crawl_record_is_set_aside_named_and_the_run_goes_on(
        published: Path, site: TinySite) -> None:
    (record,) = sorted((published / "raw" / "crawls").glob("*.json"))
    damaged = record.read_bytes()[:300]  # cut short: disk damage, a hand edit
    record.write_bytes(damaged)
    done = run(site, published)
    assert done.returncode == 5, done.stderr  # published, with a new warning
    assert f"crawl record {record.name} could not be read" in done.stderr
    (moved,) = (published / "raw" / "corrupt").glob(f"crawl-{record.name}.*")
    assert moved.read_bytes() == damaged and not record.exists()
    logged = json.loads((published / "runs.jsonl").read_text().splitlines()[-1])
    assert logged["status"] == "published" and record.name in logged["set_aside"][0]
    problems = table(published, "problems")
    assert any(record.name in p["reason"] and p["severity"] == "warning" for p in problems)
    again = run(site, published)
    assert again.returncode == 0, again.stderr  # reported once; nothing else wrong


def test_an_unknown_column_is_kept_and_reported(published: Path, site: TinySite) -> None:
    before = os.readlink(published / "published")
    site.options.extra_header = True
    done = run(site, published, "--refresh-attachments")
    assert done.returncode == 5  # published, with something for a maintainer to map
    assert "unknown column '备案日期'" in done.stderr
    assert "deep_synthesis/2023-08 v2" in done.stderr
    assert os.readlink(published / "published") != before
    rows = [r for r in table(published, "listings")
            if (r["batch_id"], r["version"]) == ("deep_synthesis/2023-08", 2)]
    assert [json.loads(r["raw"])["备案日期"] for r in rows] == ["2023-08-01", "2023-08-01"]
    assert all("unknown_column" in json.loads(r["quality_flags"]) for r in rows)
    (problem,) = table(published, "problems")
    assert (problem["batch_id"], problem["version"], problem["severity"]) == (
        "deep_synthesis/2023-08", 2, "warning")
    assert "'备案日期'" in problem["reason"] and "source.yml" in problem["reason"]


def test_sources_command_lists_both_sources() -> None:
    done = run_cli("sources", process=True)
    assert done.returncode == 0
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    assert [(line[0], line[1]) for line in lines] == [
        ("cn_cac_algorithm", "algorithm"), ("cn_cac_cancellations", "cancellation"),
        ("cn_cac_deep_synthesis", "deep_synthesis"), ("cn_cac_generative_ai", "genai_filing")]


def test_serve_answers_a_chinese_search(published: Path) -> None:
    with serving(published) as url:
        found = httpx.get(url + "/cac_filings/filings.json",
                          params={"_search": "抖音", "_shape": "array"}).json()
        assert {r["filing_number"] for r in found} == {DOUYIN, DS_A, BIANYING}
        home = httpx.get(url + "/").text
        assert "cac-filings" in home and "CC BY 4.0" in home


def test_serve_without_a_release_says_what_to_do(tmp_path: Path) -> None:
    done = run_cli("serve", "--data-dir", str(tmp_path))
    assert done.returncode == 1
    assert "nothing is published" in done.stderr and "cac-filings run" in done.stderr
