"""What Datasette serves besides its own pages: the published release (swapped in when a new
one is published, without a restart), search across tables, company pages, Atom feeds,
charts and downloads. The Datasette plugin (datasette_plugin.py) wires these in.

Everything here is read-only: the database is opened immutable, and no route writes.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cac_filings.notes import AtomEntry, atom_document, escape
from cac_filings.schema import DATABASE, DB_FILE
from cac_filings.search import fts_query

# Files of a release that can be downloaded from /-/downloads/…
DOWNLOADS = re.compile(r"(?:[a-z_]+\.parquet|csv/[a-z_]+\.csv|cac_filings\.db|DATA-DICTIONARY\.md"
                       r"|CHANGES\.md|manifest\.json|SHA256SUMS|feed\.atom|metadata\.json)")


@dataclass
class Release:
    path: Path
    metadata: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def release_id(self) -> str:
        return str(self.manifest.get("release_id", self.path.name))

    @property
    def list_kinds(self) -> list[dict[str, Any]]:
        """The release's list kinds (its list_kinds table, also in the manifest)."""
        kinds: list[dict[str, Any]] = self.manifest.get("list_kinds") or []
        return kinds

    @property
    def list_labels(self) -> dict[str, str]:
        return {k["list_kind"]: f"{k['label_zh']} {k['label_en']}" for k in self.list_kinds}

    @property
    def colors(self) -> dict[str, str]:
        return {k["list_kind"]: k["color"] for k in self.list_kinds}

    @classmethod
    def load(cls, folder: Path) -> Release:
        """The release in `folder`; OSError or ValueError when its files are missing or bad."""
        return cls(folder, json.loads((folder / "metadata.json").read_text(encoding="utf-8")),
                   json.loads((folder / "manifest.json").read_text(encoding="utf-8")))

    def downloads(self) -> list[dict[str, str]]:
        """The release's files a reader can take away, with sizes."""
        found = []
        for path in sorted(self.path.rglob("*")):
            name = path.relative_to(self.path).as_posix()
            if path.is_file() and DOWNLOADS.fullmatch(name):
                found.append({"name": name, "size": _size(path.stat().st_size),
                              "url": f"/-/downloads/{name}"})
        return found


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = float(n)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


@dataclass
class ReleaseWatcher:
    """Keeps Datasette on the release `published` points to, checking at most once a second.
    A newly published release is swapped in for the next request; the old one stays on disk
    (releases are immutable), so requests already running finish on it."""

    published: Path
    current: Release | None = None
    name: str = DATABASE
    checked: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self, datasette: Any, force: bool = False) -> Release | None:
        now = time.monotonic()
        if not force and now - self.checked < 1.0:
            return self.current
        with self.lock:
            self.checked = now
            try:
                target = self.published.resolve(strict=True)
            except FileNotFoundError:
                return self.current
            if self.current is not None and self.current.path == target:
                return self.current
            release = Release.load(target)
            from datasette.database import Database

            database = Database(datasette, path=str(target / DB_FILE), is_mutable=False)
            # Datasette keeps one SQLite connection per thread under the database's *name*: a
            # new name per release keeps threads off the old file; the URLs (the route) stay
            # /cac_filings/….
            name = f"{DATABASE}_{release.release_id}"
            old = [n for n, db in datasette.databases.items() if db.route == DATABASE]
            datasette.add_database(database, name=name, route=DATABASE)
            for stale in old:
                datasette.remove_database(stale)
            self.current, self.name = release, name
            return release


WATCHER: ReleaseWatcher | None = None  # set by `cac-filings serve`


def current_release() -> Release | None:
    return WATCHER.current if WATCHER else None


def served_database(datasette: Any) -> Any:
    """The Database served at /cac_filings (whatever release it is)."""
    return datasette.get_database(route=DATABASE)


def is_served_name(name: str) -> bool:
    return name == DATABASE or name.startswith(DATABASE + "_")


# ---------------------------------------------------------------- search

@dataclass(frozen=True)
class SearchSection:
    table: str
    title: str
    sql: str


# Ranking: the query's text in the name first, then in the company, then FTS5's bm25 (name
# and company weigh most, then the number, products, purpose). bm25 alone would put short
# rows first: it normalises by the length of the whole row, purposes included.
SECTIONS = (
    SearchSection("filings", "Filings 备案", """
        select f.list_kind, f.filing_number, f.name, f.company, f.province, f.status,
               f.category, f.role, f.last_batch_id,
               bm25(filings_fts, 10.0, 8.0, 3.0, 1.0, 5.0) as score
        from filings_fts join filings f on f.rowid = filings_fts.rowid
        where filings_fts match :query
        order by instr(coalesce(f.name, ''), :text) = 0,
                 instr(coalesce(f.company, ''), :text) = 0, score, f.filing_number
        limit :limit"""),
    SearchSection("companies", "Companies 主体", """
        select c.company, c.province, c.n_filings, c.list_kinds, c.former_names, c.pinyin,
               bm25(companies_fts, 10.0, 5.0, 2.0) as score
        from companies_fts join companies c on c.rowid = companies_fts.rowid
        where companies_fts match :query
        order by c.company != :text, instr(c.company, :text) = 0, score, c.n_filings desc
        limit :limit"""),
    SearchSection("cancellations", "Cancellations 注销", """
        select x.notice_date, x.filing_number, x.name, x.company, x.cancelled_month,
               bm25(cancellations_fts) as score
        from cancellations_fts join cancellations x on x.rowid = cancellations_fts.rowid
        where cancellations_fts match :query order by score limit :limit"""),
)


async def search(datasette: Any, query: str, limit: int = 50) -> dict[str, Any]:
    """Ranked results for `query` in every searchable table; Chinese queries of any length,
    pinyin (baidu) and filing numbers work."""
    match = fts_query(query)
    database = served_database(datasette)
    sections = []
    for section in SECTIONS:
        rows: list[dict[str, Any]] = []
        if match != '""':
            result = await database.execute(section.sql, {
                "query": match, "limit": limit, "text": query.split()[0].strip('"')})
            rows = [dict(r) for r in result.rows]
        sections.append({"table": section.table, "title": section.title, "rows": rows})
    return {"query": query, "match": match, "sections": sections,
            "total": sum(len(s["rows"]) for s in sections)}


# ---------------------------------------------------------------- company pages

async def company(datasette: Any, name: str) -> dict[str, Any] | None:
    """Everything about one company: its row, filings in every list, the batches that listed
    them, former names (and filings under them), cancellations."""
    database = served_database(datasette)
    row = (await database.execute("select * from companies where company = :c",
                                  {"c": name})).first()
    renamed_to = [r["company"] for r in (await database.execute(
        "select company from companies where exists (select 1 from json_each(former_names) "
        "where value = :c)", {"c": name})).rows]
    if row is None and not renamed_to:
        return None
    info = dict(row) if row else {"company": name, "former_names": "[]"}
    names = [name, *json.loads(info.get("former_names") or "[]")]
    marks = ", ".join(f":n{i}" for i in range(len(names)))
    params = {f"n{i}": n for i, n in enumerate(names)}
    filings = [dict(r) for r in (await database.execute(
        f"select list_kind, filing_number, name, company, category, role, province, status, "
        f"cancelled_on, first_batch_id, last_batch_id, first_published_on, products "
        f"from filings where company in ({marks}) order by list_kind, first_batch_id, "
        f"filing_number", params)).rows]
    listings = [dict(r) for r in (await database.execute(
        f"select l.batch_id, l.version, b.period, b.published_on, b.is_current, count(*) as rows "
        f"from listings l join batches b on b.batch_id = l.batch_id and b.version = l.version "
        f"where l.company in ({marks}) group by l.batch_id, l.version order by b.period, "
        f"l.batch_id, l.version", params)).rows]
    cancellations = [dict(r) for r in (await database.execute(
        f"select notice_date, notice_title, filing_number, name, cancelled_month from "
        f"cancellations where company in ({marks}) order by notice_date", params)).rows]
    return {"company": info, "names": names, "renamed_to": renamed_to, "filings": filings,
            "listings": listings, "cancellations": cancellations}


def company_url(name: str) -> str:
    return "/-/company/" + quote(name, safe="")


# ---------------------------------------------------------------- feeds

FEED_LIMIT = 200


async def approvals_feed(datasette: Any, base_url: str, company: str | None,
                         province: str | None, keyword: str | None) -> str:
    """Atom feed of filings added by releases, newest first, optionally for one company,
    one province or a keyword."""
    database = served_database(datasette)
    where = ["c.change = 'added'"]
    params: dict[str, Any] = {"limit": FEED_LIMIT}
    if company:
        where.append("c.company = :company")
        params["company"] = company
    if province:
        where.append("f.province = :province")
        params["province"] = province
    if keyword:
        where.append("f.rowid in (select rowid from filings_fts where filings_fts match :q)")
        params["q"] = fts_query(keyword)
    rows = (await database.execute(
        "select c.release_id, r.created_at, c.list_kind, c.filing_number, f.name, f.company, "
        "f.province, f.category, f.role, f.purpose, f.source_url "
        "from changes c join releases r on r.release_id = c.release_id "
        "join filings f on f.list_kind = c.list_kind and f.filing_number = c.filing_number "
        f"where {' and '.join(where)} order by c.release_id desc, c.list_kind, "
        "c.filing_number limit :limit", params)).rows
    about = "; ".join(f"{k}: {v}" for k, v in (("company", company), ("province", province),
                                               ("keyword", keyword)) if v)
    title = "New algorithm filings approved by the CAC 新增算法备案" + (f" ({about})" if about
                                                                  else "")
    entries = [AtomEntry(
        f"urn:cac-filings:filing:{r['list_kind']}:{r['filing_number']}",
        f"{r['name'] or r['filing_number']} — {r['company'] or ''}", r["created_at"],
        f"{base_url}{company_url(r['company'])}" if r["company"] else r["source_url"],
        r["list_kind"],
        "; ".join(str(x) for x in (r["filing_number"], _labels().get(r["list_kind"], ""),
                                   r["category"] or r["role"], r["province"], r["purpose"])
                  if x)) for r in rows]
    feed_id = "tag:cac-filings,2026:new-approvals" + (
        ":" + quote(about, safe="") if about else "")
    return atom_document(feed_id, title, f"{base_url}/", entries)


async def cancellations_feed(datasette: Any, base_url: str) -> str:
    database = served_database(datasette)
    rows = (await database.execute(
        "select notice_id, notice_title, notice_date, filing_number, name, company, "
        "cancelled_month, source_url from cancellations order by notice_date desc, "
        "filing_number limit :limit", {"limit": FEED_LIMIT})).rows
    entries = [AtomEntry(
        f"urn:cac-filings:cancellation:{r['notice_id']}:{r['filing_number']}",
        f"注销 {r['name'] or r['filing_number']} — {r['company'] or ''}",
        f"{r['notice_date'] or '1970-01-01'}T00:00:00Z", r["source_url"], "cancellation",
        f"{r['filing_number']}; {r['notice_title']}; 注销时间 {r['cancelled_month'] or '—'}")
        for r in rows]
    return atom_document("tag:cac-filings,2026:cancellations",
                         "Algorithm filings cancelled by the CAC 算法备案注销", f"{base_url}/",
                         entries)


# ---------------------------------------------------------------- charts

def _labels() -> dict[str, str]:
    release = current_release()
    return release.list_labels if release else {}


def _colors() -> dict[str, str]:
    release = current_release()
    return release.colors if release else {}


async def chart_data(datasette: Any) -> dict[str, Any]:
    database = served_database(datasette)
    # Rows per period and list, from listings: one batch may hold several lists (the
    # generative-AI file holds filings, registrations and on-device models).
    rows = [dict(r) for r in (await database.execute(
        "select b.period, l.list_kind, count(*) as n from listings l join batches b on "
        "b.batch_id = l.batch_id and b.version = l.version join list_kinds k on "
        "k.list_kind = l.list_kind where b.is_current and k.lists = 'approvals' "
        "group by b.period, l.list_kind order by b.period")).rows]
    provinces = [dict(r) for r in (await database.execute(
        "select coalesce(province, '(unknown)') as province, count(*) as n from filings "
        "group by 1 order by n desc, province")).rows]
    kinds = [r["list_kind"] for r in (await database.execute(
        "select list_kind from filings group by list_kind order by count(*) desc")).rows]
    return {"per_period": sorted(rows, key=lambda r: (r["period"], r["list_kind"])),
            "provinces": provinces, "kinds": kinds}


def stacked_bars_svg(rows: list[dict[str, Any]], kinds: list[str]) -> str:
    """Filings listed per period, one stacked bar per period, a colour per list."""
    periods = sorted({r["period"] for r in rows})
    totals = {p: sum(r["n"] for r in rows if r["period"] == p) for p in periods}
    top = max(totals.values(), default=1) or 1
    width, height, left, bottom = max(900, 34 * len(periods) + 80), 340, 50, 60
    bar = (width - left - 20) / max(1, len(periods))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 30}" '
             f'role="img" aria-label="Filings per batch by list">']
    for step in range(5):
        value = top * step / 4
        y = height - bottom - (height - bottom - 20) * step / 4
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{value:.0f}</text>')
    for i, period in enumerate(periods):
        x = left + i * bar + 2
        y = height - bottom
        for kind in kinds:
            n = sum(r["n"] for r in rows if r["period"] == period and r["list_kind"] == kind)
            if not n:
                continue
            h = (height - bottom - 20) * n / top
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 4:.1f}" height="{h:.1f}" '
                         f'fill="{_colors().get(kind, "#888")}"><title>{escape(period)} '
                         f'{escape(kind)}: {n}</title></rect>')
        parts.append(f'<text x="{x + (bar - 4) / 2:.1f}" y="{height - bottom + 14}" '
                     f'font-size="10" text-anchor="end" transform="rotate(-45 '
                     f'{x + (bar - 4) / 2:.1f} {height - bottom + 14})">{escape(period)}</text>')
    legend_x = left
    for kind in kinds:
        label = _labels().get(kind, kind)
        parts.append(f'<rect x="{legend_x}" y="{height + 8}" width="12" height="12" '
                     f'fill="{_colors().get(kind, "#888")}"/><text x="{legend_x + 16}" '
                     f'y="{height + 18}" font-size="12">{escape(label)}</text>')
        # CJK characters are about twice as wide as Latin ones at the same font size.
        legend_x += 30 + sum(12 if ord(ch) > 0x2E80 else 7 for ch in label)
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars_svg(rows: list[dict[str, Any]]) -> str:
    """Filings by province, largest first."""
    top = max((r["n"] for r in rows), default=1) or 1
    row_h, left, width = 20, 150, 720
    height = row_h * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'role="img" aria-label="Filings by province">']
    for i, r in enumerate(rows):
        y = 5 + i * row_h
        w = (width - left - 60) * r["n"] / top
        parts.append(f'<text x="{left - 8}" y="{y + 14}" font-size="12" text-anchor="end">'
                     f'{escape(r["province"])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row_h - 5}" '
                     f'fill="#1f77b4"><title>{escape(r["province"])}: {r["n"]}</title></rect>')
        parts.append(f'<text x="{left + w + 5:.1f}" y="{y + 14}" font-size="11">{r["n"]}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- CSV for spreadsheets

def neutralise_csv(body: bytes) -> bytes:
    """Datasette's CSV export with formula-looking cells (=, +, -, @ first) prefixed by an
    apostrophe, so a spreadsheet shows them as text (see store.csv_safe)."""
    from cac_filings.store import csv_safe

    text = body.decode("utf-8", errors="replace")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv.reader(io.StringIO(text)):
        writer.writerow([csv_safe(cell) for cell in row])
    return out.getvalue().encode("utf-8")

