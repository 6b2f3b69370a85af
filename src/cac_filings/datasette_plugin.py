"""Datasette plugin (registered through the `datasette` entry point of this package).

The *_fts tables of cac_filings.db hold text segmented for Chinese (see search.py), so the
search box's query must be segmented the same way. Datasette turns `?_search=` into
`MATCH escape_fts(:search)`; this replaces escape_fts for that database only.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from datasette import hookimpl

from cac_filings.search import fts_query

DATABASE = "cac_filings"


# After Datasette's own prepare_connection, so that this definition of escape_fts wins.
@hookimpl(trylast=True)  # type: ignore[untyped-decorator]
def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Any) -> None:
    if database == DATABASE:
        conn.create_function("escape_fts", 1, fts_query, deterministic=True)
