"""The Datasette site in a real browser: Playwright driving Debian's Chromium against
`cac-filings serve` on a release built from the tiny self-made site.

Screenshots of the home page, a search, a company page and the charts are kept in
test-artifacts/ for a person to look at. Without /usr/bin/chromium the tests are skipped,
except where CAC_FILINGS_REQUIRE_BROWSER is set (CI installs Chromium and sets it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

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

from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright  # noqa: E402


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


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    opened = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    opened.on("dialog", on_dialog)
    yield opened
    assert not dialogs, f"a script ran in the page: {dialogs}"  # scraped text never executes
    context.close()


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_home_page(served: Served, page: Page) -> None:
    page.goto(served.url + "/")
    expect(page).to_have_title("cac-filings · 中国算法备案数据")
    expect(page.locator("h1")).to_have_text("cac-filings · 中国算法备案数据")
    expect(page.locator("input[name=q]")).to_be_visible()
    release = os.readlink(served.data / "published").split("/")[-1]
    expect(page.locator("#whats-new")).to_contain_text(release)
    expect(page.locator("#whats-new")).to_contain_text("added 新增")
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
    facet.get_by_role("link", name="deep_synthesis").click()
    page.wait_for_url("**list_kind=deep_synthesis**")
    expect(page.locator("h3").first).to_contain_text('where list_kind = "deep_synthesis"')
    cells = page.locator("td.col-list_kind").all_inner_texts()
    assert cells and set(cells) == {"deep_synthesis"}


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
    bars = page.locator("#chart-per-batch rect")
    assert bars.count() >= 5
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


def test_serve_picks_up_a_new_release(served: Served, page: Page) -> None:
    served.site.options.third_attachment = True
    done = run(served.site, served.data)
    assert done.returncode == 0, done.stderr
    release = os.readlink(served.data / "published").split("/")[-1]
    time.sleep(1.1)  # the watcher looks at most once a second
    page.goto(served.url + "/")
    expect(page.locator("#whats-new")).to_contain_text(release)
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
    # the published release's file, named by release so a swap is a new database
    published = (served.data / "published").resolve()
    assert Path(database["path"]) == published / "cac_filings.db"
    assert database["name"] == f"cac_filings_{published.name}"
