"""Writing the tables: Parquet (zstd, explicit schema) and one SQLite file with full-text search.

Both are generated from schema.py. Parquet files are byte-identical for identical input: no
timestamps, pandas metadata or row-group randomness goes into them.
"""

from __future__ import annotations

import datetime as dt
import importlib.abc
import importlib.machinery
import operator
import re
import sys
import types
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import apsw
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from cac_filings.schema import TABLES, Column, Table, quote_identifier, sqlite_ddl
from cac_filings.search import fts_texts

Row = dict[str, Any]

_ARROW_TYPES = {
    "text": pa.string(), "int": pa.int64(), "bool": pa.bool_(), "date": pa.date32(),
    "json": pa.string(),
}


def arrow_field(column: Column) -> pa.Field:
    return pa.field(column.name, _ARROW_TYPES[column.type], nullable=column.nullable,
                    metadata={"description": column.en, "description_zh": column.zh,
                              "logical_type": column.type})


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([arrow_field(c) for c in table.columns],
                     metadata={"table": table.name, "description": table.en,
                               "description_zh": table.zh})


def arrow_table(table: Table, rows: list[Row]) -> pa.Table:
    """Rows → an Arrow table with the explicit schema.

    Each column is converted by Arrow (pa.array: 4–5 times faster than building its buffers
    in Python with numpy, as this did before), without the pandas import pa.array would
    make (_ask_pyarrow_about_pandas_once). Keys that are not columns (the build's private
    `_…` values) are ignored; dates travel as ISO strings and are cast. A value of another
    type than its column's is an error naming the column, never converted.
    """
    schema = arrow_schema(table)
    if not rows:
        return pa.Table.from_batches([], schema=schema)  # schema.empty_table() imports pandas
    columns = []
    for column, values in zip(table.columns, _column_values(table, rows), strict=True):
        array = _arrow_array(table, column, values)
        if not column.nullable and array.null_count:
            raise ValueError(f"{table.name}.{column.name} is null in {array.null_count} "
                             "row(s)")
        columns.append(array)
    return pa.Table.from_arrays(columns, schema=schema)


def _column_values(table: Table, rows: list[Row]) -> list[Sequence[Any]]:
    """The values of each column, in column order (a key a row lacks is null)."""
    names = table.column_names
    try:
        if len(names) == 1:
            return [list(map(operator.itemgetter(names[0]), rows))]
        return list(zip(*map(operator.itemgetter(*names), rows), strict=True))
    except KeyError:
        return [[row.get(name) for row in rows] for name in names]


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,), "json": (str,), "date": (str, dt.date), "int": (int,), "bool": (bool,),
}


def _arrow_array(table: Table, column: Column, values: Sequence[Any]) -> pa.Array:
    """One column's values as an Arrow array of its type, converted by Arrow's own C++
    (pa.array, with the column's type: strict, no value converted; dates as ISO strings,
    then cast), after a check that every value has the column's Python type."""
    found = set(map(type, values))
    found.discard(type(None))
    wrong = found - set(_PYTHON_TYPES[column.type])
    if wrong:
        raise TypeError(f"{table.name}.{column.name} ({column.type}) holds "
                        f"{', '.join(sorted(t.__name__ for t in wrong))} values")
    _ask_pyarrow_about_pandas_once()
    if column.type in ("int", "bool"):
        return pa.array(values, type=_ARROW_TYPES[column.type])
    if dt.date in found:
        values = [v.isoformat() if isinstance(v, dt.date) else v for v in values]
    strings = pa.array(values, type=pa.string())
    if isinstance(strings, pa.ChunkedArray):  # 2 GiB of text or more: one array all the same
        strings = pc.cast(pa.array(values, type=pa.large_string()), pa.string())
    return pc.cast(strings, pa.date32()) if column.type == "date" else strings


_asked = False


def _ask_pyarrow_about_pandas_once() -> None:
    """pa.array first asks whether `values` is a pandas object, importing pandas to know when
    it is installed (0.2–0.3 s, more than converting every table of a release). pyarrow asks
    once per process and keeps the answer for that question: asked while pandas cannot be
    imported, it takes a list for a list from then on, and imports pandas when a pandas
    conversion (to_pandas, from_pandas) needs it. What changes for the rest of the process:
    until such a conversion, pa.array takes a pandas Series for a plain sequence (its NaN a
    float, not a null). Nothing in this project hands pyarrow a pandas object. Done once,
    on the thread that converts the tables; a thread importing pandas in that moment
    would fail to (none does: the build's other threads fsync and reap)."""
    global _asked
    if _asked:
        return
    _asked = True
    if "pandas" in sys.modules:
        return
    refuse = _RefusePandas()
    sys.meta_path.insert(0, refuse)  # `import pandas` fails meanwhile
    try:
        pa.array([], type=pa.string())
    finally:
        sys.meta_path.remove(refuse)


class _RefusePandas(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] == "pandas":
            raise ModuleNotFoundError("not now", name=fullname)
        return None


def load_rows(release: Path, table: Table) -> list[Row]:
    """A table of a release folder as rows (dates as datetime.date); [] when the release
    predates the table."""
    path = release / f"{table.name}.parquet"
    if not path.is_file():
        return []
    # ParquetFile.read, not pq.read_table: the latter imports pandas (~0.2 s).
    rows: list[Row] = pq.ParquetFile(path).read().to_pylist()
    return rows


def write_parquet(table: Table, rows: list[Row], path: Path) -> pa.Table:
    arrow = arrow_table(table, rows)
    # Dictionary-encoded: the faceted columns, a few values repeated in every row. Elsewhere
    # zstd alone makes smaller files, sooner.
    pq.write_table(arrow, path, compression="zstd", compression_level=3,
                   use_dictionary=list(table.facets), write_statistics=True)
    return arrow


# A cell that starts with one of these is a formula to a spreadsheet (CSV injection). In CSV
# exports such a cell gets a leading apostrophe, which Excel and LibreOffice show as text;
# Parquet and SQLite keep the value as published.
FORMULA_START = "=+-@\t\r"
_FORMULA_RE = "^[" + re.escape(FORMULA_START) + "]"


def csv_safe(value: object) -> object:
    """A value for a CSV cell, with formula-looking text neutralised."""
    if isinstance(value, str) and value[:1] and value[0] in FORMULA_START:
        return "'" + value
    return value


def write_csv(arrow: pa.Table, path: Path) -> None:
    """A CSV file for spreadsheets: UTF-8 with a byte-order mark (so Excel reads Chinese),
    formula-looking text neutralised, dates as YYYY-MM-DD."""
    columns = []
    for name, column in zip(arrow.column_names, arrow.columns, strict=True):
        # JSON columns start with [ or { (never a formula): only free text is checked.
        logical = (arrow.schema.field(name).metadata or {}).get(b"logical_type")
        if pa.types.is_string(column.type) and logical != b"json":
            risky = pc.match_substring_regex(column, _FORMULA_RE)
            if pc.any(risky).as_py():  # most columns: none
                # Inserting through the kernel's options: a Python string passed as an
                # argument becomes a pa.scalar, and that imports pandas (a fifth of a
                # build's time).
                quoted = pc.utf8_replace_slice(column, start=0, stop=0, replacement="'")
                column = pc.if_else(risky, quoted, column)
        columns.append(column)
    safe = pa.Table.from_arrays(columns, names=arrow.column_names)
    with path.open("wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        pa_csv.write_csv(safe, fh)


class Database(Protocol):
    """What the writers below use of a connection: apsw's (the release's file) or
    sqlite3's (the tests' in-memory databases)."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Iterable[Any], /) -> Any: ...


def _iso_binding(cursor: apsw.Cursor, number: int, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store a {type(value).__name__} in SQLite (parameter {number})")


def open_database(path: Path) -> apsw.Connection:
    """A connection for writing a release's SQLite file: apsw's, whose statements bind
    values at half the cost of the standard library's sqlite3 (filling the file is most of
    a build's SQLite time). The file is SQLite's own format, read by Datasette through
    sqlite3 like any other: the tests read every release they build that way."""
    conn = apsw.Connection(str(path))
    # A date or time is bound as the ISO text sqlite3's own adapters gave it (no row the
    # build writes holds one today; a value of any other type is still an error).
    conn.convert_binding = _iso_binding
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    # Up to 128 MiB of pages kept (SQLite's default is 2 MiB): the summaries read back the
    # tables just written, and the file is 25 MB at CAC's size (a bound, not an allocation).
    conn.execute("PRAGMA cache_size = -131072")
    return conn


def write_sqlite(tables: dict[str, list[Row]], path: Path,
                 only: Collection[str] | None = None, *, new: bool = True) -> None:
    """Tables, indexes and *_fts tables in one new SQLite file: every table, or (`only`)
    those named, in TABLES order; `new=False` adds them to the file an earlier call began (a
    release's file is written in stages, as the build makes its tables final)."""
    if new:
        path.unlink(missing_ok=True)
    conn = open_database(path)
    try:
        if new:
            conn.execute("PRAGMA page_size = 4096")
        with conn:
            for table in TABLES:
                if only is not None and table.name not in only:
                    continue
                rows = tables[table.name]
                statements = sqlite_ddl(table)
                conn.execute(statements[0])
                names = ", ".join(quote_identifier(c.name) for c in table.columns)
                marks = ", ".join("?" for _ in table.columns)
                # Python bools are bound as the integers 0 and 1.
                values = operator.itemgetter(*table.column_names)
                conn.executemany(
                    f"INSERT INTO {quote_identifier(table.name)} ({names}) VALUES ({marks})",
                    map(values, rows))
                for statement in statements[1:]:
                    conn.execute(statement)
                if table.fts:
                    _fill_fts(conn, table, rows)
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()


def _fill_fts(conn: Database, table: Table, rows: list[Row]) -> None:
    """Rows may carry their search text precomputed as `_fts` (the build does this in its
    worker processes); rowids follow insertion order, 1..n, as in the table itself."""
    last, count = conn.execute(
        f"SELECT max(rowid), count(*) FROM {quote_identifier(table.name)}").fetchone()
    if (last or 0) != len(rows) or count != len(rows):
        raise RuntimeError(f"{table.name}: rowids are not 1..{len(rows)}")
    fill_fts(conn, table.name + "_fts", table.fts,
             ((number, *(row.get("_fts") or fts_texts(table, row)))
              for number, row in enumerate(rows, start=1)))


# FTS5 writes the terms it holds in memory out as a new segment of its index each time they
# pass its `hashsize` (1 MB by default), and 'optimize' then merges every segment into one,
# rewriting the index. Filled with room for a whole release's terms, the index is one segment
# from the start, which 'optimize' leaves as it is. The setting is removed once the table is
# filled: the file keeps FTS5's defaults.
FTS_HASHSIZE = 64 << 20


def fill_fts(conn: Database, name: str, columns: Sequence[str],
             rows: Iterable[Sequence[object]]) -> None:
    """A new, empty full-text table `name` filled with `rows` (rowid, then one text per
    column), as one merged index."""
    fts = quote_identifier(name)
    conn.execute(f"INSERT INTO {fts} ({fts}, rank) VALUES ('hashsize', ?)", [FTS_HASHSIZE])
    cols = ", ".join(quote_identifier(c) for c in columns)
    marks = ", ".join("?" for _ in range(len(columns) + 1))
    conn.executemany(f"INSERT INTO {fts} (rowid, {cols}) VALUES ({marks})", rows)
    conn.execute(f"INSERT INTO {fts} ({fts}) VALUES ('optimize')")
    conn.execute(f"DELETE FROM {quote_identifier(name + '_config')} WHERE k = 'hashsize'")
