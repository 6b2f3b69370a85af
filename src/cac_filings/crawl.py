"""The crawl stage: run every source's discovery, download its attachments into the raw archive
and write a crawl record (raw/crawls/<crawl_id>.json) that the build reads.

Only bytes and provenance are stored here; nothing is parsed beyond the HTML needed to find the
attachments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cac_filings import __version__
from cac_filings.archive import RawArchive
from cac_filings.config import TIMESTAMP_FORMAT, Settings, utc_now
from cac_filings.errors import CacFilingsError, PageLayoutError
from cac_filings.fetch import Fetcher, FetchStats
from cac_filings.report import Reporter
from cac_filings.site import Article, ColumnItem, parse_article, parse_column_page
from cac_filings.sources import BatchRef, Source, SourceSpec

_PERIOD_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_FIRST_PAGE_RE = re.compile(r"_1\.htm$")


def new_crawl_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


class SourceContext:
    """The CrawlContext handed to a scraper: fetching and page parsing from the core.

    `remembered` holds the column items of the source's last good crawl. With it, a column
    walk stops at the first list page whose items were all listed before (new items appear at
    the top) and replays the older items from memory; without it (the first crawl, or a full
    walk), every page is read.
    """

    def __init__(self, spec: SourceSpec, fetcher: Fetcher, reporter: Reporter,
                 remembered: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.spec = spec
        self.fetcher = fetcher
        self.reporter = reporter
        self.pages = 0
        self.remembered = remembered
        self.column_items: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[str] = []

    def fetch_article(self, url: str, referer: str | None = None) -> Article:
        fetched = self.fetcher.get(url, expect="html", referer=referer)
        assert fetched is not None
        self.pages += 1
        return parse_article(fetched.text, url)

    def walk_column(self, first_page_url: str) -> Iterator[ColumnItem]:
        """Items of a column, newest first, following its numbered list pages to the end
        (the pager's page count when the page states it, else the first 404)."""
        if not _FIRST_PAGE_RE.search(first_page_url):
            raise PageLayoutError(first_page_url, "column URLs must end in _1.htm")
        previous = (self.remembered or {}).get(first_page_url)
        known = {item["url"] for item in previous} if previous else None
        walked: list[dict[str, Any]] = []
        self.column_items[first_page_url] = walked
        referer: str | None = None
        number = 1
        while True:
            url = _FIRST_PAGE_RE.sub(f"_{number}.htm", first_page_url)
            fetched = self.fetcher.get(url, expect="html", referer=referer,
                                       allow_404=number > 1)
            if fetched is None:
                return
            self.pages += 1
            page = parse_column_page(fetched.text, url)
            if number == 1 and not page.items:
                raise PageLayoutError(url, "the first page of the column lists no items")
            for item in page.items:
                walked.append(asdict(item))
                yield item
            if previous and known is not None and page.items and all(
                    item.url in known for item in page.items):
                # Everything from here on was listed last time: replay it from memory.
                emitted = {item["url"] for item in walked}
                for old in previous:
                    if old["url"] not in emitted:
                        walked.append(old)
                        yield ColumnItem(**old)
                return
            if not page.items or (page.total_pages is not None and number >= page.total_pages):
                return
            referer = url
            number += 1

    def fetch_json(self, url: str, referer: str | None = None) -> Any:
        fetched = self.fetcher.get(url, expect="json", referer=referer)
        assert fetched is not None
        self.pages += 1
        return fetched.json()

    def log(self, message: str) -> None:
        self.reporter.info(f"{self.spec.name}: {message}")
        self.notes.append(message)

    def warn(self, message: str) -> None:
        self.reporter.warn(f"{self.spec.name}: {message}")
        self.notes.append(f"warning: {message}")

    def batch(self, **fields: Any) -> BatchRef:
        fields.setdefault("list_kind", self.spec.list_kind)
        fields.setdefault("batch_no", None)
        fields.setdefault("published_on", None)
        fields.setdefault("published_on_precision", None)
        if "batch_id" not in fields:
            fields["batch_id"] = f"{fields['list_kind']}/{fields['period']}"
        return BatchRef(source=self.spec.name, **fields)


def _check_refs(refs: list[BatchRef]) -> list[BatchRef]:
    """Drop exact duplicates (an item listed twice); refuse two files claiming one batch."""
    seen: dict[str, BatchRef] = {}
    unique: list[BatchRef] = []
    for ref in refs:
        if not _PERIOD_RE.fullmatch(ref.period):
            raise PageLayoutError(ref.announcement_url, f"batch period {ref.period!r} is not "
                                                        "YYYY-MM")
        other = seen.get(ref.batch_id)
        if other is None:
            seen[ref.batch_id] = ref
            unique.append(ref)
        elif other.attachment_url != ref.attachment_url:
            raise PageLayoutError(
                ref.announcement_url,
                f"two attachments claim batch {ref.batch_id}: {other.attachment_url} "
                f"(from {other.announcement_url}) and {ref.attachment_url}")
    return unique


@dataclass
class CrawlResult:
    crawl_id: str
    record: dict[str, Any]
    batches: int = 0
    downloaded: int = 0
    new_files: int = 0
    errors: list[str] = field(default_factory=list)
    stats: FetchStats = field(default_factory=FetchStats)

    @property
    def ok(self) -> bool:
        return not self.errors


def known_attachments(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest archived file per attachment URL, from earlier crawl records."""
    known: dict[str, dict[str, Any]] = {}
    for record in records:
        for source in record.get("sources", {}).values():
            for entry in source.get("batches", []):
                known[entry["attachment_url"]] = entry
    return known


@dataclass(frozen=True)
class Refresh:
    """When to download an already archived attachment again. CAC re-uploads edited files at
    the same URL, and the download sends no validators, so only a new download shows an edit.
    A refresh run also walks every column page instead of stopping at known items."""

    all: bool = False
    older_than_days: float | None = None

    def due(self, checked_at: str | None, now: datetime) -> bool:
        if self.all:
            return True
        if self.older_than_days is None or checked_at is None:
            return False
        checked = datetime.strptime(checked_at, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        return (now - checked).total_seconds() > self.older_than_days * 86400


def remembered_columns(records: list[dict[str, Any]], refresh: Refresh, now: datetime
                       ) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per source, the column items its last good crawl saw — unless a full walk of the
    column is due (a refresh run, or the last full walk is older than the refresh age), so
    that items removed from the site are noticed too."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    last_full: dict[str, str] = {}
    for record in records:
        for name, source in record.get("sources", {}).items():
            if source.get("status") != "ok":
                continue
            if source.get("column_items"):
                found[name] = source["column_items"]
            if source.get("full_walk", True):
                last_full[name] = record["started_at"]
    return {name: items for name, items in found.items()
            if not refresh.due(last_full.get(name), now)}


def crawl(
    settings: Settings,
    sources: list[Source],
    reporter: Reporter,
    *,
    refresh: Refresh | None = None,
    fetcher: Fetcher | None = None,
) -> CrawlResult:
    """Discover and download. Attachments already in the archive are reused unless the
    refresh policy says they are due."""
    refresh = refresh or Refresh()
    archive = RawArchive(settings.raw_dir)
    records = archive.crawls()  # every earlier crawl record, read once
    known = known_attachments(records)
    remembered = remembered_columns(records, refresh, datetime.now(UTC))
    crawl_id = new_crawl_id()
    record: dict[str, Any] = {
        "crawl_id": crawl_id, "started_at": utc_now(), "finished_at": None,
        "status": "running", "code_version": __version__,
        "www_base": settings.www_base, "beian_base": settings.beian_base,
        "refresh": asdict(refresh), "sources": {},
    }
    result = CrawlResult(crawl_id=crawl_id, record=record)
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(settings, archive, memo=True)
    try:
        for source in sources:
            _crawl_source(source, fetcher, archive, known, reporter, result, refresh,
                          remembered.get(source.spec.name))
            archive.save_crawl(record)
    finally:
        result.stats = fetcher.stats
        record["finished_at"] = utc_now()
        record["status"] = "complete" if result.ok and all(
            s["status"] == "ok" for s in record["sources"].values()) else "failed"
        record["fetch_stats"] = asdict(fetcher.stats)
        archive.save_crawl(record)
        if own_fetcher:
            fetcher.close()
    return result


def _crawl_source(
    source: Source,
    fetcher: Fetcher,
    archive: RawArchive,
    known: dict[str, dict[str, Any]],
    reporter: Reporter,
    result: CrawlResult,
    refresh: Refresh,
    remembered: dict[str, list[dict[str, Any]]] | None,
) -> None:
    name = source.spec.name
    ctx = SourceContext(source.spec, fetcher, reporter, remembered)
    entries: list[dict[str, Any]] = []
    result.record["sources"][name] = {"status": "failed", "batches": entries, "error": None}
    try:
        reporter.info(f"{name}: discovering batches")
        refs = _check_refs(source.discover(ctx))
        if not refs and not source.spec.may_be_empty:
            raise PageLayoutError(source.spec.urls.get("announcement")
                                  or source.spec.urls.get("column", name),
                                  "discovery found no batches at all")
        with reporter.progress(f"{name}: attachments", total=len(refs)) as advance:
            for ref in refs:
                entries.append(_fetch_attachment(ref, fetcher, archive, known, result, refresh))
                if entries[-1]["downloaded"]:
                    # Saved as it grows: a run killed now has archived this file for the next
                    # run, which does not download it again.
                    archive.save_crawl(result.record)
                advance(ref.title)
    except CacFilingsError as exc:
        result.record["sources"][name]["error"] = str(exc)
        result.errors.append(f"{name}: {exc}")
        reporter.error(f"{name}: {exc}")
        return
    result.record["sources"][name].update(status="ok", pages=ctx.pages,
                                          column_items=ctx.column_items,
                                          full_walk=remembered is None, notes=ctx.notes)
    result.batches += len(entries)
    reporter.info(f"{name}: {len(entries)} batches, {ctx.pages} pages read")


def _fetch_attachment(
    ref: BatchRef,
    fetcher: Fetcher,
    archive: RawArchive,
    known: dict[str, dict[str, Any]],
    result: CrawlResult,
    refresh: Refresh,
) -> dict[str, Any]:
    entry: dict[str, Any] = asdict(ref)
    previous = known.get(ref.attachment_url)
    checked_at = previous.get("checked_at", previous["fetched_at"]) if previous else None
    if (previous is not None and archive.has(previous["file_sha256"])
            and not refresh.due(checked_at, datetime.now(UTC))):
        entry.update({k: previous[k] for k in ("file_sha256", "file_format", "file_size",
                                              "fetched_at")}, checked_at=checked_at,
                     downloaded=False)
        return entry
    fetched = fetcher.get(ref.attachment_url, expect="file", referer=ref.announcement_url,
                          conditional=False)
    assert fetched is not None
    result.downloaded += 1
    same = previous is not None and previous["file_sha256"] == fetched.sha256
    if not same:
        result.new_files += 1
    entry.update(file_sha256=fetched.sha256, file_format=fetched.file_format,
                 file_size=len(fetched.body),
                 fetched_at=previous["fetched_at"] if same and previous else fetched.fetched_at,
                 checked_at=fetched.fetched_at, downloaded=True)
    return entry
