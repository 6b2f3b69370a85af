"""Releases: write the tables into an immutable folder, check the contract, publish atomically.

DATA_DIR/releases/<release_id>/ is written under a temporary name, checked, then renamed; the
`published` symlink moves to it only when every invariant of DATA-CONTRACT.md holds. A release
that fails is kept as releases/.rejected-<id>/ for inspection and never published.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from cac_filings import __version__
from cac_filings.archive import RawArchive, sha256_hex
from cac_filings.build import FILE_GATES, MAX_BATCH_SHRINK, Acceptance, BuildResult, build_tables
from cac_filings.children import Child, can_fork, signals_held
from cac_filings.config import Settings, utc_now
from cac_filings.datapackage import datapackage
from cac_filings.diff import Change, count_changes, diff_filings
from cac_filings.errors import InvariantError
from cac_filings.metadata import datasette_metadata
from cac_filings.notes import atom_feed, changes_markdown
from cac_filings.schema import (
    CHANGES,
    DATA_TABLES,
    DB_FILE,
    FILINGS,
    RELEASES,
    RUN_TABLES,
    TABLES,
    data_dictionary_markdown,
)
from cac_filings.sources import Source
from cac_filings.store import Row, load_rows, write_csv, write_parquet, write_sqlite
from cac_filings.summaries import write_summaries

# A list kind may not lose more than this share of its filings from one release to the next.
MAX_SHRINK = 0.2
# Also written as CSV (csv/<table>.csv). listings (raw JSON per row) and changes (before/after
# JSON) are Parquet and SQLite only: they are for programs more than spreadsheets.
CSV_TABLES = ("batches", "filings", "products", "companies", "cancellations", "releases",
              "list_kinds", "labels", "official_counts", "reconciliation", "problems")


@dataclass
class Assertion:
    name: str
    ok: bool
    detail: str
    accepted: bool = False  # failed, but a maintainer accepted it for this release (--accept)

    @property
    def blocks(self) -> bool:
        return not self.ok and not self.accepted

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "accepted": self.accepted,
                "detail": self.detail}


# Gates that a maintainer may accept for one run after review (--accept NAME): changes in the
# data that can be intentional. The release's own gates refuse the release; the per-file gates
# (build.FILE_GATES) hold back one batch version. The others guard against losing rows and
# cannot be accepted.
RELEASE_GATES = ("no_large_drop", "no_table_emptied")
ACCEPTABLE_GATES = RELEASE_GATES + FILE_GATES


@dataclass
class Release:
    release_id: str
    path: Path
    manifest: dict[str, Any]
    assertions: list[Assertion] = field(default_factory=list)
    published: bool = False


def new_release_id(releases_dir: Path, now: datetime | None = None) -> str:
    """A sortable UTC timestamp, later than every existing release."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    existing = sorted(p.name for p in releases_dir.glob("2*")) if releases_dir.is_dir() else []
    release_id = moment.strftime("%Y%m%dT%H%M%SZ")
    while existing and release_id <= existing[-1]:
        moment += timedelta(seconds=1)
        release_id = moment.strftime("%Y%m%dT%H%M%SZ")
    return release_id


def published_manifest(settings: Settings) -> dict[str, Any] | None:
    path = settings.published / "manifest.json"
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def check_invariants(result: BuildResult, previous: dict[str, Any] | None,
                     max_shrink: float = MAX_SHRINK) -> list[Assertion]:
    """The contract's invariants over the whole release, each a named pass/fail with a message
    a maintainer can act on. (A file's own checks — its rows accounted for, its gates — hold
    back that file in the build, never the release.)"""
    out: list[Assertion] = []
    tables = result.tables

    per_batch = Counter((r["batch_id"], r["version"]) for r in tables["listings"])
    counts = {(b, v): c.data_rows for b, v, c in result.checks}
    wrong = [f"{b['batch_id']} v{b['version']}: row_count {b['row_count']}, "
             f"{counts.get((b['batch_id'], b['version']))} rows in the file, "
             f"{per_batch[(b['batch_id'], b['version'])]} in listings"
             for b in tables["batches"]
             if not b["row_count"] == counts.get((b["batch_id"], b["version"]))
             == per_batch[(b["batch_id"], b["version"])]]
    out.append(Assertion("batch_row_counts_match_files", not wrong,
                         "; ".join(wrong) or f"{len(tables['batches'])} batch versions, "
                                             f"{len(tables['listings'])} listing rows"))

    dupes = [f"{k[0]} {k[1]} ×{n}" for k, n in Counter(
        (f["list_kind"], f["filing_number"]) for f in tables["filings"]).items() if n > 1]
    out.append(Assertion("filing_number_unique_per_list_kind", not dupes,
                         "; ".join(dupes[:20]) or f"{len(tables['filings'])} filings"))

    if previous is not None:
        # A batch once published stays published unless a maintainer accepts its removal:
        # one whose file can no longer be read (a corrupt archive, a regression) refuses the
        # release rather than vanish from it.
        was = {i["batch_id"] for i in previous.get("inputs", ()) if i.get("is_current")}
        now = {b["batch_id"] for b in tables["batches"] if b["is_current"]}
        removed = {a["batch_id"] for a in result.accepted if a["gate"] == "batch_removed"}
        lost = sorted(was - now - removed)
        why = {p.batch_id: p.reason for p in result.problems if p.severity == "held_back"}
        out.append(Assertion("published_batches_kept", not lost,
                             "; ".join(f"{b} was published and is not in this release"
                                       + (f": {why[b]}" if b in why else "") for b in lost)
                             or f"every one of the {len(was)} published batches is kept"))
        before: dict[str, int] = previous.get("row_counts", {})
        emptied = [t for t, n in before.items() if n > 0 and len(tables.get(t, ())) == 0
                   and t not in {x.name for x in RUN_TABLES}]
        out.append(Assertion("no_table_emptied", not emptied,
                             ", ".join(emptied) + " became empty" if emptied
                             else "no table that had rows is empty"))
        kinds_before: dict[str, int] = previous.get("filings_by_list_kind", {})
        kinds_now = Counter(f["list_kind"] for f in tables["filings"])
        shrunk = [f"{k}: {n} → {kinds_now.get(k, 0)} filings"
                  for k, n in kinds_before.items()
                  if n and (n - kinds_now.get(k, 0)) / n > max_shrink]
        out.append(Assertion("no_large_drop", not shrunk,
                             "; ".join(shrunk) + f" (more than {max_shrink:.0%} lost; if CAC "
                             "really withdrew them, rerun with --accept no_large_drop)"
                             if shrunk else f"no list kind lost more than {max_shrink:.0%} of "
                                            "its filings"))
    if previous is None:
        empty = [t.name for t in DATA_TABLES if not tables[t.name] and not t.may_be_empty]
        out.append(Assertion("no_table_empty", not empty,
                             ", ".join(empty) + " empty" if empty else "first release"))
    return out


def _file_sha256(path: Path) -> str:
    """The file's sha256, read in blocks (the SQLite file is tens of MB: read whole, it would
    be a fresh allocation, page by page, on the way to the manifest)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class DatabaseWriter:
    """The release's SQLite file, written in stages as the build makes its tables final: each
    stage in a forked child, on the other core, while this process goes on (the batches and
    listings while the filings are derived; the filings and their full-text index while the
    other tables are derived and the history is diffed; the other derived tables, the
    history and the summaries, once the release passed its checks, while the Parquet files
    are written). A stage starts once the stage before it is done; the children see the
    tables without a copy. Without fork, the stages are written here, in `wait` (once the
    release passed its checks).

    Each fork shares every page of this process with the child again, and the first touch of
    a shared page by either copies it (a copy-on-write fault costs 4–7 µs on this VM): the
    other derived tables wait for the last stage, rather than a stage of their own forked
    before the history is diffed, whose pages that fork would have shared again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: list[str] = []
        self.stages: list[Child] = []
        self.fork = can_fork()
        self._unforked: list[Callable[[], str | None]] = []

    def write(self, tables: dict[str, list[Row]], *, last: bool = False) -> None:
        """A stage: the tables of `tables` not yet written; the last stage then writes the
        summaries and makes the file durable (its sha256 is what `wait` returns)."""
        todo = [t.name for t in TABLES if t.name in tables and t.name not in self.written]
        new, path = not self.written, self.path

        def work() -> str | None:
            if not last:
                write_sqlite(tables, path, todo, new=new)
                return None
            # What the stages before wrote goes to the disk meanwhile: the fsync once the
            # file is complete has only this stage's pages left to write.
            earlier = _start_fsync(path) if not new else None
            write_sqlite(tables, path, todo, new=new)
            write_summaries(path, tables["filings"])
            if earlier is not None:
                earlier()
            return _durable_digest(path)

        if not self.fork:
            self._unforked.append(work)
        else:
            with signals_held():  # a signal comes once `stages` names the child to kill
                self.stages.append(Child(work, f"writing {path}", path,
                                         after=self.stages[-1] if self.stages else None))
        self.written += todo

    @property
    def pending(self) -> bool:
        return any(not stage.done for stage in self.stages)

    def wait(self) -> str | None:
        """Until every stage is done (the first that failed raises its error): the file's
        sha256, once its last stage made it durable."""
        digest = None
        for stage in self.stages:
            digest = stage.wait() or digest
        while self._unforked:
            digest = self._unforked.pop(0)() or digest
        return digest

    def kill(self) -> None:
        for stage in reversed(self.stages):
            stage.kill()

    def discard(self) -> None:
        """No SQLite file after all (the release failed a check)."""
        self.kill()
        self.stages.clear()
        self._unforked.clear()
        for leftover in (self.path, self.path.with_name(self.path.name + "-journal")):
            leftover.unlink(missing_ok=True)


@dataclass
class Staging:
    """A release being written: its id, its temporary folder and its SQLite file's writer."""

    release_id: str
    folder: Path
    database: DatabaseWriter

    def abandon(self) -> None:
        """The build failed: its children and its folder go."""
        self.database.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_release(settings: Settings) -> Staging:
    """A new release's id and empty temporary folder (those left by a killed build removed:
    the data-dir lock says no build is running now)."""
    releases = settings.releases_dir
    releases.mkdir(parents=True, exist_ok=True)
    release_id = new_release_id(releases)
    for stale in releases.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = releases / f".tmp-{release_id}"
    tmp.mkdir()
    return Staging(release_id, tmp, DatabaseWriter(tmp / DB_FILE))


def write_release(settings: Settings, result: BuildResult, *, publish: bool = True,
                  acceptance: Acceptance | None = None, max_shrink: float = MAX_SHRINK,
                  staging: Staging | None = None) -> Release:
    """Write a release folder; publish it when every invariant holds (or a failed gate was
    accepted by a maintainer), else raise naming every failed check. `staging`: the release
    started before its tables were built (start_release), its SQLite file begun."""
    acceptance = acceptance or Acceptance()
    check_acceptance(acceptance)
    staging = staging or start_release(settings)
    try:
        return _write_release(settings, result, publish, acceptance, max_shrink, staging)
    finally:
        staging.database.kill()  # an error here: the children go too


def _write_release(settings: Settings, result: BuildResult, publish: bool,
                   acceptance: Acceptance, max_shrink: float, staging: Staging) -> Release:
    releases, release_id = settings.releases_dir, staging.release_id
    tmp, database = staging.folder, staging.database
    previous = published_manifest(settings)
    created_at = utc_now()
    changes = add_history(result, settings.published.resolve() if previous else None,
                          release_id, created_at)
    result.warnings.extend(company_change_warnings(changes))
    # Checked first: a release that breaks the contract (a duplicate key, say) is kept for
    # inspection as Parquet files and a manifest, without the SQLite file it cannot have.
    assertions = check_invariants(result, previous, max_shrink)
    for assertion in assertions:
        assertion.accepted = not assertion.ok and assertion.name in acceptance.gates
    failed = [a for a in assertions if a.blocks]
    # The last SQLite stage (the other derived tables, the history, the summaries) runs
    # while this process writes the Parquet and CSV files, the notes and the feed (in a
    # thread, they would share one core: filling SQLite holds the GIL).
    started = time.perf_counter()
    if failed:
        database.discard()
    else:
        database.write(result.tables, last=True)
    _write_all_parquet(result.tables, tmp)
    result.timings["parquet"] = time.perf_counter() - started
    # Made durable in a thread while the notes are written and every file is hashed; the
    # SQLite file by its last stage, the manifest and the folders once they are complete
    # (_fsync_tree below).
    table_files = [p for p in tmp.rglob("*")
                   if p.is_file() and not p.name.startswith(DB_FILE)]
    table_files_synced = _start_fsync(*table_files)
    try:
        _write_notes(tmp, result, changes, release_id, created_at, previous)
        # The manifest's digests of the files written here, while the children still write
        # the SQLite file (hashed once it is done).
        writing = database.pending
        digests = {p: _file_sha256(p) for p in tmp.rglob("*")
                   if p.is_file() and not (writing and p.name.startswith(DB_FILE))}
        synced = _fsync_files(p for p in digests
                              if not p.name.startswith(DB_FILE) and p not in table_files)
    except BaseException:
        # The thread is done with the folder before the error goes on (and the folder
        # with it); its own error, if any, is the lesser one.
        with contextlib.suppress(Exception):
            table_files_synced()
        raise
    table_files_synced()
    synced.update(table_files)
    database_digest = database.wait()
    if database_digest is not None:  # hashed and made durable by its last stage
        digests[tmp / DB_FILE] = database_digest
        synced.add(tmp / DB_FILE)
    result.timings["parquet_sqlite_notes"] = time.perf_counter() - started
    started = time.perf_counter()
    previous_id = previous.get("release_id") if previous else None
    manifest: dict[str, Any] = {
        "release_id": release_id,
        "created_at": created_at,
        "code_version": __version__,
        "code_fingerprint": result.fingerprint,
        "previous_release_id": previous_id,
        "changes": count_changes(changes),
        "crawl_ids": result.crawl_ids,
        "inputs": result.inputs,
        "candidates": result.candidates,
        "row_counts": {name: len(rows) for name, rows in result.tables.items()},
        "list_kinds": result.kinds.rows(),
        "filings_by_list_kind": dict(sorted(Counter(
            f["list_kind"] for f in result.tables["filings"]).items())),
        "assertions": [a.as_dict() for a in assertions],
        "acceptance": {"gates": sorted(acceptance.gates), "reason": acceptance.reason,
                       "accepted": result.accepted} if acceptance.gates else None,
        # The thresholds it was checked with: a run with others builds again ("nothing
        # new" compares them).
        "thresholds": {"max_shrink": max_shrink, "max_batch_shrink": result.max_batch_shrink},
        "held_back": [p.line() for p in result.held_back],
        "reconciliation": [{k: r[k] for k in ("statement_url", "statement_date", "as_of",
                                              "year", "list_kind", "counted", "measure",
                                              "official", "ours", "difference", "status")}
                           for r in result.tables["reconciliation"]],
        "problems": [p.as_row() for p in result.problems],
        "warnings": result.warnings,
        "files": {p.relative_to(tmp).as_posix(): digests.get(p) or _file_sha256(p)
                  for p in sorted(tmp.rglob("*")) if p.is_file()},
    }
    manifest_text = json.dumps(manifest, ensure_ascii=False, indent=2)
    (tmp / "manifest.json").write_text(manifest_text, encoding="utf-8")
    sums = manifest["files"] | {"manifest.json": sha256_hex(manifest_text.encode())}
    (tmp / "SHA256SUMS").write_text(
        "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())),
        encoding="utf-8")
    _fsync_tree(tmp, synced)
    result.timings["manifest_checks_fsync"] = time.perf_counter() - started

    if failed:
        rejected = releases / f".rejected-{release_id}"
        for old in releases.glob(".rejected-*"):
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(rejected)
        raise InvariantError(
            "release not published, checks failed: "
            + "; ".join(f"{a.name}: {a.detail}" for a in failed)
            + f" (files kept in {rejected})")

    final = releases / release_id
    tmp.rename(final)
    release = Release(release_id, final, manifest, assertions)
    if publish:
        publish_release(settings, release_id)
        release.published = True
    return release


def write_database(tables: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """The release's SQLite file: every table with its indexes and full-text tables, then the
    summaries the pages read (summaries.py)."""
    write_sqlite(tables, path)
    write_summaries(path, tables["filings"])


def _write_notes(tmp: Path, result: BuildResult, changes: list[Change], release_id: str,
                 created_at: str, previous: dict[str, Any] | None) -> None:
    """CHANGES.md, the feed, the Datasette metadata, the data dictionary, datapackage.json."""
    previous_id = previous.get("release_id") if previous else None
    (tmp / "CHANGES.md").write_text(
        changes_markdown(release_id, previous_id, created_at, changes, result.kinds,
                         result.problems), encoding="utf-8")
    filings = {(f["list_kind"], f["filing_number"]): f for f in result.tables["filings"]}
    (tmp / "feed.atom").write_text(atom_feed(release_id, created_at, changes, filings,
                                             result.kinds), encoding="utf-8")
    (tmp / "metadata.json").write_text(
        json.dumps(datasette_metadata(release_id, created_at), ensure_ascii=False, indent=2),
        encoding="utf-8")
    (tmp / "DATA-DICTIONARY.md").write_text(
        "# cac-filings data dictionary\n\n" + data_dictionary_markdown(), encoding="utf-8")
    (tmp / "datapackage.json").write_text(json.dumps(datapackage(
        tmp, release_id, created_at, {name: len(rows) for name, rows in result.tables.items()}),
        ensure_ascii=False, indent=1), encoding="utf-8")


def add_history(result: BuildResult, previous: Path | None, release_id: str,
                created_at: str) -> list[Change]:
    """Fill the `changes` and `releases` tables: the previous release's history plus what this
    release changed in filings relative to it. Returns this release's changes."""
    changes = diff_filings(load_rows(previous, FILINGS) if previous else [],
                           result.tables["filings"])
    counts = count_changes(changes)
    earlier_changes = load_rows(previous, CHANGES) if previous else []
    earlier_releases = load_rows(previous, RELEASES) if previous else []
    result.tables["changes"] = earlier_changes + [c.as_row(release_id) for c in changes]
    result.tables["releases"] = [*earlier_releases, {
        "release_id": release_id, "created_at": created_at, "code_version": __version__,
        "code_fingerprint": result.fingerprint,
        "previous_release_id": earlier_releases[-1]["release_id"] if earlier_releases else (
            previous.name if previous else None),
        **{f"n_{t.name}": len(result.tables[t.name]) for t in DATA_TABLES},
        **{f"n_{kind}": n for kind, n in counts.items()},
    }]
    return changes


def _write_all_parquet(tables: dict[str, list[dict[str, Any]]], folder: Path) -> None:
    """Every table as Parquet, and the tables people open in a spreadsheet as CSV too."""
    (folder / "csv").mkdir()
    for table in TABLES:
        arrow = write_parquet(table, tables[table.name], folder / f"{table.name}.parquet")
        if table.name in CSV_TABLES:
            write_csv(arrow, folder / "csv" / f"{table.name}.csv")


def check_acceptance(acceptance: Acceptance) -> None:
    unknown = acceptance.gate_names() - set(ACCEPTABLE_GATES)
    if unknown:
        raise InvariantError(f"--accept {', '.join(sorted(unknown))}: not a gate that can be "
                             f"accepted (those are: {', '.join(ACCEPTABLE_GATES)})")


def company_change_warnings(changes: list[Change]) -> list[str]:
    """One line per number now listed under another company than in the release before."""
    return [f"{c.list_kind} {c.filing_number}: company {(c.before or {}).get('company')} → "
            f"{(c.after or {}).get('company')} (flagged company_changed where no 备注 names "
            "the rename)" for c in changes if c.change == "modified" and "company" in c.fields]


def build_release(settings: Settings, sources: list[Source], *, publish: bool = True,
                  acceptance: Acceptance | None = None, max_shrink: float = MAX_SHRINK,
                  max_batch_shrink: float = MAX_BATCH_SHRINK
                  ) -> tuple[BuildResult, Release]:
    """`cac-filings build`: the raw archive → a checked release (published unless told not).

    The build allocates some hundred thousand objects and frees none until the end, so the
    cyclic garbage collector (which would rescan them all, repeatedly) is paused meanwhile;
    what survives it goes to the collector's oldest generation directly (gc.freeze then
    unfreeze moves them there at no cost) rather than being rescanned as young at the next
    allocation only to be moved there too.
    """
    was_enabled = gc.isenabled()
    # Objects someone froze on purpose (serve.py's) stay frozen: unfreezing is all or none.
    frozen_before = gc.get_freeze_count()
    gc.disable()
    try:
        check_acceptance(acceptance or Acceptance())
        previous = published_manifest(settings)
        staging = start_release(settings)
        try:
            result = build_tables(RawArchive(settings.raw_dir), sources,
                                  previous=previous, acceptance=acceptance,
                                  max_batch_shrink=max_batch_shrink,
                                  cache_dir=settings.data_dir / "cache",
                                  previous_release=settings.published.resolve() if previous
                                  else None,
                                  # Their SQLite stages, while the rest is derived.
                                  on_final=staging.database.write)
            release = write_release(settings, result, publish=publish, acceptance=acceptance,
                                    max_shrink=max_shrink, staging=staging)
        except BaseException:
            staging.abandon()
            raise
    finally:
        if was_enabled:
            if not frozen_before:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
    return result, release


# When a file was fetched says nothing about what it holds: two runs that read the same bytes
# have the same data whatever their fetch times.
_VOLATILE = {"batches": ("fetched_at",)}


def content_fingerprint(release: Path) -> dict[str, str]:
    """Per data table, a sha256 of its rows without fetch times: equal for two releases that
    hold the same data (used to compare a run under faults with a clean one)."""
    found: dict[str, str] = {}
    for table in DATA_TABLES:
        drop = _VOLATILE.get(table.name, ())
        rows = [{k: v for k, v in row.items() if k not in drop}
                for row in load_rows(release, table)]
        found[table.name] = sha256_hex(orjson.dumps(rows, default=str))
    return found


def publish_release(settings: Settings, release_id: str) -> None:
    """Point DATA_DIR/published at releases/<release_id>, atomically (rename over a symlink)."""
    target = settings.releases_dir / release_id
    if not (target / "manifest.json").is_file():
        raise InvariantError(f"{target} is not a complete release")
    link = settings.published
    if link.exists() and not link.is_symlink():
        raise InvariantError(f"{link} exists and is not a symlink; refusing to replace it")
    tmp_link = link.with_name(f".published-{os.getpid()}")
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(Path("releases") / release_id)
    os.replace(tmp_link, link)
    _fsync_dir(link.parent)


def _start_fsync(*paths: Path) -> Callable[[], None]:
    """fsync files in a thread (it waits on the disk, not on this process); the function
    returned waits for it, raising its error."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            _fsync_files(paths)
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join() -> None:
        thread.join()
        if failed:
            raise failed[0]

    return join


def _durable_digest(path: Path) -> str:
    """A complete file's sha256, taken while it is fsync'ed (each reads it once)."""
    synced = _start_fsync(path)
    digest = _file_sha256(path)
    synced()
    return digest


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_files(paths: Iterable[Path]) -> set[Path]:
    """fsync each file; the set of them."""
    done = set()
    for path in paths:
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
        done.add(path)
    return done


def _fsync_tree(folder: Path, synced: Collection[Path] = ()) -> None:
    """fsync every file under `folder` but those already `synced`, then every folder."""
    for path in folder.rglob("*"):
        if path.is_dir():
            _fsync_dir(path)
        elif path not in synced:
            _fsync_files([path])
    _fsync_dir(folder)

