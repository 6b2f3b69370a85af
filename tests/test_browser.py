"""The Datasette site in a real browser: Playwright driving Debian's Chromium against
`cac-filings serve` on a release built from the tiny self-made site.

Every page is opened at desktop width and at a phone's (390 px): its content is checked, no
request may answer 500, nothing may be wider than the phone, and a screenshot of each is kept
in test-artifacts/ for a person to look at. Without /usr/bin/chromium the tests are skipped,
except where CAC_FILINGS_REQUIRE_BROWSER is set (CI installs Chromium and sets it).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from cac_filings.metadata import FACET_SIZE
from cac_filings.web.urls import batch_url, company_url, filing_url
from tests.conftest import serving
from tests.test_e2e_tiny_site import run
from tests.tinysite import BAIDU, DOUBAO, DOUYIN, KUAISHOU, WENXIN, TinySite, serve_site

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

if not CHROMIUM.exists():
    if os.environ.get("CAC_FILINGS_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing but CAC_FILINGS_REQUIRE_BROWSER is set")
    pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium package)",
                allow_module_level=True)

from playwright.sync_api import (  # noqa: E402
    Browser,
    Dialog,
    Page,
    Response,
    expect,
    sync_playwright,
)


class Served:
    def __init__(self, site: TinySite, data: Path, url: str) -> None:
        self.site, self.data, self.url = site, data, url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("browser-data")
    with serve_site() as site:
        site.options.hostile = "injection"  # script and formula text in names, to be escaped
        done = run(site, data)
        assert done.returncode == 0, done.stderr
        with serving(data) as url:
            yield Served(site, data, url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


WIDTHS = {"desktop": 1280, "phone": 390}


class Tab:
    """One browser tab per width, open for the whole module: opening a context and a page
    costs more than loading most pages, and every page here is read-only. What a test's
    pages did is checked when the test hands the tab back (its fixture's teardown): no
    script ran (scraped text executed) and no request answered 500."""

    def __init__(self, browser: Browser, width_name: str) -> None:
        self.context = browser.new_context(
            viewport={"width": WIDTHS[width_name], "height": 900}, locale="zh-CN",
            is_mobile=width_name == "phone")
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.failed: list[str] = []
        self.page.on("dialog", self._on_dialog)
        self.page.on("response", self._on_response)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.failed.append(f"{response.status} {response.url}")

    def handed_back(self, when: str = "in this test") -> None:
        dialogs, failed, self.dialogs, self.failed = self.dialogs, self.failed, [], []
        assert not dialogs, f"a script ran in the page {when}: {dialogs}"  # scraped text
        assert not failed, f"answered 500 {when}: {failed}"


@pytest.fixture(scope="module")
def tabs(browser: Browser) -> Iterator[dict[str, Tab]]:
    opened = {name: Tab(browser, name) for name in WIDTHS}
    yield opened
    for tab in opened.values():
        tab.page.close(run_before_unload=False)
        tab.handed_back("after the module's last test ended")
        tab.context.close()


def handed(tab: Tab) -> Iterator[Page]:
    tab.handed_back("after the previous test ended")
    yield tab.page
    tab.handed_back()


@pytest.fixture
def page(tabs: dict[str, Tab]) -> Iterator[Page]:
    yield from handed(tabs["desktop"])


@pytest.fixture
def phone(tabs: dict[str, Tab]) -> Iterator[Page]:
    yield from handed(tabs["phone"])


# A screenshot shows a page's first screens (a person looks at them); the whole of a long
# page (the filings table on a phone is 20,000 px) costs seconds to encode and shows nothing
# more: its width is what the tests check, by measurement.
SHOT_HEIGHT = 4000


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    width, height = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": 0, "width": width, "height": min(height, SHOT_HEIGHT)})
    assert path.stat().st_size > 10_000
    return path


def test_home_page(served: Served, page: Page) -> None:
    page.goto(served.url + "/")
    expect(page).to_have_title("cac-filings · 中国算法备案数据")
    expect(page.locator("h1")).to_have_text("cac-filings · 中国算法备案数据")
    expect(page.locator("input[name=q]")).to_be_visible()
    release = os.readlink(served.data / "published").split("/")[-1]
    # What CAC published (its newest batch first, dated), apart from what this release changed.
    expect(page.locator("#latest li").first).to_contain_text("2024-04-02")
    expect(page.locator("#this-release")).to_contain_text(release)
    expect(page.locator("#this-release")).to_contain_text("新增 added")
    for link in ("filings.parquet", "cac_filings.db", "csv/filings.csv", "DATA-DICTIONARY.md",
                 "CHANGES.md", "manifest.json"):
        expect(page.locator("#downloads").get_by_role("link", name=link, exact=True)
               ).to_be_visible()
    expect(page.get_by_text("CC BY 4.0").first).to_be_visible()
    shot(page, "home")


def search_rows(page: Page, section: str) -> list[str]:
    return page.locator(f"#results-{section} + .table-wrapper tbody tr").all_inner_texts()


def test_chinese_search_from_the_home_page(served: Served, page: Page) -> None:
    page.goto(served.url + "/")
    page.fill("input[name=q]", "抖音")
    page.keyboard.press("Enter")
    page.wait_for_url("**/-/search?q=*")
    rows = search_rows(page, "filings")
    assert rows and DOUYIN in rows[0] and "抖音推荐算法" in rows[0]  # the name match first
    expect(page.locator("#results-companies")).to_contain_text("Companies")
    shot(page, "search")


@pytest.mark.parametrize(("query", "section", "expected"), [
    ("抖音", "filings", {DOUYIN}),
    ("百度", "filings", {BAIDU, WENXIN}),
    ("文心一言", "filings", {WENXIN}),
    ("北京字节跳动", "filings", {DOUBAO}),
    ("baidu", "companies", {"北京百度网讯科技有限公司"}),
])
def test_search_queries(served: Served, page: Page, query: str, section: str,
                        expected: set[str]) -> None:
    page.goto(served.url + "/-/search?q=" + query)
    rows = search_rows(page, section)
    assert rows, f"{query}: no {section}"
    found = {item for item in expected if any(item in row for row in rows)}
    assert found == expected, (query, rows)
    assert any(next(iter(expected)) in row for row in rows[: len(expected)])  # ranked first


def test_a_search_without_hits_says_so(served: Served, page: Page) -> None:
    page.goto(served.url + "/-/search?q=不存在的算法xyz")
    expect(page.locator("#no-results")).to_contain_text("没有找到结果")


def test_facet_click(served: Served, page: Page) -> None:
    page.goto(served.url + "/cac_filings/filings")
    facet = page.locator("#facet-list_kind")
    # Codes are shown with their labels (the labels table), the code on hover.
    facet.get_by_role("link", name="深度合成 deep synthesis").click()
    page.wait_for_url("**list_kind=deep_synthesis**")
    expect(page.locator("h3").first).to_contain_text('where list_kind = "deep_synthesis"')
    cells = page.locator("td.col-list_kind").all_inner_texts()
    assert cells and set(cells) == {"深度合成 deep synthesis"}
    assert set(page.locator("td.col-list_kind span").evaluate_all(
        "spans => spans.map(s => s.title)")) == {"deep_synthesis"}


def test_company_page(served: Served, page: Page) -> None:
    page.goto(served.url + "/-/search?q=北京抖音信息服务")
    page.locator("#results-companies + .table-wrapper a").first.click()
    expect(page.locator("h1")).to_have_text("北京抖音信息服务有限公司")
    expect(page.locator("#former-names")).to_contain_text("北京微播视界科技有限公司")
    filings = page.locator("#filings + .table-wrapper tbody tr").all_inner_texts()
    lists = {line.split("\t")[0] for line in filings}
    assert any("algorithm" in x for x in lists) and any("deep synthesis" in x for x in lists)
    expect(page.locator("#batches")).to_be_visible()
    shot(page, "company")


def test_feeds_are_valid(served: Served, page: Page) -> None:
    for path, at_least in (("/-/feeds/new.atom", 10), ("/-/feeds/new.atom?province=北京市", 3),
                           ("/-/feeds/new.atom?q=抖音", 1),
                           ("/-/feeds/new.atom?company=北京百度网讯科技有限公司", 2)):
        response = page.request.get(served.url + path)
        assert response.ok and response.headers["content-type"].startswith(
            "application/atom+xml")
        feed = feedparser.parse(response.body())
        assert not feed.bozo and feed.version == "atom10", path
        assert len(feed.entries) >= at_least, path
        assert all(e.id and e.title and e.updated and e.link for e in feed.entries)
    beijing = feedparser.parse(page.request.get(served.url + "/-/feeds/new.atom?province=北京市"
                                                ).body())
    assert all("北京市" in e.summary for e in beijing.entries)
    cancellations = feedparser.parse(page.request.get(
        served.url + "/-/feeds/cancellations.atom").body())
    assert not cancellations.bozo and cancellations.version == "atom10"


def test_download_links(served: Served, page: Page) -> None:
    page.goto(served.url + "/")
    with page.expect_download() as download:
        page.locator("#downloads").get_by_role("link", name="filings.parquet",
                                               exact=True).click()
    path = download.value.path()
    assert Path(path).read_bytes()[:4] == b"PAR1"
    csv_text = page.request.get(served.url + "/-/downloads/csv/filings.csv").text()
    assert csv_text.startswith("\ufeff") and "'+SUM(A1:A9)算法" in csv_text
    db = httpx.get(served.url + "/-/downloads/cac_filings.db")
    assert db.status_code == 200 and db.content[:16] == b"SQLite format 3\x00"
    assert db.headers["content-disposition"] == 'attachment; filename="cac_filings.db"'
    assert db.headers["content-type"] == "application/vnd.sqlite3"


def test_scraped_text_is_escaped_and_csv_is_safe(served: Served, page: Page) -> None:
    page.goto(served.url + "/cac_filings/filings?_search=SUM")
    expect(page.locator("table.rows-and-columns")).to_contain_text("<script>alert('x')</script>")
    datasette_csv = page.request.get(served.url + "/cac_filings/filings.csv?_search=SUM").text()
    assert "'+SUM(A1:A9)算法" in datasette_csv and "'=HYPERLINK" in datasette_csv
    assert "\n+SUM" not in datasette_csv and ",+SUM" not in datasette_csv


def test_charts(served: Served, page: Page) -> None:
    page.goto(served.url + "/-/charts")
    # How the registry grew: one cumulative line per list.
    lines = page.locator("#chart-growth path[data-list-kind]")
    assert lines.count() >= 3
    expect(page.locator("#chart-growth figcaption")).to_contain_text("深度合成 deep synthesis")
    expect(page.locator("#chart-provinces")).to_contain_text("北京市")
    shot(page, "charts")


def test_canned_queries(served: Served, page: Page) -> None:
    for name in ("new_in_latest_release", "genai_by_province", "cancelled_filings",
                 "batches_over_time"):
        page.goto(f"{served.url}/cac_filings/{name}")
        expect(page.locator("h1")).not_to_have_text("")
        assert page.locator("table.rows-and-columns tbody tr").count() >= 1, name
    page.goto(served.url + "/cac_filings/genai_by_province?province=北京市")
    expect(page.locator("table.rows-and-columns")).to_contain_text("文心一言")
    page.goto(served.url + "/cac_filings/company_filings?company=北京抖音信息服务有限公司")
    expect(page.locator("table.rows-and-columns")).to_contain_text(DOUYIN)


# ---------------------------------------------------------------- every page, two widths

# name, path, status, a selector on the page, text it must show
PAGES = [
    ("home", "/", 200, "#figures", "已注销 cancelled"),
    ("latest", "/-/latest", 200, "#batches", "公告日期 the announcement's date"),
    ("search", "/-/search?q=百度", 200, "#results-filings", "百度搜索算法"),
    ("search-pinyin", "/-/search?q=baidu", 200, "#results-filings", "文心一言"),
    ("search-nothing", "/-/search?q=北京抖音不存在", 200, "#no-results",
     "北京抖音信息服务有限公司"),
    ("filing", filing_url("algorithm", DOUYIN), 200, "#facts", "北京抖音信息服务有限公司"),
    ("filing-genai", filing_url("genai_filing", WENXIN), 200, "#number", "Beijing"),
    ("company", company_url("北京抖音信息服务有限公司"), 200, "#filings", "抖音推荐算法"),
    ("batch", batch_url("algorithm/2022-10"), 200, "#rows", "微信搜一搜算法"),
    ("charts", "/-/charts", 200, "#chart-growth", "深度合成 deep synthesis"),
    ("status", "/-/status", 200, "#sources", "cn_cac_algorithm"),
    ("reconciliation", "/-/reconciliation", 200, "h1", "Against CAC's own totals"),
    ("downloads", "/-/downloads", 200, "#group-1", "备案 filings"),
    ("changes-md", "/-/docs/CHANGES.md", 200, "article", "cac-filings release"),
    ("dictionary-md", "/-/docs/DATA-DICTIONARY.md", 200, "article", "companies"),
    ("database", "/cac_filings", 200, "#queries", "How the registry grew"),
    ("filings-table", "/cac_filings/filings", 200, "table.rows-and-columns", "抖音推荐算法"),
    ("companies-table", "/cac_filings/companies", 200, "table.rows-and-columns",
     "北京百度网讯科技有限公司"),
    ("canned-query", "/cac_filings/genai_by_province", 200, "h1", "Generative AI by province"),
    ("canned-sql", "/cac_filings/registry_growth", 200, "table.rows-and-columns", "cumulative"),
    ("not-found", company_url("没有这家公司"), 404, "#not-found", "没有这家公司"),
    ("datasette-404", "/no-such-database", 404, "header details.nav-menu",
     "没有这个数据库 Database not found"),
    ("datasette-404-table", "/cac_filings/no-such-table", 404, "header details.nav-menu",
     "没有这个表 Table not found"),
]


@pytest.fixture(params=list(WIDTHS))
def sized(request: pytest.FixtureRequest, tabs: dict[str, Tab]) -> Iterator[tuple[str, Page]]:
    for page in handed(tabs[request.param]):
        yield request.param, page


@pytest.mark.parametrize(("name", "path", "status", "selector", "text"), PAGES,
                         ids=[p[0] for p in PAGES])
def test_every_page_at_both_widths(served: Served, sized: tuple[str, Page], name: str,
                                   path: str, status: int, selector: str, text: str) -> None:
    width_name, page = sized
    response = page.goto(served.url + path)  # no request answers 500: checked by `sized`
    assert response is not None and response.status == status, (path, response)
    expect(page.locator(selector).first).to_be_attached()
    expect(page.locator("section.content")).to_contain_text(text)
    assert page.title() and "cac_filings_" not in page.title()  # no release id in titles
    if width_name == "phone":  # nothing sideways: wide tables scroll in their own box
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTHS["phone"] + 1, (path, width)
    shot(page, f"{name}-{width_name}")


def test_filings_table_shows_its_first_row_on_the_first_screen(
        served: Served, sized: tuple[str, Page]) -> None:
    width_name, page = sized
    page.goto(served.url + "/cac_filings/filings")
    shown = page.locator(".facet-info").evaluate_all(
        "facets => facets.map(f => f.querySelectorAll('li:not(.facet-truncated)').length)")
    assert len(shown) >= 4 and max(shown) <= FACET_SIZE, shown  # a few values per facet
    top = page.locator("table.rows-and-columns tbody tr").first.evaluate(
        "row => row.getBoundingClientRect().top + window.scrollY")
    assert top < 900, (width_name, top)  # the viewport's height: no scrolling to find it
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width_name] + 1
    if width_name == "phone":  # the facets side by side, scrolling in their own box
        facets = page.locator(".facet-results")
        assert facets.evaluate("el => el.scrollWidth > el.clientWidth")
        assert facets.evaluate("el => el.getBoundingClientRect().height") < 300
    shot(page, f"filings-table-top-{width_name}")


def test_growth_chart_labels_are_readable_at_both_widths(
        served: Served, sized: tuple[str, Page]) -> None:
    width_name, page = sized
    page.goto(served.url + "/-/charts")
    shown = page.locator("#chart-growth svg:visible")
    assert shown.count() == 1
    # The labels' size on screen: their font size in the SVG's units times its scale.
    sizes = shown.evaluate("svg => [...svg.querySelectorAll('text')].map(t => "
                           "svg.getScreenCTM().a * parseFloat(t.getAttribute('font-size')))")
    assert sizes and min(sizes) >= 12, (width_name, sizes)
    box = shown.bounding_box()
    assert box is not None and box["x"] + box["width"] <= WIDTHS[width_name]
    assert page.locator("#chart-growth svg:visible path[data-list-kind]").count() >= 3
    shot(page, f"charts-{width_name}")


def test_cards_keep_their_labels_on_a_phone(served: Served, phone: Page) -> None:
    page = phone
    label = ("el => getComputedStyle(el, '::before').content")
    page.goto(served.url + "/-/search?q=百度")
    cells = page.locator("#results-filings + .table-wrapper tbody tr").first.locator("td")
    assert cells.nth(0).evaluate(label) == '"名称 name"'
    assert cells.nth(3).evaluate(label) == '"公布 published"'
    page.goto(served.url + "/cac_filings/filings")
    first = page.locator("table.rows-and-columns tbody tr").first.locator("td.col-list_kind")
    assert first.evaluate(label) == '"清单类型 list_kind"'


def test_two_clicks_to_a_filing_and_its_company_and_the_data_package(
        served: Served, page: Page) -> None:
    page.goto(served.url + "/")
    expect(page.locator("#latest")).to_contain_text("公告日期 the announcement's date")
    page.locator("#newest-filings li a").first.click()  # one click: a filing
    page.wait_for_url("**/-/filing/**")
    expect(page.locator("#facts")).to_contain_text("备案编号 Number")
    expect(page.locator("#source-file")).to_have_attribute("href", re.compile("cac.gov.cn"))
    page.locator("#facts dd a").first.click()  # two: its company
    page.wait_for_url("**/-/company/**")
    expect(page.locator("#filings")).to_be_visible()
    page.goto(served.url + "/")
    with page.expect_download() as parquet:
        page.locator("#downloads").get_by_role("link", name="filings.parquet", exact=True).click()
    assert Path(parquet.value.path()).read_bytes()[:4] == b"PAR1"
    with page.expect_download() as package:
        page.locator("#downloads").get_by_role("link", name="datapackage.json",
                                               exact=True).click()
    described = json.loads(Path(package.value.path()).read_text(encoding="utf-8"))
    assert {"name": "filings", "path": "filings.parquet"}.items() <= next(
        r for r in described["resources"] if r["name"] == "filings").items()


def test_serve_picks_up_a_new_release(served: Served, page: Page) -> None:
    served.site.options.third_attachment = True
    done = run(served.site, served.data)
    assert done.returncode == 0, done.stderr
    release = os.readlink(served.data / "published").split("/")[-1]
    published = time.monotonic()
    # The watcher looks at most once a second: the page is asked for again until it shows
    # the new release, which must be within about a second (2.5 s, for a loaded machine).
    while True:
        page.goto(served.url + "/")
        if release in page.locator("#this-release").inner_text():
            break
        assert time.monotonic() - published < 2.5, "the new release is not served"
        time.sleep(0.05)
    page.goto(served.url + "/-/search?q=快手")
    rows = search_rows(page, "filings")
    assert any(KUAISHOU in row for row in rows), (rows, page.content()[:3000])
    metadata: dict[str, Any] = json.loads(page.request.get(
        served.url + "/-/metadata.json").text())
    assert release in metadata["description"]


def test_the_database_is_served_immutable(served: Served) -> None:
    # Opened read-only with immutable=1: Datasette neither writes nor locks the published
    # file, which a build may swap at any moment.
    databases = httpx.get(served.url + "/-/databases.json").json()
    (database,) = [d for d in databases if d["route"] == "cac_filings"]
    assert database["is_mutable"] is False
    # the published release's file, under one name whatever the release (bookmarks last)
    published = (served.data / "published").resolve()
    assert Path(database["path"]) == published / "cac_filings.db"
    assert database["name"] == "cac_filings"
