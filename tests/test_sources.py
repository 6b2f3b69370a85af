"""Source folders (source.yml + scraper.py) and what each scraper discovers on the site."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from cac_filings.errors import PageLayoutError
from cac_filings.headers import TableSpec
from cac_filings.site import Article, ColumnItem, Link
from cac_filings.sources import (
    BatchRef,
    Source,
    SourceConfigError,
    SourceSpec,
    load_sources,
    registry_of,
)

ALGORITHM = "cn_cac_algorithm"
DEEP_SYNTHESIS = "cn_cac_deep_synthesis"
DOWNLOAD = "https://www.cac.gov.cn/cms/pub/interact/downloadfile.jsp"
COLUMN_1 = "https://www.cac.gov.cn/wxzw/wxfb/A093702index_1.htm"
COLUMN_2 = "https://www.cac.gov.cn/wxzw/wxfb/A093702index_2.htm"


def attachment_url(filepath: str, ftext: str = "x") -> str:
    return f"{DOWNLOAD}?filepath={filepath}&fText={quote(ftext)}"


@dataclass
class FakeContext:
    """A CrawlContext that serves hand-built pages and records what the scraper asked for."""

    spec: SourceSpec
    articles: dict[str, Article]
    column: list[ColumnItem] = field(default_factory=list)
    fetched: list[tuple[str, str | None]] = field(default_factory=list)
    walked: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)  # beian's notice board
    json_fetched: list[str] = field(default_factory=list)
    # attachment URL → what an earlier crawl recorded for it
    remembered: dict[str, dict[str, Any]] = field(default_factory=dict)
    statements: list[str] = field(default_factory=list)  # pages recorded as statements

    def known(self, attachment_url: str) -> dict[str, Any] | None:
        return self.remembered.get(attachment_url)

    def statement(self, article: Article) -> None:
        self.statements.append(article.url)

    def fetch_article(self, url: str, referer: str | None = None) -> Article:
        self.fetched.append((url, referer))
        return self.articles[url]

    def article_batches(self, url: str, read: Callable[[Article], list[BatchRef]],
                        referer: str | None = None) -> list[BatchRef]:
        return read(self.fetch_article(url, referer))  # failures raise here, as they are

    def walk_column(self, first_page_url: str) -> Iterator[ColumnItem]:
        self.walked.append(first_page_url)
        yield from self.column

    def fetch_json(self, url: str, referer: str | None = None) -> Any:
        self.json_fetched.append(url)
        return {"errno": 0, "errmsg": "", "datas": self.notices}

    def log(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append(f"warning: {message}")

    def batch(self, **fields: Any) -> BatchRef:
        fields.setdefault("list_kind", self.spec.list_kind)
        for optional in ("batch_no", "published_on", "published_on_precision"):
            fields.setdefault(optional, None)
        fields.setdefault("batch_id", f"{fields['list_kind']}/{fields['period']}")
        return BatchRef(source=self.spec.name, **fields)


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch) -> dict[str, Source]:
    monkeypatch.delenv("CAC_FILINGS_SCRAPERS", raising=False)
    return {source.spec.name: source for source in load_sources()}


# ---------------------------------------------------------------- the real sources


def test_load_sources_finds_every_source(sources: dict[str, Source]) -> None:
    assert sorted(sources) == [ALGORITHM, "cn_cac_cancellations", DEEP_SYNTHESIS,
                               "cn_cac_generative_ai"]
    for name, source in sources.items():
        assert source.spec.folder.name == name
        assert callable(source.discover)
        assert source.spec.publisher.startswith("国家互联网信息办公室")
    assert sources["cn_cac_cancellations"].spec.may_be_empty
    kinds = registry_of(list(sources.values()))
    assert kinds.keys() == ["algorithm", "cancellation", "deep_synthesis", "genai_filing",
                            "genai_registration", "genai_on_device"]
    assert [k.key for k in kinds.cancellations] == ["cancellation"]
    assert kinds["genai_on_device"].title_zh == "端侧大模型备案信息"
    assert kinds["genai_on_device"].fields == ("scenario",)
    assert kinds["genai_filing"].misfiled["registration"].list_kind == "genai_registration"
    # Every table of a source is for one of its own list kinds.
    for source in sources.values():
        own = {k.key for k in source.spec.list_kinds}
        assert {t.list_kind for t in source.spec.tables} <= own


def test_algorithm_spec(sources: dict[str, Source]) -> None:
    spec = sources[ALGORITHM].spec
    assert spec.list_kind == "algorithm"
    assert spec.url("announcement") == "https://www.cac.gov.cn/2022-08/12/c_1661927474338504.htm"
    assert spec.tables == (TableSpec(
        list_kind="algorithm",
        columns={"序号": "serial", "算法名称": "name", "算法类别": "category",
                 "主体名称": "company", "应用产品": "products", "主要用途": "purpose",
                 "备案编号": "filing_number", "备注": "remarks"},
        required=("name", "company", "filing_number")),)
    assert "个性化推送类" in spec.categories
    assert "内容过滤类" in spec.categories


def test_deep_synthesis_spec(sources: dict[str, Source]) -> None:
    spec = sources[DEEP_SYNTHESIS].spec
    assert spec.list_kind == "deep_synthesis"
    assert spec.url("column") == COLUMN_1
    (table,) = spec.tables
    assert table.list_kind == "deep_synthesis"
    assert table.required == ("name", "role", "company", "filing_number")
    assert table.field_for("角色") == "role"
    assert table.field_for("备 案\n编号") == "filing_number"
    assert table.field_for("算法类别") is None
    assert spec.categories == ()


def test_load_sources_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAC_FILINGS_SCRAPERS", raising=False)
    assert [s.spec.name for s in load_sources(names=[DEEP_SYNTHESIS])] == [DEEP_SYNTHESIS]
    with pytest.raises(SourceConfigError, match=r"unknown source.*cn_cac_nothing"):
        load_sources(names=[ALGORITHM, "cn_cac_nothing"])


def test_missing_url_or_pattern_key_names_the_file(sources: dict[str, Source]) -> None:
    spec = sources[ALGORITHM].spec
    with pytest.raises(SourceConfigError, match=r"source\.yml: urls\.column is missing"):
        spec.url("column")
    with pytest.raises(SourceConfigError, match=r"source\.yml: match\.nothing is missing"):
        spec.pattern("nothing")


@pytest.mark.parametrize("title", [
    "国家互联网信息办公室关于发布深度合成服务算法备案信息的公告",
    "国家互联网信息办公室关于发布第十二批深度合成服务算法备案信息的公告",
    "国家互联网信息办公室关于发布第二批境内深度合成服务算法备案信息的公告",
    "国家互联网信息办公室关于发布第3批深度合成服务算法备案信息的公告",
])
def test_announcement_pattern_matches_filing_announcements(sources: dict[str, Source],
                                                           title: str) -> None:
    assert sources[DEEP_SYNTHESIS].spec.pattern("announcement_title").search(title)


@pytest.mark.parametrize("title", [
    "国家互联网信息办公室关于发布第十九批境内区块链信息服务备案编号的公告",
    "江西省网信办召开生成式人工智能服务备案工作座谈会",
    "国家互联网信息办公室关于发布生成式人工智能服务已备案信息的公告",
    "北京市网信办开展算法备案政策宣讲活动",
    "国家互联网信息办公室关于发布互联网信息服务算法备案信息的公告",
    "国家互联网信息办公室关于发布第十二批深度合成服务算法备案信息的公告的解读",
])
def test_announcement_pattern_rejects_other_news(sources: dict[str, Source], title: str) -> None:
    assert not sources[DEEP_SYNTHESIS].spec.pattern("announcement_title").search(title)


# ---------------------------------------------------------------- malformed source folders

VALID_YML = """\
name: {name}
title: Test source
list_kinds:
  - key: test
    title: {zh: 测试清单, en: test list}
    label: {zh: 测试, en: test}
    rules: suanbei
urls:
  column: https://www.cac.gov.cn/wxzw/wxfb/A093702index_1.htm
tables:
  - columns:
      备案 编号: filing_number
      主体名称: company
    required: [filing_number]
"""
VALID_SCRAPER = "def discover(ctx):\n    return []\n"


def write_source(root: Path, folder: str, yml: str, scraper: str = VALID_SCRAPER) -> Path:
    sub = root / folder
    sub.mkdir(parents=True)
    (sub / "source.yml").write_text(yml, encoding="utf-8")
    (sub / "scraper.py").write_text(scraper, encoding="utf-8")
    return sub


def test_minimal_source_folder_loads(tmp_path: Path) -> None:
    write_source(tmp_path, "cn_test", VALID_YML.replace("{name}", "cn_test"))
    (tmp_path / "notes").mkdir()  # a folder without source.yml is not a source
    (source,) = load_sources(tmp_path)
    assert source.spec.name == "cn_test"
    assert source.spec.folder == tmp_path / "cn_test"
    assert source.spec.tables == (TableSpec(
        list_kind="test", columns={"备案编号": "filing_number", "主体名称": "company"},
        required=("filing_number",)),)
    assert source.spec.schedule == "daily"
    assert source.spec.list_kind == "test"
    assert source.spec.list_kinds[0].title == "测试清单 · test list"
    assert source.spec.match == {}
    assert source.discover(FakeContext(spec=source.spec, articles={})) == []


@pytest.mark.parametrize(("yml", "scraper", "message"), [
    (VALID_YML.split("tables:")[0], VALID_SCRAPER, r"missing keys \['tables'\]"),
    (VALID_YML.replace("name: {name}\n", ""), VALID_SCRAPER, r"missing keys \['name'\]"),
    (VALID_YML.replace("{name}", "cn_other"), VALID_SCRAPER,
     "name 'cn_other' differs from its folder"),
    (VALID_YML, "def find(ctx):\n    return []\n", "has no discover"),
    (VALID_YML, "discover = 42\n", "has no discover"),
    ("- name: cn_test\n", VALID_SCRAPER, "expected a mapping"),
    ("name: [cn_test\n", VALID_SCRAPER, "cannot read"),
    (VALID_YML.split("tables:")[0] + "tables:\n  - required: [name]\n", VALID_SCRAPER,
     r"tables\[0\] needs columns"),
    (VALID_YML.replace("    rules: suanbei\n", "    rules: magic\n"), VALID_SCRAPER,
     r"list_kinds\[0\] \(test\): rules must be one of"),
    (VALID_YML.replace("    label: {zh: 测试, en: test}\n", ""), VALID_SCRAPER,
     r"list_kinds\[0\] \(test\) label needs zh and en"),
    (VALID_YML.replace("  - columns:", "  - list_kind: other\n    columns:"), VALID_SCRAPER,
     r"tables\[0\] is for list kind 'other', which list_kinds does not declare"),
    (VALID_YML.replace("required: [filing_number]", "required: [name]"), VALID_SCRAPER,
     r"tables\[0\] requires \['name'\], which no column maps to"),
], ids=["missing-tables", "missing-name", "name-not-folder", "no-discover",
        "discover-not-callable", "not-a-mapping", "invalid-yaml", "table-without-columns",
        "unknown-rules", "kind-without-label", "table-of-another-kind", "required-unmapped"])
def test_malformed_source_folder_raises(tmp_path: Path, yml: str, scraper: str,
                                        message: str) -> None:
    folder = write_source(tmp_path, "cn_test", yml.replace("{name}", "cn_test"), scraper)
    with pytest.raises(SourceConfigError, match=message) as info:
        load_sources(tmp_path)
    assert str(folder) in str(info.value)


def test_missing_scrapers_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(SourceConfigError, match="no scrapers folder"):
        load_sources(tmp_path / "absent")


# ---------------------------------------------------------------- algorithm scraper

ALGO_PAGE = "https://www.cac.gov.cn/2022-08/12/c_1661927474338504.htm"
ALGO_TITLE = "国家互联网信息办公室关于发布互联网信息服务算法备案信息的公告"
ALGO_ATT = [attachment_url(f"Al/{i}~x=") for i in range(5)]


def algorithm_article(*links: Link) -> Article:
    return Article(url=ALGO_PAGE, title=ALGO_TITLE, published_on="2022-08-12", links=links)


def test_algorithm_discover(sources: dict[str, Source]) -> None:
    source = sources[ALGORITHM]
    oct_2022 = "境内互联网信息服务算法备案清单（2022年10月）"
    article = algorithm_article(
        Link("境内互联网信息服务算法备案清单（2022年8月）", ALGO_ATT[0], "附件1"),
        Link("", attachment_url("Al/1~x=", oct_2022), "附件2"),  # title from fText
        Link("管理规定", "https://www.cac.gov.cn/2022-01/04/c_1642894606364259.htm", None),
        Link("附件3：境内互联网信息服务算法备案清单（2023年1月）", ALGO_ATT[2], None),
        Link("生成式人工智能服务已备案信息（2024年4月）", ALGO_ATT[3], "附件4"),
    )
    ctx = FakeContext(spec=source.spec, articles={ALGO_PAGE: article})
    refs = source.discover(ctx)
    assert ctx.fetched == [(ALGO_PAGE, None)]
    common: dict[str, Any] = {"source": ALGORITHM, "list_kind": "algorithm", "batch_no": None,
              "announcement_url": ALGO_PAGE, "announcement_title": ALGO_TITLE}
    assert refs == [
        BatchRef(**common, batch_id="algorithm/2022-08", period="2022-08",
                 title="境内互联网信息服务算法备案清单（2022年8月）", published_on="2022-08-12",
                 published_on_precision="day", attachment_url=ALGO_ATT[0]),
        BatchRef(**common, batch_id="algorithm/2022-10", period="2022-10", title=oct_2022,
                 published_on=None, published_on_precision=None,
                 attachment_url=attachment_url("Al/1~x=", oct_2022)),
        BatchRef(**common, batch_id="algorithm/2023-01", period="2023-01",
                 title="境内互联网信息服务算法备案清单（2023年1月）", published_on=None,
                 published_on_precision=None, attachment_url=ALGO_ATT[2]),
    ]
    assert len(ctx.messages) == 1  # a warning: an attachment on the list's page that is not it
    assert ctx.messages[0].startswith("warning: ignoring attachment")
    assert "生成式人工智能服务已备案信息（2024年4月）" in ctx.messages[0]


def test_attachment_links_are_matched_by_what_identifies_them(
        sources: dict[str, Source]) -> None:
    """A link text changed to 点击下载 or shortened still names its list through the
    download title; a link whose texts no longer say which list it is, but whose URL an
    earlier crawl knew, is that batch (with a warning); anything else is reported."""
    source = sources[ALGORITHM]
    aug = "境内互联网信息服务算法备案清单（2022年8月）"
    oct_2022 = "境内互联网信息服务算法备案清单（2022年10月）"
    renamed = attachment_url("Al/3=", "附件3")  # neither text names the list any more
    article = algorithm_article(
        Link("点击下载", attachment_url("Al/1=", aug), "附件1"),
        Link("境内互联网信息服务算法备案清单", attachment_url("Al/2=", oct_2022), "附件2"),
        Link("附件3", renamed, None),
        Link("说明", attachment_url("Al/4=", "填报说明"), "附件4"),
    )
    ctx = FakeContext(spec=source.spec, articles={ALGO_PAGE: article}, remembered={
        renamed: {"batch_id": "algorithm/2023-01",
                  "title": "境内互联网信息服务算法备案清单（2023年1月）", "period": "2023-01"}})
    refs = source.discover(ctx)
    assert [(r.batch_id, r.title) for r in refs] == [
        ("algorithm/2022-08", aug), ("algorithm/2022-10", oct_2022),
        ("algorithm/2023-01", "境内互联网信息服务算法备案清单（2023年1月）")]
    warnings = [m for m in ctx.messages if m.startswith("warning:")]
    assert len(warnings) == 2
    assert "matched by its URL" in warnings[0] and "algorithm/2023-01" in warnings[0]
    assert "ignoring attachment '说明'" in warnings[1]


def test_algorithm_publication_day_belongs_to_attachment_1_only(
        sources: dict[str, Source]) -> None:
    source = sources[ALGORITHM]
    article = algorithm_article(
        Link("说明文件", ALGO_ATT[0], "附件1"),
        Link("境内互联网信息服务算法备案清单（2022年10月）", ALGO_ATT[1], "附件2"),
    )
    (ref,) = source.discover(FakeContext(spec=source.spec, articles={ALGO_PAGE: article}))
    assert ref.period == "2022-10"
    assert ref.published_on is None
    assert ref.published_on_precision is None


@pytest.mark.parametrize("links", [
    (),
    (Link("管理规定", "https://www.cac.gov.cn/2022-01/04/c_1642894606364259.htm", None),),
    (Link("生成式人工智能服务已备案信息（2024年4月）", ALGO_ATT[0], "附件1"),),
    (Link("境内互联网信息服务算法备案清单", ALGO_ATT[0], "附件1"),),
], ids=["no-links", "no-attachment", "no-algorithm-list", "title-without-month"])
def test_algorithm_page_without_a_usable_list_raises(sources: dict[str, Source],
                                                     links: tuple[Link, ...]) -> None:
    source = sources[ALGORITHM]
    ctx = FakeContext(spec=source.spec, articles={ALGO_PAGE: algorithm_article(*links)})
    with pytest.raises(PageLayoutError) as info:
        source.discover(ctx)
    assert info.value.url == ALGO_PAGE


# ---------------------------------------------------------------- deep-synthesis scraper

DS_FIRST = "国家互联网信息办公室关于发布深度合成服务算法备案信息的公告"
DS_SECOND = "国家互联网信息办公室关于发布第二批境内深度合成服务算法备案信息的公告"
DS_TWELFTH = "国家互联网信息办公室关于发布第十二批深度合成服务算法备案信息的公告"
U_FIRST = "https://www.cac.gov.cn/2023-06/20/c_1688898600000001.htm"
U_SECOND = "https://www.cac.gov.cn/2023-09/01/c_1695224300000002.htm"
U_TWELFTH = "https://www.cac.gov.cn/2025-07/14/c_1754219400000012.htm"
DS_ATT = {url: attachment_url(f"Ds/{i}~y=") for i, url in enumerate([U_FIRST, U_TWELFTH])}
SEP_2023 = "境内深度合成服务算法备案清单（2023年8月）"

DISTRACTORS = [
    ("国家互联网信息办公室关于发布第十九批境内区块链信息服务备案编号的公告", "c_1"),
    ("江西省网信办召开生成式人工智能服务备案工作座谈会", "c_2"),
    ("国家互联网信息办公室关于发布生成式人工智能服务已备案信息的公告", "c_3"),
    ("北京市网信办开展算法备案政策宣讲活动", "c_4"),
]


def column_item(title: str, url: str, date: str, page_url: str = COLUMN_1) -> ColumnItem:
    return ColumnItem(title=title, url=url, date=date, page_url=page_url)


def test_deep_synthesis_discover(sources: dict[str, Source]) -> None:
    source = sources[DEEP_SYNTHESIS]
    column = [
        column_item(DS_TWELFTH, U_TWELFTH, "2025-07-14"),
        *(column_item(title, f"https://www.cac.gov.cn/2025-07/01/{c}.htm", "2025-07-01")
          for title, c in DISTRACTORS),
        column_item(DS_SECOND, U_SECOND, "2023-09-01", page_url=COLUMN_2),
        column_item(DS_FIRST, U_FIRST, "2023-06-20", page_url=COLUMN_2),
    ]
    articles = {
        U_TWELFTH: Article(U_TWELFTH, DS_TWELFTH, "2025-07-14", (
            Link("互联网信息服务深度合成管理规定", "https://www.cac.gov.cn/2022-12/11/c_1.htm",
                 None),
            Link("境内深度合成服务算法备案清单（2025年6月）", DS_ATT[U_TWELFTH], "附件"),
        )),
        U_SECOND: Article(U_SECOND, DS_SECOND, "2023-09-01", (
            Link("", attachment_url("Ds/2~y=", SEP_2023), "附件"),  # title from fText
        )),
        # The first batch: 附件 in its own paragraph, so the link has no label.
        U_FIRST: Article(U_FIRST, DS_FIRST, "2023-06-20", (
            Link("境内深度合成服务算法备案清单（2023年6月）", DS_ATT[U_FIRST], None),
        )),
    }
    ctx = FakeContext(spec=source.spec, articles=articles, column=column)
    refs = source.discover(ctx)
    assert ctx.walked == [COLUMN_1]
    assert ctx.fetched == [(U_TWELFTH, COLUMN_1), (U_SECOND, COLUMN_2), (U_FIRST, COLUMN_2)]
    common: dict[str, Any] = {"source": DEEP_SYNTHESIS, "list_kind": "deep_synthesis",
              "published_on_precision": "day"}
    assert refs == [
        BatchRef(**common, batch_id="deep_synthesis/2025-06", period="2025-06", batch_no=12,
                 title="境内深度合成服务算法备案清单（2025年6月）", announcement_url=U_TWELFTH,
                 announcement_title=DS_TWELFTH, published_on="2025-07-14",
                 attachment_url=DS_ATT[U_TWELFTH]),
        BatchRef(**common, batch_id="deep_synthesis/2023-08", period="2023-08", batch_no=2,
                 title=SEP_2023, announcement_url=U_SECOND, announcement_title=DS_SECOND,
                 published_on="2023-09-01", attachment_url=attachment_url("Ds/2~y=", SEP_2023)),
        BatchRef(**common, batch_id="deep_synthesis/2023-06", period="2023-06", batch_no=None,
                 title="境内深度合成服务算法备案清单（2023年6月）", announcement_url=U_FIRST,
                 announcement_title=DS_FIRST, published_on="2023-06-20",
                 attachment_url=DS_ATT[U_FIRST]),
    ]


def test_deep_synthesis_column_without_announcements(sources: dict[str, Source]) -> None:
    source = sources[DEEP_SYNTHESIS]
    column = [column_item(title, f"https://www.cac.gov.cn/2025-07/01/{c}.htm", "2025-07-01")
              for title, c in DISTRACTORS]
    ctx = FakeContext(spec=source.spec, articles={}, column=column)
    assert source.discover(ctx) == []
    assert ctx.fetched == []


def twelfth_batch_with(source: Source, links: tuple[Link, ...]) -> FakeContext:
    """The column lists only the 第十二批 announcement, whose page has `links`."""
    return FakeContext(spec=source.spec,
                       articles={U_TWELFTH: Article(U_TWELFTH, DS_TWELFTH, "2025-07-14", links)},
                       column=[column_item(DS_TWELFTH, U_TWELFTH, "2025-07-14")])


@pytest.mark.parametrize("links", [
    (),
    (Link("互联网信息服务深度合成管理规定", "https://www.cac.gov.cn/2022-12/11/c_1.htm", None),),
    (Link("境内区块链信息服务备案编号（第十九批）", DS_ATT[U_TWELFTH], "附件"),),
    (Link("境内互联网信息服务算法备案清单（2025年6月）", DS_ATT[U_TWELFTH], "附件"),),
], ids=["no-links", "no-attachment", "blockchain-list", "algorithm-list"])
def test_announcement_without_a_deep_synthesis_list_raises(sources: dict[str, Source],
                                                           links: tuple[Link, ...]) -> None:
    source = sources[DEEP_SYNTHESIS]
    ctx = twelfth_batch_with(source, links)
    with pytest.raises(PageLayoutError, match="深度合成服务算法备案清单") as info:
        source.discover(ctx)
    assert info.value.url == U_TWELFTH


def test_deep_synthesis_list_title_without_month_raises(sources: dict[str, Source]) -> None:
    source = sources[DEEP_SYNTHESIS]
    links = (Link("境内深度合成服务算法备案清单", DS_ATT[U_TWELFTH], "附件"),)
    ctx = twelfth_batch_with(source, links)
    with pytest.raises(PageLayoutError, match="names no month") as info:
        source.discover(ctx)
    assert info.value.url == U_TWELFTH


# ---------------------------------------------------------------- second discovery route,
# generative-AI lists, cancellation notices

U_THIRD = "https://www.cac.gov.cn/2024-01/05/c_1706119043746644.htm"
DS_THIRD = "国家互联网信息办公室关于发布第三批深度合成服务算法备案信息的公告"


def batch_notice(title: str, url: str, notice_id: str) -> dict[str, Any]:
    return {"noticeId": notice_id, "type": 3, "title": title, "content": url,
            "createTime": "2024-01-05 18:00:00"}


def test_deep_synthesis_second_route(sources: dict[str, Source]) -> None:
    """An announcement only the notice board knows is crawled and warned about; one only the
    column knows (the first batch never was on the board) is logged."""
    source = sources[DEEP_SYNTHESIS]
    articles = {
        U_FIRST: Article(U_FIRST, DS_FIRST, "2023-06-20", (
            Link("境内深度合成服务算法备案清单（2023年6月）", DS_ATT[U_FIRST], None),)),
        U_THIRD: Article(U_THIRD, DS_THIRD, "2024-01-05", (
            Link("境内深度合成服务算法备案清单（2024年1月）",
                 attachment_url("Ds/3=", "境内深度合成服务算法备案清单（2024年1月）"), "附件"),)),
    }
    ctx = FakeContext(spec=source.spec, articles=articles,
                      column=[column_item(DS_FIRST, U_FIRST, "2023-06-20")],
                      notices=[batch_notice(DS_THIRD, "//www.cac.gov.cn/2024-01/05/"
                                            "c_1706119043746644.htm", "n3"),
                               {"noticeId": "n2", "type": 2, "title": "系统维护", "content": ""}])
    refs = source.discover(ctx)
    assert [r.batch_id for r in refs] == ["deep_synthesis/2023-06", "deep_synthesis/2024-01"]
    assert refs[1].batch_no == 3 and refs[1].announcement_url == U_THIRD
    assert ctx.json_fetched == ["https://beian.cac.gov.cn/api/notice/list"]
    assert any(m.startswith("warning:") and U_THIRD in m for m in ctx.messages)
    assert any(not m.startswith("warning:") and U_FIRST in m for m in ctx.messages)


GENAI_PAGE = "https://www.cac.gov.cn/2024-04/02/c_1713729983803145.htm"


def test_generative_ai_discover(sources: dict[str, Source]) -> None:
    source = sources["cn_cac_generative_ai"]
    first, seventh = ("生成式人工智能服务已备案信息（2024年4月）",
                      "生成式人工智能服务已备案和已登记信息（2025年8月）")
    article = Article(GENAI_PAGE, "国家互联网信息办公室关于发布生成式人工智能服务已备案信息的公告",
                      "2024-04-02", (
                          Link(first, attachment_url("G/1=", first), "附件1"),
                          # the real page carries the label inside the link text once
                          Link(f"附件7：{seventh}", attachment_url("G/7=", seventh), None),
                      ))
    refs = source.discover(FakeContext(spec=source.spec, articles={GENAI_PAGE: article}))
    assert [(r.batch_id, r.list_kind, r.title, r.published_on) for r in refs] == [
        ("genai/2024-04", "genai_filing", first, "2024-04-02"),
        ("genai/2025-08", "genai_filing", seventh, None)]
    kinds = {t.list_kind for t in source.spec.tables}
    assert kinds == {"genai_filing", "genai_registration", "genai_on_device"}


GENAI_JULY_AUGUST = "https://www.cac.gov.cn/2026-09/05/c_1757000000000001.htm"
GENAI_ANNUAL = "https://www.cac.gov.cn/2025-01/08/c_1738034725920930.htm"


def test_generative_ai_lists_are_also_found_in_the_column(sources: dict[str, Source]) -> None:
    """CAC announces a list on its own page in the 网信发布 column too: both routes give the
    same batch; the column still finds a list the in-place page does not link. An annual
    summary in the column states totals and links no list."""
    source = sources["cn_cac_generative_ai"]
    august = "生成式人工智能服务已备案和已登记信息（2025年8月）"
    october = "生成式人工智能服务已备案和已登记信息（2025年10月）"
    in_place = Article(GENAI_PAGE, "国家互联网信息办公室关于发布生成式人工智能服务已备案信息的公告",
                       "2024-04-02", (Link(august, attachment_url("G/8=", august), "附件7"),))
    own = Article(GENAI_JULY_AUGUST, "国家互联网信息办公室关于发布生成式人工智能服务已备案信息的"
                  "公告（2025年7月至8月）", "2025-09-05", (
                      Link(august, attachment_url("G/8=", august), "附件"),))
    later = Article("https://www.cac.gov.cn/2025-11/03/c_1762000000000002.htm",
                    "国家互联网信息办公室关于发布生成式人工智能服务已备案信息的公告（2025年9月至10月）",
                    "2025-11-03", (Link("点击下载", attachment_url("G/10=", october), None),))
    annual = Article(GENAI_ANNUAL, "国家互联网信息办公室关于发布2024年生成式人工智能服务已备案信息"
                     "的公告", "2025-01-08", ())
    ctx = FakeContext(spec=source.spec, articles={a.url: a for a in (in_place, own, later,
                                                                       annual)},
                      column=[column_item(later.title, later.url, "2025-11-03"),
                              column_item(own.title, own.url, "2025-09-05"),
                              column_item("江西省网信办召开生成式人工智能服务备案工作座谈会",
                                          "https://www.cac.gov.cn/2025-09/01/c_1.htm",
                                          "2025-09-01"),
                              column_item(annual.title, annual.url, "2025-01-08"),
                              column_item(in_place.title, GENAI_PAGE, "2024-04-02")])
    refs = source.discover(ctx)
    assert [(r.batch_id, r.announcement_url, r.published_on, r.published_on_precision)
            for r in refs] == [
        ("genai/2025-08", GENAI_PAGE, "2024-04-02", "day"),
        ("genai/2025-10", later.url, "2025-11-03", "day"),  # only the column links it
        ("genai/2025-08", own.url, "2025-09-05", "day"),  # the same list, a second route
    ]
    assert refs[1].title == october  # read from the download title: the link says 点击下载
    assert GENAI_ANNUAL in [url for url, _ in ctx.fetched]  # read, but links no list
    assert ctx.statements == [later.url, own.url, GENAI_ANNUAL]  # its totals are reconciled
    assert not any("座谈会" in m for m in ctx.messages)


def test_cancellation_discover(sources: dict[str, Source]) -> None:
    source = sources["cn_cac_cancellations"]
    notices = [
        {"noticeId": "notice_a", "type": 1, "createTime": "2025-07-14 16:05:12",
         "title": "关于注销“仲帆PreWrite算法”等28个算法备案编号的公告",
         "content": "/static/fileUpload/notice/a.pdf"},
        batch_notice(DS_THIRD, U_THIRD, "n3"),
        {"noticeId": "notice_b", "type": 1, "createTime": "2025-08-01 10:00:00",
         "title": "关于系统升级的公告", "content": ""},
    ]
    refs = source.discover(FakeContext(spec=source.spec, articles={}, notices=notices))
    (ref,) = refs
    assert ref.batch_id == "cancellation/notice_a" and ref.period == "2025-07"
    assert ref.published_on == "2025-07-14" and ref.list_kind == "cancellation"
    assert ref.attachment_url == (
        "https://beian.cac.gov.cn/api/file/fileDownLoad?noticeId=notice_a")


def test_cancellation_notice_board_must_answer_errno_0(sources: dict[str, Source]) -> None:
    class Refused(FakeContext):
        def fetch_json(self, url: str, referer: str | None = None) -> Any:
            return {"errno": 440, "errmsg": "检测到未登录状态，请先登录"}

    source = sources["cn_cac_cancellations"]
    with pytest.raises(PageLayoutError, match="errno"):
        source.discover(Refused(spec=source.spec, articles={}))


def test_an_unknown_source_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    done = run_cli("crawl", "--source", "cn_cac_nothing", "--data-dir", str(tmp_path),
                   "--www-base", "http://127.0.0.1:9", "--beian-base", "http://127.0.0.1:9",
                   process=True)
    assert done.returncode == 2, done.stderr  # setup, not fetching (1) or data (3)
    assert "unknown source(s): cn_cac_nothing" in done.stderr


@pytest.mark.parametrize(("command", "variable", "value", "message"), [
    ("build", "CAC_FILINGS_MAX_SHRINK", "abc", "CAC_FILINGS_MAX_SHRINK='abc' is not a number"),
    ("build", "CAC_FILINGS_MAX_SHRINK", "1.5", "CAC_FILINGS_MAX_SHRINK=1.5 is not between 0"),
    ("crawl", "CAC_FILINGS_DELAY", "x", "CAC_FILINGS_DELAY='x' is not a number"),
])
def test_a_malformed_environment_value_is_a_usage_error(tmp_path: Path, command: str,
                                                        variable: str, value: str,
                                                        message: str) -> None:
    import os

    from tests.conftest import run_cli

    done = run_cli(command, "--data-dir", str(tmp_path), env={**os.environ, variable: value})
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.split())  # typer wraps its error box
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs.jsonl").exists()  # refused before anything ran


@pytest.mark.parametrize(("command", "option", "value"), [
    ("run", "--www-base", "notaurl"), ("crawl", "--beian-base", "ftp://127.0.0.1"),
    ("crawl", "--www-base", "http://:80"),
])
def test_a_malformed_base_url_is_a_setup_error_named_and_recorded(
        tmp_path: Path, command: str, option: str, value: str) -> None:
    import json

    from tests.conftest import run_cli

    done = run_cli(command, "--data-dir", str(tmp_path), option, value, "--delay", "0",
                   *(("--no-serve",) if command == "run" else ()))
    assert done.returncode == 2, done.stderr
    variable = {"--www-base": "CAC_WWW_BASE", "--beian-base": "CAC_BEIAN_BASE"}[option]
    assert f"{option} / {variable}: {value!r} is not a base URL" in done.stderr
    (record,) = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert (record["command"], record["status"], record["exit_code"]) == (command, "failed", 2)
    assert not (tmp_path / "raw").exists()  # nothing was fetched


def test_a_malformed_base_url_in_the_environment_does_not_stop_serve_or_build(
        tmp_path: Path) -> None:
    import os

    from tests.conftest import run_cli

    done = run_cli("build", "--data-dir", str(tmp_path),
                   env={**os.environ, "CAC_WWW_BASE": "www.cac.gov.cn"})
    assert done.returncode == 3 and "no successful crawl" in done.stderr  # not a usage error
