"""Summaries for serving: what the pages would otherwise compute from the whole registry on
every request, computed once when the release's SQLite file is written (a release never
changes), into the small `summary_*` tables of schema.SUMMARY_TABLES.

Each summary is a query of the release's own tables, kept here as SQL: `write_summaries` runs
it into its table, and a page serving a release that predates the table reads the same query
as a subquery instead (`source`), so the two cannot disagree. The facet counts are what
Datasette's column facets count (`select col, count(*) … where col is not null group by col`),
overall and within each value of another faceted column; the table counts are Datasette's
`select count(*)` of every table, which it would otherwise run when it starts.

Example: write_summaries(db_file, tables["filings"])  # after store.write_sqlite(tables, db_file)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from cac_filings.schema import (
    FILINGS,
    SUMMARY_BATCH_LISTS,
    SUMMARY_FACET_COUNTS,
    SUMMARY_FILING_COUNTS,
    SUMMARY_FILING_ORDER,
    SUMMARY_FORMER_NAMES,
    SUMMARY_NEW_FILINGS,
    SUMMARY_RELEASE_CHANGES,
    SUMMARY_TABLE_COUNTS,
    SUMMARY_TABLES,
    TABLES,
    Table,
    quote_identifier,
    sqlite_ddl,
)
from cac_filings.search import segment_text
from cac_filings.store import Database, Row, fill_fts, open_database

# The cells CAC publishes about a filing: a re-listed number whose cells differ from its
# previous listing counts as changed by the batch.
PUBLISHED_FIELDS = ("name", "role", "category", "company", "products", "purpose", "scenario",
                    "remarks")


def _changed(published_on: str) -> str:
    """Whether listing `l` differs from the listing of the same number just before its batch
    (by publication date, `published_on` being that of l's batch)."""
    differs = " or ".join(f"p.{c} is not l.{c}" for c in PUBLISHED_FIELDS)
    return (f"(select ({differs}) from listings p join batches pb on pb.batch_id = p.batch_id "
            "and pb.version = p.version and pb.is_current where p.list_kind = l.list_kind and "
            "p.filing_number = l.filing_number and p.batch_id != l.batch_id and "
            f"(pb.published_on < {published_on} or (pb.published_on = {published_on} and "
            "pb.batch_id < l.batch_id)) order by pb.published_on desc, pb.batch_id desc "
            "limit 1)")


def batch_lists_sql(published_on: str = "b.published_on") -> str:
    """What batch versions hold, per list kind of their rows: rows, numbers new to the
    registry, re-listed ones, re-listed ones whose cells changed, and rows whose 备注 marks
    them 已注销. Every batch version, or (with `published_on` a parameter and a condition on
    l.batch_id and l.version added) one."""
    return (
        "select l.batch_id, l.version, l.list_kind, count(*) as rows, "
        "sum(f.first_batch_id = l.batch_id) as new, "
        "sum(f.first_batch_id != l.batch_id) as relisted, "
        f"sum(f.first_batch_id != l.batch_id and {_changed(published_on)}) as changed, "
        "sum(coalesce(l.remarks, '') like '%已注销%') as marked_cancelled "
        "from listings l join batches b on b.batch_id = l.batch_id and b.version = l.version "
        "left join filings f on f.list_kind = l.list_kind and "
        "f.filing_number = l.filing_number")


# The order of the new-approvals feed: CAC's newest current batch first (undated ones last),
# and within a batch the numbers it lists first, in file order.
NEW_FILINGS_SQL = (
    "select row_number() over (order by b.published_on is null, b.published_on desc, "
    "b.batch_id desc, l.row_number) as position, f.list_kind, f.filing_number, f.province "
    "from batches b join listings l on l.batch_id = b.batch_id and l.version = b.version "
    "join filings f on f.list_kind = l.list_kind and f.filing_number = l.filing_number and "
    "f.first_batch_id = l.batch_id where b.is_current")

# The date of a change in the release feed: an added filing is dated by its first batch, a
# modified or cancelled one by its latest (c: changes, f: filings, lb: the latest batch).
CHANGE_DATED = ("case c.change when 'added' then f.first_published_on "
                "when 'cancelled' then coalesce(f.cancelled_on, lb.published_on) "
                "else lb.published_on end")
CHANGE_JOINS = (
    "left join filings f on f.list_kind = c.list_kind and f.filing_number = c.filing_number "
    "left join batches lb on lb.batch_id = f.last_batch_id and lb.is_current")
LATEST_RELEASE = "(select max(release_id) from releases)"

RELEASE_CHANGES_SQL = (
    f"select row_number() over (order by ({CHANGE_DATED}) is null, ({CHANGE_DATED}) desc, "
    "c.list_kind, c.filing_number) as position, c.list_kind, c.filing_number "
    f"from changes c {CHANGE_JOINS} where c.release_id = {LATEST_RELEASE}")

SQL: dict[str, str] = {
    SUMMARY_FILING_COUNTS.name:
        "select list_kind, first_published_on, province, status, count(*) as n from filings "
        "group by list_kind, first_published_on, province, status",
    # JSON text only: a number or null in the list never equals a name.
    SUMMARY_FORMER_NAMES.name:
        "select distinct j.value as former_name, c.company from companies c, "
        "json_each(c.former_names) j where j.type = 'text'",
    SUMMARY_BATCH_LISTS.name:
        batch_lists_sql() + " group by l.batch_id, l.version, l.list_kind",
    SUMMARY_NEW_FILINGS.name: NEW_FILINGS_SQL,
    # The feeds of a keyword read the matches' places here, narrow rows by rowid, instead of
    # each match's row.
    SUMMARY_FILING_ORDER.name:
        "select rowid as filing_rowid, row_number() over (order by first_published_on desc, "
        "list_kind, filing_number) as position, province from filings",
    SUMMARY_RELEASE_CHANGES.name: RELEASE_CHANGES_SQL,
}


def source(summary: Table, present: bool) -> str:
    """What a page reads a summary from (a FROM item, to be given an alias): its table, or,
    in a release that predates it, its query."""
    return quote_identifier(summary.name) if present else f"({SQL[summary.name]})"


def faceted_text_columns(table: Table) -> list[str]:
    """The columns of `table`'s facets that the facet counts hold: its text columns (a
    number kept as text would not be the value Datasette shows)."""
    return [c for c in table.facets if table.column_types.get(c) == "text"]


def _write_facet_counts(conn: Database) -> None:
    """Each table's facets from one pass over it: its rows counted per combination of
    faceted values (a temporary table), then summed per value and per pair of values."""
    into = (f"insert into {quote_identifier(SUMMARY_FACET_COUNTS.name)} (table_name, "
            "filter_column, filter_value, column_name, value, n) ")
    for table in TABLES:
        columns = faceted_text_columns(table)
        if not columns:
            continue
        quoted = [quote_identifier(c) for c in columns]
        conn.execute("drop table if exists temp.cube")
        conn.execute(f"create temp table cube as select {', '.join(quoted)}, count(*) as n "
                     f"from {quote_identifier(table.name)} group by {', '.join(quoted)}")
        for column, col in zip(columns, quoted, strict=True):
            conn.execute(into + f"select ?, '', '', ?, {col}, sum(n) from temp.cube "
                                f"where {col} is not null group by {col}",
                         [table.name, column])
            for other, by in zip(columns, quoted, strict=True):
                if other == column:
                    continue
                conn.execute(into + f"select ?, ?, {by}, ?, {col}, sum(n) from temp.cube "
                                    f"where {by} is not null and {col} is not null "
                                    f"group by {by}, {col}", [table.name, other, column])
        conn.execute("drop table temp.cube")


# The filings' names and companies alone, as their full-text table indexes them (segmented,
# same tokenizer, rowid = the filing's): the search page's first two tiers (a common word in
# the name, then in the company) are read from these, whose lists hold only the filings
# whose name (company) has the word, instead of walking every filing that has it anywhere.
TIER_FTS = {"name": "summary_filing_names_fts", "company": "summary_filing_companies_fts"}


def _write_tier_fts(conn: Database, filings: Sequence[Row]) -> None:
    """`filings`: the rows just written to the filings table, in its rowid order; the build's
    carry their search text (`_fts`, in FILINGS.fts order: the name's and company's
    segmented, as filings_fts has them); rows read back from Parquet are segmented here."""
    for column, table in TIER_FTS.items():
        fts = quote_identifier(table)
        conn.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({quote_identifier(column)}, "
                     "tokenize = 'unicode61 remove_diacritics 2', content = '')")
        at = FILINGS.fts.index(column)
        texts: Iterable[tuple[int, str | None]]
        if all("_fts" in row for row in filings):
            texts = ((rowid, row["_fts"][at]) for rowid, row in enumerate(filings, start=1))
        else:
            texts = ((rowid, segment_text(value)) for rowid, value in conn.execute(
                f"select rowid, {quote_identifier(column)} from filings order by rowid"))
        fill_fts(conn, table, (column,), texts)


def _write_table_counts(conn: Database) -> None:
    """`select count(*)` of every table of the file, this one included (it is written
    last)."""
    names = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")]
    counts = [(name, len(names) if name == SUMMARY_TABLE_COUNTS.name else conn.execute(
        f"select count(*) from {quote_identifier(name)}").fetchone()[0]) for name in names]
    conn.executemany(f"insert into {quote_identifier(SUMMARY_TABLE_COUNTS.name)} "
                     "(table_name, row_count) values (?, ?)", counts)


def write_summaries(db_file: Path, filings: Sequence[Row]) -> None:
    """Every summary table, into the release's SQLite file just written by
    store.write_sqlite (`filings`: the rows of its filings table)."""
    conn = open_database(db_file)
    try:
        with conn:
            _write_tier_fts(conn, filings)
            for table in SUMMARY_TABLES:
                create, *indexes = sqlite_ddl(table)
                conn.execute(create)
                if table is SUMMARY_FACET_COUNTS:
                    _write_facet_counts(conn)
                elif table is SUMMARY_TABLE_COUNTS:
                    _write_table_counts(conn)
                else:
                    names = ", ".join(quote_identifier(c) for c in table.column_names)
                    conn.execute(f"insert into {quote_identifier(table.name)} ({names}) "
                                 + SQL[table.name])
                for statement in indexes:
                    conn.execute(statement)
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
