"""Parsing www.cac.gov.cn column list pages and articles, and reading list titles."""

from __future__ import annotations

import pytest

from cac_filings.errors import PageLayoutError
from cac_filings.site import (
    Link,
    batch_number,
    chinese_number,
    download_title,
    parse_article,
    parse_column_page,
    period_from_title,
    strip_attachment_label,
)

COLUMN_URL = "https://www.cac.gov.cn/wxzw/wxfb/A093702index_2.htm"
ARTICLE_URL = "https://www.cac.gov.cn/2022-08/12/c_1661927474338504.htm"
DS_TITLE = "国家互联网信息办公室关于发布第十二批深度合成服务算法备案信息的公告"
ALGO_TITLE = "国家互联网信息办公室关于发布互联网信息服务算法备案信息的公告"
DOWNLOAD = "https://www.cac.gov.cn/cms/pub/interact/downloadfile.jsp"
# fText of 境内互联网信息服务算法备案清单（2022年8月）
FTEXT = ("%E5%A2%83%E5%86%85%E4%BA%92%E8%81%94%E7%BD%91%E4%BF%A1%E6%81%AF%E6%9C%8D%E5%8A%A1"
         "%E7%AE%97%E6%B3%95%E5%A4%87%E6%A1%88%E6%B8%85%E5%8D%95%EF%BC%882022%E5%B9%B48%E6%9C"
         "%88%EF%BC%89")
FILEPATH = "AbC/dEf~0123/xyz~Q="
AUG_2022 = "境内互联网信息服务算法备案清单（2022年8月）"


def column_page(items: str, pager: str = 'createPageHTML(15, 1, "A093702index", "htm");') -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>网信发布</title></head>
<body><div class="w1200 bread" id="bread"><a href="//www.cac.gov.cn/index.htm">首页</a></div>
<div class="w1200 list_main"><div class="list_title"><h3>网信发布</h3></div>
<div class="list_con">
<div id="loadingInfoPage">
{items}
</div>
<div class="page" id="pageNav"><a href="A093702index_1.htm">首页</a><span class="cur">2</span>
<script type="text/javascript">{pager}</script></div>
</div></div></body></html>"""


def li(href: str, text: str, title: str | None = None, date: str | None = "2025-07-14") -> str:
    title_attr = f' title="{title}"' if title is not None else ""
    times = f'<div class="times">{date}</div>' if date is not None else ""
    return (f'<li><h5><a href="{href}"{title_attr} target="_blank">{text}</a></h5>'
            f"{times}</li>")


def article_page(body: str, title: str = ALGO_TITLE, pubtime: str = "2022年08月12日 16:00",
                 extra: str = "") -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="2022-08-12 16:00">
</head><body>
<div class="w1200 bread" id="bread"><a href="//www.cac.gov.cn/index.htm">首页</a> &gt; 正文</div>
<div class="w1200 main">
<div class="main-title">
<h1 class="title">{title}</h1>
<div class="info"><span id="pubtime">{pubtime}</span>　<span id="source">来源：中国网信网</span>
　<span class="fontsize">【字号 <a href="javascript:void(0)">大</a>】</span></div>
</div>
<div class="main-content">
<div id="BodyLabel">
{body}
</div>
</div>
{extra}
<div class="share">分享到：<a href="javascript:void(0)" class="wx">微信</a></div>
</div>
<script>var _pagestat = _pagestat || {{siteId: "cac"}};</script>
</body></html>"""


def p(html: str) -> str:
    return f'<p style="text-indent: 2em;">{html}</p>'


def download_link(filepath: str, ftext: str, text: str, ftext_first: bool = False) -> str:
    query = (f"fText={ftext}&amp;filepath={filepath}" if ftext_first
             else f"filepath={filepath}&amp;fText={ftext}")
    return f'<a href="/cms/pub/interact/downloadfile.jsp?{query}">{text}</a>'


# ---------------------------------------------------------------- column pages


def test_column_page_items_titles_urls_dates_and_pager() -> None:
    items = "\n".join([
        li("https://www.cac.gov.cn/2025-07/14/c_1754219401234567.htm",
           "国家互联网信息办公室关于发布第十二批深度合成服务...", title=DS_TITLE),
        li("//www.cac.gov.cn/2025-07/10/c_1753000000000001.htm", "江西省网信办召开座谈会",
           title="江西省网信办召开座谈会", date="2025-07-10"),
        li("http://www.cac.gov.cn/2023-06/20/c_1688898000000002.htm", "无标题属性的条目",
           date="2023-6-2"),
        li("/2023-01/01/c_1672000000000003.htm", "站内相对链接", title="  ", date=None),
    ])
    page = parse_column_page(column_page(items), COLUMN_URL)
    assert page.url == COLUMN_URL
    assert page.total_pages == 15
    assert [item.title for item in page.items] == [
        DS_TITLE, "江西省网信办召开座谈会", "无标题属性的条目", "站内相对链接"]
    assert [item.url for item in page.items] == [
        "https://www.cac.gov.cn/2025-07/14/c_1754219401234567.htm",
        "https://www.cac.gov.cn/2025-07/10/c_1753000000000001.htm",
        "https://www.cac.gov.cn/2023-06/20/c_1688898000000002.htm",
        "https://www.cac.gov.cn/2023-01/01/c_1672000000000003.htm",
    ]
    assert [item.date for item in page.items] == ["2025-07-14", "2025-07-10", "2023-06-02", None]
    assert {item.page_url for item in page.items} == {COLUMN_URL}


def test_title_attribute_wins_over_cut_link_text() -> None:
    cut = "国家互联网信息办公室关于发布第十二批深度合成服务..."
    html = column_page(li("//www.cac.gov.cn/a.htm", cut, title=DS_TITLE))
    (item,) = parse_column_page(html, COLUMN_URL).items
    assert item.title == DS_TITLE
    assert "..." not in item.title


def test_column_page_without_pager_or_items() -> None:
    page = parse_column_page(column_page("", pager=""), COLUMN_URL)
    assert page.items == ()
    assert page.total_pages is None


@pytest.mark.parametrize(("html", "detail"), [
    ("<html><body><div class='list_con'><ul><li>no container</li></ul></div></body></html>",
     "'#loadingInfoPage' matched 0 elements"),
    (column_page("") + '<div id="loadingInfoPage"></div>', "'#loadingInfoPage' matched 2"),
    (column_page('<li><h5>没有链接</h5><div class="times">2025-07-14</div></li>'),
     "'h5 a' matched 0"),
    (column_page('<li><h5><a href="/a.htm">一</a></h5><h5><a href="/b.htm">二</a></h5></li>'),
     "'h5 a' matched 2"),
], ids=["no-container", "two-containers", "item-without-link", "item-with-two-links"])
def test_column_page_layout_change_raises(html: str, detail: str) -> None:
    with pytest.raises(PageLayoutError) as info:
        parse_column_page(html, COLUMN_URL)
    assert info.value.url == COLUMN_URL
    assert str(info.value).startswith(f"{COLUMN_URL}: page layout changed")
    assert detail in info.value.detail


def test_column_item_with_empty_href_raises() -> None:
    with pytest.raises(PageLayoutError, match="list item without a link") as info:
        parse_column_page(column_page(li("", "空链接", title="空链接")), COLUMN_URL)
    assert info.value.url == COLUMN_URL


# ---------------------------------------------------------------- articles


ALGO_BODY = "\n".join([
    p("根据《互联网信息服务算法推荐管理规定》，现公开发布境内互联网信息服务算法名称及备案编号。"),
    p("附件1：" + download_link(FILEPATH, FTEXT, AUG_2022)),
    p("附件2：" + download_link("Zz/9~0=", "x", "境内互联网信息服务算法备案清单（2022年10月）",
                                ftext_first=True)),
    p("附件 13 ：" + download_link("Yy/8~1=", "y", "境内互联网信息服务算法备案清单（2025年7月）")),
    p('相关链接：<a href="//www.cac.gov.cn/2022-01/04/c_1642894606364259.htm">管理规定</a>'
      ' <a href="mailto:info@cac.gov.cn">邮箱</a> <a href="#top">顶部</a>'
      ' <a href="javascript:void(0)">打印</a>'),
    '<p style="text-align: right;">国家互联网信息办公室</p>',
])


def test_article_title_date_and_links() -> None:
    article = parse_article(article_page(ALGO_BODY), ARTICLE_URL)
    assert article.url == ARTICLE_URL
    assert article.title == ALGO_TITLE
    assert article.published_on == "2022-08-12"
    assert article.links == (
        Link(text=AUG_2022,
             url=f"{DOWNLOAD}?filepath={FILEPATH}&fText={FTEXT}", label="附件1"),
        Link(text="境内互联网信息服务算法备案清单（2022年10月）",
             url=f"{DOWNLOAD}?fText=x&filepath=Zz/9~0=", label="附件2"),
        Link(text="境内互联网信息服务算法备案清单（2025年7月）",
             url=f"{DOWNLOAD}?filepath=Yy/8~1=&fText=y", label="附件13"),
        Link(text="管理规定", url="https://www.cac.gov.cn/2022-01/04/c_1642894606364259.htm",
             label=None),
    )
    assert article.attachments == article.links[:3]


def test_attachment_url_keeps_filepath_and_unescapes_amp() -> None:
    (first, *_) = parse_article(article_page(ALGO_BODY), ARTICLE_URL).attachments
    assert "&amp;" not in first.url
    assert f"filepath={FILEPATH}&" in first.url
    assert "%2F" not in first.url and "%7E" not in first.url and "%3D" not in first.url
    assert download_title(first.url) == AUG_2022


def test_first_deep_synthesis_layout_with_label_in_its_own_paragraph() -> None:
    body = "\n".join([
        p("根据《互联网信息服务深度合成管理规定》，现公开发布境内深度合成服务算法备案信息。"),
        p("附件"),
        p(download_link(FILEPATH, "x", "境内深度合成服务算法备案清单（2023年6月）")),
        '<p style="text-align: right;">国家互联网信息办公室</p>',
        '<p style="text-align: right;">2023年6月20日</p>',
    ])
    article = parse_article(
        article_page(body, title="国家互联网信息办公室关于发布深度合成服务算法备案信息的公告",
                     pubtime="2023年06月20日 10:00"),
        "https://www.cac.gov.cn/2023-06/20/c_1688898600000000.htm")
    assert article.published_on == "2023-06-20"
    (attachment,) = article.attachments
    assert attachment.text == "境内深度合成服务算法备案清单（2023年6月）"
    assert attachment.url == f"{DOWNLOAD}?filepath={FILEPATH}&fText=x"
    # The label is read from the link's own paragraph only.
    assert attachment.label is None


def test_label_without_number() -> None:
    body = p("附件：" + download_link(FILEPATH, "x", "境内深度合成服务算法备案清单（2024年10月）"))
    (attachment,) = parse_article(article_page(body), ARTICLE_URL).attachments
    assert attachment.label == "附件"


def test_links_outside_the_body_are_ignored() -> None:
    extra = ('<div class="related">'
             '<a href="/cms/pub/interact/downloadfile.jsp?filepath=Q=">x</a></div>')
    article = parse_article(article_page(p("无附件"), extra=extra), ARTICLE_URL)
    assert article.links == ()


PLAIN = article_page(p("正文"))


@pytest.mark.parametrize(("html", "detail"), [
    (PLAIN.replace('class="title"', 'class="headline"'), "'.main-title h1.title' matched 0"),
    (PLAIN.replace('<div class="main-title">',
                   '<div class="main-title"><h1 class="title">重复</h1>'),
     "'.main-title h1.title' matched 2"),
    (PLAIN.replace('id="pubtime"', 'id="time"'), "'#pubtime' matched 0"),
    (article_page(p("正文"), extra='<span id="pubtime">2022年08月13日</span>'),
     "'#pubtime' matched 2"),
    (PLAIN.replace('id="BodyLabel"', 'id="Body"'), "'.main-content #BodyLabel' matched 0"),
    (article_page(p("正文"), extra='<div class="main-content"><div id="BodyLabel"></div></div>'),
     "'.main-content #BodyLabel' matched 2"),
    (article_page(p("正文"), pubtime="发布时间未知"), "holds no date"),
], ids=["no-title", "two-titles", "no-pubtime", "two-pubtimes", "no-body", "two-bodies",
        "pubtime-without-date"])
def test_article_layout_change_raises(html: str, detail: str) -> None:
    with pytest.raises(PageLayoutError) as info:
        parse_article(html, ARTICLE_URL)
    assert info.value.url == ARTICLE_URL
    assert str(info.value).startswith(f"{ARTICLE_URL}: page layout changed")
    assert detail in info.value.detail


# ---------------------------------------------------------------- titles


@pytest.mark.parametrize(("title", "expected"), [
    ("附件7：生成式人工智能服务已备案和已登记信息（2025年8月）",
     "生成式人工智能服务已备案和已登记信息（2025年8月）"),
    ("附件：境内深度合成服务算法备案清单（2023年6月）",
     "境内深度合成服务算法备案清单（2023年6月）"),
    (" 附件 12 : 境内互联网信息服务算法备案清单 ", "境内互联网信息服务算法备案清单"),
    ("境内互联网信息服务算法备案清单（2022年8月）", "境内互联网信息服务算法备案清单（2022年8月）"),
    ("附件说明", "附件说明"),
])
def test_strip_attachment_label(title: str, expected: str) -> None:
    assert strip_attachment_label(title) == expected


@pytest.mark.parametrize(("title", "expected"), [
    ("境内互联网信息服务算法备案清单（2022年8月）", "2022-08"),
    ("境内深度合成服务算法备案清单(2024年10月)", "2024-10"),
    ("境内深度合成服务算法备案清单（ 2023 年 8 月 ）", "2023-08"),
    ("附件7：生成式人工智能服务已备案和已登记信息（2025年8月）", "2025-08"),
    ("2025年1月发布的清单（2024年12月）", "2024-12"),
    ("2025年3月生成式人工智能服务已备案信息", "2025-03"),
    ("境内互联网信息服务算法备案清单", None),
    ("清单（2022年13月）", None),
    ("清单（2022年0月）", None),
])
def test_period_from_title(title: str, expected: str | None) -> None:
    assert period_from_title(title) == expected


@pytest.mark.parametrize(("url", "expected"), [
    (f"{DOWNLOAD}?filepath={FILEPATH}&fText={FTEXT}", AUG_2022),
    (f"{DOWNLOAD}?fText={FTEXT}&filepath={FILEPATH}", AUG_2022),
    (f"{DOWNLOAD}?filepath={FILEPATH}", None),
    ("https://www.cac.gov.cn/2022-08/12/c_1661927474338504.htm", None),
])
def test_download_title(url: str, expected: str | None) -> None:
    assert download_title(url) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("一", 1),
    ("十", 10),
    ("十二", 12),
    ("十九", 19),
    ("二十", 20),
    ("二十一", 21),
    ("两", 2),
    ("一百", 100),
    ("一百零三", 103),
    ("一百一十", 110),
    ("〇", 0),
    ("12", 12),
    (" 3 ", 3),
    ("", None),
    ("十二批", None),
    ("abc", None),
])
def test_chinese_number(text: str, expected: int | None) -> None:
    assert chinese_number(text) == expected


@pytest.mark.parametrize(("title", "expected"), [
    (DS_TITLE, 12),
    ("国家互联网信息办公室关于发布第二批境内深度合成服务算法备案信息的公告", 2),
    ("国家互联网信息办公室关于发布第 3 批深度合成服务算法备案信息的公告", 3),
    ("国家互联网信息办公室关于发布第十九批境内区块链信息服务备案编号的公告", 19),
    ("国家互联网信息办公室关于发布深度合成服务算法备案信息的公告", None),
])
def test_batch_number(title: str, expected: int | None) -> None:
    assert batch_number(title) == expected
