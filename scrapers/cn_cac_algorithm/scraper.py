"""境内互联网信息服务算法备案清单: one announcement page, edited in place.

Every 附件N link on the page is one batch; its period comes from the attachment title
(境内互联网信息服务算法备案清单（2022年8月） → 2022-08). The page keeps its original date while
attachments are appended, so only 附件1 has a known publication day; the build dates the others
by when cac-filings first saw them.
"""

from __future__ import annotations

from cac_filings.errors import PageLayoutError
from cac_filings.site import download_title, period_from_title, strip_attachment_label
from cac_filings.sources import BatchRef, CrawlContext


def discover(ctx: CrawlContext) -> list[BatchRef]:
    page_url = ctx.spec.url("announcement")
    article = ctx.fetch_article(page_url)
    wanted = ctx.spec.pattern("attachment_title")
    refs: list[BatchRef] = []
    for position, link in enumerate(article.attachments):
        title = strip_attachment_label(link.text or download_title(link.url) or "")
        if not wanted.search(title):
            ctx.log(f"ignoring attachment {title!r} on {page_url}: not an algorithm list")
            continue
        period = period_from_title(title)
        if period is None:
            raise PageLayoutError(page_url,
                                  f"attachment title {title!r} names no month (YYYY年M月)")
        first = position == 0
        refs.append(ctx.batch(
            period=period,
            title=title,
            announcement_url=page_url,
            announcement_title=article.title,
            published_on=article.published_on if first else None,
            published_on_precision="day" if first else None,
            attachment_url=link.url,
        ))
    if not refs:
        raise PageLayoutError(page_url, "no attachment link titled like an algorithm list")
    return refs
