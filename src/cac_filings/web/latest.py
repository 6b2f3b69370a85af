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
from cac_filings.search import parse_search
from cac_filings.web.db import Reader, Row, json_list, read
from cac_filings.web.release import Release
from cac_filings.web.urls import filing_url

# The cells CAC publishes about a filing: a re-listed number whose cells differ from its
# previous listing counts as changed by the batch.
PUBLISHED_FIELDS = ("name", "role", "category", "company", "products", "purpose", "scenario",
                    "remarks")
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


def _changed_sql() -> str:
    differs = " or ".join(f"p.{c} is not l.{c}" for c in PUBLISHED_FIELDS)
    # The listing of the same number just before this batch (by publication date).
    return (f"(select ({differs}) from listings p join batches pb on pb.batch_id = p.batch_id "
            "and pb.version = p.version and pb.is_current where p.list_kind = l.list_kind and "
            "p.filing_number = l.filing_number and p.batch_id != l.batch_id and "
            "(pb.published_on < :published_on or (pb.published_on = :published_on and "
            "pb.batch_id < l.batch_id)) order by pb.published_on desc, pb.batch_id desc limit 1)")


def summarise_batch(reader: Reader, batch: Row) -> list[Row]:
    """What one batch holds, per list kind of its rows (a generative-AI file holds several
    lists): rows, numbers new to the registry, re-listed ones, re-listed ones whose cells
    changed, and rows whose 备注 marks them 已注销. Reads only the batch's own rows."""
    return reader.rows(
        "select l.list_kind, count(*) as rows, "
        "sum(f.first_batch_id = l.batch_id) as new, "
        "sum(f.first_batch_id != l.batch_id) as relisted, "
        f"sum(f.first_batch_id != l.batch_id and {_changed_sql()}) as changed, "
        "sum(coalesce(l.remarks, '') like '%已注销%') as marked_cancelled "
        "from listings l left join filings f on f.list_kind = l.list_kind and "
        "f.filing_number = l.filing_number where l.batch_id = :batch_id and "
        "l.version = :version group by l.list_kind order by count(*) desc",
        {"batch_id": batch["batch_id"], "version": batch["version"],
         "published_on": batch["published_on"]})


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
        lists = summarise_batch(reader, batch)
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

def newest_filings(reader: Reader, batches: list[Row], limit: int,
                   province: str | None = None) -> list[Row]:
    """Filings new to the registry, newest batch first and in file order within a batch,
    walking the batches (a small table) and reading each one's rows by its key: the work is
    proportional to what is shown, not to the registry."""
    found: list[Row] = []
    extra = " and f.province = :province" if province else ""
    for batch in batches:
        if len(found) >= limit:
            break
        rows = reader.rows(
            f"select {FILING_COLUMNS} from listings l join filings f on "
            "f.list_kind = l.list_kind and f.filing_number = l.filing_number and "
            f"f.first_batch_id = l.batch_id where l.batch_id = :batch_id and "
            f"l.version = :version{extra} order by l.row_number limit :limit",
            {"batch_id": batch["batch_id"], "version": batch["version"],
             "province": province, "limit": limit - len(found)})
        found += [{**r, "published_on_precision": batch["published_on_precision"]}
                  for r in rows]
    return found


def newest_filings_where(reader: Reader, where: str, params: dict[str, object],
                         limit: int) -> list[Row]:
    """Filings matching a selective condition (a company, a search), newest first."""
    return reader.rows(
        f"select {FILING_COLUMNS}, b.published_on_precision from filings f left join batches b "
        "on b.batch_id = f.first_batch_id and b.is_current "
        f"where {where} order by f.first_published_on is null, f.first_published_on desc, "
        "f.list_kind, f.filing_number limit :limit", {**params, "limit": limit})


# ---------------------------------------------------------------- the home page's figures

def headline(reader: Reader, release: Release) -> Row:
    """Filings and cancelled filings per list kind, reconciliation with CAC's own totals,
    problems: read once per release."""
    counts = {r["list_kind"]: r for r in reader.rows(
        "select list_kind, count(*) as filings, sum(status = 'cancelled') as cancelled "
        "from filings group by list_kind")}
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
            reader, current_batches(reader), HOME_FILINGS))

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
    def about(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in (("company", self.company),
                                                   ("province", self.province),
                                                   ("keyword", self.keyword)) if v)


def approvals(reader: Reader, chosen: FeedFilter, limit: int = FEED_LIMIT) -> list[Row]:
    """New approvals, newest first by CAC's publication date, optionally narrowed."""
    if chosen.company or chosen.keyword:
        where = ["1"]
        params: dict[str, object] = {}
        if chosen.company:
            where.append("f.company = :company")
            params["company"] = chosen.company
        if chosen.province:
            where.append("f.province = :province")
            params["province"] = chosen.province
        if chosen.keyword:
            where.append("f.rowid in (select rowid from filings_fts where filings_fts "
                         "match :match)")
            params["match"] = parse_search(chosen.keyword).match
        return newest_filings_where(reader, " and ".join(where), params, limit)
    return newest_filings(reader, current_batches(reader), limit, chosen.province)


async def _rows_once(datasette: Any, release: Release, key: str | None,
                     work: Callable[[Reader], list[Row]]) -> list[Row]:
    """Rows of a feed; those of an unfiltered feed (`key`) are kept with the release. Filtered
    ones are read every time: their filters are whatever a reader types."""
    async def compute() -> list[Row]:
        return await read(datasette, work)
    return await (release.cached(key, compute) if key else compute())


async def approvals_feed(datasette: Any, release: Release, base_url: str,
                         chosen: FeedFilter) -> str:
    about = chosen.about
    rows = await _rows_once(datasette, release, None if about else "feed:new",
                            lambda reader: approvals(reader, chosen))
    title = "New algorithm filings approved by the CAC 新增算法备案" + (
        f" ({about})" if about else "")
    # The feed's id has not changed since the first version: readers keep their place.
    feed_id = "tag:cac-filings,2026:new-approvals" + (":" + quote(about, safe="") if about
                                                      else "")
    return atom_document(feed_id, title, f"{base_url}/",
                         [filing_entry(release, base_url, r) for r in rows],
                         subtitle="Newest first by CAC's publication date 按公布日期排序, "
                                  f"release 数据版本 {release.release_id}")


def cancelled(reader: Reader, limit: int = FEED_LIMIT) -> list[Row]:
    return reader.rows(
        "select notice_id, notice_title, notice_date, filing_number, name, company, "
        "cancelled_month, list_kinds, source_url from cancellations order by "
        "notice_date is null, notice_date desc, filing_number limit :limit", {"limit": limit})


async def cancellations_feed(datasette: Any, release: Release, base_url: str) -> str:
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
                         "Algorithm filings cancelled by the CAC 算法备案注销", f"{base_url}/",
                         entries)


def release_changes(reader: Reader, limit: int = FEED_LIMIT) -> list[Row]:
    """What the latest release of this dataset changed, newest CAC publication first: an
    added filing is dated by its first batch, a modified or cancelled one by its latest."""
    return reader.rows(
        "select c.release_id, c.change, c.list_kind, c.filing_number, c.fields, "
        "coalesce(c.name, f.name) as name, coalesce(c.company, f.company) as company, "
        "f.province, f.category, f.role, f.purpose, f.scenario, f.first_published_on, "
        "case c.change when 'added' then f.first_published_on "
        "when 'cancelled' then coalesce(f.cancelled_on, lb.published_on) "
        "else lb.published_on end as dated, r.created_at "
        "from changes c join releases r on r.release_id = c.release_id "
        "left join filings f on f.list_kind = c.list_kind and f.filing_number = c.filing_number "
        "left join batches lb on lb.batch_id = f.last_batch_id and lb.is_current "
        "where c.release_id = (select max(release_id) from releases) "
        "order by dated is null, dated desc, c.list_kind, c.filing_number limit :limit",
        {"limit": limit})


async def release_feed(datasette: Any, release: Release, base_url: str) -> str:
    entries = []
    for r in await _rows_once(datasette, release, "feed:release", release_changes):
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
                         "本次数据版本的变化", f"{base_url}/", entries, updated=release.created_at)
