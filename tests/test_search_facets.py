"""A searched table page (`?_search=`) answered from its matches read once
(web.search_facets) says exactly what Datasette's own queries say: its rows in their order,
its count and every facet, on a table with many ties, nulls and Chinese values, and on the
pages of a published release."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import numpy as np
import pytest

from cac_filings.config import load_settings
from cac_filings.schema import FILINGS, sqlite_ddl
from cac_filings.search import fts_query, fts_texts
from cac_filings.serve import make_datasette
from cac_filings.web import search_facets
from cac_filings.web.facet_counts import COUNTED
from cac_filings.web.search_facets import (
    answer,
    first_after,
    load_table,
    read_matches,
    recognise,
)

# Datasette 0.65's queries of /cac_filings/filings?_search=… (datasette/views/table.py and
# datasette/facets.py), as the tests of the served pages below see them recognised.
SEARCHED = ("from filings where rowid in (select rowid from filings_fts where filings_fts "
            "match escape_fts(:search))")
ROWS = "select {select} " + SEARCHED + " order by first_published_on desc limit {limit}"
COUNT = "select count(*) " + SEARCHED
FACET = ("select {c} as value, count(*) as count from ( select {select} " + SEARCHED
         + " ) where {c} is not null group by {c} order by count desc, value limit {limit}")

WORDS = ["北京", "上海", "算法", "推荐", "大模型", "科技", "服务", "抖音", "baidu", "AI"]
PROVINCES = ["北京市", "上海市", "广东省", "浙江省", "四川省", None]
DATES = ["2023-01-06", "2023-06-30", "2024-04-02", "2024-04-02", "2025-01-01", None]


def _filings(path: Path, shuffled: bool) -> sqlite3.Connection:
    """A filings table (the release's schema: its key, indexes and full-text table) of 3,000
    rows drawn from few values: most dates are shared by hundreds of rows, some are null,
    facet counts tie, values are Chinese and Latin. Written in its key's order, as the build
    writes it, or shuffled."""
    rng = random.Random(13)
    c = sqlite3.connect(path)
    for statement in sqlite_ddl(FILINGS):
        c.execute(statement)
    columns = [col.name for col in FILINGS.columns]
    rows = []
    for i in range(3000):
        row: dict[str, Any] = dict.fromkeys(columns)
        row.update(
            filing_number=f"网信算备{i:06d}号", list_kind=rng.choice(["algorithm", "deep_synthesis",
                                                                  "genai_filing"]),
            name=" ".join(rng.sample(WORDS, 2)) + f" {i}", company=rng.choice(WORDS) + "公司",
            province=rng.choice(PROVINCES), role=rng.choice(["service_provider", None]),
            category=rng.choice(["个性化推送类", "检索过滤类", "排序精选类", None]),
            status=rng.choice(["active", "active", "cancelled"]), number_valid=True,
            quality_flags="[]", first_batch_id="algorithm/2024-01", source_url="https://x/",
            last_batch_id=f"algorithm/2024-{rng.randint(1, 12):02d}",
            first_published_on=rng.choice(DATES))
        rows.append(row)
    rows.sort(key=lambda r: (r["list_kind"], r["filing_number"]))
    if shuffled:
        rng.shuffle(rows)
    c.executemany(f"insert into filings ({', '.join(columns)}) values "
                  f"({', '.join('?' for _ in columns)})", [[r[k] for k in columns] for r in rows])
    c.executemany(f"insert into filings_fts (rowid, {', '.join(FILINGS.fts)}) values "
                  f"(?, {', '.join('?' for _ in FILINGS.fts)})",
                  [(n, *fts_texts(FILINGS, r)) for n, r in enumerate(rows, 1)])
    c.commit()
    c.create_function("escape_fts", 1, fts_query, deterministic=True)
    return c


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    c = _filings(tmp_path_factory.mktemp("searched") / "searched.db", shuffled=False)
    yield c
    c.close()


SEARCHES = ["北京", "算法 推荐", "baidu", "北京 上海 算法", "没有", "1", "公司", "”"]
SELECT = ", ".join(c.name for c in FILINGS.columns)


_TABLES: dict[int, Any] = {}


def _table(c: sqlite3.Connection) -> Any:
    """The fixture table's columns, loaded once (the test changing a value loads its own)."""
    if id(c) not in _TABLES:  # (setdefault would load it on every call, to throw it away)
        _TABLES[id(c)] = load_table(c, "filings")
    return _TABLES[id(c)]


def _both(c: sqlite3.Connection, sql: str, search: str,
          value: str | tuple[str, ...] | None = None, more: dict[str, str] | None = None
          ) -> tuple[list[Any], list[Any]]:
    values = (value,) if isinstance(value, str) else value or ()
    params = {"search": search} | {f"p{i}": v for i, v in enumerate(values)} | (more or {})
    asked = recognise(sql, params)
    assert asked is not None, sql
    first = first_after(c, "filings", asked.after) if asked.after else 0
    assert first is not None
    found = answer(asked, _table(c), read_matches(c, "filings_fts", search), first)
    assert found is not None
    return c.execute(sql, params).fetchall(), c.execute(found[0], found[1]).fetchall()


# A search alone, with one filter of a faceted column (a value it has, one it lacks), and
# with several (one column twice: no row has both values).
FILTERS: list[tuple[str, str | tuple[str, ...] | None]] = [
    ("", None), ('"province" = :p0 and ', "北京市"), ('"status" = :p0 and ', "cancelled"),
    ('"province" = :p0 and ', "没有这个省"),
    ('"province" = :p0 and "status" = :p1 and ', ("北京市", "cancelled")),
    ('"status" = :p0 and "province" = :p1 and "role" = :p2 and ',
     ("active", "上海市", "service_provider")),
    ('"province" = :p0 and "province" = :p1 and ', ("北京市", "上海市"))]


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize(("where", "value"), FILTERS)
def test_rows_count_and_facets_are_datasettes(conn: sqlite3.Connection, search: str,
                                              where: str, value: str | tuple[str, ...] | None
                                              ) -> None:
    def sql(text: str) -> str:
        return text.replace("where rowid in", f"where {where}rowid in")

    for limit in (1, 51, 5001):
        expected, got = _both(conn, sql(ROWS.format(select=SELECT, limit=limit)), search, value)
        assert got == expected, (search, limit)
    expected, got = _both(conn, sql(COUNT), search, value)
    assert got == expected
    for column in sorted(COUNTED["filings"]):
        for limit in (2, 6, 5001):
            expected, got = _both(conn, sql(FACET.format(c=column, select=SELECT, limit=limit)),
                                  search, value)
            assert got == expected, (search, column, limit)
    if search == "公司":  # every row: hundreds share each date, and nulls, compared above
        assert len(read_matches(conn, "filings_fts", search)) == 3000


def _next_page(sql: str, where: str, last: tuple[str, str, str | None]
               ) -> tuple[str, dict[str, str]]:
    """`sql` of a page after the one whose last row is `last` (list, number, date), as
    Datasette writes it: parameters numbered on from its own (the search's among them)."""
    start = where.count(" = :p") + 1  # after the filters' parameters and the search
    keys = (f"((list_kind > :p{start}) or (list_kind = :p{start} and "
            f"filing_number > :p{start + 1}))")
    params = {f"p{start}": last[0], f"p{start + 1}": last[1]}
    if last[2] is None:
        clause = f"(first_published_on is null and {keys})"
    else:
        v = f":p{start + 2}"
        clause = (f"(first_published_on < {v} or first_published_on is null or "
                  f"(first_published_on = {v} and {keys}))")
        params[f"p{start + 2}"] = last[2]
    searched = "match escape_fts(:search))"
    sql = sql.replace(searched, f"{searched} and {clause}")
    return sql.replace(" desc limit", " desc, list_kind, filing_number limit"), params


@pytest.mark.parametrize("search", ["北京", "公司", "算法 推荐", "没有"])
@pytest.mark.parametrize(("where", "value"), [*FILTERS[:2], FILTERS[4]])
def test_next_pages_are_datasettes(conn: sqlite3.Connection, search: str, where: str,
                                   value: str | tuple[str, ...] | None) -> None:
    def sql(text: str) -> str:
        return text.replace("where rowid in", f"where {where}rowid in")

    order = conn.execute(sql(ROWS.format(select="list_kind, filing_number, first_published_on",
                                         limit=5000)).replace(" desc limit",
                                                              " desc, rowid limit"),
                         {"search": search} | {f"p{i}": v for i, v in enumerate(
                             (value,) if isinstance(value, str) else value or ())}).fetchall()
    # After the first row, rows inside a run of one date, the last dated row, among the
    # nulls, the last row; and a row no page showed (a number between two).
    lasts = [tuple(order[i]) for i in sorted({0, 1, 7, len(order) // 2, len(order) - 1} | {
        i for i in range(1, len(order)) if order[i - 1][2] and not order[i][2]})
        if 0 <= i < len(order)]
    lasts += [(k, n[:-1] + "0", d) for k, n, d in lasts[:2]]
    assert search == "没有" or any(d is None for _, _, d in lasts)
    for last in lasts:
        for limit in (1, 51):
            text, more = _next_page(sql(ROWS.format(select=SELECT, limit=limit)), where, last)
            expected, got = _both(conn, text, search, value, more)
            assert got == expected, (search, last, limit)
        for column in sorted(COUNTED["filings"]):
            text, more = _next_page(sql(FACET.format(c=column, select=SELECT, limit=6)), where,
                                    last)
            expected, got = _both(conn, text, search, value, more)
            assert got == expected, (search, last, column)


def test_a_next_page_of_another_shape_is_left_to_sqlite(tmp_path: Path) -> None:
    text, more = _next_page(ROWS.format(select=SELECT, limit=51), "", ("a", "b", "2024-01-01"))
    assert recognise(text, {"search": "x"} | more) is not None
    for wrong in [text.replace("filing_number > :p2", "filing_number >= :p2"),
                  text.replace("desc, list_kind, filing_number", "desc, filing_number"),
                  text.replace("desc, list_kind, filing_number", "desc"),
                  text.replace("first_published_on < :p3", "first_published_on > :p3"),
                  text.replace("first_published_on is null or", "")]:
        assert recognise(wrong, {"search": "x"} | more) is None, wrong
    assert recognise(text, {"search": "x"} | more | {"p9": "1"}) is None
    assert recognise(text, {"search": "x", "p1": "a", "p2": "b", "p3": 3}) is None
    # A first page ordered by the key too, and a next page by the column alone: not
    # Datasette's.
    first = ROWS.format(select=SELECT, limit=51).replace(" desc limit",
                                                         " desc, list_kind, filing_number limit")
    assert recognise(first, {"search": "x"}) is None
    assert recognise(text.replace(", list_kind, filing_number", ""), {"search": "x"} | more
                     ) is None
    # A date the column does not hold: SQLite compares it.
    c = _filings(tmp_path / "f.db", shuffled=False)
    try:
        text, more = _next_page(ROWS.format(select=SELECT, limit=51), "",
                                ("algorithm", "网信算备000001号", "2024-04-01"))
        asked = recognise(text, {"search": "公司"} | more)
        assert asked is not None and asked.after is not None
        first_rowid = first_after(c, "filings", asked.after)
        assert first_rowid is not None
        assert answer(asked, load_table(c, "filings"), read_matches(c, "filings_fts", "公司"),
                      first_rowid) is None
    finally:
        c.close()
    # SQL longer than any of Datasette's table pages is not read (the patterns would take
    # time growing with the square of its length).
    long = text.replace("select ", "select " + "name, " * 2000, 1)
    assert recognise(long, {"search": "x"} | more) is None


def test_a_column_holding_other_than_text_is_left_to_sqlite(conn: sqlite3.Connection) -> None:
    conn.execute("update filings set province = x'07' where rowid = 5")  # a blob
    try:
        table = load_table(conn, "filings")
        assert table.columns["province"] is None and table.columns["status"] is not None
        asked = recognise(FACET.format(c="province", select=SELECT, limit=6), {"search": "公司"})
        assert asked is not None
        assert answer(asked, table, read_matches(conn, "filings_fts", "公司")) is None
    finally:
        conn.rollback()


def test_a_column_an_older_release_lacks_is_left_to_sqlite(tmp_path: Path) -> None:
    c = _filings(tmp_path / "older.db", shuffled=False)
    try:
        c.execute("drop index idx_filings_category_first_published_on_desc_list_kind_"
                  "filing_number")
        c.execute("alter table filings drop column category")
        table = load_table(c, "filings")
        assert table.columns["category"] is None and table.columns["status"] is not None
        assert table.keyed  # the other columns and the rows are answered as before
        facet = FACET.format(c="status", select=SELECT.replace(", category,", ","), limit=6)
        asked = recognise(facet, {"search": "公司"})
        assert asked is not None
        found = answer(asked, table, read_matches(c, "filings_fts", "公司"))
        assert found is not None
        assert c.execute(found[0], found[1]).fetchall() == c.execute(
            facet, {"search": "公司"}).fetchall()
    finally:
        c.close()


def test_only_a_search_alone_in_datasettes_words_is_recognised() -> None:
    rows = ROWS.format(select=SELECT, limit=51)
    assert recognise(rows, {"search": "x"}) is not None
    assert recognise(" ".join(rows.split(" ")).replace(" ", "\n  ", 3), {"search": "x"})
    assert recognise(rows, {"search": "x", "p0": "北京市"}) is None  # a value, no filter
    one = rows.replace("where rowid", 'where "province" = :p0 and rowid')
    assert recognise(one, {"search": "x", "p0": "北京市"}) is not None
    assert recognise(one, {"search": "x"}) is None
    assert recognise(one, {"search": "x", "p0": 3}) is None
    assert recognise(one.replace("province", "filed_on"), {"search": "x", "p0": "x"}) is None
    assert recognise(one.replace("= :p0", "> :p0"), {"search": "x", "p0": "x"}) is None
    two = one.replace("and rowid", 'and "status" = :p1 and rowid')
    found = recognise(two, {"search": "x", "p0": "北京市", "p1": "active"})
    assert found is not None and found.where == (("province", "北京市"), ("status", "active"))
    assert recognise(two, {"search": "x", "p0": "x"}) is None
    assert recognise(two.replace(":p1", ":p2"), {"search": "x", "p0": "x", "p2": "x"}) is None
    assert recognise(two.replace('"status"', '"filed_on"'),
                     {"search": "x", "p0": "x", "p1": "x"}) is None
    assert recognise(rows, {"search": 3}) is None
    assert recognise(rows.replace("escape_fts(:search)", ":search"), {"search": "x"}) is None
    assert recognise(rows.replace(" desc", ""), {"search": "x"}) is None  # another order
    assert recognise(rows.replace("first_published_on", "filed_on"), {"search": "x"}) is None
    assert recognise(rows.replace("limit 51", "limit 51 offset 50"), {"search": "x"}) is None
    assert recognise(rows.replace("filings_fts", "companies_fts"), {"search": "x"}) is None
    assert recognise(rows.replace(SEARCHED, SEARCHED + ' and "province" = :p0'),
                     {"search": "x"}) is None
    facet = FACET.format(c="filed_on", select=SELECT, limit=6)  # not a faceted text column
    assert recognise(facet, {"search": "x"}) is None
    assert recognise(FACET.format(c="province", select=SELECT, limit=6),
                     {"search": "x"}) is not None
    assert recognise(COUNT, {"search": "x"}) is not None
    assert recognise(COUNT.replace("filings", "companies"), {"search": "x"}) is not None


def test_rows_in_another_order_than_the_key_are_left_to_sqlite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite gives rows tying on the date by rowid from the matches alone, by the key from
    # an index of a filter column: the same order only when rowids follow the key.
    c = _filings(tmp_path / "shuffled.db", shuffled=True)
    try:
        table = load_table(c, "filings")
        assert not table.keyed and table.columns["province"] is not None
        rows = ROWS.format(select=SELECT, limit=51).replace(
            "where rowid", 'where "province" = :p0 and rowid')
        params = {"search": "公司", "p0": "北京市"}
        asked = recognise(rows, params)
        assert asked is not None
        assert answer(asked, table, read_matches(c, "filings_fts", "公司")) is None
        # (Answered regardless, the ties would come in another order than SQLite's.)
        forced = answer(asked, dataclasses.replace(table, keyed=True),
                        read_matches(c, "filings_fts", "公司"))
        assert forced is not None
        assert c.execute(forced[0], forced[1]).fetchall() != c.execute(rows, params).fetchall()
        # Counts and facets do not depend on the order: still answered, still the same.
        facet = FACET.format(c="status", select=SELECT, limit=6).replace(
            "where rowid", 'where "province" = :p0 and rowid')
        asked = recognise(facet, params)
        assert asked is not None
        found = answer(asked, table, read_matches(c, "filings_fts", "公司"))
        assert found is not None
        assert c.execute(found[0], found[1]).fetchall() == c.execute(facet, params).fetchall()
        # A next page's rows and facets are the matches after a key: by rowid only when the
        # rowids follow the key. Left to SQLite here.
        last = tuple(c.execute("select list_kind, filing_number, first_published_on from "
                               "filings where first_published_on is not null and rowid = "
                               "(select min(rowid) from filings where first_published_on is "
                               "not null)").fetchone())
        for sql in (ROWS.format(select=SELECT, limit=51),
                    FACET.format(c="status", select=SELECT, limit=6)):
            text, more = _next_page(sql, "", last)
            asked = recognise(text, {"search": "公司"} | more)
            assert asked is not None and asked.after is not None
            first = first_after(c, "filings", asked.after)
            assert answer(asked, table, read_matches(c, "filings_fts", "公司"), first or 0
                          ) is None
            # As served: left to SQLite before the key's index is read for it.

            class Database:
                path = "shuffled.db"

                async def execute_fn(self, fn: Any) -> Any:
                    return fn(c)

            class Release:
                cache: ClassVar[dict[str, Any]] = {"searched:filings": table}

            def unread(*args: Any) -> None:
                raise AssertionError("first_after read for a table not in key order")

            monkeypatch.setattr(search_facets, "first_after", unread)
            assert asyncio.run(search_facets.answered(
                Database(), Release(), text, {"search": "公司"} | more)) is None
            monkeypatch.undo()
    finally:
        c.close()


def test_the_sql_pages_queries_of_that_shape_are_not_taken_for_the_tables(
        conn: sqlite3.Connection) -> None:
    # /cac_filings?sql=… runs what a reader types: only a table page's own select lists
    # (the table's columns) are Datasette's queries.
    for select in ["count(*)", "distinct first_published_on", "rowid, company as province",
                   "*", "name, count(*) over ()", "nosuchcolumn"]:
        rows = ROWS.format(select=select, limit=51)
        assert recognise(rows, {"search": "北京"}) is None, select
        facet = FACET.format(c="province", select=select, limit=3)
        assert recognise(facet, {"search": "北京"}) is None, select
    for select in [SELECT, "rowid, " + SELECT, '"name", [company], province']:
        assert recognise(ROWS.format(select=select, limit=51), {"search": "x"}) is not None


def test_a_search_read_once_per_request(conn: sqlite3.Connection) -> None:
    class Database:
        path = "x.db"
        reads: ClassVar[int] = 0

        async def execute_fn(self, fn: Any) -> Any:
            Database.reads += 1
            return fn(conn)

    class Release:
        cache: ClassVar[dict[str, Any]] = {}

    async def page(search: str) -> None:
        for sql in [ROWS.format(select=SELECT, limit=51), COUNT] + [
                FACET.format(c=c, select=SELECT, limit=6) for c in COUNTED["filings"]]:
            assert await search_facets.answered(Database(), Release(), sql,
                                                {"search": search}) is not None

    async def requests() -> None:
        with search_facets.one_request():
            await page("北京")
        with search_facets.one_request():
            await page("北京")
            await page("算法")

    asyncio.run(requests())
    # The columns once (the release's), then each request's search once.
    assert Database.reads == 1 + 1 + 2


def test_a_common_words_matches_are_kept_with_the_release(
        conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []

    class Database:
        path = "x.db"

        async def execute_fn(self, fn: Any) -> Any:
            return fn(conn)

    class Release:
        def __init__(self) -> None:
            self.cache: dict[str, Any] = {}

    def reading(c: sqlite3.Connection, fts: str, search: str) -> np.ndarray:
        reads.append(search)
        return read_matches(c, fts, search)

    monkeypatch.setattr(search_facets, "read_matches", reading)
    by_size = sorted((len(read_matches(conn, "filings_fts", s)), s) for s in SEARCHES)
    (few, rare), (_, common), (_, commonest) = next(x for x in by_size if x[0]), *by_size[-2:]
    assert 0 < few < by_size[-2][0]

    async def requests(release: Release, *searches: str) -> None:
        for search in searches:
            with search_facets.one_request():
                assert await search_facets.answered(Database(), release, COUNT,
                                                    {"search": search}) is not None
    # The rare word's matches are fewer than KEEP_FROM: read by each request; the two common
    # words' once.
    monkeypatch.setattr(search_facets, "KEEP_FROM", few + 1)
    release = Release()
    asyncio.run(requests(release, common, rare, common, rare, commonest, common))
    assert reads == [common, rare, rare, commonest]
    # A release swapped in reads them again (its own).
    asyncio.run(requests(Release(), common))
    assert reads[-1] == common and len(reads) == 5
    # Beyond KEEP_BYTES the least recently asked is dropped: room for two of three here.
    three = [w for n, w in by_size if n][-3:]
    sizes = sorted(read_matches(conn, "filings_fts", w).nbytes for w in three)
    assert len(three) == 3 and sizes[0] > 0
    monkeypatch.setattr(search_facets, "KEEP_FROM", 0)
    monkeypatch.setattr(search_facets, "KEEP_BYTES", sizes[1] + sizes[2])
    a, b, c = three
    release, reads[:] = Release(), []
    asyncio.run(requests(release, a, b, a, c))
    assert [k[2] for k in release.cache["searched:matches"]] == [a, c]
    asyncio.run(requests(release, c, a, b))
    assert reads == [a, b, c, b]
    # Matches larger than KEEP_BYTES alone are never kept (they would push out all others).
    monkeypatch.setattr(search_facets, "KEEP_BYTES", sizes[0] - 1)
    release, reads[:] = Release(), []
    asyncio.run(requests(release, a, a))
    assert reads == [a, a] and not release.cache.get("searched:matches")


def test_warming_up_loads_the_filings_whatever_other_table_is_missing(
        tmp_path: Path) -> None:
    # The fixture's file has no companies or cancellations tables.
    c = _filings(tmp_path / "alone.db", shuffled=False)
    c.close()

    class Release:
        db_file = tmp_path / "alone.db"
        cache: ClassVar[dict[str, Any]] = {}

    search_facets.warm(Release()).join(timeout=30)
    assert Release.cache["searched:filings"].keyed
    assert "searched:companies" not in Release.cache


def test_no_request_no_sharing(conn: sqlite3.Connection) -> None:
    matches = read_matches(conn, "filings_fts", "北京")
    assert len(matches) and bool(np.all(np.diff(matches) > 0))


# ---------------------------------------------------------------- the pages served

PAGES = ["/cac_filings/filings.json?_search=" + quote(s) + extra
         for s in ["北京", "算法", "baidu", "AI", "没有这个词", "１１０１０８", "抖音 推荐"]
         for extra in ["", "&_facet_size=max", "&_size=5", "&province=" + quote("北京市"),
                       "&list_kind=deep_synthesis", "&status=cancelled", "&province=nowhere",
                       "&province=" + quote("北京市") + "&status=active",
                       "&status=cancelled&list_kind=deep_synthesis"]] + [
    "/cac_filings/companies.json?_search=" + quote("北京") + "&province=" + quote("北京市"),
    "/cac_filings/companies.json?_search=" + quote("北京"),
    "/cac_filings/cancellations.json?_search=" + quote("算法"),
]


@pytest.fixture(scope="module")
def served(tiny_release: Path) -> Iterator[tuple[Any, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    yield make_datasette(load_settings(data_dir=tiny_release)), loop
    loop.close()


def test_the_pages_are_those_datasette_gives(served: tuple[Any, asyncio.AbstractEventLoop],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ds, loop = served
    answered: list[str] = []
    real = search_facets.answer

    def counting(asked: Any, *args: Any) -> Any:
        answered.append(asked.kind)
        return real(asked, *args)

    def get(path: str) -> Any:
        response = loop.run_until_complete(ds.client.get(path))
        assert response.status_code == 200, (path, response.text[:300])
        body = response.json()
        return body["rows"], body["filtered_table_rows_count"], body["facet_results"]

    monkeypatch.setattr(search_facets, "answer", counting)
    ours = [get(p) for p in PAGES]
    # Datasette's queries of the filings pages were all answered here: rows, count, facets.
    assert {"rows", "count", "facet"} <= set(answered)
    assert answered.count("rows") == sum("filings.json" in p for p in PAGES)
    # Every search's matches kept with the release, then the pages again, from them.
    monkeypatch.setattr(search_facets, "KEEP_FROM", 0)
    [get(p) for p in PAGES]
    read: list[str] = []
    monkeypatch.setattr(search_facets, "read_matches",
                        lambda c, fts, search: read.append(search))
    kept = [get(p) for p in PAGES]
    assert not read
    monkeypatch.setattr(search_facets, "recognise", lambda sql, params: None)
    theirs = [get(p) for p in PAGES]
    for path, mine, from_kept, datasettes in zip(PAGES, ours, kept, theirs, strict=True):
        assert mine == datasettes, path
        assert from_kept == datasettes, path
    assert any(rows for rows, _, _ in ours) and any(facets for _, _, facets in ours)


def test_the_next_pages_are_those_datasette_gives(
        served: tuple[Any, asyncio.AbstractEventLoop], monkeypatch: pytest.MonkeyPatch) -> None:
    ds, loop = served
    answered: list[str] = []
    real = search_facets.answer

    def counting(asked: Any, *args: Any) -> Any:
        found = real(asked, *args)
        if asked.after is not None and found is not None:
            answered.append(asked.kind)
        return found

    def pages(path: str) -> list[Any]:
        found = []
        for _ in range(8):  # the first page, then the next ones while there are more
            response = loop.run_until_complete(ds.client.get(path))
            assert response.status_code == 200, (path, response.text[:300])
            body = response.json()
            found.append((body["rows"], body["next"], body["filtered_table_rows_count"],
                          body["facet_results"]))
            if not body["next_url"]:
                break
            path = body["next_url"][body["next_url"].index("/cac_filings/"):]
        return found

    asked_sql: list[tuple[str, dict[str, Any]]] = []
    real_recognise = search_facets.recognise

    def recording(sql: str, params: Any) -> Any:
        asked_sql.append((" ".join(sql.split()), dict(params) if isinstance(params, dict) else {}))
        return real_recognise(sql, params)

    monkeypatch.setattr(search_facets, "recognise", recording)
    starts = ["/cac_filings/filings.json?_size=" + size + "&_search=" + quote(s) + extra
              for s in ["北京", "算法", "公司", "AI"] for size in ["1", "4"]
              for extra in ["", "&province=" + quote("北京市"), "&status=cancelled",
                            "&province=" + quote("北京市") + "&status=active"]]
    monkeypatch.setattr(search_facets, "answer", counting)
    ours = [pages(p) for p in starts]
    assert {"rows", "facet"} <= set(answered)
    assert sum(len(p) for p in ours) > 2 * len(starts)  # pages after the first
    # The next pages' SQL the tests above write is Datasette's.
    nexts = [(sql, params) for sql, params in asked_sql
             if sql.startswith("select filing_number") and " desc, " in sql]
    assert nexts
    for sql, params in nexts:
        where = sql[sql.index("from filings where ") + 19:sql.index("rowid in")]
        filters = {f"p{i}" for i in range(where.count(" = :p"))}
        base = sql[:sql.index(" and (first_published_on")] + sql[sql.index(" order by"):]
        base = base.replace(" desc, list_kind, filing_number limit", " desc limit")
        after = {k: v for k, v in params.items() if k != "search" and k not in filters}
        keys = [v for _, v in sorted(after.items())]
        last = (keys[0], keys[1], keys[2] if len(keys) > 2 else None)
        assert _next_page(base, where, last) == (sql, after)
    monkeypatch.setattr(search_facets, "recognise", lambda sql, params: None)
    theirs = [pages(p) for p in starts]
    for path, mine, datasettes in zip(starts, ours, theirs, strict=True):
        assert mine == datasettes, path


def test_serving_freezes_what_it_loaded_before_the_first_request(
        tiny_release: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import uvicorn

    from cac_filings import serve

    frozen: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: frozen.append(gc.get_freeze_count()))
    try:
        serve.serve(load_settings(data_dir=tiny_release), "127.0.0.1", 0)
    finally:
        gc.unfreeze()
    # Datasette and the release, loaded, are out of the full collections' walk.
    assert frozen and frozen[0] > 10_000
