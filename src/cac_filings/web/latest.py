"""What CAC published lately: its newest batches, with their dates and what each added,
re-listed, changed or cancelled; the newest filings, newest first by CAC's publication date;
the headline figures of the home page; and the Atom feeds built from them.

CAC dates its lists three ways (batches.published_on_precision): by the announcement page
(day), by when cac-filings first saw a file appear on a page CAC edits in place (observed), or,
for a file already there when cac-filings first looked, by the month after the list's period
(period). Pages say which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cac_filings.notes import AtomEntry, atom_document
from cac_filings.schema import (
    SUMMARY_BATCH_LISTS,
    SUMMARY_FILING_COUNTS,
    SUMMARY_FILING_ORDER,
    SUMMARY_NEW_FILINGS,
    SUMMARY_RELEASE_CHANGES,
)
from cac_filings.search import parse_search
from cac_filings.summaries import CHANGE_DATED, CHANGE_JOINS, LATEST_RELEASE
from cac_filings.web import search_facets
from cac_filings.web.company import company_names
from cac_filings.web.db import Reader, Row, json_list, read
from cac_filings.web.release import Release
from cac_filings.web.urls import company_url, filing_url, search_url, table_url

LATEST_BATCHES = 30  # batches on /-/latest (all of them are in the batches table)
HOME_BATCHES = 5
HOME_FILINGS = 8
FEED_LIMIT = 200

FILING_COLUMNS = ("f.list_kind, f.filing_number, f.name, f.company, f.province, f.category, "
                  "f.role, f.purpose, f.scenario, f.status, f.first_batch_id, "
                  "f.first_published_on, f.source_url")
BATCH_COLUMNS = ("batch_id, version, list_kind, period, batch_no, title, announcement_url, "
                 "announcement_title, published_on, published_on_precision, attachment_url, "
                 "file_format, row_count, is_current, is_linked")


def current_batches(reader: Reader) -> list[Row]:
    """Every current batch version, newest publication first (undated ones last)."""
    return reader.rows(f"select {BATCH_COLUMNS} from batches where is_current order by "
                       "published_on is null, published_on desc, batch_id desc")


def summarise_batch(reader: Reader, release: Release, batch: Row) -> list[Row]:
    """What one batch holds, per list kind of its rows (a generative-AI file holds several
    lists): rows, numbers new to the registry, re-listed ones, re-listed ones whose cells
    changed, and rows whose 备注 marks them 已注销 (summary_batch_lists). The lists come in
    the registry's order (list_kinds.sort_order: filing before registration), whichever has
    more rows, so that every batch of a file reads the same way."""
    rows = reader.rows(
        "select list_kind, rows, new, relisted, changed, marked_cancelled from "
        f"{release.summary(SUMMARY_BATCH_LISTS)} s where batch_id = :batch_id and "
        "version = :version",
        {"batch_id": batch["batch_id"], "version": batch["version"]})
    return sorted(rows, key=lambda r: list_kind_order(release, r["list_kind"]))


def list_kind_order(release: Release, list_kind: object) -> tuple[int, str]:
    """Where a list kind stands in the registry's order; one it does not know, after them."""
    order = {k["list_kind"]: i for i, k in enumerate(release.list_kinds)}
    return order.get(list_kind, len(order)), str(list_kind)


@dataclass(frozen=True)
class Overview:
    batches: list[Row]  # the newest batches, each with its `lists` (summarise_batch)
    latest_by_kind: dict[str, Row]  # list kind → its newest batch
    all_batches: int


def overview(reader: Reader, release: Release, want: int = LATEST_BATCHES) -> Overview:
    """The newest `want` batches summarised, and the newest batch of every list kind (walking
    further back only until each kind is found)."""
    batches = current_batches(reader)
    kinds = {k["list_kind"] for k in release.list_kinds}
    cancels = set(release.cancellation_kinds)
    summarised: list[Row] = []
    latest: dict[str, Row] = {}
    for batch in batches:
        if len(summarised) >= want and kinds <= set(latest):
            break
        lists = summarise_batch(reader, release, batch)
        entry = {**batch, "lists": lists, "cancels": batch["list_kind"] in cancels}
        for part in lists:
            latest.setdefault(part["list_kind"], entry)
        if len(summarised) < want:
            summarised.append(entry)
    return Overview(summarised, latest, len(batches))


async def cached_overview(datasette: Any, release: Release) -> Overview:
    async def compute() -> Overview:
        return await read(datasette, lambda reader: overview(reader, release))
    return await release.cached("overview", compute)


# ---------------------------------------------------------------- newest filings

def newest_filings(reader: Reader, release: Release, limit: int,
                   province: str | None = None) -> list[Row]:
    """Filings new to the registry, newest batch first and in file order within a batch:
    read in the order summary_new_filings keeps them (by province, with its index), so the
    work is proportional to what is shown, not to the registry."""
    extra = "where n.province = :province " if province else ""
    return reader.rows(
        f"select {FILING_COLUMNS}, b.published_on_precision from "
        f"{release.summary(SUMMARY_NEW_FILINGS)} n join filings f on "
        "f.list_kind = n.list_kind and f.filing_number = n.filing_number left join batches b "
        f"on b.batch_id = f.first_batch_id and b.is_current {extra}order by n.position "
        "limit :limit", {"province": province, "limit": limit})


def newest_filings_where(reader: Reader, where: str, params: dict[str, object],
                         limit: int) -> list[Row]:
    """Filings matching a condition (a company, a search), newest first (undated last)."""
    return reader.rows(
        f"select {FILING_COLUMNS}, b.published_on_precision from filings f left join batches b "
        "on b.batch_id = f.first_batch_id and b.is_current "
        # SQLite puts nulls last in a descending order: the index's order, read in order.
        f"where {where} order by f.first_published_on desc, f.list_kind, f.filing_number "
        "limit :limit", {**params, "limit": limit})


# ---------------------------------------------------------------- the home page's figures

def headline(reader: Reader, release: Release) -> Row:
    """Filings and cancelled filings per list kind, reconciliation with CAC's own totals,
    problems: read once per release."""
    counts = {r["list_kind"]: r for r in reader.rows(
        "select list_kind, sum(n) as filings, sum(case when status = 'cancelled' then n "
        f"else 0 end) as cancelled from {release.summary(SUMMARY_FILING_COUNTS)} s "
        "group by list_kind")}
    kinds = [{**k, "filings": counts[k["list_kind"]]["filings"],
              "cancelled": counts[k["list_kind"]]["cancelled"] or 0}
             for k in release.approval_kinds if k["list_kind"] in counts]
    reconciliation = {r["status"]: r["n"] for r in reader.rows(
        "select status, count(*) as n from reconciliation group by status")
    } if reader.has_table("reconciliation") else {}
    problems = {r["severity"]: r["n"] for r in reader.rows(
        "select severity, count(*) as n from problems group by severity")}
    return {"kinds": kinds, "filings": sum(k["filings"] for k in kinds),
            "cancelled": sum(k["cancelled"] for k in kinds),
            "reconciliation": reconciliation, "problems": problems}


async def cached_headline(datasette: Any, release: Release) -> Row:
    async def compute() -> Row:
        return await read(datasette, lambda reader: headline(reader, release))
    return await release.cached("headline", compute)


async def home(datasette: Any, release: Release) -> Row:
    """Everything the home page shows about the data (cached per release)."""
    figures = await cached_headline(datasette, release)
    seen = await cached_overview(datasette, release)

    async def compute_newest() -> list[Row]:
        return await read(datasette, lambda reader: newest_filings(
            reader, release, HOME_FILINGS))

    newest = await release.cached("home_newest", compute_newest)
    return {**figures, "batches": seen.batches[:HOME_BATCHES],
            "latest_by_kind": seen.latest_by_kind, "newest": newest}


# ---------------------------------------------------------------- feeds

def _day(date: object) -> str:
    return f"{date}T00:00:00Z" if date else "1970-01-01T00:00:00Z"


def _filing_summary(release: Release, row: Row) -> str:
    parts = [row["filing_number"], release.label_text("list_kind", row["list_kind"])]
    if row.get("category"):
        parts.append(row["category"])
    if row.get("role"):
        parts.append(release.label_text("role", row["role"]))
    parts += [row.get("province"), row.get("scenario"), row.get("purpose")]
    if row.get("first_published_on"):
        precision = release.label_text("published_on_precision",
                                       row.get("published_on_precision"))
        parts.append(f"published 公布 {row['first_published_on']}"
                     + (f" ({precision})" if precision else ""))
    return "; ".join(str(p) for p in parts if p)


def filing_entry(release: Release, base_url: str, row: Row) -> AtomEntry:
    return AtomEntry(
        f"urn:cac-filings:filing:{row['list_kind']}:{row['filing_number']}",
        f"{row['name'] or row['filing_number']} — {row['company'] or ''}",
        _day(row["first_published_on"]),
        base_url + filing_url(row["list_kind"], row["filing_number"]),
        row["list_kind"], _filing_summary(release, row))


@dataclass(frozen=True)
class FeedFilter:
    company: str | None = None
    province: str | None = None
    keyword: str | None = None

    @property
    def page(self) -> str:
        """The page showing what the feed shows (its rel=alternate): a company's page, a
        search, the filings of a province (newest first: the table's order), the home page."""
        if self.company:
            return company_url(self.company)
        if self.keyword and not self.province:
            return search_url(self.keyword)
        if self.keyword or self.province:
            return table_url("filings", _search=self.keyword, province=self.province)
        return "/"

    @property
    def about(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in (("company", self.company),
                                                   ("province", self.province),
                                                   ("keyword", self.keyword)) if v)


def approvals(reader: Reader, release: Release, chosen: FeedFilter,
              limit: int = FEED_LIMIT) -> list[Row]:
    """New approvals, newest first by CAC's publication date, optionally narrowed."""
    if chosen.company or chosen.keyword:
        where = ["1"]
        params: dict[str, object] = {}
        if chosen.company:  # under each name it goes by, as its page lists them
            names = company_names(reader, release, chosen.company)[1]
            where.append(f"f.company in ({', '.join(f':c{i}' for i in range(len(names)))})")
            params.update({f"c{i}": name for i, name in enumerate(names)})
        if chosen.province:
            where.append("f.province = :province")
            params["province"] = chosen.province
        if chosen.keyword and not chosen.company:
            return newest_matching(reader, release, parse_search(chosen.keyword).match,
                                   chosen.province, limit)
        if chosen.keyword:
            where.append("f.rowid in (select rowid from filings_fts where filings_fts "
                         "match :match)")
            params["match"] = parse_search(chosen.keyword).match
        return newest_filings_where(reader, " and ".join(where), params, limit)
    return newest_filings(reader, release, limit, chosen.province)


def newest_matching(reader: Reader, release: Release, match: str, province: str | None,
                    limit: int) -> list[Row]:
    """Filings a keyword matches (of a province), newest first, as newest_filings_where
    gives them: the matches ordered from the release's coded columns once loaded
    (search_facets.newest_matching), else their places read from summary_filing_order
    (narrow rows by rowid); then only the chosen rows."""
    chosen = search_facets.newest_matching(reader.conn, release, "filings", match,
                                           {"province": province} if province else {}, limit)
    if chosen is not None:
        if not len(chosen):
            return []
        rowids = chosen.tolist()
        rows = reader.rows(
            f"select f.rowid as filing_rowid, {FILING_COLUMNS}, b.published_on_precision "
            "from filings f left join batches b on b.batch_id = f.first_batch_id and "
            f"b.is_current where f.rowid in ({', '.join(map(str, rowids))})")
        by_rowid = {row.pop("filing_rowid"): row for row in rows}
        return [by_rowid[rowid] for rowid in rowids]
    extra = " and o.province = :province" if province else ""
    # The page's places first, then only their rows.
    return reader.rows(
        f"select {FILING_COLUMNS}, b.published_on_precision from (select o.filing_rowid, "
        f"o.position from {release.summary(SUMMARY_FILING_ORDER)} o where o.filing_rowid in "
        f"(select rowid from filings_fts where filings_fts match :match){extra} "
        "order by o.position limit :limit) o join filings f on f.rowid = o.filing_rowid "
        "left join batches b on b.batch_id = f.first_batch_id and b.is_current "
        "order by o.position", {"match": match, "province": province, "limit": limit})


async def _rows_once(datasette: Any, release: Release, key: str | None,
                     work: Callable[[Reader], list[Row]]) -> list[Row]:
    """Rows of a feed; those of an unfiltered feed (`key`) are kept with the release. Filtered
    ones are read every time: their filters are whatever a reader types."""
    async def compute() -> list[Row]:
        return await read(datasette, work)
    return await (release.cached(key, compute) if key else compute())


async def approvals_feed(datasette: Any, release: Release, base_url: str,
                         chosen: FeedFilter, self_url: str | None = None) -> str:
    about = chosen.about
    rows = await _rows_once(datasette, release, None if about else "feed:new",
                            lambda reader: approvals(reader, release, chosen))
    title = "New algorithm filings approved by the CAC 新增算法备案" + (
        f" ({about})" if about else "")
    # The feed's id has not changed since the first version: readers keep their place.
    feed_id = "tag:cac-filings,2026:new-approvals" + (":" + quote(about, safe="") if about
                                                      else "")
    return atom_document(feed_id, title, base_url + chosen.page,
                         [filing_entry(release, base_url, r) for r in rows],
                         subtitle="Newest first by CAC's publication date 按公布日期排序, "
                                  f"release 数据版本 {release.release_id}", self_link=self_url)


def cancelled(reader: Reader, limit: int = FEED_LIMIT) -> list[Row]:
    return reader.rows(
        "select notice_id, notice_title, notice_date, filing_number, name, company, "
        "cancelled_month, list_kinds, source_url from cancellations order by "
        "notice_date is null, notice_date desc, filing_number limit :limit", {"limit": limit})


async def cancellations_feed(datasette: Any, release: Release, base_url: str,
                             self_url: str | None = None) -> str:
    entries = []
    for r in await _rows_once(datasette, release, "feed:cancellations", cancelled):
        kinds = json_list(r["list_kinds"])
        link = base_url + filing_url(kinds[0], r["filing_number"]) if kinds else r["source_url"]
        entries.append(AtomEntry(
            f"urn:cac-filings:cancellation:{r['notice_id']}:{r['filing_number']}",
            f"注销 Cancelled: {r['name'] or r['filing_number']} — {r['company'] or ''}",
            _day(r["notice_date"]), link, "cancellation",
            f"{r['filing_number']}; {r['notice_title']}; 注销时间 cancelled "
            f"{r['cancelled_month'] or '—'}; notice 公告 {r['source_url']}"))
    return atom_document("tag:cac-filings,2026:cancellations",
                         "Algorithm filings cancelled by the CAC 算法备案注销",
                         base_url + table_url("cancellations"), entries, self_link=self_url)


def release_changes(reader: Reader, release: Release, limit: int = FEED_LIMIT) -> list[Row]:
    """What the latest release of this dataset changed, newest CAC publication first: an
    added filing is dated by its first batch, a modified or cancelled one by its latest
    (the order summary_release_changes keeps)."""
    return reader.rows(
        "select c.release_id, c.change, c.list_kind, c.filing_number, c.fields, "
        "coalesce(c.name, f.name) as name, coalesce(c.company, f.company) as company, "
        "f.province, f.category, f.role, f.purpose, f.scenario, f.first_published_on, "
        f"{CHANGE_DATED} as dated, r.created_at "
        f"from {release.summary(SUMMARY_RELEASE_CHANGES)} s "
        f"join changes c on c.release_id = {LATEST_RELEASE} and c.list_kind = s.list_kind "
        "and c.filing_number = s.filing_number "
        "join releases r on r.release_id = c.release_id "
        f"{CHANGE_JOINS} order by s.position limit :limit", {"limit": limit})


async def release_feed(datasette: Any, release: Release, base_url: str,
                       self_url: str | None = None) -> str:
    entries = []
    for r in await _rows_once(datasette, release, "feed:release",
                              lambda reader: release_changes(reader, release)):
        fields = ", ".join(map(str, json_list(r["fields"])))
        summary = _filing_summary(release, r) + (f"; fields 字段: {fields}" if fields else "")
        entries.append(AtomEntry(
            f"urn:cac-filings:change:{r['release_id']}:{r['list_kind']}:{r['filing_number']}",
            f"{release.label_text('change', r['change'])}: {r['name'] or r['filing_number']}"
            f" — {r['company'] or ''}",
            _day(r["dated"]) if r["dated"] else r["created_at"],
            base_url + filing_url(r["list_kind"], r["filing_number"]), r["change"], summary))
    return atom_document(f"tag:cac-filings,2026:release:{release.release_id}",
                         f"cac-filings release {release.release_id}: what it changed "
                         "本次数据版本的变化", f"{base_url}/-/latest#this-release", entries,
                         updated=release.created_at, self_link=self_url)
