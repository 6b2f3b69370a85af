"""境内深度合成服务算法备案清单: one announcement per batch in the 网信发布 column.

Walks the column's list pages and keeps the items whose full title (the `title` attribute;
link texts are cut short) is a deep-synthesis filing announcement. Each announcement links one
list; its period comes from the attachment title, its batch number from 第N批 in the
announcement title (the first batch has none).
"""

from __future__ import annotations

from cac_filings.errors import PageLayoutError
from cac_filings.site import (
    batch_number,
    download_title,
    period_from_title,
    strip_attachment_label,
)
from cac_filings.sources import BatchRef, CrawlContext


def discover(ctx: CrawlContext) -> list[BatchRef]:
    announcement = ctx.spec.pattern("announcement_title")
    wanted = ctx.spec.pattern("attachment_title")
    refs: list[BatchRef] = []
    for item in ctx.walk_column(ctx.spec.url("column")):
        if not announcement.search(item.title):
            continue
        article = ctx.fetch_article(item.url, referer=item.page_url)
        found = 0
        for link in article.attachments:
            title = strip_attachment_label(link.text or download_title(link.url) or "")
            if not wanted.search(title):
                continue
            period = period_from_title(title)
            if period is None:
                raise PageLayoutError(item.url, f"attachment title {title!r} names no month")
            found += 1
            refs.append(ctx.batch(
                period=period,
                batch_no=batch_number(article.title),
                title=title,
                announcement_url=item.url,
                announcement_title=article.title,
                published_on=article.published_on,
                published_on_precision="day",
                attachment_url=link.url,
            ))
        if not found:
            raise PageLayoutError(item.url, "announcement links no 深度合成服务算法备案清单")
    return refs
