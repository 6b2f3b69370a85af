"""The summaries a release's SQLite file carries for serving (summaries.py) say exactly what
the queries they summarise say; Datasette's counts and facets read from them are its own
counts; a release written before them serves the same pages; and the tiered search of a
query matching many finds the same rows as scoring every match."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from cac_filings import summaries
from cac_filings.config import load_settings
from cac_filings.schema import DATABASE, DB_FILE, SUMMARY_TABLES, TABLES
from cac_filings.search import parse_search
from cac_filings.serve import make_datasette
from cac_filings.web import search_results
from cac_filings.web.db import Reader
from cac_filings.web.facet_counts import summarised
from cac_filings.web.release import Release
from cac_filings.web.search_facets import Asked, recognise
from tests.conftest import invoke
from tests.tinysite import serve_site


@dataclass
class Served:
    ds: Any
    data: Path

    @property
    def db_file(self) -> Path:
        return (self.data / "published").resolve() / DB_FILE


@dataclass
class Pair:
    new: Served  # a release as written now, with its summaries
    old: Served  # the same release without them, as one written before they existed
    loop: asyncio.AbstractEventLoop

    def get(self, served: Served, path: str) -> Any:
        response = self.loop.run_until_complete(served.ds.client.get(path))
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response


def _query(db_file: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db_file}?immutable=1", uri=True)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    new = tmp_path_factory.mktemp("summaries-new")
    with serve_site() as site:
        site.options.cancellation = True
        site.options.drift = True  # an on-device list, held-back batches, a renamed company
        done = invoke("run", "--no-serve", "--quiet", "--data-dir", str(new), "--www-base",
                      site.url, "--beian-base", site.url, "--delay", "0",
                      env={"CAC_FILINGS_ATTEMPTS": "2", "CAC_FILINGS_RETRY_BASE": "0.01"})
        assert done.exit_code == 5, done.stderr  # published, with held-back batches
    old = tmp_path_factory.mktemp("summaries-old") / "data"
    shutil.copytree(new, old, symlinks=True)
    conn = sqlite3.connect((old / "published").resolve() / DB_FILE)
    try:
        for name in [t.name for t in SUMMARY_TABLES] + list(summaries.TIER_FTS.values()):
            conn.execute(f"drop table {name}")
        conn.commit()
    finally:
        conn.close()
    loop = asyncio.new_event_loop()
    yield Pair(Served(make_datasette(load_settings(data_dir=new)), new),
               Served(make_datasette(load_settings(data_dir=old)), old), loop)
    loop.close()


# ---------------------------------------------------------------- the tables themselves

def test_each_summary_equals_the_query_it_summarises(pair: Pair) -> None:
    db = pair.new.db_file
    assert set(summaries.SQL) | {"summary_facet_counts", "summary_table_counts"} == {
        t.name for t in SUMMARY_TABLES}
    for table in SUMMARY_TABLES:
        if table.name not in summaries.SQL:
            continue
        columns = ", ".join(table.column_names)
        stored = _query(db, f"select {columns} from {table.name}")
        assert stored, table.name  # the fixture gives every summary something to hold
        assert sorted(stored, key=repr) == sorted(
            _query(db, f"select {columns} from ({summaries.SQL[table.name]})"), key=repr)
    # The feeds' orders are numbered 1..n with no gap.
    for name in ("summary_new_filings", "summary_release_changes", "summary_filing_order"):
        positions = [r[0] for r in _query(db, f"select position from {name} order by 1")]
        assert positions == list(range(1, len(positions) + 1))


def test_facet_counts_are_group_by_counts_overall_and_within_each_value(pair: Pair) -> None:
    db = pair.new.db_file
    checked = 0
    for table in TABLES:
        columns = summaries.faceted_text_columns(table)
        for column in columns:
            def stored(by: str, value: str, column: str = column,
                       name: str = table.name) -> list[tuple[Any, ...]]:
                return _query(db, "select value, n from summary_facet_counts where "
                              "table_name = ? and filter_column = ? and filter_value = ? and "
                              "column_name = ? order by value", (name, by, value, column))

            assert stored("", "") == _query(
                db, f"select {column}, count(*) from {table.name} where {column} is not null "
                    f"group by {column} order by {column}")
            for other in columns:
                if other == column:
                    continue
                for (value,) in _query(db, f"select distinct {other} from {table.name} "
                                           f"where {other} is not null"):
                    assert stored(other, value) == _query(
                        db, f"select {column}, count(*) from {table.name} where {other} = ? "
                            f"and {column} is not null group by {column} order by {column}",
                        (value,)), (table.name, column, other, value)
                    checked += 1
    assert checked > 100


def test_table_counts_are_every_tables_rows(pair: Pair) -> None:
    db = pair.new.db_file
    counts = dict(_query(db, "select table_name, row_count from summary_table_counts"))
    names = [r[0] for r in _query(db, "select name from sqlite_master where type = 'table'")]
    assert sorted(counts) == sorted(names)
    for name in names:
        assert counts[name] == _query(db, f'select count(*) from "{name}"')[0][0], name


def test_the_tier_indexes_hold_the_names_and_companies_alone(pair: Pair) -> None:
    db = pair.new.db_file
    for column, table in summaries.TIER_FTS.items():
        for phrase in ('"抖 音"', '"北 京"', '"科 技"', '"baidu" *', '"算 法"'):
            assert _query(db, f"select rowid from {table} where {table} match ? order by 1",
                          (phrase,)) == _query(
                db, "select rowid from filings_fts where filings_fts match ? order by 1",
                (f"{{{column}}} : ({phrase})",)), (column, phrase)
    assert _query(db, f"select count(*) from {summaries.TIER_FTS['name']}") == _query(
        db, "select count(*) from filings")


# ---------------------------------------------------------------- Datasette's own answers

FACETED_PAGES = [
    "/cac_filings/filings.json",
    "/cac_filings/filings.json?province=" + quote("北京市"),
    "/cac_filings/filings.json?list_kind=deep_synthesis",
    "/cac_filings/filings.json?status=cancelled",
    "/cac_filings/filings.json?province=" + quote("北京市") + "&_facet=province",
    "/cac_filings/filings.json?province=" + quote("没有这个省"),
    "/cac_filings/filings.json?_sort=filing_number",
    "/cac_filings/filings.json?_search=" + quote("北京"),  # counted by Datasette itself
    "/cac_filings/filings.json?province=" + quote("北京市") + "&status=active",
    "/cac_filings/listings.json?list_kind=algorithm",
    "/cac_filings/companies.json",
    "/cac_filings/batches.json?list_kind=algorithm",
    "/cac_filings/products.json",
]


@pytest.mark.parametrize("path", FACETED_PAGES)
def test_counts_and_facets_are_datasettes_own(pair: Pair, path: str) -> None:
    new, old = (pair.get(s, path).json() for s in (pair.new, pair.old))
    assert new["filtered_table_rows_count"] == old["filtered_table_rows_count"]
    assert new["facet_results"] == old["facet_results"]
    assert new["rows"] == old["rows"]
    assert new["facet_results"] or "products" in path  # there were facets to compare


def test_datasettes_count_and_facet_queries_are_read_from_the_summary() -> None:
    present = frozenset({"summary_facet_counts"})
    select = "select filing_number, list_kind, province from filings"
    facet = ("select {c} as value, count(*) as count from (\n    {sql}\n)\nwhere {c} is not "
             "null\ngroup by {c} order by count desc, value limit 31")
    count = 'select count(*) from filings where "province" = :p0 '
    assert summarised(count, {"p0": "北京市"}, present) is not None
    assert summarised(facet.format(c="list_kind", sql=select), [], present) is not None
    assert summarised(facet.format(c="list_kind", sql=select + ' where "province" = :p0 '),
                      {"p0": "北京市"}, present) is not None
    search = ("select count(*) from filings where rowid in (select rowid from filings_fts "
              "where filings_fts match escape_fts(:search))")
    # A search's count is web.search_facets' (tests/test_search_facets.py), not a summary's.
    assert summarised(search, {"search": "北京"}, present) is None
    assert recognise(search, {"search": "北京"}) == Asked("count", "filings", "北京")
    # Anything else runs as Datasette wrote it.
    assert recognise(search.replace("filings_fts", "companies_fts"), {"search": "x"}) is None
    assert summarised(search.replace("filings_fts", "companies_fts"), {"search": "x"},
                      present) is None
    assert recognise(search.replace("escape_fts(:search)", ":search"), {"search": "x"}) is None
    assert summarised(search.replace("escape_fts(:search)", ":search"), {"search": "x"},
                      present) is None  # _searchmode=raw
    assert summarised(count, {"p0": "北京市"}, frozenset()) is None  # an older release
    assert summarised(count, {"p0": 1}, present) is None
    assert summarised('select count(*) from filings where "name" = :p0', {"p0": "x"},
                      present) is None  # not a faceted column
    assert summarised(facet.format(c="list_kind", sql=select + ' where "province" = :p0 and '
                                   '"role" = :p1 '), {"p0": "a", "p1": "b"}, present) is None
    assert summarised(facet.format(c="list_kind", sql=select + " where rowid in (select rowid "
                                   "from filings_fts where filings_fts match escape_fts("
                                   ":search)) "), {"search": "x"}, present) is None
    assert summarised(facet.format(c="filed_on", sql=select), [], present) is None
    assert summarised(facet.format(c="province", sql="select name from filings"), [],
                      present) is None  # the column is not selected: Datasette's error
    # A query typed on the SQL page in that shape, with other than the table's columns.
    assert summarised(facet.format(c="province", sql="select name, company as province "
                                   "from filings"), [], present) is None
    assert summarised(facet.format(c="province", sql="select province, nosuch from filings"),
                      [], present) is None
    assert summarised(facet.format(c="province", sql='select rowid, "province", [name] from '
                                   "filings"), [], present) is not None


def test_datasette_knows_every_count_and_the_hash_without_counting(pair: Pair) -> None:
    db = pair.new.db_file
    inspected = pair.new.ds.inspect_data[DATABASE]
    for (name,) in _query(db, "select name from sqlite_master where type = 'table'"):
        assert inspected["tables"][name]["count"] == _query(
            db, f'select count(*) from "{name}"')[0][0], name
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    assert inspected["hash"] == digest
    assert pair.get(pair.new, "/-/databases.json").json()[0]["hash"] == digest
    database = pair.new.ds.databases[DATABASE]
    assert pair.loop.run_until_complete(database.table_counts(1)) == {
        name: meta["count"] for name, meta in inspected["tables"].items()}
    # A release without the counts is counted by Datasette, as before.
    assert not (pair.old.ds.inspect_data or {}).get(DATABASE)
    old = pair.get(pair.old, "/cac_filings/filings.json").json()
    assert old["filtered_table_rows_count"] == inspected["tables"]["filings"]["count"]


# ---------------------------------------------------------------- the pages

SAME_PAGES = [
    "/", "/-/latest", "/-/latest.json", "/-/charts", "/-/feeds/new.atom",
    "/-/feeds/new.atom?province=" + quote("北京市"), "/-/feeds/new.atom?q=" + quote("推荐"),
    "/-/feeds/new.atom?q=" + quote("算法") + "&province=" + quote("北京市"),
    "/-/feeds/new.atom?q=" + quote("没有的词"),
    "/-/feeds/new.atom?company=" + quote("北京百度网讯科技有限公司"),
    "/-/feeds/release.atom", "/-/feeds/cancellations.atom",
    "/-/company/" + quote("北京抖音信息服务有限公司"),
    "/-/feeds/new.atom?company=" + quote("北京微播视界科技有限公司"),  # a former name
    "/-/search.json?q=" + quote("北京"), "/-/search.json?q=baidu",
    "/-/search?q=" + quote("北京抖音不存在"), "/cac_filings/filings",
    "/cac_filings/filings?province=" + quote("北京市"),
]


@pytest.mark.parametrize("path", SAME_PAGES)
def test_a_release_without_the_summaries_serves_the_same_pages(pair: Pair, path: str) -> None:
    # Datasette's table pages say how long their queries took.
    new, old = (re.sub(r"took [0-9.]+ ms", "took … ms", pair.get(s, path).text)
                for s in (pair.new, pair.old))
    assert new == old


def test_every_batch_page_is_the_same_without_the_summaries(pair: Pair) -> None:
    versions = _query(pair.new.db_file, "select batch_id, version from batches")
    assert len(versions) > 5
    for batch_id, version in versions:
        path = f"/-/batch/{quote(batch_id, safe='/')}?version={version}"
        assert pair.get(pair.new, path).text == pair.get(pair.old, path).text, path


# ---------------------------------------------------------------- search, tier by tier

QUERIES = ["抖音", "百度", "北京", "科技", "算法", "有限公司", "大模型", "baidu", "推荐",
           "baidu 文心", "北京 算法", "抖音 推荐", "1101088", "信息推荐", "Beijing"]


@pytest.mark.parametrize("few", [search_results.FEW_IN_TIER, 0])  # tiers read whole, or not
@pytest.mark.parametrize("text", QUERIES)
def test_tiers_find_what_scoring_every_match_finds(pair: Pair, text: str, few: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    release = Release.load((pair.new.data / "published").resolve())
    conn = sqlite3.connect(f"file:{release.db_file}?immutable=1", uri=True)
    try:
        reader = Reader(conn)
        scored = search_results.run_search(reader, text, 50, release.summaries)
        monkeypatch.setattr(search_results, "SCORED_AT_MOST", 0)  # every query "many"
        monkeypatch.setattr(search_results, "FEW_IN_TIER", few)
        tiered = search_results.run_search(reader, text, 50, release.summaries)
        term = f"({parse_search(text).terms[0].match})"
        tiers = {column: {r[0] for r in conn.execute(
            "select rowid from filings_fts where filings_fts match ?",
            [f"{{{column}}} : {term}"])} for column in ("name", "company")}
        rowid_of = {n: r for r, n in conn.execute("select rowid, filing_number from filings")}
    finally:
        conn.close()
    assert scored["total"] > 0
    for a, b in zip(scored["sections"], tiered["sections"], strict=True):
        key = {"filings": "filing_number", "companies": "company",
               "cancellations": "notice_id"}[a["table"]]
        assert sorted(r[key] for r in a["rows"]) == sorted(r[key] for r in b["rows"]), (
            a["table"])
    # Filings: those with the first term in the name, then in the company, then the rest,
    # each tier in the index's order.
    rowids = [rowid_of[r["filing_number"]] for r in tiered["sections"][0]["rows"]]
    rank = [0 if r in tiers["name"] else 1 if r in tiers["company"] else 2 for r in rowids]
    assert rank == sorted(rank)
    assert all(x < y for x, y, p, q in zip(rowids, rowids[1:], rank, rank[1:], strict=False)
               if p == q)


def test_a_release_without_the_tier_indexes_scores_every_match(
        pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    old = Release.load((pair.old.data / "published").resolve())
    assert not old.summaries
    conn = sqlite3.connect(f"file:{old.db_file}?immutable=1", uri=True)
    try:
        reader = Reader(conn)
        scored = search_results.run_search(reader, "北京", 50, old.summaries)
        monkeypatch.setattr(search_results, "SCORED_AT_MOST", 0)
        again = search_results.run_search(reader, "北京", 50, old.summaries)
    finally:
        conn.close()
    # Filings are scored as before; companies and cancellations need no tier index.
    assert again["sections"][0] == scored["sections"][0]
    assert [r["company"] for r in again["sections"][1]["rows"]] != [
        r["company"] for r in scored["sections"][1]["rows"]]


# ---------------------------------------------------------------- the orders, as they were

def _check_keyword_feeds(reader: Reader, release: Release) -> None:
    """A keyword's feed (of a province): its matches newest first, as SQL sorts them, cut
    anywhere; a province no filing has: none."""
    from cac_filings.web import latest

    for keyword, province in (("算法", None), ("推荐", "北京市"), ("智能", None)):
        params: dict[str, object] = {"match": parse_search(keyword).match, "province": province}
        where = "f.rowid in (select rowid from filings_fts where filings_fts match :match)"
        sorted_rows = latest.newest_filings_where(
            reader, where + (" and f.province = :province" if province else ""), params, 200)
        assert sorted_rows, keyword
        assert latest.approvals(reader, release, latest.FeedFilter(
            None, province, keyword)) == sorted_rows
        for limit in (1, 7):  # a cut inside a run of one date
            assert latest.newest_matching(reader, release, parse_search(keyword).match,
                                          province, limit) == sorted_rows[:limit]
    assert latest.approvals(reader, release, latest.FeedFilter(None, "没有这个省", "算法")) == []


def test_the_feeds_orders_are_those_the_pages_sorted_by_before(pair: Pair) -> None:
    from cac_filings.web import latest

    release = Release.load((pair.new.data / "published").resolve())
    conn = sqlite3.connect(f"file:{release.db_file}?immutable=1", uri=True)
    try:
        reader = Reader(conn)
        # New approvals: each current batch, newest first, its new numbers in file order.
        walked = []
        for batch in latest.current_batches(reader):
            walked += [(r["list_kind"], r["filing_number"]) for r in reader.rows(
                "select l.list_kind, l.filing_number from listings l join filings f on "
                "f.list_kind = l.list_kind and f.filing_number = l.filing_number and "
                "f.first_batch_id = l.batch_id where l.batch_id = ? and l.version = ? "
                "order by l.row_number", [batch["batch_id"], batch["version"]])]
        assert walked and [(r["list_kind"], r["filing_number"]) for r in latest.newest_filings(
            reader, release, 10_000)] == walked
        # A keyword's feed: every match, newest first, sorted; from SQLite (the release's
        # columns not loaded yet), then from the columns once loaded (as the server warms
        # up: the rowids follow the key).
        from cac_filings.web import search_facets
        algorithm = parse_search("算法").match
        assert search_facets.newest_matching(conn, release, "filings", algorithm, {}, 5) \
            is None
        _check_keyword_feeds(reader, release)
        search_facets.loaded(conn, release, "filings")
        assert search_facets.newest_matching(conn, release, "filings", algorithm, {}, 5) \
            is not None
        _check_keyword_feeds(reader, release)
        # The release feed: newest CAC publication first (undated last), then list, number.
        dated = reader.rows(
            f"select c.list_kind, c.filing_number, {summaries.CHANGE_DATED} as dated "
            f"from changes c {summaries.CHANGE_JOINS} "
            f"where c.release_id = {summaries.LATEST_RELEASE}")
        expected = sorted(dated, key=lambda r: r["filing_number"])
        expected.sort(key=lambda r: r["list_kind"])
        expected.sort(key=lambda r: r["dated"] or "", reverse=True)
        assert [(r["list_kind"], r["filing_number"]) for r in latest.release_changes(
            reader, release, 10_000)] == [(r["list_kind"], r["filing_number"])
                                          for r in expected]
    finally:
        conn.close()
