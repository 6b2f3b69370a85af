"""A table page's search (`?_search=`), answered from its matches read once per request.

Datasette answers `/cac_filings/filings?_search=北京` with queries that each read every
matching row of the table: the page's rows (`… where rowid in (select rowid from filings_fts
where filings_fts match escape_fts(:search)) order by first_published_on desc limit 51`, a
sort of every match), their count, and one count per facet. At a million filings 北京 matches
235,000 rows: 0.1 s for the rows and 0.1 s for each of six facets. Here the matches' rowids
are read once per request, from the full-text index alone (about 25 ms for 北京; a common
word's are kept with the release, as it never changes: `keep_matches`), and:

- a facet counts the matches' codes of its column (numpy.bincount) and orders them as
  Datasette's SQL does (count descending, then value), given back by a query of those values;
- the rows are the matches ordered by the table's newest-first column (descending, nulls
  last), ties in rowid order, then read by rowid. SQLite's sort leaves ties in the order it
  reads them: by rowid from the matches alone, by the primary key from an index of a filter
  column; so the rows are answered only when the table's rowids follow its key (the build
  writes them so; `rowids_follow_key` checks it once per release);
- the count is their number.

Only a table page's own queries are taken: their select lists name the table's columns and
nothing else, so a query typed on the SQL page in the same shape (`select count(*) …`,
`company as province`) runs as written. tests/test_search_facets.py compares every answer
with SQLite's.

A table's faceted text columns and its newest-first column are loaded once per release, as a
code per rowid (`Coded`: the column's distinct values sorted, so that codes order as values
do). Only Datasette's own queries of a search alone, or with equality filters on faceted
columns (`?_search=北京&province=北京市&status=active`: the matches with those codes, a facet
clicked after another), are recognised,
on text columns (a column holding anything else is left to SQLite), on the first page and
the next ones (`_next=`: the matches dated before the last row shown, or on its date with a
key after its key; the first rowid after that key is read from the key's index, and checked
with Datasette's own condition); everything else (other filters, another sort,
`_searchmode=raw`) runs as Datasette wrote it.
"""

from __future__ import annotations

import bisect
import contextvars
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from datasette.utils import compound_keys_after_sql

from cac_filings.metadata import NEWEST_FIRST
from cac_filings.schema import TABLES, quote_identifier
from cac_filings.web.facet_counts import COUNTED, FTS_TABLES, facet_query, plain_columns

# Datasette 0.65's SQL of a searched table page, white space squeezed
# (datasette/views/table.py: where_clauses of `_search`, sql, count_sql,
# sql_no_order_no_limit; datasette/facets.py ColumnFacet.facet_results).
_SEARCHED = (r"from (?P<table>\w+) where (?P<where>(?:\"\w+\" = :p\d+ and )*)rowid in \(select "
             r"rowid from (?P<fts>\w+) where (?P=fts) match escape_fts\(:search\)\)"
             r"(?: and (?P<next>\(.+\)))?")
_ROWS_RE = re.compile(r"select (?P<select>.+?) " + _SEARCHED +
                      r" order by (?P<sort>\w+) desc(?P<keys>(?:, \w+)*) limit (?P<limit>\d+)")
KEYS = {t.name: t.primary_key for t in TABLES}
_FILTER_RE = re.compile(r"\"(\w+)\" = :(p\d+) and ")
# Datasette's SQL of a table page is under 2,000 characters; the patterns above, run on any
# SQL with a :search parameter (the SQL page's too), would take time growing with the
# square of a longer one's length.
MAX_SQL = 8_000
# The page after another (`_next=`, sorted by a column descending): the rows after the last
# one shown, by that column and then the key (datasette/views/table.py).
_AFTER_VALUE_RE = re.compile(r"\((?P<sort>\w+) < :(?P<p>p\d+) or (?P=sort) is null or "
                             r"\((?P=sort) = :(?P=p) and (?P<keys>.+)\)\)")
_AFTER_NULL_RE = re.compile(r"\((?P<sort>\w+) is null and (?P<keys>.+)\)")
_COUNT_RE = re.compile(r"select count\(\*\) " + _SEARCHED)
_FACET_RE = facet_query(_SEARCHED)

# What this request has read: the matches' rowids of each search (by database file, table,
# search), and a next page's first rowid after the last row shown ("after", file, table, key).
_MATCHES: contextvars.ContextVar[dict[tuple[Any, ...], Any] | None] = \
    contextvars.ContextVar("cac_search_matches", default=None)


@contextmanager
def one_request() -> Iterator[None]:
    """Within it, a search's matches are read once (the plugin's ASGI wrapper, per request)."""
    token = _MATCHES.set({})
    try:
        yield
    finally:
        _MATCHES.reset(token)


@dataclass(frozen=True)
class Coded:
    """A text column as a code per rowid: `values[code]`, -1 where it is null. `values` are
    sorted as SQLite sorts text (by code point, as UTF-8 bytes compare)."""

    codes: np.ndarray
    values: list[str]


def load_column(conn: sqlite3.Connection, table: str, column: str, size: int
                ) -> Coded | None:
    """`column` of `table` coded (rowids < size); None when it holds anything but text."""
    col, tab = quote_identifier(column), quote_identifier(table)
    groups = conn.execute(f"select {col}, group_concat(rowid) from {tab} group by {col}"
                          ).fetchall()
    if any(value is not None and not isinstance(value, str) for value, _ in groups):
        return None
    values = sorted(value for value, _ in groups if value is not None)
    code = {value: i for i, value in enumerate(values)}
    codes = np.full(size, -1, dtype=np.int32)
    for value, rowids in groups:
        if value is not None:
            codes[_rowids(rowids)] = code[value]
    return Coded(codes, values)


def _rowids(text: str | None) -> np.ndarray:
    """group_concat(rowid)'s text as an array."""
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")


@dataclass(frozen=True)
class SearchedTable:
    """What a searched page of `table` is answered from: its coded columns (None: not text),
    and whether its rowids follow its primary key (`keyed`)."""

    table: str
    columns: Mapping[str, Coded | None]
    keyed: bool = False


def searched_columns(table: str) -> tuple[str, ...]:
    """The columns of `table` this module answers from: faceted text columns, newest-first."""
    columns = set(COUNTED.get(table, ()))
    if table in NEWEST_FIRST:
        columns.add(NEWEST_FIRST[table])
    return tuple(sorted(columns))


def rowids_follow_key(conn: sqlite3.Connection, table: str, key: tuple[str, ...]) -> bool:
    """Whether `table`'s rows in rowid order are in its primary key's order (the build
    writes them so: derive.py sorts the filings by list and number). SQLite leaves rows that
    tie on the sort column in the order it reads them: by rowid from the matches alone, by
    the primary key's columns from an index of a filter column and the sort column; the
    two agree only then."""
    if not key:
        return False
    # Read in the key's order from its own index (which holds the rowids): 0.3 s at a
    # million filings.
    text = conn.execute(f"select group_concat(rowid) from (select rowid from "
                        f"{quote_identifier(table)} order by "
                        f"{', '.join(map(quote_identifier, key))})").fetchone()[0]
    rowids = _rowids(text)
    return bool(np.all(rowids[1:] > rowids[:-1]))


def load_table(conn: sqlite3.Connection, table: str) -> SearchedTable:
    size = int(conn.execute(f"select coalesce(max(rowid), 0) + 1 from "
                            f"{quote_identifier(table)}").fetchone()[0])
    # A release written before a column lacks it: that column's queries are SQLite's (and
    # it is never read: SQLite would take a missing "column" for the text 'column').
    present = {r[1] for r in conn.execute(f"pragma table_info({quote_identifier(table)})")}
    key = KEYS.get(table, ())
    keyed = table in NEWEST_FIRST and set(key) <= present and rowids_follow_key(conn, table,
                                                                               key)
    return SearchedTable(table, {c: load_column(conn, table, c, size) if c in present else None
                                 for c in searched_columns(table)}, keyed=keyed)


def read_matches(conn: sqlite3.Connection, fts: str, search: str, *, escaped: bool = True
                 ) -> np.ndarray:
    """The rowids `search` matches in the full-text table `fts`, ascending: a search box's
    words (escaped as Datasette escapes them), or with escaped=False an FTS5 query."""
    name = quote_identifier(fts)
    query = "escape_fts(:search)" if escaped else ":search"
    text = conn.execute(f"select group_concat(rowid) from {name} where {name} match {query}",
                        {"search": search}).fetchone()[0]
    found = _rowids(text)
    # FTS5 gives a query's matches in rowid order; sorted here all the same (cheap when so).
    if len(found) > 1 and not bool(np.all(found[1:] > found[:-1])):
        found = np.unique(found)
    return found


def _key(table: str) -> str:
    return f"searched:{table}"


def loaded(conn: sqlite3.Connection, release: Any, table: str) -> SearchedTable:
    """The release's columns of `table`, loaded once: a page asked while `warm` loads them
    waits for it rather than loading them a second time."""
    # One lock per table: a page of the filings does not wait for the companies' columns.
    with release.cache.setdefault(_key(table) + ":lock", threading.Lock()):
        if _key(table) not in release.cache:
            release.cache[_key(table)] = load_table(conn, table)
        found: SearchedTable = release.cache[_key(table)]
        return found


def warm(release: Any) -> threading.Thread:
    """Load the searched tables' columns of a release just swapped in, in the background (1 s
    at a million filings): the first searched page need not wait for them. A page asked
    before they are loaded loads them itself (Release.cached)."""
    def load() -> None:
        try:
            conn = sqlite3.connect(f"file:{release.db_file}?immutable=1", uri=True,
                                   check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            for table in sorted(FTS_TABLES, key=lambda t: (t not in NEWEST_FIRST, t)):
                try:
                    loaded(conn, release, table)
                except sqlite3.Error:  # a release without that table: its pages fail alone
                    continue
        finally:
            conn.close()
    thread = threading.Thread(target=load, name="cac-searched-columns", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- the queries recognised

@dataclass(frozen=True)
class After:
    """A next page's rows: those whose newest-first column is below `value` or null, or
    equal to it (null: `value` None) with a key after `key`, the last row shown (`params`:
    the names of its columns' parameters, `clause` Datasette's SQL of "a key after it")."""

    value: str | None
    key: tuple[str, ...]
    clause: str
    params: tuple[str, ...]  # the value's parameter (when not null), then the key's


@dataclass(frozen=True)
class Asked:
    """One of Datasette's queries of a searched page: `kind` rows, count or facet; `where`
    the page's filters (`?province=北京市&status=active`), each a faceted column and the
    value it equals; `after` the rows of a page after the first."""

    kind: str
    table: str
    search: str
    column: str = ""
    limit: int = 0
    select: str = ""
    where: tuple[tuple[str, str], ...] = ()
    after: After | None = None


def _after(text: str, table: str, params: Mapping[str, Any]) -> After | None:
    """The next page's condition `text` (Datasette's, white space squeezed) as an After, when
    it is Datasette's for `table`'s newest-first column and key, with text parameters."""
    key = KEYS.get(table, ())
    found = _AFTER_VALUE_RE.fullmatch(text) or _AFTER_NULL_RE.fullmatch(text)
    if found is None or not key or found["sort"] != NEWEST_FIRST.get(table):
        return None
    first = re.search(r":p(\d+)", found["keys"])
    if first is None:
        return None
    start = int(first[1])
    names = tuple(f"p{start + i}" for i in range(len(key)))
    if " ".join(compound_keys_after_sql(list(key), start).split()) != found["keys"]:
        return None
    value_param = (found["p"],) if "p" in found.groupdict() else ()
    if not all(isinstance(params.get(n), str) for n in (*value_param, *names)):
        return None
    return After(params[value_param[0]] if value_param else None,
                 tuple(params[n] for n in names), found["keys"], (*value_param, *names))


def recognise(sql: str, params: Any) -> Asked | None:
    """The query of a searched page `sql` is, with `params` exactly its search (and its
    filters' values, its next page's); or None."""
    if not (isinstance(params, Mapping) and isinstance(params.get("search"), str)) or (
            len(sql) > MAX_SQL):
        return None
    text = " ".join(sql.split())
    for kind, pattern in (("rows", _ROWS_RE), ("count", _COUNT_RE), ("facet", _FACET_RE)):
        found = pattern.fullmatch(text)
        if found is None:
            continue
        table = found["table"]
        if table not in FTS_TABLES or found["fts"] != f"{table}_fts":
            return None
        # Datasette numbers its filters' parameters first: p0, p1, …
        filters = _FILTER_RE.findall(found["where"])
        if [p for _, p in filters] != [f"p{i}" for i in range(len(filters))] or not all(
                c in COUNTED.get(table, ()) and isinstance(params.get(p), str)
                for c, p in filters):
            return None
        where = tuple((c, params[p]) for c, p in filters)
        after = _after(found["next"], table, params) if found["next"] else None
        if found["next"] and after is None:
            return None
        # Exactly the parameters the query names: its search, filter, and next page's.
        named = {"search"} | {p for _, p in filters} | set(after.params if after else ())
        if set(params) != named or (
                kind != "count" and not plain_columns(found["select"], table)):
            return None
        asked = Asked(kind, table, params["search"], where=where, after=after)
        if kind == "rows":
            key = KEYS.get(table, ())
            # Datasette orders a next page by the key after the column, the first by it alone.
            if NEWEST_FIRST.get(table) != found["sort"] or found["keys"] != (
                    "".join(f", {k}" for k in key) if after else ""):
                return None
            return replace(asked, column=found["sort"], limit=int(found["limit"]),
                           select=found["select"])
        if kind == "facet":
            if found["column"] not in COUNTED.get(table, ()):
                return None
            return replace(asked, column=found["column"], limit=int(found["limit"]))
        return asked
    return None


def filtered(asked: Asked, table: SearchedTable, matches: np.ndarray, first_after: int = 0
             ) -> np.ndarray | None:
    """The matches whose filter column equals the filter's value (all of them without a
    filter), and on a next page those after the last row shown (`first_after`: the first
    rowid whose key is after its key); None when a column it needs is not coded."""
    for column, value in asked.where:
        coded = table.columns.get(column)
        if coded is None:
            return None
        at = _code(coded, value)
        matches = matches[coded.codes[matches] == at] if at is not None else matches[:0]
    if asked.after is None:
        return matches
    sort = table.columns.get(NEWEST_FIRST.get(asked.table, ""))
    if sort is None or not table.keyed:
        return None
    codes = sort.codes[matches]
    later = matches >= first_after
    if asked.after.value is None:
        chosen: np.ndarray = matches[(codes < 0) & later]
        return chosen
    at = _code(sort, asked.after.value)
    if at is None:  # a value the column does not hold: SQLite compares it
        return None
    chosen = matches[(codes < at) | (codes == at) & later]  # nulls are -1: below every code
    return chosen


def _code(coded: Coded, value: str) -> int | None:
    at = bisect.bisect_left(coded.values, value)
    return at if at < len(coded.values) and coded.values[at] == value else None


def first_after(conn: sqlite3.Connection, table: str, after: After) -> int | None:
    """The first rowid of `table` whose key is after `after.key` (past the last rowid when
    none is), checked with Datasette's own condition at it and before it; None when that
    check fails. That the rows after it are all those after the key holds only where the
    rowids follow the key (SearchedTable.keyed, which `filtered` requires)."""
    key = KEYS[table]
    name, cols = quote_identifier(table), ", ".join(map(quote_identifier, key))
    marks = ", ".join("?" for _ in key)
    found = conn.execute(f"select rowid from {name} where ({cols}) > ({marks}) order by {cols} "
                         "limit 1", after.key).fetchone()
    at = int(found[0]) if found else int(conn.execute(
        f"select coalesce(max(rowid), 0) from {name}").fetchone()[0]) + 1
    named = dict(zip(after.params[-len(key):], after.key, strict=True))

    def is_after(rowid: int) -> bool:
        return bool(conn.execute(f"select count(*) from {name} where rowid = :rowid and "
                                 f"{after.clause}", {"rowid": rowid, **named}).fetchone()[0])

    before = conn.execute(f"select max(rowid) from {name} where rowid < ?", [at]).fetchone()[0]
    if (found and not is_after(at)) or (before is not None and is_after(int(before))):
        return None
    return at


def facet_counts(coded: Coded, matches: np.ndarray, limit: int) -> list[tuple[str, int]]:
    """(value, count) of the matches' non-null values: count descending, then value."""
    codes = coded.codes[matches]
    counts = np.bincount(codes[codes >= 0], minlength=len(coded.values))
    present = np.flatnonzero(counts)
    # lexsort's last key is the first: count descending, then code (value) ascending.
    order = present[np.lexsort((present, -counts[present]))][:limit]
    return [(coded.values[i], int(counts[i])) for i in order]


def newest_first(coded: Coded, matches: np.ndarray, limit: int) -> np.ndarray:
    """The first `limit` of the (ascending) matches by the column descending, nulls last,
    ties by rowid. Linear: the `limit`-th key is found by partition, and only the matches
    at or before it are sorted (stably, so ties keep their rowid order)."""
    if limit <= 0 or not len(matches):
        return matches[:0]
    codes = coded.codes[matches].astype(np.int64)
    # One key, smaller first: the newest (largest code) first, nulls (-1) after every value.
    key = np.where(codes < 0, len(coded.values), len(coded.values) - 1 - codes)
    if limit < len(key):
        last = np.partition(key, limit - 1)[limit - 1]
        chosen = np.flatnonzero(key <= last)
    else:
        chosen = np.arange(len(key))
    order = chosen[np.argsort(key[chosen], kind="stable")][:limit]
    return matches[order]


def newest_matching(conn: sqlite3.Connection, release: Any, table: str, match: str,
                    equal: Mapping[str, str], limit: int) -> np.ndarray | None:
    """The rowids of the first `limit` rows of `table` that the FTS5 query `match` matches
    (and whose columns equal `equal`'s values), in the order of `table`'s NEWEST_FIRST
    column descending (nulls last), then its key: what `order by <that column> desc, <key>
    limit <limit>` gives, read from the release's coded columns (loaded once) and the
    matches alone. None when those cannot say (rowids not in the key's order, a column not
    text) or are not loaded yet (`warm` loads them as the server starts; loading them here
    would spend a request's time limit on it): the caller asks SQLite."""
    if _key(table) not in release.cache:
        return None
    searched = loaded(conn, release, table)
    newest = searched.columns.get(NEWEST_FIRST.get(table, ""))
    columns = {c: searched.columns.get(c) for c in equal}
    if (table not in FTS_TABLES or not searched.keyed or newest is None
            or any(c is None for c in columns.values())):
        return None
    matches = read_matches(conn, f"{table}_fts", match, escaped=False)
    for column, value in equal.items():
        coded = columns[column]
        assert coded is not None
        code = _code(coded, value)
        matches = matches[coded.codes[matches] == code] if code is not None else matches[:0]
    return newest_first(newest, matches, limit)


def answer(asked: Asked, table: SearchedTable, matches: np.ndarray, first: int = 0
           ) -> tuple[str, list[object]] | None:
    """A query giving exactly what `asked` gives, from the matches (`first`: a next page's
    first rowid after the last row shown, first_after); None when a column it needs is not
    coded (not text)."""
    chosen = filtered(asked, table, matches, first)
    if chosen is None:
        return None
    matches = chosen
    if asked.kind == "count":
        return "select ? as [count(*)]", [len(matches)]
    coded = table.columns.get(asked.column)
    if coded is None:
        return None
    if asked.kind == "facet":
        found = facet_counts(coded, matches, asked.limit)
        if not found:
            return "select null as value, null as count where 0", []
        rows = ", ".join("(?, ?, ?)" for _ in found)
        return (f"select column2 as value, column3 as count from (values {rows}) "
                "order by column1", [x for i, (v, n) in enumerate(found) for x in (i, v, n)])
    if not table.keyed:
        return None
    page = newest_first(coded, matches, asked.limit)
    ids = ", ".join(map(str, page.tolist())) or "null"
    sort = quote_identifier(asked.column)
    return (f"select {asked.select} from {quote_identifier(asked.table)} where rowid in "
            f"({ids}) order by {sort} desc, rowid", [])


async def answered(database: Any, release: Any, sql: str, params: Any
                   ) -> tuple[str, list[object]] | None:
    """The query to run instead of `sql` (on `database`, serving `release`), or None."""
    asked = recognise(sql, params)
    if asked is None:
        return None

    table: SearchedTable = SearchedTable(asked.table, {})
    if asked.kind != "count" or asked.where:
        table = release.cache.get(_key(asked.table)) or await database.execute_fn(
            lambda conn: loaded(conn, release, asked.table))
    memo = _MATCHES.get()
    key = (str(database.path), asked.table, asked.search)
    matches = memo.get(key) if memo is not None else None
    if matches is None:
        matches = kept_matches(release, key)
    if matches is None:
        matches = await database.execute_fn(
            lambda conn: read_matches(conn, f"{asked.table}_fts", asked.search))
        keep_matches(release, key, matches)
    if memo is not None:
        memo[key] = matches
    first = 0
    if asked.after is not None:
        if not table.keyed:  # its next pages are not the rows after a rowid: SQLite's
            return None
        after = asked.after
        first_key = ("after", str(database.path), asked.table, after.key)
        found: int | None
        if memo is not None and first_key in memo:
            found = memo[first_key]
        else:
            found = await database.execute_fn(lambda conn: first_after(conn, asked.table, after))
            if memo is not None:
                memo[first_key] = found
        if found is None:
            return None
        first = found
    return answer(asked, table, matches, first)


# A common word's matches are kept with the release (it never changes), the most recently
# asked last: 算法 matches 868,000 filings at a million, 0.1 s to read from the index, which
# its next pages need not read again. Fewer matches than KEEP_FROM take a few ms to read and
# are read per request; the kept ones are dropped, oldest first, beyond KEEP_BYTES (and all
# of them with the release, at a swap).
KEEP_FROM = 20_000
KEEP_BYTES = 64 * 2**20
_KEPT = "searched:matches"


def kept_matches(release: Any, key: tuple[str, str, str]) -> np.ndarray | None:
    kept: OrderedDict[tuple[str, str, str], np.ndarray] | None = release.cache.get(_KEPT)
    found = kept.get(key) if kept is not None else None
    if kept is not None and found is not None:
        kept.move_to_end(key)
    return found


def keep_matches(release: Any, key: tuple[str, str, str], matches: np.ndarray) -> None:
    """Keep `matches` with `release` when they are many (called on the event loop only)."""
    if len(matches) < KEEP_FROM or matches.nbytes > KEEP_BYTES:
        return
    matches.flags.writeable = False  # shared by every page that asks for them from now on
    kept: OrderedDict[tuple[str, str, str], np.ndarray] = release.cache.setdefault(
        _KEPT, OrderedDict())
    kept[key] = matches
    kept.move_to_end(key)
    total = sum(m.nbytes for m in kept.values())
    while total > KEEP_BYTES and len(kept) > 1:
        _, dropped = kept.popitem(last=False)
        total -= dropped.nbytes
