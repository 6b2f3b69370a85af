"""Reading the served release: several queries and the Python that joins them run together in
one of Datasette's SQL threads, under its SQL time limit, never on the event loop."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from cac_filings.web.release import served_database

T = TypeVar("T")
Row = dict[str, Any]
Params = Mapping[str, object] | Sequence[object]


class Reader:
    """A connection to the served release, inside a SQL thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def first(self, sql: str, params: Params = ()) -> Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def has_table(self, name: str) -> bool:
        return self.first("select 1 from sqlite_master where type = 'table' and name = ?",
                          [name]) is not None


async def read(datasette: Any, work: Callable[[Reader], T]) -> T:
    """`work(reader)` in one of Datasette's SQL threads, with Datasette's SQL time limit."""
    from datasette.utils import sqlite_timelimit

    database = served_database(datasette)
    limit_ms = int(datasette.setting("sql_time_limit_ms") or 1000)

    def in_thread(conn: sqlite3.Connection) -> T:
        with sqlite_timelimit(conn, limit_ms):
            return work(Reader(conn))

    result: T = await database.execute_fn(in_thread)
    return result


def json_value(text: object) -> Any:
    """A `json` column's value; None for NULL or text that is not JSON."""
    if not isinstance(text, str | bytes):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def json_list(text: object) -> list[Any]:
    value = json_value(text)
    return value if isinstance(value, list) else []
