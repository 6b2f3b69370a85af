"""Writing the tables: Parquet (zstd, explicit schema) and one SQLite file with full-text search.

Both are generated from schema.py. Parquet files are byte-identical for identical input: no
timestamps, pandas metadata or row-group randomness goes into them.
"""

from __future__ import annotations

import io
import operator
import re
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
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

    Rows are encoded as JSON lines (orjson) and read by Arrow's C++ JSON reader: no per-value
    conversion in Python, and no pandas import (pa.array() imports pandas when it is
    installed, which costs more than writing every file). Keys that are not columns (the
    build's private `_…` values) are ignored; dates travel as ISO strings and are cast.
    """
    schema = arrow_schema(table)
    if not rows:
        return pa.Table.from_batches([], schema=schema)  # schema.empty_table() imports pandas
    read_schema = pa.schema([pa.field(c.name, pa.string() if c.type == "date"
                                      else _ARROW_TYPES[c.type]) for c in table.columns])
    lines = list(map(orjson.dumps, rows))
    # One thread: the build writes the SQLite file on the other core meanwhile. A block must
    # hold the longest line.
    block = max(1 << 20, 2 * max(map(len, lines)) + 2)
    parsed = pa_json.read_json(
        io.BytesIO(b"\n".join(lines)),
        read_options=pa_json.ReadOptions(block_size=block, use_threads=False),
        parse_options=pa_json.ParseOptions(explicit_schema=read_schema,
                                           unexpected_field_behavior="ignore"))
    columns = []
    for column in table.columns:
        values = parsed.column(column.name)
        if column.type == "date":
            values = pc.cast(values, pa.date32())
        if not column.nullable and values.null_count:
            raise ValueError(f"{table.name}.{column.name} is null in {values.null_count} "
                             "row(s)")
        columns.append(values)
    return pa.Table.from_arrays(columns, schema=schema)


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
    pq.write_table(arrow, path, compression="zstd", compression_level=3,
                   use_dictionary=True, write_statistics=True)
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
            # Inserting through the kernel's options: a Python string passed as an argument
            # becomes a pa.scalar, and that imports pandas (a fifth of a build's time).
            quoted = pc.utf8_replace_slice(column, start=0, stop=0, replacement="'")
            column = pc.if_else(risky, quoted, column)
        columns.append(column)
    safe = pa.Table.from_arrays(columns, names=arrow.column_names)
    with path.open("wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        pa_csv.write_csv(safe, fh)


def write_sqlite(tables: dict[str, list[Row]], path: Path) -> None:
    """All tables, indexes and *_fts tables in one new SQLite file."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA page_size = 4096")
        with conn:
            for table in TABLES:
                rows = tables[table.name]
                statements = sqlite_ddl(table)
                conn.execute(statements[0])
                names = ", ".join(quote_identifier(c.name) for c in table.columns)
                marks = ", ".join("?" for _ in table.columns)
                # sqlite3 stores Python bools as the integers 0 and 1.
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


def _fill_fts(conn: sqlite3.Connection, table: Table, rows: list[Row]) -> None:
    """Rows may carry their search text precomputed as `_fts` (the build does this in its
    worker processes); rowids follow insertion order, 1..n, as in the table itself."""
    fts = quote_identifier(table.name + "_fts")
    cols = ", ".join(quote_identifier(c) for c in table.fts)
    marks = ", ".join("?" for _ in range(len(table.fts) + 1))
    conn.executemany(
        f"INSERT INTO {fts} (rowid, {cols}) VALUES ({marks})",
        ((number, *(row.get("_fts") or fts_texts(table, row)))
         for number, row in enumerate(rows, start=1)))
    last, count = conn.execute(
        f"SELECT max(rowid), count(*) FROM {quote_identifier(table.name)}").fetchone()
    if (last or 0) != len(rows) or count != len(rows):
        raise RuntimeError(f"{table.name}: rowids are not 1..{len(rows)}")
    conn.execute(f"INSERT INTO {fts} ({fts}) VALUES ('optimize')")
