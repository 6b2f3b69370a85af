"""The crawl stage: run every source's discovery, download its attachments into the raw archive
and write a crawl record (raw/crawls/<crawl_id>.json) that the build reads.

Only bytes and provenance are stored here; nothing is parsed beyond the HTML needed to find the
attachments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cac_filings import __version__
from cac_filings.archive import RawArchive
from cac_filings.config import TIMESTAMP_FORMAT, Settings, utc_now
from cac_filings.errors import CacFilingsError, FetchError, PageLayoutError
from cac_filings.fetch import Fetcher, FetchStats
from cac_filings.headers import header_text
from cac_filings.report import Reporter
from cac_filings.site import (
    Article,
    ColumnItem,
    parse_article,
    parse_column_page,
    strip_attachment_label,
)
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
                 remembered: dict[str, list[dict[str, Any]]] | None = None,
                 known: dict[str, dict[str, Any]] | None = None) -> None:
        self.spec = spec
        self.fetcher = fetcher
        self.reporter = reporter
        self.pages = 0
        self.remembered = remembered
        self._known = known or {}
        self.column_items: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[str] = [f"warning: {w}" for w in spec.warnings]
        self.page_sha: dict[str, str] = {}
        self.statements: list[dict[str, Any]] = []
        # Articles that could not be read: {url, error}, in the order they failed.
        self.page_errors: list[dict[str, str]] = []
        # Routes an earlier crawl found on those articles, kept for this crawl (_carried_refs).
        self.carried: list[BatchRef] = []

    def fetch_article(self, url: str, referer: str | None = None) -> Article:
        fetched = self.fetcher.get(url, expect="html", referer=referer)
        assert fetched is not None
        self.pages += 1
        self.page_sha[url] = fetched.sha256
        return parse_article(fetched.text, url)

    def article_batches(self, url: str, read: Callable[[Article], list[BatchRef]],
                        referer: str | None = None) -> list[BatchRef]:
        """The batches `read` finds on one article; an article that fails (HTTP, WAF, layout)
        is recorded and gives none this crawl (its earlier batches are carried forward by
        the crawl), and the source's other articles are read all the same."""
        try:
            return read(self.fetch_article(url, referer=referer))
        except (FetchError, PageLayoutError) as exc:
            if self.fetcher.clock() > self.fetcher.deadline:
                raise  # the run's time is up: stop the source, not just this page
            self.page_errors.append({"url": url, "error": str(exc)})
            if isinstance(exc, PageLayoutError):  # read again next time, not its stored answer
                self.fetcher.archive.forget_validators(exc.url)
            self.warn(f"{exc} — this article is skipped; the batches an earlier crawl found "
                      "on it keep their archived files, and it is read again on the next run")
            return []

    def statement(self, article: Article) -> None:
        entry = {"url": article.url, "title": article.title,
                 "published_on": article.published_on, "sha256": self.page_sha[article.url]}
        if entry not in self.statements:
            self.statements.append(entry)

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

    def known(self, attachment_url: str) -> dict[str, Any] | None:
        entry = self._known.get(attachment_url)
        return entry if entry is not None and entry.get("source") == self.spec.name else None

    def batch(self, **fields: Any) -> BatchRef:
        fields.setdefault("list_kind", self.spec.list_kind)
        fields.setdefault("batch_no", None)
        fields.setdefault("published_on", None)
        fields.setdefault("published_on_precision", None)
        if "batch_id" not in fields:
            fields["batch_id"] = f"{fields['list_kind']}/{fields['period']}"
        return BatchRef(source=self.spec.name, **fields)


def _group_refs(refs: list[BatchRef]) -> list[list[BatchRef]]:
    """The routes to each batch id, in discovery order: CAC links one list from more than one
    page (the in-place page and its own announcement). Exact duplicates (an item listed
    twice) are dropped; a route with a publication day comes first (its date is the best).
    Whether the routes of one batch id are one attachment is decided once their files are
    known (`_attachments`): two different files are never merged into one batch."""
    groups: dict[str, list[BatchRef]] = {}
    for ref in refs:
        if not _PERIOD_RE.fullmatch(ref.period):
            raise PageLayoutError(ref.announcement_url, f"batch period {ref.period!r} is not "
                                                        "YYYY-MM")
        routes = groups.setdefault(ref.batch_id, [])
        if all((r.attachment_url, r.announcement_url) != (ref.attachment_url,
                                                          ref.announcement_url)
               for r in routes):
            routes.append(ref)
    return [sorted(routes, key=lambda r: r.published_on_precision != "day")
            for routes in groups.values()]


@dataclass
class CrawlResult:
    crawl_id: str
    record: dict[str, Any]
    batches: int = 0
    downloaded: int = 0
    new_files: int = 0
    failed_attachments: int = 0
    errors: list[str] = field(default_factory=list)
    stats: FetchStats = field(default_factory=FetchStats)

    @property
    def ok(self) -> bool:
        return not self.errors


def known_attachments(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest crawl entry per attachment URL (of its batch's main route, and of its other
    routes), from earlier crawl records."""
    known: dict[str, dict[str, Any]] = {}
    for record in records:
        for source in record.get("sources", {}).values():
            for entry in source.get("batches", []):
                known[entry["attachment_url"]] = entry
                for route in entry.get("routes", ()):
                    known[route["attachment_url"]] = entry | route
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


def last_good_sources(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per source, what its last successful crawl recorded (its batches, statements)."""
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        for name, source in record.get("sources", {}).items():
            if source.get("status") == "ok":
                found[name] = source
    return found


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
    archive.remove_debris()
    records = archive.crawls(set_aside=True)  # every earlier crawl record, read once
    known = known_attachments(records)
    remembered = remembered_columns(records, refresh, datetime.now(UTC))
    last_good = last_good_sources(records)
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
    said: set[str] = set()

    def say_set_aside() -> None:
        """What was moved aside to raw/corrupt/ so far: said, and kept in this crawl's
        record (builds report it in the release's problems)."""
        for found in (archive, fetcher.archive):
            for note in found.set_aside:
                if note["reason"] not in said:
                    said.add(note["reason"])
                    reporter.warn(note["reason"])
                    record.setdefault("set_aside", []).append(note)

    try:
        say_set_aside()
        for source in sources:
            _crawl_source(source, fetcher, archive, known, reporter, result, refresh,
                          remembered.get(source.spec.name), last_good.get(source.spec.name))
            say_set_aside()
            archive.save_crawl(record)
    finally:
        say_set_aside()  # also when a source stopped the crawl
        result.stats = fetcher.stats
        record["finished_at"] = utc_now()
        record["status"] = "complete" if result.ok and all(
            s["status"] == "ok" for s in record["sources"].values()) else "failed"
        record["fetch_stats"] = asdict(fetcher.stats)
        archive.save_crawl(record)
        if own_fetcher:
            fetcher.close()
    return result


def _carried_refs(ctx: SourceContext, previous: dict[str, Any] | None
                  ) -> dict[tuple[str, str], str]:
    """The routes the source's last good crawl found on the articles that failed now, as
    (attachment URL, announcement URL) → the page's error; their BatchRefs are in
    `ctx.carried`. They go through the crawl like the routes found now, but are not
    downloaded: the batch keeps its archived file (the build keeps its published version
    and says why). The statements those pages made are kept too."""
    if not ctx.page_errors or previous is None:
        return {}
    failed = {page["url"]: page["error"] for page in ctx.page_errors}
    carried: dict[tuple[str, str], str] = {}
    fields = BatchRef.__dataclass_fields__
    for entry in previous.get("batches", ()):
        for route in [entry, *entry.get("routes", ())]:
            page = route["announcement_url"]
            if page not in failed or (route["attachment_url"], page) in carried:
                continue
            carried[(route["attachment_url"], page)] = failed[page]
            ctx.carried.append(BatchRef(**{k: v for k, v in (entry | route).items()
                                           if k in fields}))
            ctx.log(f"{entry['batch_id']}: {route['attachment_url']} kept from the last good "
                    f"crawl: its page {page} could not be read")
    for statement in previous.get("statements", ()):
        if statement.get("url") in failed and statement not in ctx.statements:
            ctx.statements.append(statement)
    return carried


def _crawl_source(
    source: Source,
    fetcher: Fetcher,
    archive: RawArchive,
    known: dict[str, dict[str, Any]],
    reporter: Reporter,
    result: CrawlResult,
    refresh: Refresh,
    remembered: dict[str, list[dict[str, Any]]] | None,
    previous: dict[str, Any] | None = None,
) -> None:
    name = source.spec.name
    ctx = SourceContext(source.spec, fetcher, reporter, remembered, known)
    entries: list[dict[str, Any]] = []
    result.record["sources"][name] = {"status": "failed", "batches": entries, "error": None}
    try:
        reporter.info(f"{name}: discovering batches")
        refs = source.discover(ctx)
        carried = _carried_refs(ctx, previous)
        groups = _group_refs([*refs, *ctx.carried])
        if not groups and not source.spec.may_be_empty:
            failed = (f" ({len(ctx.page_errors)} article(s) could not be read, the first: "
                      f"{ctx.page_errors[0]['error']})" if ctx.page_errors else "")
            raise PageLayoutError(source.spec.urls.get("announcement")
                                  or source.spec.urls.get("column", name),
                                  "discovery found no batches at all" + failed)
        with reporter.progress(f"{name}: attachments", total=len(groups)) as advance:
            for routes in groups:
                entry = _fetch_batch(routes, fetcher, archive, known, result, refresh, ctx,
                                     carried)
                entries.append(entry)
                if entry["downloaded"]:
                    # Saved as it grows: a run killed now has archived this file for the next
                    # run, which does not download it again.
                    archive.save_crawl(result.record)
                if entry.get("fetch_error") and not entry.get("page_error"):
                    result.failed_attachments += 1
                advance(routes[0].title)
    except CacFilingsError as exc:
        if isinstance(exc, PageLayoutError):  # read again next time, not its stored answer
            fetcher.archive.forget_validators(exc.url)
        result.record["sources"][name]["error"] = str(exc)
        result.errors.append(f"{name}: {exc}")
        reporter.error(f"{name}: {exc}")
        return
    for page in ctx.page_errors:
        # The source was crawled, this article was not: said like a source's failure (exit
        # status 1, the run's error line), while the source's other batches are refreshed.
        result.errors.append(f"{name}: {page['error']} (this article only; the source's "
                             "other batches were crawled)")
    result.record["sources"][name].update(status="ok", pages=ctx.pages,
                                          column_items=ctx.column_items,
                                          full_walk=remembered is None, notes=ctx.notes,
                                          statements=ctx.statements,
                                          page_errors=ctx.page_errors)
    result.batches += len(entries)
    reporter.info(f"{name}: {len(entries)} batches, {ctx.pages} pages read")


def _title_key(title: str | None) -> str:
    """A list's title as compared between routes: its meaning, without a 附件N： label."""
    return header_text(strip_attachment_label(title or ""))


def _attachments(fetched: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The distinct attachments among the routes of one batch id. Two routes are one
    attachment when they link the same URL, or give the same bytes, or are the same list
    (the same title) linked from two pages — CAC links a list from its in-place page and from
    its own announcement, sometimes as a second upload. Anything else (two files on one page,
    or two differently titled files) is two attachments."""
    parent = list(range(len(fetched)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, a in enumerate(fetched):
        for j in range(i):
            b = fetched[j]
            if (a["attachment_url"] == b["attachment_url"]
                    or (a["file_sha256"] is not None and a["file_sha256"] == b["file_sha256"])
                    or (a["announcement_url"] != b["announcement_url"]
                        and _title_key(a["title"]) == _title_key(b["title"]))):
                parent[root(i)] = root(j)
    found: dict[int, list[dict[str, Any]]] = {}
    for i, e in enumerate(fetched):
        found.setdefault(root(i), []).append(e)
    return list(found.values())


_ROUTE_KEYS = ("attachment_url", "announcement_url", "announcement_title", "published_on",
               "published_on_precision", "file_sha256", "fetched_at", "checked_at",
               "fetch_error", "page_error")


def _fetch_batch(routes: list[BatchRef], fetcher: Fetcher, archive: RawArchive,
                 known: dict[str, dict[str, Any]], result: CrawlResult, refresh: Refresh,
                 ctx: SourceContext, carried: dict[tuple[str, str], str] | None = None
                 ) -> dict[str, Any]:
    """The crawl entry of one batch: its main route's file (or, when that download failed,
    the first route that worked; a route found now before one kept from an article that
    failed), dated by its best-dated route, and the other routes with what they serve."""
    carried = carried or {}
    fetched = [_fetch_attachment(ref, fetcher, archive, known, result, refresh,
                                 carried.get((ref.attachment_url, ref.announcement_url)))
               for ref in routes]
    good = [e for e in fetched if not e.get("fetch_error")]
    main = (good or fetched)[0]
    entry = dict(main)
    # The announcement's date, whichever route's file is the batch's (a route with a
    # publication day comes first).
    entry.update(published_on=routes[0].published_on,
                 published_on_precision=routes[0].published_on_precision)
    if len(fetched) > 1:
        entry["routes"] = [{k: e.get(k) for k in _ROUTE_KEYS if k != "page_error" or k in e}
                           for e in fetched if e is not main]
        entry["downloaded"] = any(e["downloaded"] for e in fetched)
    attachments = _attachments(fetched)
    if len(attachments) > 1:
        return _conflict(entry, attachments, known, archive, ctx)
    differ = [e for e in good if e["file_sha256"] != entry["file_sha256"]]
    if differ:
        # Two pages link different files for one list: both are kept as versions; the
        # main route's is the current one.
        ctx.warn(f"{entry['batch_id']}: {entry['announcement_url']} and "
                 f"{differ[0]['announcement_url']} link different files "
                 f"({entry['file_sha256'][:12]} and {differ[0]['file_sha256'][:12]})")
        entry["other_files"] = [{k: e[k] for k in ("file_sha256", "fetched_at",
                                                   "file_size", "file_format")}
                                for e in differ]
    if entry.get("fetch_error") and not entry.get("page_error"):
        ctx.warn(f"{entry['batch_id']}: {entry['attachment_url']} could not be downloaded "
                 f"({entry['fetch_error']}); the batch's archived version, if any, stays "
                 "published and the download is tried again on the next run")
    return entry


def _conflict(entry: dict[str, Any], attachments: list[list[dict[str, Any]]],
              known: dict[str, dict[str, Any]], archive: RawArchive,
              ctx: SourceContext) -> dict[str, Any]:
    """Two or more different files for one batch id (say, two lists for one month on one
    page): nothing tells which is the batch, and taking one would drop the other. Neither is
    taken: the entry keeps the batch's archived file and says why (`fetch_error`), so the
    build keeps its published version and reports a problem, until the site links one file
    per batch or the source's scraper tells them apart (a batch id of their own)."""
    described = "; ".join(f"{files[0]['title']!r} at {files[0]['attachment_url']} (on "
                          f"{files[0]['announcement_url']})" for files in attachments)
    previous = known.get(entry["attachment_url"])
    # The file the batch had: its last entry's, at whichever of its routes it was found.
    had = [p for files in attachments for e in files
           if (p := known.get(e["attachment_url"])) is not None
           and p.get("batch_id") == entry["batch_id"] and p.get("file_sha256")]
    reason = (f"{len(attachments)} different files are linked as {entry['batch_id']}, and "
              f"nothing tells which one is the batch: {described}")
    entry["conflict"] = [{k: e.get(k) for k in ("title", "attachment_url", "announcement_url",
                                                "file_sha256", "fetch_error")}
                         for files in attachments for e in files]
    entry.pop("other_files", None)
    entry.update(_kept_file(had[0] if had else previous, archive),
                 fetch_error=_same_failure(previous.get("fetch_error") if previous else None,
                                           reason),
                 failing_since=_failing_since(previous, utc_now()))
    ctx.warn(f"{reason}; neither is taken: the batch's archived version, if any, stays "
             "published")
    return entry


_NO_FILE: dict[str, Any] = {"file_sha256": None, "file_format": None, "file_size": None,
                            "fetched_at": None}


def _kept_file(previous: dict[str, Any] | None, archive: RawArchive) -> dict[str, Any]:
    """The file facts of an attachment's last crawl entry, when its bytes are archived."""
    if previous is None or not previous.get("file_sha256") or not archive.has(
            previous["file_sha256"]):
        return dict(_NO_FILE)
    return {k: previous.get(k) for k in _NO_FILE}


_RETRY_NOTE_RE = re.compile(r"\s*\((?:attempt \d+, giving up|retries exceeded [^()]*|"
                            r"no time left [^()]*)\)\s*$")
_HTTP_STATUS_RE = re.compile(r"(HTTP \d{3})")
_COUNT_RE = re.compile(r"\d+(?:\.\d+)?")


def _failure_kind(reason: str) -> str:
    """A failure without its counts (attempts, bytes received, seconds, ports): what stays
    the same when one file fails the same way on every run. HTTP statuses are kept."""
    parts = _HTTP_STATUS_RE.split(_RETRY_NOTE_RE.sub("", reason))
    return "".join(part if _HTTP_STATUS_RE.fullmatch(part) else _COUNT_RE.sub("#", part)
                   for part in parts)


def _same_failure(previous: str | None, reason: str) -> str:
    """The failure to record: the earlier run's wording while it is the same failure, so
    that an attachment failing on every run leaves its crawl entry (and so the build's
    candidates, the release and its problem row) unchanged until something really
    changes. The fetch log has every attempt's own wording."""
    if previous and _failure_kind(previous) == _failure_kind(reason):
        return previous
    return reason


def _failing_since(previous: dict[str, Any] | None, now: str) -> str:
    """When the attachment's current run of failures began."""
    if previous is not None and previous.get("fetch_error"):
        return str(previous.get("failing_since") or previous.get("checked_at") or now)
    return now


def _fetch_attachment(
    ref: BatchRef,
    fetcher: Fetcher,
    archive: RawArchive,
    known: dict[str, dict[str, Any]],
    result: CrawlResult,
    refresh: Refresh,
    page_error: str | None = None,
) -> dict[str, Any]:
    """The crawl entry of one attachment: reused from the archive when it is there, intact,
    and no refresh is due; else downloaded. A download that fails is recorded in the entry
    (`fetch_error`, `failing_since`), keeping the archived file it had, so that it is tried
    again next run. A route kept from an article that could not be read (`page_error`) is
    not downloaded: it keeps its archived file, marked with the page's failure."""
    entry: dict[str, Any] = asdict(ref)
    previous = known.get(ref.attachment_url)
    checked_at = previous.get("checked_at", previous.get("fetched_at")) if previous else None
    before = previous.get("fetch_error") if previous else None
    if page_error is not None:
        entry.update(_kept_file(previous, archive), checked_at=checked_at, downloaded=False,
                     page_error=page_error,
                     fetch_error=_same_failure(before, f"its page could not be read: "
                                                       f"{page_error}"),
                     failing_since=_failing_since(previous, utc_now()))
        return entry
    if (previous is not None and previous.get("file_sha256") and not before
            and archive.intact(previous["file_sha256"])
            and not refresh.due(checked_at, datetime.now(UTC))):
        entry.update(_kept_file(previous, archive), checked_at=checked_at, downloaded=False)
        return entry
    try:
        fetched = fetcher.get(ref.attachment_url, expect="file", referer=ref.announcement_url,
                              conditional=False)
    except FetchError as exc:
        if fetcher.clock() > fetcher.deadline:
            raise  # the run's time is up: stop the source, not just this file
        now = utc_now()
        entry.update(_kept_file(previous, archive), checked_at=now, downloaded=False,
                     fetch_error=_same_failure(before, exc.reason),
                     failing_since=_failing_since(previous, now))
        return entry
    assert fetched is not None
    result.downloaded += 1
    same = previous is not None and previous.get("file_sha256") == fetched.sha256
    if not same:
        result.new_files += 1
    entry.update(file_sha256=fetched.sha256, file_format=fetched.file_format,
                 file_size=len(fetched.body),
                 fetched_at=previous["fetched_at"] if same and previous else fetched.fetched_at,
                 checked_at=fetched.fetched_at, downloaded=True)
    return entry
