"""The build stage: raw archive → the published tables, offline and deterministically.

Inputs are the crawl records and archived files only (and, to know what was published, the
published release's manifest). The stage is split by job:

- `select`: which batches and file versions to consider (the latest good crawl of each source,
  every archived version, published batches the site no longer links);
- `rows`: the rows of one file (tables, headers by meaning, normalised fields, file checks);
- `derive`: filings, products, companies and cancellations from the current versions;
- this module: the orchestration — parse every version (cached per file and code
  fingerprint, on worker processes), hold back what cannot be read or fails a check of its
  own, choose each batch's current version, derive the tables.

One batch never holds back another: a version that cannot be read, or fails a per-file gate,
is *held back* (a `problems` row names it and why); a held-back new batch is absent, a
held-back new version of a known batch leaves the previous version current.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import multiprocessing
import os
import pickle
import re
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The readers of every format, loaded here (once, before the parse workers are forked)
# rather than by each worker on its first file of that format (pdfium's bindings: 55 ms).
import cac_filings.docx_tables
import cac_filings.pdf_tables
import cac_filings.xlsx_tables  # noqa: F401
from cac_filings.archive import RawArchive, write_atomic
from cac_filings.build.derive import (
    cancellation_dates,
    current_notices,
    derive_cancellations,
    derive_companies,
    derive_filings,
    derive_products,
)
from cac_filings.build.official import official_counts, reconcile, reconciliation_warnings
from cac_filings.build.rows import FileCheck, ParsedFile, Row, parse_file, restore_private
from cac_filings.build.select import BatchVersion, SelectedBatch, Selection, select_batches
from cac_filings.children import describe_exitcode, detach_from_run, signals_held
from cac_filings.config import utc_now
from cac_filings.errors import ArchiveError, ExtractionError
from cac_filings.fingerprint import code_fingerprint
from cac_filings.kinds import Registry
from cac_filings.schema import label_rows
from cac_filings.sources import Source, SourceSpec, registry_of

# A new version of a known batch may lose at most this share of that batch's rows.
MAX_BATCH_SHRINK = 0.1

# Per-file gates a maintainer may accept for one run after review (--accept GATE, or
# GATE:BATCH_ID for one batch): changes in the data that can be intentional.
FILE_GATES = ("pdf_rows_whole", "known_categories", "no_duplicate_in_batch", "batch_shrink",
              "batch_removed")


@dataclass(frozen=True)
class Acceptance:
    """Gates a maintainer accepted for this run (`--accept`), with the reason."""

    gates: frozenset[str] = frozenset()
    reason: str | None = None

    def accepts(self, gate: str, batch_id: str | None = None) -> bool:
        return gate in self.gates or (batch_id is not None and f"{gate}:{batch_id}"
                                      in self.gates)

    def gate_names(self) -> set[str]:
        return {g.split(":", 1)[0] for g in self.gates}


@dataclass
class Problem:
    """One row of the `problems` table: what a build could not publish, or had to report."""

    batch_id: str
    version: int | None
    file_sha256: str | None
    stage: str  # fetch | archive | extract | check | link
    severity: str  # held_back | warning
    reason: str
    gate: str | None = None  # the gate that refused it, when one did
    first_seen: str | None = None
    last_tried: str | None = None
    list_kind: str | None = None

    @property
    def key(self) -> tuple[str, str | None, str, str | None]:
        return (self.batch_id, self.file_sha256, self.stage, self.gate)

    def as_row(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The problem in one line, for run summaries: what went wrong before the file's
        name (its title, batch, sha256 and URL, which a reason starts with and which can be
        hundreds of characters: a summary cuts long lines)."""
        version = f" v{self.version}" if self.version else ""
        what = "held back" if self.severity == "held_back" else "warning"
        where = f"{self.stage}, gate {self.gate}" if self.gate else self.stage
        reason = self.reason
        named = re.match(r"(?s)(.*?\[" + re.escape(f"{self.batch_id}{version}, sha256 ")
                         + r"[0-9a-f]{12}, [^\]\s]*\]): (.+)", reason)
        if named:
            reason = f"{named[2]} — {named[1]}"
        return f"{self.batch_id}{version} {what} ({where}): {reason}"


@dataclass
class BuildResult:
    tables: dict[str, list[Row]]
    inputs: list[dict[str, Any]]  # the file versions published (manifest.json `inputs`)
    candidates: list[dict[str, Any]]  # what the build considered (decides "nothing new")
    checks: list[tuple[str, int, FileCheck]]  # (batch_id, version, check) of published files
    crawl_ids: dict[str, str]
    kinds: Registry
    fingerprint: str
    problems: list[Problem] = field(default_factory=list)
    accepted: list[dict[str, str]] = field(default_factory=list)  # gates accepted, per batch
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per build phase
    max_batch_shrink: float = MAX_BATCH_SHRINK  # the batch_shrink threshold it was built with
    # Problem.key of every problem the published release already reported
    reported_before: set[tuple[str, str | None, str, str | None]] = field(default_factory=set)

    def count(self, table: str) -> int:
        return len(self.tables[table])

    @property
    def held_back(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "held_back"]

    @property
    def new_warnings(self) -> list[Problem]:
        """Warnings the published release did not report yet (exit status 5 says them once;
        a warning that stays, such as an unknown column not mapped yet, stays in `problems`
        without failing every later run)."""
        return [p for p in self.problems
                if p.severity != "held_back" and p.key not in self.reported_before]


# ---------------------------------------------------------------- parsing, cached

ParseTask = tuple[str, str, str, SourceSpec, Registry, str]  # source, sha, label (THE_FILE),
#                                                               spec, kinds, raw root


# A parse result that says its process died: the file is held back, but never cached (a death
# by the OOM killer is not the file's).
CRASHED = "crash: "
# How a parse names its file in the reasons it gives: a file is parsed (and cached) once per
# source and sha256, while the batch that lists it names it (its title, batch, version, URL,
# which may change with the bytes unchanged, or be another batch's). _judge puts the batch's
# own label in its place.
THE_FILE = "\x1fthe file\x1f"


def _parse(task: ParseTask) -> ParsedFile | str:
    """One file's rows, or the reason it cannot be read (an error naming the file)."""
    _, sha, label, spec, kinds, raw_root = task
    try:
        body = RawArchive(Path(raw_root)).get(sha)
        return parse_file(body, label, spec, kinds)
    except (ExtractionError, ArchiveError) as exc:
        return ("archive: " if isinstance(exc, ArchiveError) else "") + str(exc)


def _cacheable(result: ParsedFile | str) -> bool:
    """Whether a parse result is the file's own, to keep: not a failure to read the archived
    object (it may be fetched again) nor a dead parser (every run retries)."""
    return not (isinstance(result, str) and result.startswith(("archive: ", CRASHED)))


def _parse_on_worker(task: ParseTask, cache: ParseCache | None) -> bytes:
    """_parse on a worker process, its result pickled once: into the parse cache (written
    here, on the worker's core, rather than by the run once every worker is done) and for
    the way back to the run."""
    result = _parse(task)
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    if cache is not None and _cacheable(result):
        cache.write(task[0], task[1], data)
    return data


def default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cpus or 1))


def _run_tasks(tasks: list[ParseTask], sizes: list[int], workers: int,
               cache: ParseCache | None = None) -> list[ParsedFile | str]:
    """_parse over every task, on `workers` processes (the work is pure Python: threads would
    share one core). Results come back in task order; those that are the files' own are
    written to `cache`.

    A worker that dies (the OOM killer, a kill, a crash in a parsing library) breaks the pool:
    the files it left unparsed are parsed again, each in a process of its own, so that a death
    by chance costs time only, and a file that kills its parser every time is a file that
    cannot be read (held back, named; "crash: " results are not cached: every run retries).
    One file, or one worker, is parsed in a forked process too: a crash in a parsing library
    must not take the run down with it (on a day with one new file, that is the one task)."""
    if not tasks:
        return []
    if "fork" not in multiprocessing.get_all_start_methods():
        parsed = [_parse(t) for t in tasks]
        for task, result in zip(tasks, parsed, strict=True):
            if cache is not None and _cacheable(result):
                cache.put(task[0], task[1], result)
        return parsed
    workers = max(1, min(workers, len(tasks)))
    # The longest to read first (`sizes`: bytes × PARSE_COST), so that no worker is left
    # with a long one at the end.
    order = sorted(range(len(tasks)), key=lambda i: -sizes[i])
    results, died = _run_pool(tasks, order, workers, cache)
    for i in order:
        if i in results:
            continue
        alone, died_alone = _run_pool(tasks, [i], 1, cache)
        results[i] = alone[i] if i in alone else (
            f"{CRASHED}{tasks[i][2]}: a parse worker died ({died}), and the process parsing "
            f"this file alone died too ({died_alone}): out of memory, or a crash in a parsing "
            "library (retried on every run)")
    return [results[i] for i in range(len(tasks))]


def _run_pool(tasks: list[ParseTask], indices: list[int], workers: int,
              cache: ParseCache | None = None
              ) -> tuple[dict[int, ParsedFile | str], str | None]:
    """_parse over tasks[i] for i in `indices`, on a pool of forked workers (which write
    `cache`): the results it got, and how a worker died when one did (the pool is then
    broken: the rest are missing)."""
    results: dict[int, ParsedFile | str] = {}
    died: str | None = None
    pool = ProcessPoolExecutor(max_workers=min(workers, len(indices)),
                               initializer=detach_from_run, initargs=(os.getpid(),),
                               mp_context=multiprocessing.get_context("fork"))
    processes: list[multiprocessing.process.BaseProcess] = []
    try:
        # A fork pool starts its workers as tasks are submitted; after a break it forgets
        # them. A signal is delivered once they are all started and noted (signals_held).
        with signals_held():
            futures = {i: pool.submit(_parse_on_worker, tasks[i], cache) for i in indices}
            processes = list(getattr(pool, "_processes", {}).values())
        for i in indices:
            try:
                results[i] = pickle.loads(futures[i].result())
            except BrokenProcessPool:
                died = _how_workers_died(pool, processes)
                break
    finally:
        # Every way out (an error, Ctrl-C, SIGTERM) takes the workers down with it.
        processes = processes or list(getattr(pool, "_processes", {}).values())
        # The pool's own thread reaps its workers: a worker joined here at the same time
        # could be reaped by it and look alive here. (shutdown forgets the thread.)
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.kill()
        if manager is not None:
            manager.join(timeout=5)
        for process in processes:
            process.join(timeout=5)
    return results, died


def _how_workers_died(pool: ProcessPoolExecutor,
                      processes: list[multiprocessing.process.BaseProcess]) -> str:
    """"killed by SIGKILL", say: how the first worker ended that ended other than by the
    pool's own SIGTERM to the survivors of a break, or by the sentinel its shutdown sends
    (exit status 0). A survivor forked moments before the break can miss that SIGTERM:
    Python clears the signals a child caught before it ran its first line after the fork.
    A worker's own exit 0 (a library's os._exit(0)) is named when nothing else is."""
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:  # a broken pool's thread ends once it has reaped every worker
        manager.join(timeout=5)
    for process in processes:
        process.join(timeout=5)
    codes = [p.exitcode for p in processes if p.exitcode is not None]
    if not codes:
        return "no exit status known"
    # Any other end first, then exit 0, then SIGTERM; the first worker of the best rank.
    rank = {0: 1, -signal.SIGTERM: 2}
    return describe_exitcode(min(codes, key=lambda code: rank.get(code, 0)))


class ParseCache:
    """Parsed files under DATA_DIR/cache/parsed/<code fingerprint>/<source>/<sha>.pickle: a
    run where one batch is new parses one file. Safe to delete; a damaged entry is parsed
    again; entries of other fingerprints are removed."""

    def __init__(self, root: Path | None, fingerprint: str) -> None:
        self.folder = root / "parsed" / fingerprint if root is not None else None
        self.root = root

    def path(self, source: str, sha: str) -> Path | None:
        return self.folder / source / f"{sha}.pickle" if self.folder else None

    def get(self, source: str, sha: str) -> ParsedFile | str | None:
        path = self.path(source, sha)
        if path is None or not path.is_file():
            return None
        try:
            found = pickle.loads(path.read_bytes())
        except Exception:  # a damaged cache entry is only a cache miss
            return None
        return found if isinstance(found, ParsedFile | str) else None

    def put(self, source: str, sha: str, value: ParsedFile | str) -> None:
        self.write(source, sha, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def write(self, source: str, sha: str, data: bytes) -> None:
        """An entry already pickled (by a parse worker)."""
        path = self.path(source, sha)
        if path is None:
            return
        # A cache that cannot be written costs time, never data.
        with contextlib.suppress(OSError):
            write_atomic(path, data, durable=False)

    def prune(self) -> None:
        if self.folder is None or not self.folder.parent.is_dir():
            return
        for other in self.folder.parent.iterdir():
            if other != self.folder:
                shutil.rmtree(other, ignore_errors=True)


# About how much longer a PDF's byte takes to read than a Word or Excel file's (an estimate:
# the parse workers are given the files that take longest first, so that none is left with
# a long one at the end).
PARSE_COST = {"pdf": 8}


def parse_versions(selection: Selection, specs: dict[str, SourceSpec], kinds: Registry,
                   archive: RawArchive, cache: ParseCache, workers: int
                   ) -> dict[tuple[str, str], ParsedFile | str]:
    """(source, sha) → the parsed file or why it cannot be read, for every version."""
    wanted: dict[tuple[str, str], int] = {}
    for batch in selection.batches:
        for version in batch.versions:
            wanted.setdefault((batch.source, version.sha256),
                              version.file_size * PARSE_COST.get(version.file_format, 1))
    found: dict[tuple[str, str], ParsedFile | str] = {}
    tasks: list[ParseTask] = []
    sizes: list[int] = []
    for (source, sha), size in wanted.items():
        cached = cache.get(source, sha)
        # Every build checks the archived bytes, cached or not: a corrupt object is a
        # problem to report (and to fetch again), not a file to keep publishing.
        if cached is not None and archive.verify(sha):
            found[(source, sha)] = cached
            continue
        tasks.append((source, sha, THE_FILE, specs[source], kinds, str(archive.root)))
        sizes.append(size)
    for task, result in zip(tasks, _run_tasks(tasks, sizes, workers, cache), strict=True):
        found[(task[0], task[1])] = result
    cache.prune()
    return found


def _label(batch: SelectedBatch, version: BatchVersion) -> str:
    """How errors name a file."""
    return (f"{batch.entry['title']} [{batch.batch_id} v{version.version}, "
            f"sha256 {version.sha256[:12]}, {batch.entry['attachment_url']}]")


# ---------------------------------------------------------------- holding back


@dataclass
class _Previous:
    """What the published release holds, from its manifest."""

    shas: set[str]  # every file version it was built from
    current: dict[str, str]  # batch_id → sha of its current version
    rows: dict[tuple[str, str], int]  # (batch_id, sha) → data rows
    first_seen: dict[tuple[str, str | None, str, str | None], str]  # Problem.key → first_seen
    # (batch_id, sha) → data rows per list kind (releases before 0.2 did not record them)
    rows_by_kind: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    release_id: str | None = None

    @classmethod
    def of(cls, manifest: dict[str, Any] | None) -> _Previous:
        inputs = (manifest or {}).get("inputs", [])
        problems = (manifest or {}).get("problems", [])
        return cls(
            shas={i["sha256"] for i in inputs},
            current={i["batch_id"]: i["sha256"] for i in inputs if i.get("is_current")},
            rows={(i["batch_id"], i["sha256"]): i["row_count"] for i in inputs
                  if i.get("row_count") is not None},
            first_seen={(p["batch_id"], p.get("file_sha256"), p["stage"], p.get("gate")):
                        p.get("first_seen") or "" for p in problems},
            rows_by_kind={(i["batch_id"], i["sha256"]): dict(i["rows_by_kind"]) for i in inputs
                          if i.get("rows_by_kind") is not None},
            release_id=(manifest or {}).get("release_id"))

    def published(self, batch_id: str, sha: str) -> bool:
        """Whether this file was published as a version of this batch (not of another)."""
        return (batch_id, sha) in self.rows or self.current.get(batch_id) == sha


def _file_gates(batch: SelectedBatch, version: BatchVersion, check: FileCheck,
                previous: _Previous, max_batch_shrink: float) -> list[tuple[str, str]]:
    """(gate, reason) for each per-file gate a new file fails."""
    failed = []
    if check.pdf_serial_problems:
        failed.append(("pdf_rows_whole", "; ".join(check.pdf_serial_problems)))
    if check.unknown_categories:
        failed.append(("known_categories",
                       f"算法类别 not in the source's vocabulary: "
                       f"{', '.join(check.unknown_categories)} (add them to the source.yml "
                       "categories, or --accept known_categories)"))
    if check.duplicates:
        failed.append(("no_duplicate_in_batch",
                       f"{len(check.duplicates)} number(s) listed twice in the file "
                       f"(quality flag duplicate_in_batch): {'; '.join(check.duplicates[:20])}"))
    failed += _shrink_gate(batch, version, check, previous, max_batch_shrink)
    return failed


def _shrink_gate(batch: SelectedBatch, version: BatchVersion, check: FileCheck,
                 previous: _Previous, max_batch_shrink: float) -> list[tuple[str, str]]:
    """Gate batch_shrink: a new version of a published batch losing more than
    `max_batch_shrink` of the published version's rows, or all of them, in any one of its
    lists (a file can hold several: the generative-AI file has a 备案 and a 登记 table). Every
    new version is judged, whichever crawl fetched it."""
    before_sha = previous.current.get(batch.batch_id)
    if not before_sha or version.sha256 == before_sha:
        return []
    total = previous.rows.get((batch.batch_id, before_sha))
    by_kind = previous.rows_by_kind.get((batch.batch_id, before_sha))
    pairs: list[tuple[str | None, int, int]]
    if by_kind is None:  # a release that recorded totals only
        pairs = [(None, total or 0, check.data_rows)]
    else:
        pairs = [(kind, n, check.kinds.get(kind, 0)) for kind, n in sorted(by_kind.items())]
    lost = [(kind, before, now) for kind, before, now in pairs
            if before and (now == 0 or (before - now) / before > max_batch_shrink)]
    if not lost:
        return []
    if len(pairs) == 1:
        what = f"the new version has {lost[0][2]} rows where the published one has {lost[0][1]}"
    else:
        what = "the new version has " + ", ".join(
            f"{now} {kind} rows where the published one has {before}"
            for kind, before, now in lost)
    return [("batch_shrink", f"{what} (more than {max_batch_shrink:.0%} lost; if CAC really "
                             f"removed them, rerun with --accept batch_shrink:{batch.batch_id})")]


@dataclass
class _Chosen:
    batch: SelectedBatch
    current: BatchVersion
    readable: list[tuple[BatchVersion, ParsedFile]]
    # Versions published before that cannot be read now (a corrupt object, a parse that
    # fails since): carried forward from the published release's tables, with the problem
    # that says so.
    carried: list[tuple[BatchVersion, Problem]] = field(default_factory=list)


@dataclass
class Choice:
    """What choose_versions decided for every batch."""

    chosen: list[_Chosen] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    accepted: list[dict[str, str]] = field(default_factory=list)
    # Versions the site no longer serves that cannot be read: not published, said once in
    # the run's warnings (they are history, not something a maintainer can still fix).
    superseded: list[str] = field(default_factory=list)


def _judged_before(batch: SelectedBatch, version: BatchVersion, previous: _Previous) -> bool:
    """Whether the file gates need not judge this version again: it is the batch's current
    version in the published release, or an older version of it published then that is not
    about to become current. A file published for another batch, or published as history
    and now served by the site (a version a failed crawl fetched, say), is judged again."""
    current = previous.current.get(batch.batch_id)
    if version.sha256 == current:
        return True
    return (previous.published(batch.batch_id, version.sha256)
            and version.sha256 != batch.site_sha256)


def _judge(batch: SelectedBatch, version: BatchVersion, result: ParsedFile | str,
           previous: _Previous, acceptance: Acceptance, max_batch_shrink: float,
           choice: Choice) -> list[tuple[str, str, str | None]]:
    """Why this version cannot be published — (stage, reason, gate) — or [] when it can
    (accepted gates are recorded in `choice`)."""
    if isinstance(result, str):
        stage = "archive" if result.startswith("archive: ") else (
            "crash" if result.startswith(CRASHED) else "extract")
        reason = result.removeprefix("archive: ").removeprefix(CRASHED)
        return [(stage, reason.replace(THE_FILE, _label(batch, version)), None)]
    check = result.check
    if not check.rows_accounted:
        return [("check", f"the file has {check.source_rows} rows, of which "
                          f"{check.physical_rows} are accounted for ({check.data_rows} data "
                          "rows)", "every_row_in_listings")]
    if _judged_before(batch, version, previous):
        return []  # its gates were passed or accepted when it was published
    refused: list[tuple[str, str, str | None]] = []
    for gate, reason in _file_gates(batch, version, check, previous, max_batch_shrink):
        if acceptance.accepts(gate, batch.batch_id):
            choice.accepted.append({"gate": gate, "batch_id": batch.batch_id,
                                    "version": str(version.version), "reason": reason})
        else:
            refused.append(("check", reason, gate))
    return refused


def choose_versions(selection: Selection, parsed: dict[tuple[str, str], ParsedFile | str],
                    previous: _Previous, acceptance: Acceptance, max_batch_shrink: float
                    ) -> Choice:
    """Each batch's readable versions and its current one; problems for the rest.

    The current version is the one the site serves, when it can be published; else the one
    the published release had (a held-back new version leaves the previous one current); else
    none, and the batch is absent. A version published before never vanishes: refused by a
    file gate now (it was about to become current), it stays as history; unreadable now, it
    is carried forward from the published release."""
    choice = Choice()
    for batch in selection.batches:
        kind = batch.entry.get("list_kind")

        def problem(version: BatchVersion | None, stage: str, severity: str, reason: str,
                    gate: str | None = None, *, _batch: SelectedBatch = batch,
                    _kind: Any = kind) -> Problem:
            found = Problem(
                _batch.batch_id, version.version if version else None,
                version.sha256 if version else _batch.site_sha256, stage, severity, reason,
                gate, list_kind=_kind)
            choice.problems.append(found)
            return found

        if not batch.linked:
            if acceptance.accepts("batch_removed", batch.batch_id):
                choice.accepted.append({"gate": "batch_removed", "batch_id": batch.batch_id})
                continue
            problem(None, "link", "warning",
                    "published, but the site no longer links it; kept from the archive "
                    f"(if CAC withdrew it, rerun with --accept batch_removed:{batch.batch_id})",
                    "batch_removed")
        readable: list[tuple[BatchVersion, ParsedFile]] = []
        eligible: set[str] = set()  # the versions that may be current
        carried: list[tuple[BatchVersion, Problem]] = []
        for version in batch.versions:
            result = parsed[(batch.source, version.sha256)]
            why = _judge(batch, version, result, previous, acceptance, max_batch_shrink, choice)
            if not why:
                assert isinstance(result, ParsedFile)
                readable.append((version, result))
                eligible.add(version.sha256)
                continue
            published = previous.published(batch.batch_id, version.sha256)
            gates_only = isinstance(result, ParsedFile) and all(
                gate in FILE_GATES for _, _, gate in why)
            if published and gates_only:
                assert isinstance(result, ParsedFile)
                readable.append((version, result))  # history, as published; never current
            if version.sha256 == batch.site_sha256:
                found = [problem(version, stage, "held_back", reason, gate)
                         for stage, reason, gate in why]
            elif published:
                found = [problem(version, stage, "warning",
                                 f"{reason}; published before, so carried forward as release "
                                 f"{previous.release_id} published it", gate)
                         for stage, reason, gate in why]
            else:
                choice.superseded.append(f"{batch.batch_id} v{version.version} (no longer "
                                         f"served by the site) is not published: {why[0][1]}")
                continue
            if published and not gates_only:
                carried.append((version, found[0]))
        by_sha = {v.sha256: (v, p) for v, p in readable if v.sha256 in eligible}
        current = by_sha.get(batch.site_sha256 or "") or by_sha.get(
            previous.current.get(batch.batch_id, ""))
        # No version can be current, but the published current one is carried forward (it
        # cannot be read now: a corrupt object, a parse that fails since): it stays current,
        # as published, rather than the batch vanishing and refusing everyone's release.
        carried_current = None if current else next(
            (v for v, _ in carried if v.sha256 == previous.current.get(batch.batch_id)), None)
        if batch.fetch_error:
            kept = current is not None or carried_current is not None
            problem(None, "fetch", "warning" if kept else "held_back",
                    f"the latest crawl took no file for this batch ({batch.fetch_error})"
                    + ("; the archived version stays published" if kept else
                       "; nothing of this batch is published yet"))
        if current is None:
            if carried_current is not None:
                choice.chosen.append(_Chosen(batch, carried_current, readable, carried))
            continue
        for column in current[1].check.unknown_columns:
            problem(current[0], "extract", "warning",
                    f"{column}: its cells are kept in raw; map it in the source's source.yml")
        choice.chosen.append(_Chosen(batch, current[0], readable, carried))
    return choice


# ---------------------------------------------------------------- the whole build

def _input(batch: SelectedBatch, version: BatchVersion, is_current: bool,
           rows: list[Row]) -> dict[str, Any]:
    """What a release records about each file it was built from (manifest.json `inputs`)."""
    e = batch.entry
    return {"batch_id": batch.batch_id, "version": version.version, "sha256": version.sha256,
            "source": e["source"], "attachment_url": version.entry["attachment_url"],
            "is_current": is_current, "is_linked": batch.linked,
            "published_on": batch.published_on,
            "published_on_precision": batch.published_on_precision,
            "title": e["title"], "announcement_url": e["announcement_url"],
            "row_count": len(rows),
            "rows_by_kind": dict(sorted(Counter(r["list_kind"] for r in rows).items()))}


class _PublishedTables:
    """The published release's batches and listings, read only when a version published
    before must be carried forward from them."""

    def __init__(self, release: Path | None) -> None:
        self.release = release
        self._rows: dict[tuple[str, str], list[Row]] | None = None

    def rows_of(self, batch_id: str, sha: str) -> list[Row] | None:
        """The listing rows the published release has for this file of this batch."""
        if self._rows is None:
            self._rows = self._load()
        return self._rows.get((batch_id, sha))

    def _load(self) -> dict[tuple[str, str], list[Row]]:
        from cac_filings.schema import BATCHES, CANCELLATIONS, LISTINGS
        from cac_filings.store import load_rows

        if self.release is None or not (self.release / "manifest.json").is_file():
            return {}
        versions = {(b["batch_id"], b["version"]): b["file_sha256"]
                    for b in load_rows(self.release, BATCHES)}
        months = {(c["notice_id"], c["filing_number"]): c["cancelled_month"]
                  for c in load_rows(self.release, CANCELLATIONS)}
        found: dict[tuple[str, str], list[Row]] = {key: [] for key in
                                                   ((b, s) for (b, _), s in versions.items())}
        for row in load_rows(self.release, LISTINGS):
            sha = versions.get((row["batch_id"], row["version"]))
            if sha is not None:
                # As the build holds them: dates as ISO text, and the values the derived
                # tables read beside the columns (the row may become current again).
                month = months.get((row["batch_id"].split("/", 1)[-1], row["filing_number"]))
                found[(row["batch_id"], sha)].append(restore_private(
                    {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()},
                    month))
        return found


def candidates_of(selection: Selection) -> list[dict[str, Any]]:
    """What a build considers, without reading any file: when it equals the published
    release's (and the code fingerprint too), a build would publish nothing new."""
    found = []
    for batch in selection.batches:
        for version in batch.versions:
            found.append({"batch_id": batch.batch_id, "version": version.version,
                          "sha256": version.sha256, "site": version.sha256 == batch.site_sha256,
                          "linked": batch.linked, "fetch_error": batch.fetch_error,
                          "published_on": batch.published_on})
        if not batch.versions:
            found.append({"batch_id": batch.batch_id, "version": None, "sha256": None,
                          "site": False, "linked": batch.linked,
                          "fetch_error": batch.fetch_error, "published_on": None})
    found.sort(key=lambda c: (c["batch_id"], c["version"] or 0))
    # The pages that state CAC's totals: a new or edited statement is new to publish too.
    statements = sorted(({"statement_url": page["url"], "sha256": page.get("sha256"),
                          "source": page["source"], "published_on": page.get("published_on")}
                         for page in selection.statements),
                        key=lambda c: (c["statement_url"], c["sha256"] or ""))
    return found + statements


def build_candidates(archive: RawArchive, sources: list[Source],
                     previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    return candidates_of(select_batches(archive, sources, (previous or {}).get("inputs")))


def build_tables(archive: RawArchive, sources: list[Source], *, workers: int | None = None,
                 previous: dict[str, Any] | None = None, acceptance: Acceptance | None = None,
                 max_batch_shrink: float = MAX_BATCH_SHRINK, cache_dir: Path | None = None,
                 previous_release: Path | None = None,
                 on_final: Callable[[dict[str, list[Row]]], None] | None = None
                 ) -> BuildResult:
    """The tables of a release from the raw archive. `previous` is the published release's
    manifest (what was published decides what is new, and what may not vanish), and
    `previous_release` its folder (a version published before that cannot be read now is
    carried forward from its tables). `on_final` is given tables as soon as they are
    final, before the rest is derived from them: the batches and listings, then the
    filings."""
    started = time.perf_counter()
    acceptance = acceptance or Acceptance()
    kinds = registry_of(sources)
    fingerprint = code_fingerprint()
    before = _Previous.of(previous)
    selection = select_batches(archive, sources, (previous or {}).get("inputs"))
    specs = {s.spec.name: s.spec for s in sources}
    parsed = parse_versions(selection, specs, kinds, archive, ParseCache(cache_dir, fingerprint),
                            default_workers() if workers is None else workers)
    parsed_at = time.perf_counter()
    choice = choose_versions(selection, parsed, before, acceptance, max_batch_shrink)
    chosen, problems, accepted = choice.chosen, choice.problems, choice.accepted
    now = utc_now()
    problems += _vanished(previous, selection, sources, acceptance, accepted, now)
    published_tables = _PublishedTables(previous_release)

    batch_rows: dict[tuple[str, int], Row] = {}
    # Each batch version's rows, in file order (a parsed file's row_number counts its rows):
    # the listings are these in (batch_id, version) order, as sorting them would give.
    chunks: dict[tuple[str, int], list[list[Row]]] = {}
    checks: list[tuple[str, int, FileCheck]] = []
    inputs: list[dict[str, Any]] = []
    # A parsed file's rows become listing rows in place (their batch and version added): a
    # copy only of a file that a batch before this one listed too.
    claimed: set[int] = set()
    for item in chosen:
        batch, e = item.batch, item.batch.entry
        files = [(version, parsed_file.rows, parsed_file.check)
                 for version, parsed_file in item.readable]
        for version, why in item.carried:
            rows = published_tables.rows_of(batch.batch_id, version.sha256)
            if rows is None:
                why.severity = "held_back"
                why.reason += (f" — but {previous_release or 'the published release'} does not "
                               "hold it: it is not in this release")
                continue
            rows = [r | {"version": version.version}
                    for r in sorted(rows, key=lambda r: r["row_number"])]
            files.append((version, rows, FileCheck(data_rows=len(rows))))
        if not any(version is item.current for version, _, _ in files):
            continue  # its current version could not be carried: the batch is not published
        files.sort(key=lambda f: f[0].version)
        for version, file_rows, check in files:
            is_current = version is item.current
            if id(file_rows) in claimed:
                file_rows = [dict(row) for row in file_rows]
            claimed.add(id(file_rows))
            for row in file_rows:
                row["batch_id"], row["version"] = batch.batch_id, version.version
            chunks.setdefault((batch.batch_id, version.version), []).append(file_rows)
            checks.append((batch.batch_id, version.version, check))
            batch_rows[(batch.batch_id, version.version)] = {
                "batch_id": batch.batch_id, "version": version.version,
                "list_kind": e["list_kind"], "period": e["period"], "batch_no": e["batch_no"],
                "title": e["title"], "announcement_url": e["announcement_url"],
                "announcement_title": e["announcement_title"],
                "published_on": batch.published_on,
                "published_on_precision": batch.published_on_precision,
                # Where these bytes came from (a later crawl may link another URL).
                "attachment_url": version.entry["attachment_url"],
                "file_sha256": version.sha256,
                "file_format": version.file_format, "file_size": version.file_size,
                "fetched_at": version.fetched_at, "is_current": is_current,
                "is_linked": batch.linked, "row_count": len(file_rows),
            }
            inputs.append(_input(batch, version, is_current, file_rows))
    listings: list[Row] = []
    for key in sorted(chunks):
        # Two files for one batch version (never, for one source's batches) are refused by
        # the release's checks: their rows are listed as a sort would have put them.
        files_of = chunks[key]
        listings += files_of[0] if len(files_of) == 1 else sorted(
            itertools.chain(*files_of), key=lambda r: r["row_number"])
    batches = [batch_rows[k] for k in sorted(batch_rows)]
    if on_final is not None:
        on_final({"batches": batches, "listings": listings})
    notices = current_notices(listings, batch_rows, kinds)
    filings = derive_filings(listings, batch_rows, cancellation_dates(notices), kinds)
    if on_final is not None:
        on_final({"filings": filings})
    counts, unread = official_counts(selection.statements, archive, sources)
    reconciled = reconcile(counts, filings, batches)
    for statement in unread:
        problems.append(Problem(f"statement {statement.url}", None, None, "statement",
                                "warning", statement.reason, None, now, now))
    for note in selection.set_aside:
        problems.append(Problem(note["what"], None, note["file_sha256"], "archive", "warning",
                                note["reason"], None, now, now))
    for p in problems:
        p.first_seen = before.first_seen.get(p.key) or now
        p.last_tried = now
    result = BuildResult(
        tables={
            "batches": batches,
            "listings": listings,
            "filings": filings,
            "products": derive_products(filings),
            "companies": derive_companies(filings, listings, batch_rows, kinds),
            "cancellations": derive_cancellations(notices, filings),
            "list_kinds": kinds.rows(),
            "labels": label_rows(kinds.rows()),
            "official_counts": counts,
            "reconciliation": reconciled,
            "problems": [p.as_row() for p in sorted(problems, key=_problem_order)],
        },
        inputs=sorted(inputs, key=lambda i: (i["batch_id"], i["version"])),
        candidates=candidates_of(selection),
        checks=checks,
        crawl_ids=selection.crawl_ids,
        kinds=kinds,
        fingerprint=fingerprint,
        problems=sorted(problems, key=_problem_order),
        accepted=accepted,
        max_batch_shrink=max_batch_shrink,
        reported_before=set(before.first_seen),
    )
    result.warnings.extend(choice.superseded)
    result.warnings.extend(reconciliation_warnings(reconciled))
    result.warnings.extend(_quality_warnings(filings))
    current = {(b["batch_id"], b["version"]) for b in batches if b["is_current"]}
    unnumbered = sum(1 for r in listings if not r["filing_number"]
                     and kinds.is_approvals(r["list_kind"])
                     and (r["batch_id"], r["version"]) in current)
    if unnumbered:
        result.warnings.append(f"{unnumbered} listing row(s) without a filing number (flagged "
                               "number_missing) are in listings but not in filings")
    result.warnings.extend(f"{batch_id} v{version}: {problem}"
                           for batch_id, version, check in checks
                           if (batch_id, version) in current
                           for problem in check.serial_problems)
    result.timings = {"extract_normalise": parsed_at - started,
                      "derive": time.perf_counter() - parsed_at}
    return result


def _vanished(previous: dict[str, Any] | None, selection: Selection, sources: list[Source],
              acceptance: Acceptance, accepted: list[dict[str, str]], now: str
              ) -> list[Problem]:
    """Batches the published release has that this build does not consider at all: their
    source was retired (its folder left scrapers/) or the archive no longer knows them. Each
    refuses the release (gate published_batches_kept) until a maintainer accepts its removal
    with --accept batch_removed:BATCH_ID."""
    considered = {b.batch_id for b in selection.batches}
    names = {s.spec.name for s in sources}
    problems = []
    for item in (previous or {}).get("inputs", []):
        batch_id = item["batch_id"]
        if not item.get("is_current") or batch_id in considered:
            continue
        if acceptance.accepts("batch_removed", batch_id):
            accepted.append({"gate": "batch_removed", "batch_id": batch_id})
            continue
        retired = item["source"] not in names
        where = (f"its source {item['source']} is no longer in scrapers/" if retired else
                 "neither the crawl records nor the archive know it any more")
        problems.append(Problem(
            batch_id, item["version"], item["sha256"], "link" if retired else "archive",
            "held_back", f"published, but {where} (if it was removed on purpose, rerun with "
                         f"--accept batch_removed:{batch_id})", "batch_removed", now, now))
    return problems


def _problem_order(p: Problem) -> tuple[str, int, str, str]:
    return (p.batch_id, p.version or 0, p.stage, p.gate or "")


def _quality_warnings(filings: Iterable[Row]) -> list[str]:
    counts: Counter[str] = Counter()
    for filing in filings:
        counts.update(filing["_flags"])
    return [f"{n} filing(s) flagged {flag}" for flag, n in sorted(counts.items())]


__all__ = ["Acceptance", "BuildResult", "Problem", "build_candidates", "build_tables",
           "select_batches"]
