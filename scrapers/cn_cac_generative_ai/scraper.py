"""生成式人工智能服务已备案（和已登记）信息: one announcement page edited in place, and an
announcement of its own for each list in the 网信发布 column.

Two discovery routes, both read on every crawl:
1. the in-place page (urls.announcement): every attachment whose title names the list;
2. the 网信发布 column (urls.column): announcements titled like 关于发布…生成式人工智能服务
   已备案信息的公告（2025年7月至8月） link the same list (the same file, or a copy of it). The
   column still finds new lists if the in-place page stops growing. Annual summaries in the
   column (2025-01-08) state totals and link no list: they are not batches, but the pages
   are recorded as statements (ctx.statement), whose totals the build reconciles.
Each list is one batch, genai/<period>; a file found on both routes is one batch version
(the crawl downloads each route and compares the bytes). The file holds the 备案 table and,
from 2024年8月, the 登记 table (and, from 2026年8月, the on-device table): their rows become
the genai_filing, genai_registration and genai_on_device lists.
"""

from __future__ import annotations

from cac_filings.site import Article
from cac_filings.sources import BatchRef, CrawlContext, in_place_page_batches, matching_attachments

WHAT = "a generative-AI list"


def discover(ctx: CrawlContext) -> list[BatchRef]:
    refs = in_place_page_batches(ctx, what=WHAT, batch_prefix="genai")
    in_place = ctx.spec.url("announcement")
    announcement = ctx.spec.pattern("announcement_title")
    for item in ctx.walk_column(ctx.spec.url("column")):
        if item.url == in_place or not announcement.search(item.title):
            continue
        # One announcement of many: if it cannot be read, the others are read all the same.
        refs += ctx.article_batches(item.url, lambda article: own_page_batches(ctx, article),
                                    referer=item.page_url)
    return refs


def own_page_batches(ctx: CrawlContext, article: Article) -> list[BatchRef]:
    """The lists an announcement of the column links (none for an annual summary)."""
    # Its text may state CAC's own totals (the annual summaries do): the build reads them
    # and reconciles this dataset with them.
    ctx.statement(article)
    return [ctx.batch(batch_id=f"genai/{period}", period=period, title=title,
                      announcement_url=article.url, announcement_title=article.title,
                      published_on=article.published_on, published_on_precision="day",
                      attachment_url=link.url)
            for _, link, title, period in matching_attachments(ctx, article, WHAT)]
