"""境内深度合成服务算法备案清单: one announcement per batch.

Two discovery routes, compared on every crawl:
1. the 网信发布 column's list pages, keeping items whose full title (the `title` attribute;
   link texts are cut short) is a deep-synthesis filing announcement;
2. the notice board of beian.cac.gov.cn, whose type-3 notices link the same announcements
   (all but the first batch's).
An announcement seen by only one route is reported (a warning when the column missed it) and
crawled all the same. Each announcement links one list; its period comes from the attachment
title, its batch number from 第N批 in the announcement title (the first batch has none).
"""

from __future__ import annotations

from cac_filings.config import canonical_url
from cac_filings.errors import PageLayoutError
from cac_filings.site import Article, batch_number
from cac_filings.sources import BatchRef, CrawlContext, beian_notices, matching_attachments

BATCH_NOTICE = 3


def notice_board_announcements(ctx: CrawlContext) -> dict[str, str]:
    """URL → title of the deep-synthesis batches announced on the notice board."""
    url = ctx.spec.url("notices")
    found: dict[str, str] = {}
    for notice in beian_notices(ctx):
        if notice.get("type") != BATCH_NOTICE:
            continue
        content = str(notice.get("content") or "")
        if content.startswith(("http://", "https://", "//")) and "深度合成" in str(
                notice.get("title") or ""):
            found[canonical_url(content, url)] = str(notice["title"])
    return found


def discover(ctx: CrawlContext) -> list[BatchRef]:
    announcement = ctx.spec.pattern("announcement_title")
    column = {item.url: item for item in ctx.walk_column(ctx.spec.url("column"))
              if announcement.search(item.title)}
    noticed = notice_board_announcements(ctx)
    for url in sorted(column.keys() - noticed.keys()):
        ctx.log(f"announcement not on the beian notice board (the first batch never was): "
                f"{column[url].title} {url}")
    for url in sorted(noticed.keys() - column.keys()):
        ctx.warn(f"announcement on the beian notice board but not found in the column: "
                 f"{noticed[url]} {url}")

    refs: list[BatchRef] = []
    for url in [*column, *sorted(noticed.keys() - column.keys())]:
        item = column.get(url)
        # One announcement per batch: if one cannot be read, the others are read all the same.
        refs += ctx.article_batches(url, lambda article: announcement_batches(ctx, article),
                                    referer=item.page_url if item else None)
    return refs


def announcement_batches(ctx: CrawlContext, article: Article) -> list[BatchRef]:
    """The list an announcement links; an announcement that links none is a PageLayoutError."""
    found = matching_attachments(ctx, article, "a deep-synthesis list")
    if not found:
        raise PageLayoutError(article.url, "announcement links no 深度合成服务算法备案清单")
    return [ctx.batch(period=period, batch_no=batch_number(article.title), title=title,
                      announcement_url=article.url, announcement_title=article.title,
                      published_on=article.published_on, published_on_precision="day",
                      attachment_url=link.url)
            for _, link, title, period in found]
