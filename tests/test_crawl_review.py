"""Crawl defects found by a code review, each with the behaviour that fixes it:

- two different files linked as one batch are never merged into one (one would be lost):
  they are recorded as a problem and the batch keeps its archived version;
- a source.yml with a key this version does not know (a newer field) loads, with a warning
  naming the key; a misspelt required key still fails, naming the likely typo;
- an attachment that fails on every run leaves its crawl entry, the build's candidates and its
  problem row unchanged (first seen stays, last tried moves), even when the wording of the
  failure varies from run to run;
- one article that fails (HTTP 500, WAF, layout) is that article's failure: the source's other
  batches are crawled and published, the article's batches keep their archived versions; the
  source's entry pages failing still fail the source.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cac_filings.archive import RawArchive
from cac_filings.build import build_candidates
from cac_filings.crawl import _attachments, _failure_kind, _same_failure
from cac_filings.sources import SourceConfigError, load_sources
from tests.conftest import Invoked, run_cli
from tests.test_e2e_tiny_site import FAST_RETRIES, table
from tests.test_sources import VALID_YML, write_source
from tests.tinysite import (
    ALGO_PAGE,
    ALGO_TITLE,
    ANNUAL_PAGE,
    DS1_PAGE,
    DS2_PAGE,
    DS_C,
    DS_D,
    DS_E,
    GENAI_OWN_PAGE,
    TinySite,
)

WWW = "https://www.cac.gov.cn"
DS2_FILE = "BBB/ds2="


def run(site: TinySite, data: Path, *extra: str, attempts: int = 2) -> Invoked:
    """`cac-filings run` against the tiny site, in this process."""
    done = run_cli("run", "--no-serve", "--data-dir", str(data), "--www-base", site.url,
                   "--beian-base", site.url, "--delay", "0", *extra,
                   env={**os.environ, **FAST_RETRIES, "CAC_FILINGS_ATTEMPTS": str(attempts)})
    assert isinstance(done, Invoked)
    return done


def last_crawl(data: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(sorted((data / "raw" / "crawls").iterdir())[-1]
                                        .read_text(encoding="utf-8"))
    return record


def entries(data: Path, source: str) -> dict[str, dict[str, Any]]:
    return {e["batch_id"]: e for e in last_crawl(data)["sources"][source]["batches"]}


def current(data: Path) -> dict[str, dict[str, Any]]:
    return {b["batch_id"]: b for b in table(data, "batches") if b["is_current"]}


def numbers(data: Path, batch_id: str) -> list[str]:
    version = current(data)[batch_id]["version"]
    return sorted(r["filing_number"] for r in table(data, "listings")
                  if r["batch_id"] == batch_id and r["version"] == version)


def problems(data: Path) -> list[dict[str, Any]]:
    return table(data, "problems")


def releases(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "releases").iterdir() if not p.name.startswith("."))


@pytest.fixture
def site_and_data(published_site: tuple[TinySite, Path]) -> Iterator[tuple[TinySite, Path]]:
    """A fresh tiny site and a copy of a data folder with one clean release of it."""
    yield published_site


# ---------------------------------------------------------------- (3) one batch, two files


def _route(url: str, page: str, title: str, sha: str | None) -> dict[str, Any]:
    return {"attachment_url": url, "announcement_url": page, "title": title,
            "file_sha256": sha}


def test_routes_are_one_attachment_only_when_something_says_so() -> None:
    august = "生成式人工智能服务已备案和已登记信息（2025年8月）"
    in_place, own = f"{WWW}/in-place.htm", f"{WWW}/own.htm"
    # The same list from its in-place page and its own announcement, uploaded twice: one.
    assert len(_attachments([_route("u1", in_place, august, "a"),
                             _route("u2", own, f"附件：{august} ", "b")])) == 1
    # The same URL twice, or the same bytes under two URLs: one.
    assert len(_attachments([_route("u1", in_place, august, "a"),
                             _route("u1", own, "点击下载", "a")])) == 1
    assert len(_attachments([_route("u1", in_place, august, "a"),
                             _route("u2", in_place, august, "a")])) == 1
    # Two different files on one page, or two differently titled files: two.
    assert len(_attachments([_route("u1", in_place, august, "a"),
                             _route("u2", in_place, august, "b")])) == 2
    assert len(_attachments([_route("u1", in_place, august, "a"),
                             _route("u2", own, "生成式人工智能服务已登记信息（2025年8月）",
                                    "b")])) == 2
    # A file that could not be downloaded is not assumed to be the same as another one.
    assert len(_attachments([_route("u1", in_place, august, "a"),
                             _route("u2", in_place, august, None)])) == 2


def test_two_different_files_for_one_batch_are_a_problem_never_one_dropped(
        site_and_data: tuple[TinySite, Path]) -> None:
    site, data = site_and_data
    before = numbers(data, "algorithm/2022-08")
    # The in-place page links a second, different file titled for the same month.
    site.options.extra_algo_links = {("AAA/second=", ALGO_TITLE.format("2022年8月")): "alg3"}
    done = run(site, data)
    assert done.returncode == 5, done.stderr
    entry = entries(data, "cn_cac_algorithm")["algorithm/2022-08"]
    assert sorted(c["attachment_url"].split("filepath=")[1].split("&")[0]
                  for c in entry["conflict"]) == ["AAA/alg1~x=", "AAA/second="]
    assert all(c["file_sha256"] for c in entry["conflict"])  # both were downloaded
    assert "2 different files are linked as algorithm/2022-08" in entry["fetch_error"]
    assert "other_files" not in entry  # neither becomes a version of the batch
    (problem,) = [p for p in problems(data) if p["batch_id"] == "algorithm/2022-08"]
    assert (problem["stage"], problem["severity"]) == ("fetch", "warning")
    assert "AAA/second=" in problem["reason"] and "AAA/alg1~x=" in problem["reason"]
    # The published batch is kept as it was; no file was merged into it or dropped from it.
    assert numbers(data, "algorithm/2022-08") == before
    assert [b["version"] for b in table(data, "batches")
            if b["batch_id"] == "algorithm/2022-08"] == [1]
    assert "2 different files are linked as algorithm/2022-08" in done.stderr

    # The site drops the second link: the batch is whole again, and the problem gone.
    site.options.extra_algo_links = {}
    assert run(site, data).returncode == 0
    assert not [p for p in problems(data) if p["batch_id"] == "algorithm/2022-08"]
    assert numbers(data, "algorithm/2022-08") == before


def test_the_same_file_linked_twice_on_a_page_is_one_batch(
        site_and_data: tuple[TinySite, Path]) -> None:
    site, data = site_and_data
    site.options.extra_algo_links = {("AAA/again=", ALGO_TITLE.format("2022年8月")): "alg1"}
    done = run(site, data)
    assert done.returncode == 0, done.stdout
    entry = entries(data, "cn_cac_algorithm")["algorithm/2022-08"]
    assert "conflict" not in entry and not entry.get("fetch_error")
    assert len(entry["routes"]) == 1
    assert not problems(data)


# ---------------------------------------------------------------- (13) source.yml keys


def test_a_newer_source_yml_loads_with_a_warning_naming_each_unknown_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yml = (VALID_YML.replace("{name}", "cn_test")
           .replace("    rules: suanbei\n", "    rules: suanbei\n    icon: star\n")
           .replace("    required: [filing_number]\n",
                    "    required: [filing_number]\n    sheet: 清单\n")
           + "homepage: https://www.cac.gov.cn\ncatgories: [个性化推送类]\n")
    path = write_source(tmp_path, "cn_test", yml) / "source.yml"
    said: list[str] = []
    (source,) = load_sources(tmp_path, warn=said.append)
    assert said == list(source.spec.warnings)
    assert said == [
        f"{path}: unknown key 'catgories' ignored (a typo of 'categories'?)",
        f"{path}: unknown key 'homepage' ignored (a field of a newer version?)",
        f"{path}: list_kinds[0]: unknown key 'icon' ignored (a field of a newer version?)",
        f"{path}: tables[0]: unknown key 'sheet' ignored (a field of a newer version?)",
    ]
    assert source.spec.categories == ()  # the misspelt key is not read as categories
    assert source.spec.tables[0].required == ("filing_number",)
    # By default each warning is one line on stderr, once however often the sources load.
    load_sources(tmp_path)
    load_sources(tmp_path)
    err = capsys.readouterr().err
    assert err.count("cac-filings: warning: ") == 4
    assert err.count("unknown key 'homepage'") == 1


@pytest.mark.parametrize(("change", "message"), [
    (lambda y: y.replace("tables:", "tabels:"),
     r"missing keys \['tables'\] \(misspelt\? 'tabels' for 'tables'\)"),
    (lambda y: y.replace("  - columns:", "  - colums:"),
     r"tables\[0\] needs columns \(misspelt\? 'colums' for 'columns'\)"),
    (lambda y: y.replace("    label:", "    lable:"),
     r"label needs zh and en \(list_kinds\[0\]: unknown key 'lable' ignored \(a typo of "
     r"'label'\?\)\)"),
], ids=["top-level", "table", "list-kind"])
def test_a_misspelt_required_key_still_fails_naming_the_typo(
        tmp_path: Path, change: Any, message: str) -> None:
    folder = write_source(tmp_path, "cn_test", change(VALID_YML.replace("{name}", "cn_test")))
    with pytest.raises(SourceConfigError, match=message) as info:
        load_sources(tmp_path, warn=lambda _: None)
    assert str(folder) in str(info.value)


# ---------------------------------------------------------------- (14) no churn


def test_a_failure_is_the_same_whatever_its_counts() -> None:
    first = "HTTP 503 (attempt 2, giving up)"
    assert _same_failure(first, "HTTP 503 (retries exceeded the 180s cap after 5 attempts)") \
        == first
    assert _same_failure(None, first) == first
    assert _same_failure(first, "HTTP 500 (attempt 2, giving up)") == \
        "HTTP 500 (attempt 2, giving up)"  # another status is another failure
    slow = ("too slow: the response was not complete within the 120s cap for one request "
            "(CAC_FILINGS_REQUEST_SECONDS; {} bytes received) (attempt {}, giving up)")
    assert _failure_kind(slow.format(10, 2)) == _failure_kind(slow.format(98304, 8))
    assert _failure_kind("truncated or corrupt file") != _failure_kind("HTTP 500")


def test_an_attachment_failing_on_every_run_changes_nothing_run_after_run(
        site_and_data: tuple[TinySite, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    site, data = site_and_data
    site.options.failing = {DS2_FILE: "500"}
    first = run(site, data, "--refresh-attachments", attempts=2)
    assert first.returncode == 5, first.stderr
    entry = entries(data, "cn_cac_deep_synthesis")["deep_synthesis/2023-08"]
    assert entry["fetch_error"] == "HTTP 500 (attempt 2, giving up)"
    since = entry["failing_since"]
    assert entry["checked_at"] == since
    (problem,) = [p for p in problems(data) if p["batch_id"] == "deep_synthesis/2023-08"]
    assert (problem["stage"], problem["severity"]) == ("fetch", "warning")
    made = releases(data)
    candidates = build_candidates(RawArchive(data / "raw"), load_sources(), None)

    # The next run fails the same way, worded differently (one more attempt): nothing new.
    again = run(site, data, "--refresh-attachments", attempts=3)
    assert "nothing new" in again.stdout, again.stderr
    assert releases(data) == made
    entry = entries(data, "cn_cac_deep_synthesis")["deep_synthesis/2023-08"]
    assert entry["fetch_error"] == "HTTP 500 (attempt 2, giving up)"
    assert entry["failing_since"] == since
    assert build_candidates(RawArchive(data / "raw"), load_sources(), None) == candidates
    log = [json.loads(line) for line in
           (data / "raw" / "fetch_log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any(e.get("error") == "HTTP 500 (attempt 3, giving up)" for e in log)

    # A release built later (a maintainer's --accept forces one): one row for the failure,
    # first seen when it began, last tried now.
    monkeypatch.setattr("cac_filings.build.utc_now", lambda: "2099-01-01T00:00:00Z")
    forced = run(site, data, "--accept", "batch_removed:none", "--accept-reason", "test")
    assert forced.returncode in (0, 5), forced.stderr  # 5 only for a warning new since
    assert len(releases(data)) == len(made) + 1
    (problem,) = [p for p in problems(data) if p["batch_id"] == "deep_synthesis/2023-08"]
    first_seen = str(problem["first_seen"])
    assert not first_seen.startswith("2099"), first_seen
    assert str(problem["last_tried"]).startswith("2099")


# ---------------------------------------------------------------- (15) one article failing


@pytest.mark.parametrize("how", ["500", "waf", "layout"])
def test_one_failing_article_does_not_stop_its_source(
        site_and_data: tuple[TinySite, Path], how: str) -> None:
    site, data = site_and_data
    before = numbers(data, "deep_synthesis/2023-08")
    assert before == sorted([DS_C, DS_D])
    # The 2nd deep-synthesis announcement fails; a new batch appears in the same source.
    site.options.drift = True
    site.options.failing = {DS2_PAGE: how}
    done = run(site, data)
    assert done.returncode == 1, done.stdout  # said like a source's fetch failure …
    crawled = last_crawl(data)["sources"]["cn_cac_deep_synthesis"]
    assert crawled["status"] == "ok"  # … but the source was crawled
    assert [p["url"] for p in crawled["page_errors"]] == [f"{WWW}{DS2_PAGE}"]
    assert f"{WWW}{DS2_PAGE}" in done.stderr
    record = [json.loads(line) for line in
              (data / "runs.jsonl").read_text(encoding="utf-8").splitlines()][-1]
    assert record["exit_code"] == 1 and DS2_PAGE in record["error"]
    # The other batches of the source were refreshed and published …
    assert numbers(data, "deep_synthesis/2026-08") == [DS_E]
    # … and the failing article's batch keeps its published version, with a problem row.
    carried = {e["batch_id"]: e for e in crawled["batches"]}["deep_synthesis/2023-08"]
    assert carried["page_error"] and not carried["downloaded"]
    assert numbers(data, "deep_synthesis/2023-08") == before
    (problem,) = [p for p in problems(data) if p["batch_id"] == "deep_synthesis/2023-08"]
    assert problem["severity"] == "warning" and DS2_PAGE in problem["reason"]

    # The article answers again: everything is as it was, no problem left for it.
    site.options.failing = {}
    done = run(site, data)
    assert done.returncode == 5  # the drifted site's own problems; none for this batch
    assert not [p for p in problems(data) if p["batch_id"] == "deep_synthesis/2023-08"]
    assert numbers(data, "deep_synthesis/2023-08") == before
    assert not last_crawl(data)["sources"]["cn_cac_deep_synthesis"]["page_errors"]


def test_a_failing_announcement_of_a_list_also_on_the_in_place_page_keeps_its_date(
        site_and_data: tuple[TinySite, Path]) -> None:
    """genai/2026-08 is linked from the in-place page and from its own announcement, which
    gives its publication day. That announcement failing leaves the batch (read from the
    in-place page) and its date as they were; the annual summary failing keeps its totals."""
    site, data = site_and_data
    site.options.drift = True
    assert run(site, data).returncode == 5
    assert current(data)["genai/2026-08"]["published_on"].isoformat() == "2026-09-05"
    official = table(data, "official_counts")
    made = releases(data)
    site.options.failing = {GENAI_OWN_PAGE: "500", ANNUAL_PAGE: "waf"}
    done = run(site, data)
    assert done.returncode == 1
    crawled = last_crawl(data)["sources"]["cn_cac_generative_ai"]
    assert sorted(p["url"] for p in crawled["page_errors"]) == [
        f"{WWW}{ANNUAL_PAGE}", f"{WWW}{GENAI_OWN_PAGE}"]
    # Both pages' statements (the totals they state) are kept from the last good crawl.
    assert sorted(s["url"] for s in crawled["statements"]) == [
        f"{WWW}{ANNUAL_PAGE}", f"{WWW}{GENAI_OWN_PAGE}"]
    entry = {e["batch_id"]: e for e in crawled["batches"]}["genai/2026-08"]
    assert not entry.get("fetch_error")  # read from the in-place page this run
    assert entry["published_on"] == "2026-09-05"
    assert [r.get("page_error") is not None for r in entry["routes"]] == [True]
    # Nothing in the data changed: no new release.
    assert releases(data) == made
    assert table(data, "official_counts") == official


def test_a_failing_article_on_the_first_crawl_leaves_only_its_batch_out(
        tmp_path: Path, site_and_data: tuple[TinySite, Path]) -> None:
    site, _ = site_and_data
    data = tmp_path / "fresh"
    site.options.failing = {DS1_PAGE: "500"}
    done = run(site, data)
    assert done.returncode == 1
    batches = current(data)
    assert "deep_synthesis/2023-06" not in batches  # never read: nothing to keep
    assert "deep_synthesis/2023-08" in batches and "algorithm/2022-08" in batches


@pytest.mark.parametrize(("path", "source"), [
    ("/wxzw/wxfb/A093702index_1.htm", "cn_cac_deep_synthesis"),  # the column's first page
    (ALGO_PAGE, "cn_cac_algorithm"),  # the in-place page
])
def test_a_failing_entry_page_still_fails_its_source(
        site_and_data: tuple[TinySite, Path], path: str, source: str) -> None:
    site, data = site_and_data
    made = releases(data)
    site.options.failing = {path: "500"}
    done = run(site, data)
    assert done.returncode == 1
    crawled = last_crawl(data)["sources"][source]
    assert crawled["status"] == "failed" and path in crawled["error"]
    assert releases(data) == made  # the last good crawl stands: nothing new to publish
