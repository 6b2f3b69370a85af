"""算法备案编号注销公告: the notice board of beian.cac.gov.cn.

`GET /api/notice/list` returns every notice as JSON (paging parameters are ignored). Notices
of type 1 titled 关于注销…备案编号的公告 are batches (cancellation/<noticeId>); their PDF comes
from `/api/file/fileDownLoad?noticeId=…` — the `/static/fileUpload/…` path in `content` is
removed by the site once published.
"""

from __future__ import annotations

from typing import Any

from cac_filings.errors import PageLayoutError
from cac_filings.sources import BatchRef, CrawlContext

CANCELLATION = 1


def notices(ctx: CrawlContext) -> list[dict[str, Any]]:
    """The notice board's entries, checked: errno 0 and a list of notices with ids."""
    url = ctx.spec.url("notices")
    answer = ctx.fetch_json(url)
    if not isinstance(answer, dict) or answer.get("errno") != 0:
        raise PageLayoutError(url, f"the notice list answered {str(answer)[:200]!r}")
    datas = answer.get("datas")
    if not isinstance(datas, list) or not all(isinstance(n, dict) and n.get("noticeId")
                                              for n in datas):
        raise PageLayoutError(url, "the notice list has no 'datas' list of notices with ids")
    return datas


def discover(ctx: CrawlContext) -> list[BatchRef]:
    wanted = ctx.spec.pattern("notice_title")
    refs: list[BatchRef] = []
    for notice in notices(ctx):
        title = str(notice.get("title") or "")
        if notice.get("type") != CANCELLATION or not wanted.search(title):
            continue
        created = str(notice.get("createTime") or "")
        day = created[:10] if len(created) >= 10 else None
        if day is None:
            raise PageLayoutError(ctx.spec.url("notices"),
                                  f"notice {notice['noticeId']} has no createTime")
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
