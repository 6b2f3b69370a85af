"""Datasette plugin (registered through the `datasette` entry point of this package).

- Search in Chinese: the *_fts tables hold text segmented for Chinese (see search.py), so the
  search box's query is segmented the same way: Datasette turns `?_search=` into
  `MATCH escape_fts(:search)`, and this replaces escape_fts for cac_filings.
- Pages (routes.py): /-/latest, /-/search, /-/filing/…, /-/company/…, /-/batch/…, /-/charts,
  /-/status, /-/reconciliation, /-/downloads, /-/docs/…, Atom feeds under /-/feeds/.
- Datasette's own pages: codes shown with their labels (the release's `labels` table),
  companies, filings and batches linked to their pages, words in Chinese and English
  (templates/ overrides Datasette's templates), cards that keep their labels on a phone.
- The published release is swapped in when a new one is published (web.release), always as
  the database `cac_filings`; Datasette's CSV exports are made safe for spreadsheets.
Jinja escapes every value; scraped text never becomes markup.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote

from datasette import Response, hookimpl
from datasette.utils.asgi import Base400
from datasette.views.base import DatasetteError
from markupsafe import Markup, escape

from cac_filings.datasette_plugin.routes import ROUTES, View
from cac_filings.metadata import QUERY_COLUMNS
from cac_filings.schema import DATABASE, TABLES
from cac_filings.search import fts_query
from cac_filings.web import latest, urls, words
from cac_filings.web.db import json_list
from cac_filings.web.exports import neutralise_csv
from cac_filings.web.release import Release, keep_current, release_of
from cac_filings.web.search_facets import one_request

ASGI = Callable[[dict[str, Any], Callable[[], Awaitable[Any]],
                 Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]


# After Datasette's own prepare_connection, so that this definition of escape_fts wins.
@hookimpl(trylast=True)  # type: ignore[untyped-decorator]
def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Any) -> None:
    if database == DATABASE:
        conn.create_function("escape_fts", 1, fts_query, deterministic=True)


@hookimpl  # type: ignore[untyped-decorator]
def startup(datasette: Any) -> None:
    # Datasette prints every 404's traceback, with its local variables, when rich is
    # installed (it comes with typer): 0.4 s of the event loop per unknown address. Errors
    # that are not a 4xx still print their traceback (traceback.print_exc).
    import datasette.handle_exception as handler

    handler.rich = None


@hookimpl  # type: ignore[untyped-decorator]
def get_metadata(datasette: Any, key: str, database: str | None, table: str | None
                 ) -> dict[str, Any]:
    release = release_of(datasette)
    if release is None:
        return {}
    if key == "tables" and table is None:
        # Datasette asks this for every table it lists (its permission checks), and copies
        # what it is given each time: the tables' rules only, never their descriptions.
        if "metadata:tables" not in release.cache:
            release.cache["metadata:tables"] = table_rules(release.metadata)
        rules: dict[str, Any] = release.cache["metadata:tables"]
        return rules
    return release.metadata


# What Datasette reads from the tables' metadata when it asks for it under the key `tables`
# (datasette/default_permissions.py through Datasette._table_permission_allows, and
# datasette/facets.py): permissions and the facet size.
TABLE_RULES = ("allow", "facet_size")


def table_rules(metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata` cut to the tables' rules (TABLE_RULES), tables without any left out."""
    databases = {}
    for name, database in (metadata.get("databases") or {}).items():
        tables = {table: rules for table, entry in (database.get("tables") or {}).items()
                  if (rules := {k: v for k, v in entry.items() if k in TABLE_RULES})}
        databases[name] = {"tables": tables}
    return {"databases": databases}


# ---------------------------------------------------------------- labels and links

def label_html(release: Release | None, column: str, code: object) -> Markup:
    """A code as a reader sees it: its label in both languages, the code on hover."""
    if code is None or code == "":
        return Markup("")
    found = release.label(column, code) if release else None
    if found is None:
        return Markup(escape(str(code)))
    return Markup('<span class="cac-code" title="{}">{}</span>').format(str(code), found.text)


def _link(href: str, text: object) -> Markup:
    return Markup('<a href="{}">{}</a>').format(href, str(text))


def _short_zh(text: str) -> str:
    """A column's Chinese description cut to its name: 清单类型（见 list_kinds 表）… → 清单类型."""
    for mark in ("（", "：", "(", " "):
        text = text.split(mark)[0]
    return text


# Datasette's own columns of a table page: the link to each row, a table's rowid.
DATASETTE_COLUMNS = {"Link": "链接", "rowid": "行号"}
_COLUMN_ZH = {**DATASETTE_COLUMNS, **QUERY_COLUMNS,
              **{c.name: _short_zh(c.zh) for t in reversed(TABLES) for c in t.columns}}
_TABLES = {t.name: t for t in TABLES}
_BOOLEANS = {c.name for t in TABLES for c in t.columns if c.type == "bool"}


def column_zh(column: str) -> str:
    return _COLUMN_ZH.get(column, "")


def column_label(column: str) -> str:
    """A column's name for a reader: Chinese, then the name as stored."""
    zh = _COLUMN_ZH.get(column)
    return f"{zh} {column}" if zh else column


def table_label(table: str) -> str:
    """备案 filings: a table's Chinese name, then its name."""
    found = _TABLES.get(table)
    return f"{found.zh.split('：')[0]} {table}" if found else table


def table_description(table: str) -> str:
    found = _TABLES.get(table)
    return f"{found.en} · {found.zh}" if found else ""


BATCH_COLUMNS = ("batch_id", "first_batch_id", "last_batch_id")
LIST_COLUMNS = {"list_kinds": "list_kind", "quality_flags": "quality_flags"}


@hookimpl  # type: ignore[untyped-decorator]
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str,
                datasette: Any) -> Markup | None:
    if database != DATABASE or value is None or value == "":
        return None
    release = release_of(datasette)
    if release is None:
        return None
    keys = row.keys() if hasattr(row, "keys") else ()
    if column == "company" and isinstance(value, str):
        return _link(urls.company_url(value), value)
    if column == "filing_number" and isinstance(value, str) and "list_kind" in keys and (
            row["list_kind"] not in release.cancellation_kinds):
        return _link(urls.filing_url(str(row["list_kind"]), value), value)
    if column in BATCH_COLUMNS and isinstance(value, str):
        version = row["version"] if column == "batch_id" and "version" in keys else None
        return Markup('<a href="{}" title="{}">{}</a>').format(
            urls.batch_url(value, version if isinstance(version, int) else None), value,
            release.batch_label(value))
    if column in LIST_COLUMNS:
        items = json_list(value)
        return Markup("、").join(label_html(release, LIST_COLUMNS[column], item)
                                for item in items) if items else Markup("—")
    if column == "products":
        products = [p for p in json_list(value) if isinstance(p, dict)]
        return Markup("、").join(
            Markup("{}（{}）").format(p.get("name"), p["type"]) if p.get("type") else
            Markup("{}").format(p.get("name")) for p in products) if products else Markup("—")
    if column == "former_names":
        names = json_list(value)
        return Markup("、").join(_link(urls.company_url(str(n)), n) for n in names) if names \
            else Markup("—")
    if column in _BOOLEANS and value in (0, 1):
        return Markup("是 yes") if value else Markup("否 no")
    if isinstance(value, str) and release.label(column, value) is not None:
        return label_html(release, column, value)
    return None


def facet_label(release: Release | None, column: str, value: object, shown: object) -> str:
    """A facet value with its label (list columns: the label of each item's code)."""
    if release is not None and column in BATCH_COLUMNS and isinstance(value, str):
        return release.batch_label(value)
    found = release.label(LIST_COLUMNS.get(column, column), value) if release else None
    return found.text if found else str(shown)


# ---------------------------------------------------------------- templates

@hookimpl  # type: ignore[untyped-decorator]
def extra_template_vars(template: str, datasette: Any, request: Any, view_name: str
                        ) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def inner() -> dict[str, Any]:
        release = release_of(datasette)
        found: dict[str, Any] = {
            "cac_release": release,
            "cac_label": lambda column, code: label_html(release, column, code),
            "cac_label_text": (lambda column, code: release.label_text(column, code))
            if release else (lambda column, code: "" if code is None else str(code)),
            "cac_column": column_label,
            "cac_column_zh": column_zh,
            "cac_table": table_label,
            "cac_table_description": table_description,
            "cac_facet_label": lambda column, value, shown: facet_label(release, column,
                                                                         value, shown),
            "cac_urls": urls,
            "cac_filter_op": words.operator_label,
            "cac_describe": lambda filters, search, sort, sort_desc: words.description_zh(
                filters.selections() if filters else (), search, sort, sort_desc,
                lambda column: column_zh(column) or column,
                lambda column, value: facet_label(release, column, value, value)),
        }
        if view_name == "index" and release is not None:
            found["cac_home"] = await latest.home(datasette, release)
        return found
    return inner


@hookimpl(tryfirst=True)  # type: ignore[untyped-decorator]
def handle_exception(datasette: Any, request: Any, exception: Exception
                     ) -> Callable[[], Awaitable[Response | None]] | None:
    """Datasette's error pages (an unknown database, table or address; bad SQL) as the
    project's pages: rendered like every other page (top bar, menu, footer), in both
    languages. Datasette's own handler (trylast) still prints a 500's traceback, answers
    JSON requests, and answers when this one cannot."""
    if request is None or request.path.split("?")[0].endswith(".json"):
        return None
    status, message, title = _error_of(exception)

    async def inner() -> Response | None:
        try:
            body = await datasette.render_template("error.html", {
                "ok": False, "status": status, "error": message, "title": title,
                "heading": words.bilingual_error(title) if title else
                words.status_title(status),
                "explained": message if isinstance(message, Markup) else
                words.bilingual_error(message)}, request=request)
        except Exception:  # Datasette's own handler answers instead
            return None
        return Response.html(body, status=status)
    return inner


def _error_of(exception: Exception) -> tuple[int, str, str | None]:
    """Status, message and title, as datasette/handle_exception.py reads them."""
    if isinstance(exception, Base400):
        return int(exception.status), str(exception.args[0] if exception.args else ""), None
    if isinstance(exception, DatasetteError):
        message = exception.message
        status = int(exception.status)
        if status == 500 and words.is_request_error(str(message)):
            status = 400
        return (status, Markup(message) if exception.message_is_html else str(message),
                exception.title)
    return 500, str(exception), None


@hookimpl  # type: ignore[untyped-decorator]
def register_routes(datasette: Any) -> list[tuple[str, View]]:
    return ROUTES


@hookimpl  # type: ignore[untyped-decorator]
def menu_links(datasette: Any, actor: Any) -> list[dict[str, str]]:
    return [{"href": "/-/latest", "label": "最新公布 Latest from CAC"},
            {"href": "/-/search", "label": "搜索 Search"},
            {"href": "/-/charts", "label": "图表 Charts"},
            {"href": "/-/downloads", "label": "下载 Downloads"},
            {"href": "/-/status", "label": "运行状态 Status"},
            {"href": "/-/feeds/new.atom", "label": "订阅新增备案 Feed of new approvals"}]


# ---------------------------------------------------------------- every request

@hookimpl  # type: ignore[untyped-decorator]
def asgi_wrapper(datasette: Any) -> Callable[[ASGI], ASGI]:
    def wrap(app: ASGI) -> ASGI:
        async def wrapped(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                          send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
            if scope.get("type") != "http":
                await app(scope, receive, send)
                return
            await keep_current(datasette)
            scope = _ascii_path(scope)
            with one_request():
                if not _is_csv(scope):
                    await app(scope, receive, send)
                    return
                await _csv_safe(app, scope, receive, send)
        return wrapped
    return wrap


def _ascii_path(scope: dict[str, Any]) -> dict[str, Any]:
    """Datasette routes on raw_path decoded as ASCII; a client that sends UTF-8 unencoded
    (curl does) would make that fail: such bytes are percent-encoded as a browser would."""
    raw = scope.get("raw_path")
    if not isinstance(raw, bytes) or raw.isascii():
        return scope
    return {**scope, "raw_path": quote(raw, safe="/?=&%~:@!$'()*+,;").encode("ascii")}


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
                if start.get("status") == 200:  # tens of MB when streamed: not on the loop
                    body = await asyncio.to_thread(neutralise_csv, body)
                headers = [(k, v) for k, v in start.get("headers", [])
                           if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})

    await app(scope, receive, capture)
