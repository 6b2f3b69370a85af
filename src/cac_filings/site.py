"""The page kinds of www.cac.gov.cn that every source reads: column list pages and articles.

Selectors must match exactly once; anything else means the site changed its layout and is an
error naming the page, never a silent empty result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from cac_filings.config import canonical_url
from cac_filings.errors import PageLayoutError
from cac_filings.normalize import iso_date


@dataclass(frozen=True)
class ColumnItem:
    title: str
    url: str
    date: str | None
    page_url: str  # the list page that links the item (sent as Referer)


@dataclass(frozen=True)
class ColumnPage:
    url: str
    items: tuple[ColumnItem, ...]
    total_pages: int | None


@dataclass(frozen=True)
class Link:
    text: str
    url: str
    label: str | None  # 附件N, when the link is introduced by one


@dataclass(frozen=True)
class Article:
    url: str
    title: str
    published_on: str
    links: tuple[Link, ...]
    # The body's text, one paragraph per `<p>`, paragraphs separated by a blank line.
    text: str = ""

    @property
    def attachments(self) -> tuple[Link, ...]:
        """Links to the download endpoint, in page order."""
        return tuple(link for link in self.links if "downloadfile.jsp" in link.url)


def _one(root: LexborHTMLParser | LexborNode, selector: str, url: str) -> LexborNode:
    found = root.css(selector)
    if len(found) != 1:
        raise PageLayoutError(url, f"selector {selector!r} matched {len(found)} elements, "
                                   "expected exactly 1")
    return found[0]


def _text(node: LexborNode) -> str:
    return " ".join((node.text(deep=True) or "").split())


_PAGER_RE = re.compile(r"createPageHTML\(\s*(\d+)\s*,\s*(\d+)")


def parse_column_page(html: str, url: str) -> ColumnPage:
    """A column list page such as /wxzw/wxfb/A093702index_1.htm (20 items, newest first)."""
    tree = LexborHTMLParser(html)
    container = _one(tree, "#loadingInfoPage", url)
    items: list[ColumnItem] = []
    for li in container.css("li"):
        anchor = _one(li, "h5 a", url)
        href = anchor.attributes.get("href")
        if not href:
            raise PageLayoutError(url, f"list item without a link: {_text(li)[:80]!r}")
        # The link text is cut to 28 characters + "..."; the title attribute is complete.
        title = (anchor.attributes.get("title") or "").strip() or _text(anchor)
        date_node = li.css_first(".times")
        date = iso_date(_text(date_node)) if date_node is not None else None
        items.append(ColumnItem(title=title, url=canonical_url(href, url), date=date, page_url=url))
    pager = _PAGER_RE.search(html)
    return ColumnPage(url=url, items=tuple(items),
                      total_pages=int(pager.group(1)) if pager else None)


def parse_article(html: str, url: str) -> Article:
    """An article page /YYYY-MM/DD/c_<id>.htm with its title, date and body links."""
    tree = LexborHTMLParser(html)
    title = _text(_one(tree, ".main-title h1.title", url))
    pubtime = _text(_one(tree, "#pubtime", url))
    published_on = iso_date(pubtime)
    if published_on is None:
        raise PageLayoutError(url, f"#pubtime {pubtime!r} holds no date")
    body = _one(tree, ".main-content #BodyLabel", url)
    links: list[Link] = []
    for anchor in body.css("a[href]"):
        href = anchor.attributes.get("href") or ""
        if href.startswith(("javascript:", "mailto:", "#")):
            continue
        links.append(Link(text=_text(anchor), url=canonical_url(href, url),
                          label=_attachment_label(anchor)))
    paragraphs = [_text(p) for p in body.css("p")] or [_text(body)]
    return Article(url=url, title=title, published_on=published_on, links=tuple(links),
                   text="\n\n".join(p for p in paragraphs if p))


_LABEL_RE = re.compile(r"(附件\s*\d*)\s*[:：]?\s*$")


def _attachment_label(anchor: LexborNode) -> str | None:
    """附件N from the text just before the link (附件1：<a>…</a>), if any."""
    parent = anchor.parent
    if parent is None:
        return None
    before = (parent.text(deep=True) or "").split(anchor.text(deep=True) or "\x00")[0]
    match = _LABEL_RE.search(before)
    return match.group(1).replace(" ", "") if match else None


# ---------------------------------------------------------------- titles

_PERIOD_PAREN_RE = re.compile(r"[（(]\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*[)）]")
_PERIOD_RE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月")
_ATTACHMENT_PREFIX_RE = re.compile(r"^\s*附件\s*\d*\s*[:：]\s*")


def strip_attachment_label(title: str) -> str:
    """'附件7：生成式…（2025年8月）' → '生成式…（2025年8月）'."""
    return _ATTACHMENT_PREFIX_RE.sub("", title).strip()


def period_from_title(title: str) -> str | None:
    """YYYY-MM from a list title such as 境内…备案清单（2022年8月）."""
    title = strip_attachment_label(title)
    match = _PERIOD_PAREN_RE.search(title) or _PERIOD_RE.search(title)
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    return f"{year:04d}-{month:02d}"


def download_title(url: str) -> str | None:
    """The fText parameter of a downloadfile.jsp link (the attachment's title)."""
    values = parse_qs(urlsplit(url).query).get("fText")
    return values[0] if values else None


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}


def chinese_number(text: str) -> int | None:
    """'十二' → 12, '二十一' → 21, '一百零三' → 103, '12' → 12."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _DIGITS and ch not in "十百" for ch in text):
        return None
    total = 0
    current = 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
    return total + current


_BATCH_NO_RE = re.compile(r"第\s*([0-9零〇一二两三四五六七八九十百]+)\s*批")


def batch_number(title: str) -> int | None:
    """N from 第N批 in a title, or None when the title states no number."""
    match = _BATCH_NO_RE.search(title)
    return chinese_number(match.group(1)) if match else None
