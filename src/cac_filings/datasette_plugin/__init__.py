"""Datasette plugin (registered through the `datasette` entry point of this package).

- Search in Chinese: the *_fts tables hold text segmented for Chinese (see search.py), so the
  search box's query is segmented the same way: Datasette turns `?_search=` into
  `MATCH escape_fts(:search)`, and this replaces escape_fts for cac_filings.
- Pages: /-/search (all tables, ranked), /-/company/<name>, /-/charts, Atom feeds under
  /-/feeds/, and /-/downloads/<file> (the published release's files).
- The published release is swapped in when a new one is published (web.ReleaseWatcher), with
  its metadata; Datasette's CSV exports are made safe for spreadsheets.
Templates are in templates/ in this package; Jinja escapes every value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from datasette import Response, hookimpl
from datasette.utils.asgi import AsgiFileDownload

from cac_filings import web
from cac_filings.schema import DATABASE
from cac_filings.search import fts_query

ASGI = Callable[[dict[str, Any], Callable[[], Awaitable[Any]],
                 Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]


# After Datasette's own prepare_connection, so that this definition of escape_fts wins.
@hookimpl(trylast=True)  # type: ignore[untyped-decorator]
def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Any) -> None:
    if web.is_served_name(database):
        conn.create_function("escape_fts", 1, fts_query, deterministic=True)


@hookimpl  # type: ignore[untyped-decorator]
def get_metadata(datasette: Any, key: str, database: str | None, table: str | None
                 ) -> dict[str, Any]:
    release = web.current_release()
    if release is None or web.WATCHER is None:
        return {}
    # The release's metadata names the database cac_filings; served, it has its own name.
    metadata = dict(release.metadata)
    databases = dict(metadata.get("databases", {}))
    if DATABASE in databases:
        databases[web.WATCHER.name] = {"title": DATABASE, **databases.pop(DATABASE)}
    metadata["databases"] = databases
    return metadata


@hookimpl  # type: ignore[untyped-decorator]
def extra_template_vars(datasette: Any, request: Any) -> dict[str, Any]:
    release = web.current_release()
    if release is None:
        path = _database_path(datasette)
        release = _release_at(path.parent) if path else None
    return {"cac_release": release,
            "cac_list_labels": release.list_labels if release else {},
            "cac_company_url": web.company_url}


def _database_path(datasette: Any) -> Path | None:
    try:
        database = web.served_database(datasette)
    except KeyError:
        return None
    return Path(database.path) if database.path else None


def _release_at(folder: Path) -> web.Release | None:
    """The release a database file belongs to (when Datasette was started on it directly)."""
    try:
        return web.Release.load(folder)
    except (OSError, ValueError):
        return None


def _base_url(request: Any) -> str:
    return f"{request.scheme}://{request.host}"


async def search_page(request: Any, datasette: Any) -> Response:
    query = request.args.get("q", "").strip()
    results = await web.search(datasette, query) if query else None
    if request.url_vars.get("format") == "json":
        return Response.json(results or {"query": query, "sections": [], "total": 0})
    return Response.html(await datasette.render_template(
        "cac_search.html", {"query": query, "results": results}, request=request))


async def company_page(request: Any, datasette: Any) -> Response:
    name = unquote(request.url_vars["name"])
    found = await web.company(datasette, name)
    if found is None:
        return Response.html(await datasette.render_template(
            "cac_company.html", {"found": None, "name": name}, request=request), status=404)
    return Response.html(await datasette.render_template(
        "cac_company.html", {"found": found, "name": name}, request=request))


async def charts_page(request: Any, datasette: Any) -> Response:
    data = await web.chart_data(datasette)
    return Response.html(await datasette.render_template("cac_charts.html", {
        "per_period_svg": web.stacked_bars_svg(data["per_period"], data["kinds"]),
        "province_svg": web.horizontal_bars_svg(data["provinces"]),
        "data": data}, request=request))


ATOM = "application/atom+xml; charset=utf-8"


async def approvals_feed(request: Any, datasette: Any) -> Response:
    args = request.args
    body = await web.approvals_feed(datasette, _base_url(request), args.get("company"),
                                    args.get("province"), args.get("q"))
    return Response(body, content_type=ATOM)


async def cancellations_feed(request: Any, datasette: Any) -> Response:
    return Response(await web.cancellations_feed(datasette, _base_url(request)),
                    content_type=ATOM)


async def download(request: Any, datasette: Any) -> Response | AsgiFileDownload:
    name = request.url_vars["path"]
    release = web.current_release()
    folder = release.path if release else (_database_path(datasette) or Path(".")).parent
    path = folder / name
    if not web.DOWNLOADS.fullmatch(name) or not path.is_file():
        return Response.text("no such file in the published release", status=404)
    types = {".parquet": "application/vnd.apache.parquet", ".csv": "text/csv; charset=utf-8",
             ".db": "application/vnd.sqlite3", ".md": "text/markdown; charset=utf-8",
             ".json": "application/json", ".atom": ATOM}
    # Streamed from disk (the SQLite file is tens of MB), with its content-disposition.
    return AsgiFileDownload(path, filename=path.name,
                            content_type=types.get(path.suffix, "text/plain"))


@hookimpl  # type: ignore[untyped-decorator]
def register_routes(datasette: Any) -> list[tuple[str, Callable[..., Awaitable[Response]]]]:
    return [
        (r"^/-/search(\.(?P<format>json))?$", search_page),
        (r"^/-/company/(?P<name>[^/]+)$", company_page),
        (r"^/-/charts$", charts_page),
        (r"^/-/feeds/new\.atom$", approvals_feed),
        (r"^/-/feeds/cancellations\.atom$", cancellations_feed),
        (r"^/-/downloads/(?P<path>(?:csv/)?[A-Za-z_.-]+)$", download),
    ]


@hookimpl  # type: ignore[untyped-decorator]
def menu_links(datasette: Any, actor: Any) -> list[dict[str, str]]:
    return [{"href": "/-/search", "label": "Search 搜索"},
            {"href": "/-/charts", "label": "Charts 图表"},
            {"href": "/-/feeds/new.atom", "label": "Feed of new approvals"}]


@hookimpl  # type: ignore[untyped-decorator]
def asgi_wrapper(datasette: Any) -> Callable[[ASGI], ASGI]:
    def wrap(app: ASGI) -> ASGI:
        async def wrapped(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                          send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
            if scope.get("type") != "http":
                await app(scope, receive, send)
                return
            if web.WATCHER is not None:
                web.WATCHER.refresh(datasette)
            if not _is_csv(scope):
                await app(scope, receive, send)
                return
            await _csv_safe(app, scope, receive, send)
        return wrapped
    return wrap


def _is_csv(scope: dict[str, Any]) -> bool:
    """A CSV export of Datasette's (not a release file: those are already made safe)."""
    path = str(scope.get("path", ""))
    if path.startswith("/-/downloads/"):
        return False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return path.endswith(".csv") or query.get("_format") == ["csv"]


async def _csv_safe(app: ASGI, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                    send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """Buffer a CSV response, neutralise formula-looking cells, send it on."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def capture(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                body = b"".join(chunks)
                if start.get("status") == 200:
                    body = web.neutralise_csv(body)
                headers = [(k, v) for k, v in start.get("headers", [])
                           if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})

    await app(scope, receive, capture)
