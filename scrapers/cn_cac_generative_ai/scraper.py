"""生成式人工智能服务已备案（和已登记）信息: one announcement page, edited in place.

Every attachment whose title names the generative-AI list is one batch (genai/<period>); the
file holds the 备案 table and, from 2024年8月, the 登记 table: their rows become the
genai_filing and genai_registration lists. An annual summary page (2025-01-08) has no
attachment and is not this page.
"""

from __future__ import annotations

from cac_filings.sources import BatchRef, CrawlContext, in_place_page_batches


def discover(ctx: CrawlContext) -> list[BatchRef]:
    return in_place_page_batches(ctx, what="a generative-AI list", batch_prefix="genai")
