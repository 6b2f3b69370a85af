"""The project's pages, as Datasette routes. Each reads the release Datasette serves (see
web.release) and renders one template of templates/; every value is escaped by Jinja."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from datasette import Response
from datasette.utils import tilde_decode
from datasette.utils.asgi import AsgiFileDownload

from cac_filings.schema import DATABASE, TABLES
from cac_filings.search import MAX_QUERY_CHARS
from cac_filings.web import (
    batch,
    charts,
    company,
    downloads,
    filing,
    health,
    latest,
    markdown_pages,
    search_results,
)
from cac_filings.web.release import Release, release_of
from cac_filings.web.urls import company_url, filing_url, search_url, table_url

View = Callable[[Any, Any], Awaitable[Any]]
ATOM = "application/atom+xml; charset=utf-8"
TOO_LONG = (f"Query too long: at most {MAX_QUERY_CHARS} characters. "
            f"查询过长：最多 {MAX_QUERY_CHARS} 个字符。")


async def _page(datasette: Any, request: Any, template: str, context: dict[str, Any],
                status: int = 200) -> Response:
    return Response.html(await datasette.render_template(template, context, request=request),
                         status=status)


async def not_found(datasette: Any, request: Any, what: str, query: str = "") -> Response:
    """A bilingual 404 that offers a way on: a search for what was asked."""
    return await _page(datasette, request, "cac_not_found.html",
                       {"what": what, "query": query}, status=404)


def with_release(view: Callable[[Any, Any, Release], Awaitable[Any]]) -> View:
    """A page of the published release: 404 when nothing is published; a query that ran
    out of time answers 503, never 500."""
    async def handler(request: Any, datasette: Any) -> Any:
        release = release_of(datasette)
        if release is None:
            return await not_found(datasette, request, "尚未发布数据 Nothing is published yet")
        try:
            return await view(request, datasette, release)
        except sqlite3.OperationalError as error:
            if "interrupted" not in str(error):
                raise
            return await _page(datasette, request, "cac_not_found.html", {
                "what": "查询超时，请稍后再试 The query took too long; try again later",
                "query": ""}, status=503)
    return handler


def _base_url(request: Any) -> str:
    return f"{request.scheme}://{request.host}"


def _self_url(request: Any) -> str:
    """The feed's own address, as it was asked for (its filters in the query string)."""
    query = str(request.query_string or "")
    return f"{_base_url(request)}{request.path}" + (f"?{query}" if query else "")


def _is_json(request: Any) -> bool:
    return bool(request.url_vars.get("format") == "json")


# ---------------------------------------------------------------- pages

async def latest_page(request: Any, datasette: Any, release: Release) -> Any:
    seen = await latest.cached_overview(datasette, release)
    if _is_json(request):
        return Response.json({"release_id": release.release_id, "batches": seen.batches,
                              "all_batches": seen.all_batches,
                              "changes": release.manifest.get("changes")}, default=str)
    return await _page(datasette, request, "cac_latest.html", {"overview": seen})


async def search_page(request: Any, datasette: Any, release: Release) -> Any:
    query = request.args.get("q", "")
    if _is_json(request):
        if len(query.strip()) > MAX_QUERY_CHARS:
            return Response.json({"error": TOO_LONG, "max_chars": MAX_QUERY_CHARS},
                                 status=400)
        found = await search_results.search(datasette, query, search_results.LIMIT,
                                            summaries=release.summaries
                                            ) if query.strip() else None
        return Response.json(search_results.as_json(found) if found else {
            "query": query.strip(), "sections": [], "total": 0})
    # The page searches the first MAX_QUERY_CHARS characters and says so.
    results = await search_results.search(datasette, query, search_results.LIMIT,
                                          release.summaries) if query.strip() else None
    return await _page(datasette, request, "cac_search.html",
                       {"query": query.strip(), "results": results,
                        "max_chars": MAX_QUERY_CHARS, "limit": search_results.LIMIT,
                        "scored_at_most": search_results.SCORED_AT_MOST})


async def company_page(request: Any, datasette: Any, release: Release) -> Any:
    name = unquote(request.url_vars["name"])
    found = await company.company(datasette, release, name)
    if found is None:
        return await not_found(datasette, request, f"主体 Company: {name}", name)
    if not found["current"] and len(found["renamed_to"]) == 1:
        # A former name of one company: its page (which lists this name among its former).
        return Response.redirect(company_url(found["renamed_to"][0]) + "#former-names")
    return await _page(datasette, request, "cac_company.html", {"found": found, "name": name})


async def filing_page(request: Any, datasette: Any, release: Release) -> Any:
    list_kind = unquote(request.url_vars["list_kind"])
    number = unquote(request.url_vars["number"])
    found = await filing.filing(datasette, release, list_kind, number)
    if found is None:
        elsewhere = await filing.lists_of(datasette, number)
        if len(elsewhere) == 1:  # the number is in another list: its page there
            return Response.redirect(filing_url(elsewhere[0], number) + (
                ".json" if _is_json(request) else ""))
        return await not_found(datasette, request, f"备案 Filing: {number}", number)
    if _is_json(request):
        return Response.json(filing.as_json(found), default=str)
    return await _page(datasette, request, "cac_filing.html", found)


async def filing_by_number(request: Any, datasette: Any, release: Release) -> Any:
    """/-/filing/<number>, without its list: the filing's page when one list has it."""
    number = unquote(request.url_vars["number"])
    found = await filing.lists_of(datasette, number)
    json_form = _is_json(request)
    if len(found) == 1:
        return Response.redirect(filing_url(found[0], number) + (".json" if json_form else ""))
    if found:  # the same number in several lists: they are all found by searching it
        url = search_url(number)
        return Response.redirect(url.replace("/-/search?", "/-/search.json?") if json_form
                                 else url)
    return await not_found(datasette, request, f"备案 Filing: {number}", number)


async def batch_page(request: Any, datasette: Any, release: Release) -> Any:
    batch_id = unquote(request.url_vars["batch_id"])
    version_arg = request.args.get("version")
    version = int(version_arg) if version_arg and version_arg.isdigit() and len(
        version_arg) < 6 else None
    found = await batch.batch(datasette, release, batch_id, version)
    if found is None:
        return await not_found(datasette, request, f"批次 Batch: {batch_id}")
    return await _page(datasette, request, "cac_batch.html", found)


async def charts_page(request: Any, datasette: Any, release: Release) -> Any:
    return await _page(datasette, request, "cac_charts.html",
                       await charts.charts(datasette, release))


async def status_page(request: Any, datasette: Any, release: Release) -> Any:
    found = await health.status(datasette, release)
    if _is_json(request):
        return Response.json(found, default=str)
    return await _page(datasette, request, "cac_status.html", {"status": found})


async def reconciliation_page(request: Any, datasette: Any, release: Release) -> Any:
    rows = await health.reconciliation(datasette, release)
    if _is_json(request):
        return Response.json(rows, default=str)
    return await _page(datasette, request, "cac_reconciliation.html", {"rows": rows})


async def downloads_page(request: Any, datasette: Any, release: Release) -> Any:
    return await _page(datasette, request, "cac_downloads.html",
                       {"groups": downloads.download_groups(release)})


async def download(request: Any, datasette: Any, release: Release) -> Any:
    name = unquote(request.url_vars["path"])
    if name == downloads.zip_name(release):
        return downloads.ZipResponse(release)
    path = downloads.resolve(release.path, name)
    if path is None:
        return Response.text("no such file in the published release 已发布数据中没有此文件",
                             status=404)
    # Streamed from disk (the SQLite file is tens of MB), with its content-disposition.
    return AsgiFileDownload(path, filename=path.name, content_type=downloads.CONTENT_TYPES.get(
        path.suffix, "text/plain; charset=utf-8"))


async def document_page(request: Any, datasette: Any, release: Release) -> Any:
    name = unquote(request.url_vars["name"])
    html = await markdown_pages.document_html(release, name)
    if html is None:
        return await not_found(datasette, request, f"文档 Document: {name}")
    return await _page(datasette, request, "cac_document.html", {"name": name, "html": html})


# ---------------------------------------------------------------- feeds

async def approvals_feed(request: Any, datasette: Any, release: Release) -> Any:
    args = request.args
    chosen = latest.FeedFilter(args.get("company") or None, args.get("province") or None,
                               (args.get("q") or "")[:MAX_QUERY_CHARS] or None)
    return Response(await latest.approvals_feed(datasette, release, _base_url(request),
                                                chosen, _self_url(request)), content_type=ATOM)


async def cancellations_feed(request: Any, datasette: Any, release: Release) -> Any:
    return Response(await latest.cancellations_feed(datasette, release, _base_url(request),
                                                    _self_url(request)), content_type=ATOM)


async def release_feed(request: Any, datasette: Any, release: Release) -> Any:
    return Response(await latest.release_feed(datasette, release, _base_url(request),
                                              _self_url(request)), content_type=ATOM)


# ---------------------------------------------------------------- Datasette's row pages

def _row_key(text: str) -> list[str]:
    """Datasette's row address: primary key values joined by commas, tilde-encoded."""
    return [tilde_decode(unquote(part)) for part in text.split(",")]


async def filing_row(request: Any, datasette: Any) -> Any:
    key = _row_key(request.url_vars["pks"])
    if len(key) != 2:
        return await not_found(datasette, request, "备案 Filing")
    return Response.redirect(filing_url(key[0], key[1]))


async def company_row(request: Any, datasette: Any) -> Any:
    return Response.redirect(company_url(",".join(_row_key(request.url_vars["pk"]))))


# Tables whose primary key has a column that may be empty (official_counts' year): Datasette
# writes such a row's address with "None" for it, and cannot find the row again. Their row
# pages lead to the table filtered to the row instead.
NULLABLE_KEYS = {t.name: t for t in TABLES
                 if any(t.column(c).nullable for c in t.primary_key)}


async def nullable_key_row(request: Any, datasette: Any) -> Any:
    table = NULLABLE_KEYS[request.url_vars["table"]]
    key = _row_key(request.url_vars["pks"])
    if len(key) != len(table.primary_key):
        return await not_found(datasette, request, table.name)
    filters: dict[str, object] = {}
    for column, value in zip(table.primary_key, key, strict=True):
        if value == "None" and table.column(column).nullable:
            filters[f"{column}__isnull"] = 1
        else:
            filters[column] = value
    url = table_url(table.name, **filters)
    if _is_json(request):  # the row's .json: the filtered table's
        url = url.replace(f"/{table.name}?", f"/{table.name}.json?", 1)
    return Response.redirect(url)


ROUTES: list[tuple[str, View]] = [
    (r"^/-/latest(\.(?P<format>json))?$", with_release(latest_page)),
    (r"^/-/search(\.(?P<format>json))?$", with_release(search_page)),
    (r"^/-/company/(?P<name>[^/]+)$", with_release(company_page)),
    (r"^/-/filing/(?P<list_kind>[^/]+)/(?P<number>[^/]+?)(\.(?P<format>json))?$",
     with_release(filing_page)),
    (r"^/-/filing/(?P<number>[^/]+?)(\.(?P<format>json))?$", with_release(filing_by_number)),
    (r"^/-/batch/(?P<batch_id>.+)$", with_release(batch_page)),
    (r"^/-/charts$", with_release(charts_page)),
    (r"^/-/status(\.(?P<format>json))?$", with_release(status_page)),
    (r"^/-/reconciliation(\.(?P<format>json))?$", with_release(reconciliation_page)),
    (r"^/-/downloads/?$", with_release(downloads_page)),
    (r"^/-/downloads/(?P<path>.*)$", with_release(download)),
    (r"^/-/docs/(?P<name>[^/]+)$", with_release(document_page)),
    (r"^/-/feeds/new\.atom$", with_release(approvals_feed)),
    (r"^/-/feeds/cancellations\.atom$", with_release(cancellations_feed)),
    (r"^/-/feeds/release\.atom$", with_release(release_feed)),
    # Datasette's row pages of filings and companies lead to the project's own pages.
    (rf"^/{DATABASE}/filings/(?P<pks>[^/.]+)$", filing_row),
    (rf"^/{DATABASE}/companies/(?P<pk>[^/.]+)$", company_row),
    (rf"^/{DATABASE}/(?P<table>{'|'.join(NULLABLE_KEYS)})/(?P<pks>[^/.]+)(\.(?P<format>json))?$",
     nullable_key_row),
]
