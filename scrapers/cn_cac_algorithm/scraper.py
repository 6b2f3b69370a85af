"""境内互联网信息服务算法备案清单: one announcement page, edited in place.

Every 附件N link on the page is one batch; its period comes from the attachment title
(境内互联网信息服务算法备案清单（2022年8月） → 2022-08, batch algorithm/2022-08).
"""

from __future__ import annotations

from cac_filings.sources import BatchRef, CrawlContext, in_place_page_batches


def discover(ctx: CrawlContext) -> list[BatchRef]:
    return in_place_page_batches(ctx, what="an algorithm list")
