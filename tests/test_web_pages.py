"""The project's pages, in-process: Datasette as `cac-filings serve` builds it, asked through
`ds.client` (no server process, no browser), on a release built from the tiny CAC-like site
with the traps the pages must survive: script and formula text in names, a cancellation
notice, the 2026 drift (an on-device list, a held-back batch, an unknown column) and CAC's own
totals, one of which disagrees with the lists."""

from __future__ import annotations

import asyncio
import html
import io
import json
import re
import shutil
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import feedparser
import httpx
import pytest
from markupsafe import escape

from cac_filings.config import load_settings
from cac_filings.schema import DATABASE, DB_FILE
from cac_filings.search import MAX_QUERY_CHARS, fts_query, parse_search
from cac_filings.serve import make_datasette
from cac_filings.web.urls import batch_url, company_url, filing_url
from tests.conftest import invoke
from tests.tinysite import (
    BAIDU,
    DOUYIN,
    DS_D,
    INJECTION_PRODUCT,
    LONG,
    SWAPPED,
    WENXIN,
    TinySite,
    serve_site,
)

FAST_RETRIES = {"CAC_FILINGS_ATTEMPTS": "2", "CAC_FILINGS_RETRY_BASE": "0.01"}


def run(site: TinySite, data: Path) -> int:
    done = invoke("run", "--no-serve", "--quiet", "--data-dir", str(data), "--www-base",
                  site.url, "--beian-base", site.url, "--delay", "0", env=FAST_RETRIES)
    return done.exit_code


@dataclass
class Served:
    ds: Any
    loop: asyncio.AbstractEventLoop
    data: Path
    site: TinySite

    @property
    def release(self) -> Path:
        return (self.data / "published").resolve()

    def get(self, path: str) -> httpx.Response:
        response: httpx.Response = self.loop.run_until_complete(self.ds.client.get(path))
        return response

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(f"file:{self.release / DB_FILE}?immutable=1", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return list(conn.execute(sql, params))
        finally:
            conn.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("web-data")
    with serve_site() as site:
        site.options.hostile = "injection"  # script and formula text in names
        site.options.cancellation = True
        site.options.drift = True  # on-device list; a corrupt and a misread batch held back
        assert run(site, data) == 5  # published, with held-back batches
        loop = asyncio.new_event_loop()
        yield Served(make_datasette(load_settings(data_dir=data)), loop, data, site)
        loop.close()


def page(served: Served, path: str, status: int = 200) -> str:
    response = served.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response.text


def links(text: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"#]+)', text)]


def text_of(body: str) -> str:
    """The page's text, roughly: tags dropped, entities decoded, white space squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


# ---------------------------------------------------------------- home

def test_home_shows_every_list_kind_and_the_newest_batches(served: Served) -> None:
    body = page(served, "/")
    shown = text_of(body)
    kinds = served.rows("select k.list_kind, k.label_zh, k.label_en, count(*) as n from "
                        "filings f join list_kinds k using (list_kind) group by k.list_kind")
    assert {k["list_kind"] for k in kinds} >= {"genai_on_device"}  # the kind added in 2026
    for kind in kinds:
        assert f"{kind['label_zh']} {kind['label_en']}" in shown
        assert f'?list_kind={kind["list_kind"]}">{kind["n"]:,}<' in body
    cancelled = served.rows("select count(*) from filings where status = 'cancelled'")[0][0]
    assert f">{cancelled}</a></span>已注销 cancelled" in body
    # CAC's newest batch first, with its date and how the date is known, in words.
    newest = served.rows("select batch_id, published_on from batches where is_current "
                         "order by published_on desc, batch_id desc limit 1")[0]
    latest = body.split('id="latest"')[1].split('id="newest-filings"')[0]
    assert latest.index(batch_url(newest["batch_id"])) < latest.index("/-/batch/algorithm/")
    assert newest["published_on"] in latest
    assert "公告日期 the announcement's date" in text_of(latest)
    # This dataset's release: a separate note, saying it is the first.
    note = text_of(body.split('id="this-release"')[1].split('id="explore"')[0])
    assert served.release.name in note and "first release" in note


def test_home_warns_of_held_back_batches_and_a_reconciliation_difference(
        served: Served) -> None:
    body = page(served, "/")
    notice = text_of(body.split('id="problems-notice"')[1].split("</p>")[0])
    assert "holds back 2 batch file(s)" in notice and "暂缓发布了 2 个批次文件" in notice
    assert '/cac_filings/problems"' in body
    status = text_of(body.split('id="reconciliation-status"')[1].split("</p>")[0])
    assert "1 项不一致" in status and "1 differ" in status


def test_every_link_on_the_home_page_answers(served: Served) -> None:
    home = page(served, "/")
    local = sorted({h for h in links(home) if h.startswith("/")})
    assert "/-/downloads/SHA256SUMS" in local and "/-/downloads/datapackage.json" in local
    for href in local:
        response = served.get(href)
        assert response.status_code == 200, (href, response.status_code)


def test_no_page_answers_500(served: Served) -> None:
    """Two links deep from the home page (and from the pages of a filing, a company and a
    batch), nothing answers 500."""
    seen: dict[str, int] = {}
    frontier = ["/", filing_url("algorithm", DOUYIN), company_url("北京百度网讯科技有限公司"),
                batch_url("genai/2024-08")]
    for _depth in range(2):
        following = []
        for href in frontier:
            if href in seen or len(seen) >= 400:
                continue
            response = served.get(href)
            seen[href] = response.status_code
            if "text/html" in response.headers.get("content-type", ""):
                following += [h for h in links(response.text) if h.startswith("/")
                              and "_sort" not in h and "_next" not in h]
        frontier = following
    assert len(seen) > 60
    assert not {h: s for h, s in seen.items() if s >= 500}


# ---------------------------------------------------------------- CAC's latest

def test_latest_lists_batches_newest_first_with_what_they_added(served: Served) -> None:
    data = served.get("/-/latest.json").json()
    dates = [b["published_on"] for b in data["batches"]]
    assert dates == sorted(dates, reverse=True)
    by_id = {b["batch_id"]: b for b in data["batches"]}
    second = {p["list_kind"]: p for p in by_id["algorithm/2022-10"]["lists"]}["algorithm"]
    # 抖音推荐算法 listed again (new company name in its 备注), 微信搜一搜算法 new.
    assert (second["rows"], second["new"], second["relisted"], second["changed"]) == (2, 1, 1, 1)
    genai = {p["list_kind"] for p in by_id["genai/2024-08"]["lists"]}
    assert genai == {"genai_filing", "genai_registration"}  # one file, two lists
    notice = next(b for b in data["batches"] if b["cancels"])
    assert notice["lists"][0]["rows"] == 2
    body = text_of(page(served, "/-/latest"))
    assert "按清单月份估计 estimated from the list's period" in body
    assert "公告日期 the announcement's date" in body and "注销 cancels 2 个编号 numbers" in body


def test_batch_page(served: Served) -> None:
    body = page(served, batch_url("algorithm/2022-10"))
    shown = text_of(body)
    assert "境内互联网信息服务算法备案清单（2022年10月）" in shown
    assert "2022-11-01 (按清单月份估计 estimated from the list's period)" in shown
    assert filing_url("algorithm", DOUYIN) in body and "再次列入 listed before" in shown
    assert 'id="source-file"' in body
    notice = served.rows("select batch_id from batches where list_kind = 'cancellation'")[0][0]
    cancelled = page(served, batch_url(notice))
    assert filing_url("deep_synthesis", DS_D) in cancelled  # a notice's rows lead to filings
    page(served, batch_url("algorithm/1999-01"), 404)
    page(served, batch_url("algorithm/2022-10", 9), 404)


# ---------------------------------------------------------------- feeds

def test_feeds_follow_cac_publication_dates_and_lead_to_filing_pages(served: Served) -> None:
    for path in ("/-/feeds/new.atom", "/-/feeds/new.atom?province=北京市",
                 "/-/feeds/new.atom?q=抖音", "/-/feeds/new.atom?company=北京百度网讯科技有限公司",
                 "/-/feeds/release.atom", "/-/feeds/cancellations.atom"):
        response = served.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        feed = feedparser.parse(response.content)
        assert not feed.bozo and feed.version == "atom10" and feed.entries, path
        updated = [e.updated for e in feed.entries]
        assert updated == sorted(updated, reverse=True), path
        assert all(urlsplit(e.link).path.startswith("/-/filing/") for e in feed.entries), path
    new = feedparser.parse(served.get("/-/feeds/new.atom").content)
    first = {r["filing_number"]: r["first_published_on"] for r in served.rows(
        "select filing_number, first_published_on from filings")}
    for entry in new.entries:
        number = entry.id.split(":", 4)[4]
        assert entry.updated == f"{first[number]}T00:00:00Z"  # the batch's date, not the build
    assert new.entries[0].updated[:10] == max(first.values())
    beijing = feedparser.parse(served.get("/-/feeds/new.atom?province=北京市").content)
    assert all("北京市" in e.summary for e in beijing.entries)
    baidu = feedparser.parse(served.get(
        "/-/feeds/new.atom?company=北京百度网讯科技有限公司").content)
    assert {e.id.split(":", 4)[4] for e in baidu.entries} == {BAIDU, WENXIN}


# ---------------------------------------------------------------- a filing

def test_filing_page(served: Served) -> None:
    body = page(served, filing_url("algorithm", DOUYIN))
    shown = text_of(body)
    assert "<h1>抖音推荐算法</h1>" in body
    assert f'href="{company_url("北京抖音信息服务有限公司")}"' in body
    assert "个性化推送类" in shown and "有效 active" in shown
    assert "抖音（APP）" in shown and "应用于信息推荐场景。" in shown
    # Both listings, with the cells as published (the number's trailing line break kept).
    assert shown.count("境内互联网信息服务算法备案清单（2022年") >= 2
    assert "原主体名称“北京微播视界科技有限公司”变更为“北京抖音信息服务有限公司”" in shown
    # The number, decoded.
    assert "行政区划代码 region code 110108 北京市" in shown
    assert "校验位 check digit 1 holds 校验通过" in shown or "holds 校验通过" in shown
    assert 'id="source-file"' in body and "/cms/pub/interact/downloadfile.jsp" in body
    assert "本数据集中的变化 Changes in this dataset" in shown


def test_filing_page_of_a_cancelled_malformed_or_generative_ai_filing(served: Served) -> None:
    cancelled = text_of(page(served, filing_url("deep_synthesis", DS_D)))
    assert "已注销 cancelled" in cancelled
    assert "关于注销“视频生成算法”等2个算法备案编号的公告" in cancelled
    malformed = text_of(page(served, filing_url("algorithm", LONG)))
    assert "it has 22 digits" in malformed and "编号格式不符" in malformed
    assert "number_malformed" in malformed
    genai = text_of(page(served, filing_url("genai_filing", WENXIN)))
    assert "省份标识 province token Beijing 北京市" in genai and "2023-08-21" in genai
    swapped = text_of(page(served, filing_url("genai_filing", SWAPPED)))
    assert "名称与单位互换（已更正）" in swapped  # the quality flag's label
    on_device = served.rows("select filing_number, scenario from filings "
                            "where list_kind = 'genai_on_device'")[0]
    shown = text_of(page(served, filing_url("genai_on_device", on_device["filing_number"])))
    assert f"适用场景 Scenario {on_device['scenario']}" in shown


def test_filing_json_and_unknown_filings(served: Served) -> None:
    found = served.get(filing_url("algorithm", DOUYIN) + ".json").json()
    assert found["filing"]["filing_number"] == DOUYIN and len(found["listings"]) == 2
    assert found["number"]["valid"] is True
    missing = page(served, filing_url("algorithm", "网信算备0号"), 404)
    assert "未找到 Not found" in missing and 'name="q" value="网信算备0号"' in missing


def test_a_number_under_another_list_or_none_leads_to_its_filing(served: Served) -> None:
    (kind,) = [r[0] for r in served.rows(
        "select list_kind from filings where filing_number = ?", (DOUYIN,))]
    for path in (filing_url("deep_synthesis", DOUYIN), "/-/filing/" + quote(DOUYIN, safe="")):
        moved = served.get(path)
        assert (moved.status_code, moved.headers["location"]) == (
            302, filing_url(kind, DOUYIN)), path
    moved = served.get(filing_url("deep_synthesis", DOUYIN) + ".json")
    assert moved.headers["location"] == filing_url(kind, DOUYIN) + ".json"
    assert served.get(moved.headers["location"]).json()["filing"]["filing_number"] == DOUYIN
    page(served, "/-/filing/" + quote("网信算备0号"), 404)
    moved = served.get("/-/filing/" + quote(DOUYIN, safe="") + ".json")
    assert moved.headers["location"] == filing_url(kind, DOUYIN) + ".json"


def test_scraped_text_stays_text(served: Served) -> None:
    number = served.rows("select filing_number from filings where name like '+SUM%'")[0][0]
    body = page(served, filing_url("deep_synthesis", number))
    assert "<script>alert" not in body and str(escape(INJECTION_PRODUCT)) in body
    search = page(served, "/-/search?q=" + quote("<script>"))
    assert "<script>alert" not in search
    changes = page(served, "/-/docs/CHANGES.md")
    assert "+SUM(A1:A9)算法" in changes and "<script>alert" not in changes


def test_markdown_keeps_html_and_script_links_as_text() -> None:
    from cac_filings.web.markdown_pages import render_markdown

    rendered = render_markdown("- <script>alert(1)</script> [x](javascript:alert(1))\n")
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert 'href="javascript' not in rendered


# ---------------------------------------------------------------- a company

def test_company_page(served: Served) -> None:
    body = page(served, company_url("北京抖音信息服务有限公司"))
    shown = text_of(body)
    assert "北京微播视界科技有限公司" in body.split('id="former-names"')[1][:400]
    assert filing_url("algorithm", DOUYIN) in body
    assert "算法推荐 algorithm" in shown and "深度合成 deep synthesis" in shown
    assert "/-/feeds/new.atom?company=" in body
    page(served, company_url("没有这家公司"), 404)


def test_a_former_name_leads_to_the_company_its_feed_and_its_query(served: Served) -> None:
    former, now = "北京微播视界科技有限公司", "北京抖音信息服务有限公司"
    moved = served.get(company_url(former))
    assert moved.status_code == 302
    assert moved.headers["location"] == company_url(now) + "#former-names"
    feed = page(served, "/-/feeds/new.atom?company=" + quote(former))
    mine = page(served, "/-/feeds/new.atom?company=" + quote(now))
    entries = re.findall(r"<id>([^<]+)</id>", feed)[1:]
    assert entries and entries == re.findall(r"<id>([^<]+)</id>", mine)[1:]
    assert "1970-01-01" not in feed
    for name in (former, now):
        found = served.get("/cac_filings/company_filings.json?_shape=array&company=" +
                           quote(name)).json()
        assert DOUYIN in {r["filing_number"] for r in found}, name
    page(served, "/-/feeds/new.atom?company=" + quote("没有这家公司"))  # an empty feed


# ---------------------------------------------------------------- search

def search(served: Served, query: str) -> dict[str, Any]:
    response = served.get("/-/search.json?q=" + quote(query))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def numbers(found: dict[str, Any], table: str = "filings") -> list[str]:
    section = next(s for s in found["sections"] if s["table"] == table)
    key = "company" if table == "companies" else "filing_number"
    return [r[key] for r in section["rows"]]


@pytest.mark.parametrize(("query", "first", "also"), [
    ("抖音", DOUYIN, set()),  # two Chinese characters
    ("百度", BAIDU, {WENXIN}),
    ("文心一言", WENXIN, set()),  # a name
    ("北京字节跳动", "Beijing-DouBao-202404280001", set()),  # a company's beginning
    ("baidu", BAIDU, {WENXIN}),  # pinyin: every filing of the company, through its pinyin
    ("BaiDu", BAIDU, {WENXIN}),  # case does not matter
    ("百度 搜索", BAIDU, set()),  # two words, both must match
    ("baidu 文心", WENXIN, set()),  # pinyin and Chinese mixed
    ("yiyan", WENXIN, set()),  # pinyin of a filing's name (文心一言), not only its company's
    ("baidu yiyan", WENXIN, set()),
    (DOUYIN, DOUYIN, set()),  # a whole filing number
    ("1101088234839", DOUYIN, set()),  # its first digits (the entity code)
    ("Beijing-WenXinYiYan", WENXIN, set()),  # a generative-AI number's beginning
    ('"推荐算法"', DOUYIN, set()),  # a quoted phrase
    ("剪映 AND OR NOT", None, set()),  # FTS5 operators are words like any other
])
def test_search_query_shapes(served: Served, query: str, first: str | None,
                             also: set[str]) -> None:
    found = numbers(search(served, query))
    if first is None:
        assert found == []
        return
    # The first expected result ranks first, or among the others expected (pinyin matches
    # every filing of the company alike).
    assert first in found[: len(also) + 1], (query, found)
    assert also <= set(found), (query, found)


@pytest.mark.parametrize("query", ["", "   ", '"', "*", "NEAR(", "name:抖音", "-", "((", "^"])
def test_search_never_fails(served: Served, query: str) -> None:
    search(served, query)
    page(served, "/-/search?q=" + quote(query))


def test_search_finds_companies_by_pinyin_and_shows_labels(served: Served) -> None:
    found = search(served, "baidu")
    assert numbers(found, "companies")[0] == "北京百度网讯科技有限公司"
    body = page(served, "/-/search?q=baidu")
    companies = body.split('id="results-companies"')[1]
    assert "算法推荐 algorithm" in companies and '["algorithm"' not in companies  # not raw JSON
    assert "<mark>bai du</mark>" in companies  # the pinyin that matched


def test_search_results_say_where_and_when(served: Served) -> None:
    body = page(served, "/-/search?q=百度")
    filings = body.split('id="results-filings"')[1].split("</table>")[0]
    assert "<mark>百度</mark>搜索算法" in filings and "2022-08-12" in filings
    assert "算法推荐 algorithm" in filings
    assert 'data-label="公布 published"' in filings  # cards keep their labels on a phone
    found = search(served, "信息推荐")
    douyin = next(r for r in found["sections"][0]["rows"] if r["filing_number"] == DOUYIN)
    assert douyin["matched_in"] == "purpose"
    assert "用途 purpose:" in text_of(page(served, "/-/search?q=信息推荐"))


def test_a_section_that_lists_only_the_first_matches_leads_to_every_match(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from cac_filings.web import search_results

    monkeypatch.setattr(search_results, "LIMIT", 2)
    everything = served.rows("select count(*) from filings_fts where filings_fts match ?",
                             (fts_query("算法"),))[0][0]
    assert everything > 2
    found = search(served, "算法")
    section = found["sections"][0]
    assert len(section["rows"]) == 2 and section["more"] is True
    assert section["all_matches_url"] == "/cac_filings/filings?_search=" + quote("算法")
    body = page(served, "/-/search?q=" + quote("算法"))
    assert html.escape(section["all_matches_url"]) in body.split('id="results-filings"')[1]
    table = served.get(section["all_matches_url"].replace("/filings?", "/filings.json?"))
    assert table.json()["filtered_table_rows_count"] == everything
    few = search(served, "百度搜索")["sections"][0]
    assert few["rows"] and few["more"] is False


def test_a_search_without_hits_offers_a_way_on(served: Served) -> None:
    found = search(served, "北京抖音不存在")
    assert found["total"] == 0
    assert any(s["query"] == "北京抖音" and s["hits"] > 0 for s in found["suggestions"])
    assert found["similar_companies"][0]["company"] == "北京抖音信息服务有限公司"
    body = page(served, "/-/search?q=北京抖音不存在")
    assert "没有找到" in body and 'href="/-/search?q=' in body.split('id="no-results"')[1]


def test_similar_companies_when_many_share_a_character(served: Served,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from cac_filings.web import search_results

    ranked = search(served, "北京抖音不存在")["similar_companies"]
    # More companies share one of its characters than are ranked: those the first shorter
    # query that finds something (北京抖音) finds, in the index's order.
    monkeypatch.setattr(search_results, "SIMILAR_SCORED_AT_MOST", 0)
    found = search(served, "北京抖音不存在")
    assert found["suggestions"][0]["query"] == "北京抖音"
    rows = served.rows("select c.company from companies_fts f join companies c on c.rowid = "
                       "f.rowid where companies_fts match ? order by f.rowid limit 5",
                       (parse_search("北京抖音").match,))
    assert [c["company"] for c in found["similar_companies"]] == [r[0] for r in rows]
    assert ranked[0]["company"] == "北京抖音信息服务有限公司" and len(ranked) > len(rows)


def test_a_query_over_the_cap(served: Served) -> None:
    long = "抖音" + "啊" * MAX_QUERY_CHARS
    response = served.get("/-/search.json?q=" + quote(long))
    assert response.status_code == 400
    message = response.json()["error"]
    assert "too long" in message and "查询过长" in message and str(MAX_QUERY_CHARS) in message
    body = page(served, "/-/search?q=" + quote(long))  # the page searches the first 100
    notice = text_of(body.split('id="too-long"')[1].split("</p>")[0])
    assert f"前 {MAX_QUERY_CHARS} 个字符" in notice and f"first {MAX_QUERY_CHARS}" in notice
    assert ("抖音" + "啊" * (MAX_QUERY_CHARS - 2)) in notice


# ---------------------------------------------------------------- Datasette's own pages

def test_the_database_has_one_stable_name(served: Served) -> None:
    databases = served.get("/-/databases.json").json()
    assert [d["name"] for d in databases] == [DATABASE]
    body = page(served, "/cac_filings/filings")
    title = re.search(r"<title>(.*?)</title>", body, re.S)
    assert title and served.release.name not in title.group(1)
    assert served.release.name not in body.split("</header>")[0]  # nor in the breadcrumbs


def test_filings_table_newest_first_with_labels_links_and_folded_descriptions(
        served: Served) -> None:
    data = served.get("/cac_filings/filings.json?_shape=array&_size=100").json()
    dates = [r["first_published_on"] for r in data]
    assert dates == sorted(dates, key=lambda d: d or "", reverse=True)
    body = page(served, "/cac_filings/filings")
    assert '<details class="cac-columns"' in body
    assert body.index("</details>") < body.index('<table class="rows-and-columns">')
    assert "suggested-facets" not in body  # facet suggestions are off
    assert "服务提供者 service provider" in body and 'title="service_provider"' in body
    assert f'href="{company_url("北京百度网讯科技有限公司")}"' in body
    assert f'href="{filing_url("algorithm", DOUYIN)}"' in body
    assert "深度合成 deep synthesis" in body.split('id="facet-list_kind"')[1][:3000]
    # Newest first, page after page (Datasette's keyset pagination on the sort column).
    seen: list[str] = []
    path: str | None = "/cac_filings/filings.json?_size=5&_shape=objects"
    while path:
        response = served.get(path).json()
        seen += [r["filing_number"] for r in response["rows"]]
        path = response["next_url"] and urlsplit(response["next_url"]).path + "?" + urlsplit(
            response["next_url"]).query
    assert len(seen) == len(set(seen)) == len(served.rows("select 1 from filings"))


@pytest.mark.parametrize("table", ["official_counts", "reconciliation"])
def test_row_links_of_a_key_with_an_empty_column_lead_to_the_row(served: Served,
                                                                 table: str) -> None:
    body = page(served, f"/{DATABASE}/{table}")
    rows = {h for h in links(body) if h.startswith(f"/{DATABASE}/{table}/")}
    assert any(h.endswith(",None") for h in rows), rows  # a cumulative figure: no year
    for href in rows:
        moved = served.get(href)
        assert moved.status_code == 302, href
        shown = served.get(moved.headers["location"].replace(f"/{table}?", f"/{table}.json?")
                           + "&_shape=array").json()
        assert len(shown) == 1, href
        assert (shown[0]["year"] is None) == href.endswith(",None")
        as_json = served.get(href + ".json")
        assert as_json.status_code == 302, href
        assert served.get(as_json.headers["location"] + "&_shape=array").json() == shown


def test_row_pages_lead_to_the_project_pages(served: Served) -> None:
    from datasette.utils import tilde_encode

    row = served.get(f"/cac_filings/filings/algorithm,{tilde_encode(DOUYIN)}")
    assert row.status_code == 302 and row.headers["location"] == filing_url("algorithm", DOUYIN)
    company = served.get("/cac_filings/companies/" + tilde_encode("北京百度网讯科技有限公司"))
    assert company.status_code == 302
    assert company.headers["location"] == company_url("北京百度网讯科技有限公司")
    assert served.get(f"/cac_filings/filings/algorithm,{tilde_encode(DOUYIN)}.json"
                      ).status_code == 200  # the JSON row stays Datasette's


def test_canned_queries_have_short_titles_and_are_generic(served: Served) -> None:
    from cac_filings.metadata import QUERIES

    for name, query in QUERIES.items():
        body = page(served, f"/cac_filings/{name}")
        title = re.search(r"<title>(.*?)</title>", body, re.S)
        assert title and html.unescape(title.group(1)).startswith(query["title"]), name
        assert len(title.group(1)) < 80 and "select" not in title.group(1).lower()
        for kind in served.rows("select list_kind from list_kinds"):
            assert f"'{kind[0]}'" not in query["sql"], (name, kind[0])  # no list named
    province = text_of(page(served, "/cac_filings/genai_by_province?province=北京市"))
    assert "文心一言" in province and "生成式AI登记 generative-AI registration" in province


def test_markdown_documents_are_pages_and_files(served: Served) -> None:
    for name in ("CHANGES.md", "DATA-DICTIONARY.md"):
        body = page(served, f"/-/docs/{name}")
        assert "<h1>" in body and f'href="/-/downloads/{name}"' in body
        raw = served.get(f"/-/downloads/{name}")
        assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/markdown")
        assert raw.text.startswith("# cac-filings")
    page(served, "/-/docs/manifest.json", 404)


# ---------------------------------------------------------------- downloads

def test_downloads_page_groups_and_describes_every_file(served: Served) -> None:
    body = page(served, "/-/downloads")
    shown = text_of(body)
    assert shown.index("数据表 The data") < shown.index("历史与问题 History") < shown.index(
        "整个数据版本 The whole release")
    assert shown.index("备案 filings") < shown.index("批次 batches")  # the registry first
    counts = json.loads((served.release / "manifest.json").read_text())["row_counts"]
    assert f"{counts['filings']:,}" in shown
    for name in ("filings.parquet", "csv/filings.csv", "cac_filings.db", "datapackage.json",
                 "SHA256SUMS", f"cac-filings-{served.release.name}.zip"):
        assert f'href="/-/downloads/{name}"' in body, name


def test_the_whole_release_as_a_zip(served: Served) -> None:
    response = served.get(f"/-/downloads/cac-filings-{served.release.name}.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        prefix = f"cac-filings-{served.release.name}/"
        assert f"{prefix}filings.parquet" in names and f"{prefix}csv/filings.csv" in names
        for info in archive.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            assert archive.read(info) == (served.release / info.filename[len(prefix):]
                                          ).read_bytes()
    sums = (served.release / "SHA256SUMS").read_text().split()[1::2]
    assert {n[len(prefix):] for n in names} >= set(sums) - {"metadata.json"} | {"SHA256SUMS"}
    page(served, "/-/downloads/cac-filings-20000101T000000Z.zip", 404)  # not this release's


@pytest.mark.parametrize("name", [
    # (httpx removes literal dot segments from a path before sending it: they are encoded)
    "%2E%2E", "%2e%2e/manifest.json", "csv/%2E%2E/manifest.json", "%00",
    "filings.parquet%00", "x" * 300 + ".parquet", "csv/", "csv", "csv/%2e%2e", "raw",
    "数据.parquet", "%E6%95%B0%E6%8D%AE", "FILINGS.PARQUET", "filings.parquet/", "%2E",
    "%2F%2Fetc%2Fpasswd", "cac_filings.db-journal",
])
def test_bad_download_paths_answer_404(served: Served, name: str) -> None:
    assert served.get("/-/downloads/" + name).status_code == 404, name


def test_nothing_published_answers_404_not_500(tmp_path: Path) -> None:
    from datasette.app import Datasette

    ds = Datasette([], settings={"num_sql_threads": 1})  # the plugin, but no release
    loop = asyncio.new_event_loop()
    try:
        for path in ("/-/downloads/filings.parquet", "/-/downloads", "/-/latest",
                     "/-/search?q=x", filing_url("algorithm", DOUYIN), "/-/status"):
            response = loop.run_until_complete(ds.client.get(path))
            assert response.status_code == 404, path
        assert loop.run_until_complete(ds.client.get("/")).status_code == 200
    finally:
        loop.close()


# ---------------------------------------------------------------- status and reconciliation

def test_status_page_and_json_write_nothing(served: Served) -> None:
    before = sorted((p.as_posix(), p.stat().st_mtime_ns) for p in served.data.rglob("*"))
    status = served.get("/-/status.json").json()
    assert status["release"]["release_id"] == served.release.name
    held = {p["batch_id"] for s in status["sources"] for p in s["held_back"]} | {
        p["batch_id"] for p in status["other_problems"] if p["severity"] == "held_back"}
    assert held == {"algorithm/2026-09", "deep_synthesis/2026-09"}
    assert status["last_runs"][0]["exit_code"] == 5
    body = text_of(page(served, "/-/status"))
    assert "cn_cac_algorithm" in body and "暂缓发布 held back: algorithm/2026-09" in body
    assert "最近的运行 Last runs" in body
    if status["totals_differing"]:
        assert (f"{status['totals_differing']} of our counts differ from CAC's stated totals"
                in body)
    else:
        assert "differ from CAC's stated totals" not in body
    assert sorted((p.as_posix(), p.stat().st_mtime_ns) for p in served.data.rglob("*")) == before


def test_reconciliation_page(served: Served) -> None:
    shown = text_of(page(served, "/-/reconciliation"))
    assert "不一致 differs" in shown and "一致 agrees" in shown
    assert "差异 difference -1" in shown
    assert "2024年共有3款生成式人工智能应用或功能在地方网信办完成登记" in shown
    rows = served.get("/-/reconciliation.json").json()
    assert {r["status"] for r in rows} == {"agrees", "differs"}


# ------------------------------------------------------- what a new reader found (issue 12)

def facet_values(body: str, column: str) -> list[tuple[str, int]]:
    """A facet's values as shown (the value on hover, the count after it)."""
    block = body.split(f'id="facet-{column}"')[1].split("</ul>")[0]
    return [(html.unescape(v), int(n.replace(",", ""))) for v, n in re.findall(
        r'<li><a href="[^"]*" title="([^"]*)">[^<]*</a> ([\d,]+)</li>', block)]


def test_table_facets_are_short_exact_and_lead_to_the_rest(served: Served) -> None:
    from cac_filings.metadata import FACET_SIZE

    metadata = served.get("/-/metadata.json").json()["databases"][DATABASE]["tables"]
    assert metadata["filings"]["facet_size"] == FACET_SIZE
    assert "facet_size" not in metadata["batches"]  # a small table lists every value
    body = page(served, "/cac_filings/filings")
    expected = {r["last_batch_id"]: r["n"] for r in served.rows(
        "select last_batch_id, count(*) as n from filings group by last_batch_id")}
    assert len(expected) > FACET_SIZE  # the fixture has more batches than are shown
    shown = facet_values(body, "last_batch_id")
    assert len(shown) == FACET_SIZE
    assert all(expected[value] == n for value, n in shown)  # every count exact
    assert [n for _, n in shown] == sorted(expected.values(), reverse=True)[:FACET_SIZE]
    truncated = body.split('id="facet-last_batch_id"')[1].split("</ul>")[0]
    assert "_facet_size=max" in truncated and "全部 all" in truncated
    everything = page(served, "/cac_filings/filings?_facet_size=max")
    assert sorted(facet_values(everything, "last_batch_id")) == sorted(expected.items())
    # The facets stand between the form and the rows, a few lines each.
    assert body.index('class="facet-results"') < body.index('<table class="rows-and-columns">')


@pytest.mark.parametrize(("path", "said"), [
    ("/-/nope", "这个地址没有页面。There is no page at this address."),
    ("/cac_filings/nope", "没有这个表 Table not found"),
    ("/nope", "没有这个数据库 Database not found"),
    ("/cac_filings/problems/99999999", "没有这一行 Record not found"),
])
def test_datasette_404s_are_bilingual_with_the_sites_top_bar(served: Served, path: str,
                                                             said: str) -> None:
    body = page(served, path, 404)
    header = body.split("</header>")[0]
    assert '<a href="/">首页 home</a>' in header  # the breadcrumb home
    assert 'href="/-/latest"' in header and 'href="/-/search"' in header  # the menu
    assert "<h1>未找到 Not found</h1>" in body
    assert said in text_of(body)
    assert 'action="/-/search"' in body  # a way on
    assert served.get(path + ".json").headers["content-type"].startswith("application/json")


def test_a_bad_sort_is_a_bilingual_400_not_a_500(served: Served) -> None:
    body = page(served, "/cac_filings/filings?_sort=nope", 400)
    assert "不能按 nope 排序 Cannot sort table by nope" in text_of(body)
    assert 'href="/-/latest"' in body.split("</header>")[0]


def test_datasette_error_words() -> None:
    from cac_filings.web import words

    assert words.bilingual_error("Database not found") == "没有这个数据库 Database not found"
    assert words.bilingual_error("Cannot sort table by x y") == (
        "不能按 x y 排序 Cannot sort table by x y")
    assert words.bilingual_error("404") == ""  # the bare status says nothing more
    assert words.bilingual_error("a new message") == "a new message"  # kept as written
    assert words.is_request_error("Cannot sort table by x") and not words.is_request_error(
        "database is locked")
    assert words.operator_label("exact", "=") == "等于 ="
    assert words.operator_label("newop", "new op") == "new op"


def test_table_page_says_what_it_shows_in_both_languages(served: Served) -> None:
    body = page(served, "/cac_filings/filings")
    heading = text_of(body.split('id="rows-described"')[1].split("</h3>")[0])
    assert "按首次公布日期降序排列 sorted by first_published_on descending" in heading
    filtered = page(served, "/cac_filings/filings?list_kind=algorithm&province__contains=北京"
                    "&status__notblank=1&_search=抖音")
    heading = text_of(filtered.split('id="rows-described"')[1].split("</h3>")[0])
    assert ("筛选：清单类型 等于“算法推荐 algorithm”，所属省份 包含“北京”，状态 不为空，"
            "搜索“抖音”；按首次公布日期降序排列") in heading
    assert 'province contains "北京"' in heading  # Datasette's English stays
    # The operators of the filter menus, in both languages.
    menu = filtered.split('name="_filter_op"')[1].split("</select>")[0]
    options = [html.unescape(o) for o in re.findall(r">([^<]+)</option>", menu)]
    assert options[:3] == ["等于 =", "不等于 !=", "包含 contains"]
    assert "为空 is blank" in options
    assert all(re.search(r"[\u4e00-\u9fff]", o) for o in options), options


def test_canned_query_columns_are_named_in_both_languages(served: Served) -> None:
    from cac_filings.metadata import QUERIES

    for name in QUERIES:
        body = page(served, f"/cac_filings/{name}?company=北京百度网讯科技有限公司")
        heads = re.findall(r'<th class="col-[^"]*" scope="col">(.*?)</th>', body, re.S)
        assert heads, name
        for head in heads:
            assert '<span class="cac-muted">' in head, (name, head)  # a Chinese name
    shown = text_of(page(served, "/cac_filings/genai_by_province"))
    assert "total 合计" in shown and "by_list 各清单数量" in shown


def test_growth_chart_is_drawn_for_a_phone_too(served: Served) -> None:
    from cac_filings.web.charts import NARROW, WIDE

    body = page(served, "/-/charts")
    wide = body.split('class="cac-chart cac-chart-wide"')[1].split("</svg>")[0]
    narrow = body.split('class="cac-chart cac-chart-narrow"')[1].split("</svg>")[0]
    assert f'viewBox="0 0 {NARROW.width} {NARROW.height}"' in body
    # At a phone's 358 px, one unit of the narrow grid is about a pixel: 13 px labels.
    assert NARROW.font * 358 / NARROW.width >= 12
    assert WIDE.font * 577 / WIDE.width >= 12  # the wide one from 577 px up
    assert set(re.findall(r'font-size="(\d+)"', narrow)) == {str(NARROW.font)}
    assert wide.count("data-list-kind=") == narrow.count("data-list-kind=") >= 3
    css = served.get("/-/static-plugins/cac_filings/cac.css").text
    assert ".cac-chart-narrow { display: none; }" in css


def test_growth_chart_labels_at_most_a_few_years_on_a_phone() -> None:
    import datetime as dt

    from cac_filings.web.charts import NARROW, WIDE, growth_svg

    points = [(dt.date(2010 + i, 6, 1), 10 * (i + 1)) for i in range(15)]
    series = [{"list_kind": "algorithm", "color": "#123456", "label": "x", "points": points,
               "total": 150}]
    years = re.findall(r">(20\d\d)</text>", growth_svg(series, NARROW))
    assert 2 <= len(years) <= NARROW.years_shown
    assert 7 <= len(re.findall(r">(20\d\d)</text>", growth_svg(series, WIDE))) <= 12
    recent = [{**series[0], "points": points[-5:]}]  # 2020-2024: every year labelled
    for layout in (NARROW, WIDE):
        assert re.findall(r">(20\d\d)</text>", growth_svg(recent, layout)) == [
            "2021", "2022", "2023", "2024"]


def test_a_batchs_lists_follow_the_registrys_order() -> None:
    from cac_filings.schema import SUMMARY_BATCH_LISTS
    from cac_filings.web.db import Reader
    from cac_filings.web.latest import summarise_batch
    from cac_filings.web.release import Release

    conn = sqlite3.connect(":memory:")
    conn.execute(f"create table {SUMMARY_BATCH_LISTS.name} (batch_id, version, list_kind, "
                 "rows, new, relisted, changed, marked_cancelled)")
    # CAC's March 2025 file: more registrations than filings.
    conn.executemany(f"insert into {SUMMARY_BATCH_LISTS.name} values (?, 1, ?, ?, 0, 0, 0, 0)",
                     [("genai/2025-03", "genai_registration", 54),
                      ("genai/2025-03", "genai_unknown", 99),
                      ("genai/2025-03", "genai_filing", 44)])
    release = Release(Path("r"), {}, {}, list_kinds=[
        {"list_kind": "algorithm"}, {"list_kind": "genai_filing"},
        {"list_kind": "genai_registration"}], summaries=frozenset({SUMMARY_BATCH_LISTS.name}))
    lists = summarise_batch(Reader(conn), release, {"batch_id": "genai/2025-03", "version": 1})
    assert [x["list_kind"] for x in lists] == ["genai_filing", "genai_registration",
                                               "genai_unknown"]


def test_latest_lists_of_every_batch_in_the_registrys_order(served: Served) -> None:
    order = [r["list_kind"] for r in served.rows("select list_kind from list_kinds "
                                                 "order by sort_order")]
    batches = served.get("/-/latest.json").json()["batches"]
    several = [b for b in batches if len(b["lists"]) > 1]
    assert several  # the generative-AI files hold two lists
    for b in several:
        kinds = [x["list_kind"] for x in b["lists"]]
        assert kinds == sorted(kinds, key=order.index), b["batch_id"]


def test_the_first_release_is_not_compared_with_one_before_it(served: Served) -> None:
    note = text_of(page(served, "/-/latest").split('id="release-changes"')[1].split("</p>")[0])
    assert "relative to the one before it" not in note and "相对上一版本" not in note
    added = served.rows("select count(*) from filings")[0][0]
    assert f"is this dataset's first release, with none before it to compare with: all " \
           f"{added:,} of its filings are new to it" in note
    assert "第一个版本" in note


@pytest.mark.parametrize(("query", "page_path"), [
    ("", "/"),
    ("?province=北京市", "/cac_filings/filings?province=%E5%8C%97%E4%BA%AC%E5%B8%82"),
    ("?q=抖音", "/-/search?q=%E6%8A%96%E9%9F%B3"),
    ("?q=抖音&province=北京市",
     "/cac_filings/filings?_search=%E6%8A%96%E9%9F%B3&province=%E5%8C%97%E4%BA%AC%E5%B8%82"),
    ("?company=北京百度网讯科技有限公司", company_url("北京百度网讯科技有限公司")),
])
def test_feeds_link_to_themselves_and_to_their_page(served: Served, query: str,
                                                    page_path: str) -> None:
    path = "/-/feeds/new.atom" + query
    feed = feedparser.parse(served.get(path).content)
    assert not feed.bozo
    found = {link.rel: link.href for link in feed.feed.links}
    assert urlsplit(found["self"]).path == "/-/feeds/new.atom"
    assert found["self"].endswith(quote(query, safe="?=&"))
    assert found["alternate"] == "http://localhost" + page_path
    assert served.get(urlsplit(found["alternate"]).path + (
        "?" + urlsplit(found["alternate"]).query if urlsplit(found["alternate"]).query
        else "")).status_code == 200
    for other, alternate in (("/-/feeds/release.atom", "/-/latest#this-release"),
                             ("/-/feeds/cancellations.atom", "/cac_filings/cancellations")):
        links_of = {link.rel: link.href for link in feedparser.parse(
            served.get(other).content).feed.links}
        assert links_of == {"self": "http://localhost" + other,
                            "alternate": "http://localhost" + alternate}


# ---------------------------------------------------------------- a new release

def test_a_new_release_keeps_the_name_and_every_thread_moves_to_it(served: Served) -> None:
    from cac_filings.web.release import watcher_of

    before = len(numbers(search(served, "快手")))
    first_release = served.release.name
    served.site.options.third_attachment = True  # 快手推荐算法 appears
    assert run(served.site, served.data) == 5
    watcher = watcher_of(served.ds)
    assert watcher is not None
    watcher.checked = 0.0  # the watcher looks at most once a second
    # Every SQL thread must answer from the new file, not the connection it kept.
    for _ in range(6):
        assert len(numbers(search(served, "快手"))) == before + 1
    assert [d["name"] for d in served.get("/-/databases.json").json()] == [DATABASE]
    assert served.release.name in page(served, "/")
    tables = served.get("/cac_filings.json").json()["tables"]
    assert any(t["name"] == "filings" for t in tables)
    note = text_of(page(served, "/-/latest").split('id="release-changes"')[1].split("</p>")[0])
    assert f"relative to the one before it ({first_release}): 1 新增 added" in note


def test_a_companys_count_says_when_its_former_names_add_filings(
        tiny_release: Path, tmp_path: Path) -> None:
    # The companies table counts the filings under a company's current name (n_filings);
    # its page lists those under its former names too, and says both.
    data = tmp_path / "data"
    shutil.copytree(tiny_release, data, symlinks=True)
    db = sqlite3.connect((data / "published").resolve() / DB_FILE)
    with db:
        db.execute("update filings set company = '北京微播视界科技有限公司' where "
                   "filing_number = ?", [BAIDU])
    db.close()
    loop = asyncio.new_event_loop()
    try:
        ds = make_datasette(load_settings(data_dir=data))
        body = loop.run_until_complete(ds.client.get(company_url("北京抖音信息服务有限公司"))).text
    finally:
        loop.close()
    facts = text_of(body.split('class="cac-facts"')[1].split("</dl>")[0])
    listed = int(re.search(r"备案 Filings \((\d+)\)", text_of(body))[1])  # type: ignore[index]
    assert f"含曾用名共 {listed} with its former names" in facts
    assert facts.split("备案 Filings ")[1].startswith(f"{listed - 1} 以现名 under this name")
