"""算法备案编号注销公告: the notice board of beian.cac.gov.cn.

`GET /api/notice/list` returns every notice as JSON (paging parameters are ignored). Notices
of type 1 titled 关于注销…备案编号的公告 are batches (cancellation/<noticeId>); their PDF comes
from `/api/file/fileDownLoad?noticeId=…` — the `/static/fileUpload/…` path in `content` is
removed by the site once published.
"""

from __future__ import annotations

from cac_filings.errors import PageLayoutError
from cac_filings.normalize import iso_date
from cac_filings.sources import BatchRef, CrawlContext, beian_notices

CANCELLATION = 1


def discover(ctx: CrawlContext) -> list[BatchRef]:
    wanted = ctx.spec.pattern("notice_title")
    refs: list[BatchRef] = []
    for notice in beian_notices(ctx):
        title = str(notice.get("title") or "")
        if notice.get("type") != CANCELLATION or not wanted.search(title):
            continue
        day = iso_date(str(notice.get("createTime") or ""))
        if day is None:
            raise PageLayoutError(ctx.spec.url("notices"),
                                  f"notice {notice['noticeId']} has no createTime date")
        refs.append(ctx.batch(
            batch_id=f"cancellation/{notice['noticeId']}",
            period=day[:7],
            title=title,
            announcement_url=ctx.spec.url("notices"),
            announcement_title=title,
            published_on=day,
            published_on_precision="day",
            attachment_url=ctx.spec.url("download").format(notice_id=notice["noticeId"]),
        ))
    return refs
