"""Choosing the file versions a build reads, from the crawl records alone.

For every source, its latest successful crawl says which batches the site lists now and which
bytes it serves for each (or that the download failed). Every version of those batches ever
archived is a candidate (version 1, 2, … in the order cac-filings first fetched the bytes).
A batch the published release holds that the latest crawl no longer lists stays a candidate
too, marked as no longer linked: a batch once published never disappears silently.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from cac_filings.archive import RawArchive, SetAside
from cac_filings.errors import ArchiveError
from cac_filings.sources import Source


@dataclass
class BatchVersion:
    """One archived file of a batch."""

    batch_id: str
    version: int
    sha256: str
    file_format: str
    file_size: int
    fetched_at: str
    entry: dict[str, Any] = field(repr=False)  # the crawl entry that first had these bytes


@dataclass
class SelectedBatch:
    """A batch the build considers, with every archived version of it."""

    entry: dict[str, Any]  # the latest crawl entry listing it (a BatchRef plus file facts)
    versions: list[BatchVersion]
    # The bytes the site serves now, per the latest crawl (None: the download failed or the
    # batch is no longer linked).
    site_sha256: str | None
    linked: bool = True
    fetch_error: str | None = None
    published_on: str | None = None
    published_on_precision: str | None = None

    @property
    def batch_id(self) -> str:
        return str(self.entry["batch_id"])

    @property
    def source(self) -> str:
        return str(self.entry["source"])

    def version_of(self, sha256: str | None) -> BatchVersion | None:
        for v in self.versions:
            if v.sha256 == sha256:
                return v
        return None


@dataclass
class Selection:
    batches: list[SelectedBatch]
    crawl_ids: dict[str, str]  # source → the crawl it was read from
    # Pages that may state CAC's totals: {source, url, title, published_on, sha256}.
    statements: list[dict[str, Any]] = field(default_factory=list)
    # What the archive skipped or moved aside (RawArchive.set_aside): {what, file_sha256,
    # reason}.
    set_aside: list[SetAside] = field(default_factory=list)


def _month_after(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return dt.date(year + month // 12, month % 12 + 1, 1).isoformat()


def select_batches(archive: RawArchive, sources: list[Source],
                   published_inputs: list[dict[str, Any]] | None = None) -> Selection:
    """The batches to build, per source's latest good crawl, plus the batches of the published
    release (`published_inputs`, manifest.json `inputs`) that it no longer lists."""
    records = archive.crawls()
    names = {s.spec.name for s in sources}
    latest_ok: dict[str, dict[str, Any]] = {}
    first_ok: dict[str, str] = {}
    # batch_id → (crawl_id, started_at) of the first crawl listing it
    first_seen: dict[str, tuple[str, str]] = {}
    history: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # batch → sha → entry
    last_entry: dict[str, dict[str, Any]] = {}  # batch → the latest entry naming it
    seen = 0
    for record in records:
        for name, crawled in record.get("sources", {}).items():
            if name not in names:
                continue
            for entry in crawled.get("batches", []):
                first_seen.setdefault(entry["batch_id"],
                                      (record["crawl_id"], record["started_at"]))
                last_entry[entry["batch_id"]] = entry
                for sha, fetched_at, size, fmt in _files_of(entry):
                    known = history[entry["batch_id"]].get(sha)
                    if known is None or fetched_at < known["fetched_at"]:
                        # `seen`: the order of the crawls (their ids have microseconds) breaks
                        # ties between files fetched within one second.
                        history[entry["batch_id"]][sha] = entry | {
                            "file_sha256": sha, "fetched_at": fetched_at, "file_size": size,
                            "file_format": fmt, "_seen": known["_seen"] if known else seen}
                    seen += 1
            if crawled.get("status") == "ok":
                latest_ok[name] = record | {"entries": crawled["batches"]}
                first_ok.setdefault(name, record["crawl_id"])
    if not latest_ok:
        raise ArchiveError(f"no successful crawl in {archive.root}: run `cac-filings crawl` "
                           "first")

    def versions(batch_id: str) -> list[BatchVersion]:
        ordered = sorted(history[batch_id].values(),
                         key=lambda e: (e["fetched_at"], e["_seen"], e["file_sha256"]))
        return [BatchVersion(batch_id, n, e["file_sha256"], e["file_format"], e["file_size"],
                             e["fetched_at"], e) for n, e in enumerate(ordered, start=1)]

    selected: list[SelectedBatch] = []
    crawl_ids: dict[str, str] = {}
    listed: set[str] = set()
    statements: list[dict[str, Any]] = []
    for name in sorted(latest_ok):
        record = latest_ok[name]
        crawl_ids[name] = record["crawl_id"]
        statements += [{"source": name, **page} for page in
                       record["sources"][name].get("statements", ())]
        for current in record["entries"]:
            batch_id = current["batch_id"]
            listed.add(batch_id)
            published_on = current.get("published_on")
            precision = current.get("published_on_precision")
            seen_in, seen_at = first_seen[batch_id]
            if published_on is None and seen_in > first_ok[name]:
                # Added to an in-place page after cac-filings started watching it: it
                # appeared between the previous check and this date.
                published_on, precision = seen_at[:10], "observed"
            elif published_on is None:
                # On the first crawl of an in-place page nothing says when each attachment
                # was added; the list names its period (the data cut-off month), and CAC
                # publishes a list after its period ends.
                published_on, precision = _month_after(current["period"]), "period"
            selected.append(SelectedBatch(
                entry=current, versions=versions(batch_id),
                site_sha256=None if current.get("fetch_error") else current.get("file_sha256"),
                fetch_error=current.get("fetch_error"), published_on=published_on,
                published_on_precision=precision))

    # Published batches the site no longer links (or whose source's crawl no longer names
    # them): kept from the archive, as the published release had them.
    for item in published_inputs or ():
        batch_id = item["batch_id"]
        if batch_id in listed or not item.get("is_current") or item["source"] not in names:
            continue
        listed.add(batch_id)
        entry = last_entry.get(batch_id)
        if entry is None or not history.get(batch_id):
            continue  # the archive no longer knows it; the build reports it as lost
        selected.append(SelectedBatch(
            entry=entry, versions=versions(batch_id), site_sha256=item["sha256"],
            linked=False, published_on=item.get("published_on"),
            published_on_precision=item.get("published_on_precision")))
    # What the archive set aside: found now, or by the latest crawl (a later build no longer
    # reports what an older crawl moved aside and fetched again).
    latest = (records[-1].get("set_aside") or []) if records else []
    set_aside = list({n["reason"]: n for n in [*archive.set_aside, *latest]}.values())
    return Selection(selected, crawl_ids, statements, set_aside)


def _files_of(entry: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    """(sha256, fetched_at, size, format) of the files a crawl entry names: its file, and
    those found at the batch's other routes (the same list linked from two pages)."""
    found = []
    if entry.get("file_sha256"):
        found.append((entry["file_sha256"], entry["fetched_at"], entry["file_size"],
                      entry["file_format"]))
    for other in entry.get("other_files", ()):
        found.append((other["file_sha256"], other["fetched_at"], other["file_size"],
                      other["file_format"]))
    return found
