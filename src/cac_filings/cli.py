"""The `cac-filings` command: crawl → build → publish → serve, and diffs between releases.

Every command takes --data-dir (env CAC_FILINGS_DATA_DIR, default ./data). Exit status, for
schedulers to alert on:
  0  success (a new release was published, or there was nothing new), nothing to report
  1  fetching failed for a source (network, WAF block, changed page layout); what the other
     sources found was still published
  2  usage or setup error
  3  the release was refused (a failed release check): nothing new was published
  4  another cac-filings process holds the data folder's lock (runs never overlap)
  5  published, but some batches are held back, or a warning is new since the published
     release (see `problems`; a warning it already reported does not fail every later run)
  6  the data folder cannot be written (read-only, full disk, no permission)
  70 internal error (a bug): one line, recorded in runs.jsonl; CAC_FILINGS_DEBUG=1 prints
     the traceback
  130, 143  interrupted (Ctrl-C, SIGTERM); nothing half-written is published
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from cac_filings import __version__
from cac_filings.children import SQLITE_ERRORS, SQLITE_MESSAGES, sqlite_errno
from cac_filings.config import Settings, check_base_urls, env_float, load_settings, utc_now
from cac_filings.errors import (
    ArchiveError,
    CacFilingsError,
    ExtractionError,
    InvariantError,
    SettingsError,
)
from cac_filings.lock import data_dir_lock
from cac_filings.normalize import printable
from cac_filings.report import Reporter

if TYPE_CHECKING:
    from cac_filings.crawl import Refresh
    from cac_filings.sources import Source

EXIT_FETCH, EXIT_USAGE, EXIT_DATA, EXIT_BUSY, EXIT_HELD_BACK, EXIT_DISK = 1, 2, 3, 4, 5, 6
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE
EXIT_SIGINT, EXIT_SIGTERM = 130, 143

# Click's plain help: rich's boxes cut long option names (--refresh-attachm…) at 80 columns
# and keep the docstrings' line breaks in the list of commands.
app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Open, versioned data on the algorithm filings published by China's Cyberspace "
         "Administration (CAC).",
)

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", metavar="DIR", show_default=False,
    help="Data folder (env CAC_FILINGS_DATA_DIR; default ./data).")]
WwwBase = Annotated[str | None, typer.Option(
    "--www-base", metavar="URL", show_default=False,
    help="Base URL for www.cac.gov.cn (env CAC_WWW_BASE).")]
BeianBase = Annotated[str | None, typer.Option(
    "--beian-base", metavar="URL", show_default=False,
    help="Base URL for beian.cac.gov.cn (env CAC_BEIAN_BASE).")]
Delay = Annotated[float | None, typer.Option(
    "--delay", metavar="SECONDS", show_default=False, min=0,
    help="Seconds between two requests to one host (env CAC_FILINGS_DELAY; default 1).")]
SourceNames = Annotated[list[str] | None, typer.Option(
    "--source", metavar="NAME", show_default=False,
    help="Only this source (repeatable; see `cac-filings sources`).")]
RefreshAll = Annotated[bool, typer.Option(
    "--refresh-attachments", help="Download every attachment again, even when archived, and "
                                  "walk every column page: catches files CAC edited in place.")]
RefreshAge = Annotated[float | None, typer.Option(
    "--refresh-older-than", metavar="DAYS", show_default=False, min=0,
    help="Download again the attachments last checked more than this many days ago.")]
Port = Annotated[int, typer.Option("--port", metavar="PORT", help="Port for Datasette.")]
Host = Annotated[str, typer.Option("--host", metavar="HOST", help="Interface for Datasette.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings, errors and the "
                                                           "summary.")]
Accept = Annotated[list[str] | None, typer.Option(
    "--accept", metavar="GATE[:BATCH_ID]", show_default=False,
    help="Publish although this gate failed, after review: GATE for every batch it stops, or "
         "GATE:BATCH_ID for one (repeatable: no_large_drop, no_table_emptied, "
         "known_categories, no_duplicate_in_batch, pdf_rows_whole, batch_shrink, "
         "batch_removed: a published batch no longer linked, or whose source was retired); "
         "recorded in manifest.json.")]
AcceptReason = Annotated[str | None, typer.Option(
    "--accept-reason", metavar="TEXT", show_default=False,
    help="Why the failed gates were accepted (recorded with them).")]
MaxShrink = Annotated[float | None, typer.Option(
    "--max-shrink", metavar="SHARE", show_default=False, min=0, max=1,
    help="Largest share of a list's filings a release may lose (env CAC_FILINGS_MAX_SHRINK; "
         "default 0.2).")]
MaxBatchShrink = Annotated[float | None, typer.Option(
    "--max-batch-shrink", metavar="SHARE", show_default=False, min=0, max=1,
    help="Largest share of a batch's rows a new version of it may lose before it is held back "
         "(env CAC_FILINGS_MAX_BATCH_SHRINK; default 0.1).")]


@dataclass
class RunRecord:
    """One line of DATA_DIR/runs.jsonl: what a run did, for monitoring scheduled runs."""

    command: str
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    # published | nothing-new | built | crawled | failed | internal-error
    status: str = "running"
    exit_code: int = 0
    crawl_id: str | None = None
    release_id: str | None = None
    batches: int | None = None
    downloaded: int | None = None
    new_files: int | None = None
    requests: int | None = None
    not_modified: int | None = None
    retries: int | None = None
    changes: dict[str, int] | None = None
    held_back: list[str] | None = None
    problems: list[str] | None = None
    new_warnings: list[str] | None = None  # the problems' warnings not reported before
    set_aside: list[str] | None = None  # what the crawl skipped or moved to raw/corrupt/
    duration_s: float | None = None
    error: str | None = None


def _log_run(settings: Settings, record: RunRecord) -> None:
    """Append the run's line to runs.jsonl; a data folder that cannot take it is said in one
    line, never a traceback."""
    record.finished_at = utc_now()
    record.duration_s = round(time.monotonic() - _STARTED, 3)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with (settings.data_dir / "runs.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
    except OSError as exc:
        print(f"cac-filings: could not record the run in {settings.data_dir / 'runs.jsonl'}: "
              f"{exc.strerror or exc}", file=sys.stderr, flush=True)


_STARTED = time.monotonic()


def _settings(data_dir: Path | None, www_base: str | None = None,
              beian_base: str | None = None, delay: float | None = None) -> Settings:
    """Settings from options and environment; a malformed environment value is a usage
    error (exit 2) naming the variable."""
    try:
        return load_settings(data_dir, www_base, beian_base, delay)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _exit_code(exc: CacFilingsError) -> int:
    from cac_filings.lock import BusyError
    from cac_filings.sources import SourceConfigError

    if isinstance(exc, BusyError):
        return EXIT_BUSY
    if isinstance(exc, SourceConfigError | SettingsError):
        return EXIT_USAGE  # an unknown --source, a broken source.yml, a malformed base URL
    if isinstance(exc, DataDirError):
        return EXIT_DISK
    if isinstance(exc, InternalError):
        return EXIT_INTERNAL
    if isinstance(exc, Stopped):
        return EXIT_SIGTERM if exc.signum == signal.SIGTERM else EXIT_SIGINT
    return EXIT_DATA if isinstance(exc, (ExtractionError, InvariantError, ArchiveError)) \
        else EXIT_FETCH


class DataDirError(CacFilingsError):
    """The data folder cannot be written: read-only, full, or not ours."""


class InternalError(CacFilingsError):
    """An exception no stage expected: a bug, said in one line (the traceback with
    CAC_FILINGS_DEBUG=1)."""


# How a SQLite writer's process reports an error it could not give as an errno
# (children.Child: "writing PATH failed: apsw.ReadOnlyError: attempt to write a readonly
# database", or sqlite3.OperationalError).
_CHILD_SQLITE_RE = re.compile(
    r"^writing (?P<path>.+?) failed: (?:sqlite3|apsw)\.\w+: (?P<what>.+)$")


def _as_os_error(exc: Exception) -> OSError | None:
    """A failure to write a file, whatever raised it: an OSError, SQLite's own error (in this
    process or in the writer's), as an OSError naming the file where it is known."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, SQLITE_ERRORS):
        code = sqlite_errno(exc)
        return OSError(code, str(exc)) if code else None
    if isinstance(exc, RuntimeError):
        match = _CHILD_SQLITE_RE.match(str(exc))
        code = SQLITE_MESSAGES.get(match["what"]) if match else None
        return OSError(code, match["what"], match["path"]) if match and code else None
    return None


def _debug() -> bool:
    return os.environ.get("CAC_FILINGS_DEBUG", "").strip() not in ("", "0")


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM; Ctrl-C is KeyboardInterrupt itself). Not a
    CacFilingsError: no stage may take it for a failure of its own and carry on."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Stopped(CacFilingsError):
    """How an interrupted run is reported."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}; nothing half-written was published (the "
                         "next run resumes)")
        self.signum = signum


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


# A SIGTERM before a command's guard is in place (while typer reads the options, say) is
# noted from main() on, and acted on by the guard as if it came then: one line, a runs.jsonl
# record, status 143. A command without a guard (serve, diff, sources), or one that never
# reaches it (a usage error), gets it delivered as it would have been: the process ends.
GUARDED = {"run", "crawl", "build"}
_early: list[int] = []
_early_previous: list[Any] = []  # the handler before main's, while main's is in place


def _note_early(signum: int, frame: object) -> None:
    _early.append(signum)


def _hold_early() -> None:
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        _early_previous.append(signal.signal(signal.SIGTERM, _note_early))


def _release_early(deliver: bool) -> int | None:
    """Main's handler gone (the one before it back); the signal it noted, delivered now
    when `deliver`, else returned for the guard to act on."""
    if _early_previous:
        signal.signal(signal.SIGTERM, _early_previous.pop())
    noted = _early.pop() if _early else None
    _early.clear()
    if noted is not None and deliver:
        os.kill(os.getpid(), noted)
        return None
    return noted


@contextmanager
def _guarded(settings: Settings, reporter: Reporter, record: RunRecord) -> Iterator[None]:
    """Every way a command can fail ends as one line, a runs.jsonl record and an exit
    status: errors naming their source, a data folder that cannot be written, signals."""
    noted = _release_early(deliver=False)
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        if noted is not None:
            raise Interrupted(noted)
        yield
    except CacFilingsError as exc:
        raise _fail(settings, reporter, record, exc) from None
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        raise _fail(settings, reporter, record, Stopped(signum)) from None
    except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
        raise  # the command's own exit or usage error
    except Exception as exc:
        found = _as_os_error(exc)
        if found is not None:
            raise _fail(settings, reporter, record, _cannot_write(settings, found)) from None
        if _debug():
            traceback.print_exc(file=sys.stderr)
        record.status = "internal-error"
        raise _fail(settings, reporter, record, InternalError(
            f"internal error: {type(exc).__name__}: {printable(str(exc), 300)}; nothing already "
            "published was touched (a bug: please report it with this line; "
            "CAC_FILINGS_DEBUG=1 shows the traceback)")) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cannot_write(settings: Settings, exc: OSError) -> DataDirError:
    where = exc.filename or settings.data_dir
    reason = exc.strerror or str(exc)
    hint = {errno.EROFS: "the file system is read-only",
            errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied"}.get(
                exc.errno or 0, reason)
    # Most are writes (a full disk, a read-only folder); a file of the data folder that
    # cannot be read (deleted meanwhile, no permission) is said as what it is.
    verb = "read" if exc.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR) else "write to"
    return DataDirError(
        f"cannot {verb} {where}: {hint} ({reason}); nothing already published was "
        "touched — free space or fix the permissions of the data folder "
        f"({settings.data_dir}) and run again")


@dataclass(frozen=True)
class Gates:
    accept: frozenset[str]
    reason: str | None
    max_shrink: float
    max_batch_shrink: float


def _fraction(value: float | None, variable: str, default: float, option: str) -> float:
    """An option's value, else its environment variable's, else the default: a share 0..1."""
    if value is not None:
        return value
    try:
        found = env_float(variable, default)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
    if not 0 <= found <= 1:
        raise typer.BadParameter(f"{variable}={found:g} is not between 0 and 1",
                                 param_hint=option)
    return found


def _gates(accept: list[str] | None, reason: str | None, max_shrink: float | None,
           max_batch_shrink: float | None = None) -> Gates:
    from cac_filings.build import MAX_BATCH_SHRINK
    from cac_filings.release import MAX_SHRINK

    gates = frozenset(g.strip() for a in accept or () for g in a.split(",") if g.strip())
    if gates and not reason:
        raise typer.BadParameter("say why with --accept-reason", param_hint="--accept")
    return Gates(gates, reason,
                 _fraction(max_shrink, "CAC_FILINGS_MAX_SHRINK", MAX_SHRINK, "--max-shrink"),
                 _fraction(max_batch_shrink, "CAC_FILINGS_MAX_BATCH_SHRINK", MAX_BATCH_SHRINK,
                           "--max-batch-shrink"))


def _fail(settings: Settings, reporter: Reporter, record: RunRecord,
          exc: CacFilingsError) -> typer.Exit:
    reporter.error(str(exc))
    if record.status != "internal-error":
        record.status = "failed"
    record.exit_code, record.error = _exit_code(exc), str(exc)
    _log_run(settings, record)
    return typer.Exit(code=record.exit_code)


def _finish(settings: Settings, reporter: Reporter, record: RunRecord,
            crawl_errors: list[str]) -> None:
    """The exit status of a run that got to the end: 1 when a source could not be crawled
    (the others were published), 5 when batches are held back or a warning is new (one the
    published release already reported stays in `problems` but fails no later run)."""
    if crawl_errors:
        record.exit_code, record.error = EXIT_FETCH, "crawl failed: " + " | ".join(crawl_errors)
    elif record.held_back or record.new_warnings:
        record.exit_code = EXIT_HELD_BACK
    _log_run(settings, record)


def _refresh(all_: bool, older_than: float | None) -> Refresh:
    from cac_filings.crawl import Refresh

    return Refresh(all=all_, older_than_days=older_than)


def _crawl(settings: Settings, reporter: Reporter, record: RunRecord, sources: list[Source],
           refresh: Refresh) -> list[str]:
    """Crawl; the sources that failed, each named with its error (the others are archived)."""
    from cac_filings.crawl import crawl

    reporter.info(f"crawling {len(sources)} source(s) from {settings.www_base} and "
                  f"{settings.beian_base} (delay {settings.delay:g}s)")
    result = crawl(settings, sources, reporter, refresh=refresh)
    stats = result.stats
    record.crawl_id, record.batches = result.crawl_id, result.batches
    record.downloaded, record.new_files = result.downloaded, result.new_files
    record.requests, record.not_modified = stats.requests, stats.not_modified
    record.retries = stats.retries
    record.set_aside = [n["reason"] for n in result.record.get("set_aside") or ()] or None
    # "failed" when no source could be crawled (a run's build sets its own status after).
    record.status = "crawled" if any(s.get("status") == "ok" for s in result.record.get(
        "sources", {}).values()) else "failed"
    reporter.info(f"crawl {result.crawl_id}: {result.batches} batches, "
                  f"{result.downloaded} downloaded, {result.new_files} new files, "
                  f"{stats.requests} requests ({stats.retries} retries, "
                  f"{stats.not_modified} not modified)")
    return result.errors


def _nothing_new(settings: Settings, sources: list[Source], gates: Gates
                 ) -> dict[str, Any] | None:
    """The published release's manifest when a build now would consider the same file
    versions and statements with the same code (its fingerprint) and the same thresholds: it
    would publish nothing new."""
    from cac_filings.archive import RawArchive
    from cac_filings.build import build_candidates
    from cac_filings.fingerprint import code_fingerprint
    from cac_filings.release import published_manifest

    published = published_manifest(settings)
    if published is None or published.get("code_fingerprint") != code_fingerprint():
        return None
    if any(p.get("stage") in ("archive", "crash") and p.get("severity") == "held_back"
           for p in published.get("problems") or ()):
        # A corrupt archived file may have been downloaded again since; a parser that died
        # (out of memory, say) may not die again.
        return None
    from cac_filings.build import MAX_BATCH_SHRINK
    from cac_filings.release import MAX_SHRINK

    used = published.get("thresholds") or {}
    if (used.get("max_shrink", MAX_SHRINK), used.get("max_batch_shrink", MAX_BATCH_SHRINK)) \
            != (gates.max_shrink, gates.max_batch_shrink):
        return None  # another threshold may let a held-back version through, or hold one
    if build_candidates(RawArchive(settings.raw_dir), sources, published) != published.get(
            "candidates"):
        return None
    return published


def _problem_line(row: dict[str, Any]) -> str:
    from cac_filings.build import Problem

    return Problem(str(row.get("batch_id")), row.get("version"), row.get("file_sha256"),
                   str(row.get("stage")), str(row.get("severity")), str(row.get("reason")),
                   row.get("gate")).line()


def _took_over(reporter: Reporter, stopped: list[int]) -> None:
    if stopped:
        reporter.warn(f"the data folder's lock was held by leftover processes of a run that "
                      f"died ({', '.join(map(str, stopped))}); they were stopped and the lock "
                      "taken over")


def _any_good_crawl(settings: Settings) -> bool:
    from cac_filings.archive import RawArchive

    return any(source.get("status") == "ok" for record in RawArchive(settings.raw_dir).crawls()
               for source in record.get("sources", {}).values())


def _build(settings: Settings, reporter: Reporter, record: RunRecord, publish: bool,
           gates: Gates, sources: list[Source]) -> dict[str, int]:
    from cac_filings.build import Acceptance
    from cac_filings.release import build_release

    started = time.monotonic()
    result, release = build_release(settings, sources, publish=publish,
                                    acceptance=Acceptance(gates.accept, gates.reason),
                                    max_shrink=gates.max_shrink,
                                    max_batch_shrink=gates.max_batch_shrink)
    for assertion in release.assertions:
        if assertion.accepted:
            reporter.warn(f"gate {assertion.name} failed and was accepted ({gates.reason}): "
                          f"{assertion.detail}")
    for accepted in result.accepted:
        reporter.warn(f"gate {accepted['gate']} was accepted for {accepted['batch_id']} "
                      f"({gates.reason})")
    for warning in result.warnings:
        reporter.warn(warning)
    for problem in result.problems:
        reporter.warn(problem.line())
    counts: dict[str, int] = release.manifest["row_counts"]
    record.release_id, record.changes = release.release_id, release.manifest["changes"]
    record.held_back = [p.line() for p in result.held_back]
    record.problems = [p.line() for p in result.problems]
    record.new_warnings = [p.line() for p in result.new_warnings]
    record.status = "published" if release.published else "built"
    reporter.info(f"built release {release.release_id} in {time.monotonic() - started:.2f}s: "
                  + ", ".join(f"{n} {t}" for t, n in counts.items()))
    return counts


def _summary(settings: Settings, reporter: Reporter, record: RunRecord,
             counts: dict[str, int] | None = None) -> None:
    lines = ["", "cac-filings summary"]
    if record.batches is not None:
        lines.append(f"  batches found      {record.batches}")
        lines.append(f"  new files          {record.new_files}")
        lines.append(f"  requests           {record.requests} ({record.not_modified} not "
                     f"modified, {record.downloaded} downloads)")
    if counts:
        lines.append("  rows               " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    if record.changes is not None:
        lines.append("  changes            " + ", ".join(
            f"{n} {kind}" for kind, n in record.changes.items()))
    if record.held_back:
        lines.append(f"  held back          {len(record.held_back)} batch version(s), retried "
                     "on every run:")
        lines += [f"    - {printable(line, 500)}" for line in record.held_back]
    others = [p for p in record.problems or () if p not in (record.held_back or ())]
    if others:
        lines.append(f"  to look at         {len(others)} (table problems"
                     + ("; new ones: exit status 5):" if record.new_warnings else "):"))
        lines += [f"    - {printable(line, 500)}" for line in others]
    if record.error:
        lines.append(f"  failed             {printable(record.error, 300)}")
    if record.status == "nothing-new":
        lines.append(f"  release            none: nothing new since {record.release_id}")
    elif record.release_id:
        where = settings.releases_dir / record.release_id
        published = record.status == "published"
        lines.append(f"  release            {record.release_id}"
                     + (" (published)" if published else " (not published)"))
        lines.append(f"  data               {where}")
        lines.append(f"  published          {settings.published} -> releases/"
                     f"{record.release_id}" if published
                     else f"  published          {settings.published} (unchanged)")
        lines.append(f"  files              {where}/*.parquet, {where}/cac_filings.db, "
                     "CHANGES.md, feed.atom, manifest.json")
    lines.append(f"  raw archive        {settings.raw_dir}")
    if reporter.warnings:
        lines.append(f"  warnings           {len(reporter.warnings)} (see above)")
    print("\n".join(lines), file=sys.stdout, flush=True)


@app.command(short_help="Crawl, build and publish a release, then serve it (what a schedule runs).")
def run(
    data_dir: DataDir = None,
    www_base: WwwBase = None,
    beian_base: BeianBase = None,
    delay: Delay = None,
    source: SourceNames = None,
    refresh_attachments: RefreshAll = False,
    refresh_older_than: RefreshAge = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                        help="Serve the published release with Datasette "
                                             "afterwards.")] = True,
    port: Port = 8001,
    host: Host = "127.0.0.1",
    quiet: Quiet = False,
    accept: Accept = None,
    accept_reason: AcceptReason = None,
    max_shrink: MaxShrink = None,
    max_batch_shrink: MaxBatchShrink = None,
) -> None:
    """Crawl every source, build a release, publish it and (by default) serve it. A run that
    finds nothing new builds nothing and says so in one line. A batch that cannot be read is
    held back (exit status 5) while everything else is published.

    Example: cac-filings run --www-base http://127.0.0.1:8765 --no-serve
    """
    settings = _settings(data_dir, www_base, beian_base, delay)
    gates = _gates(accept, accept_reason, max_shrink, max_batch_shrink)
    reporter = Reporter(quiet=quiet)
    record = RunRecord("run")
    counts = None
    crawl_errors: list[str] = []
    with _guarded(settings, reporter, record):
        from cac_filings.sources import load_sources

        check_base_urls(settings)
        with data_dir_lock(settings.data_dir, "run") as stopped:
            _took_over(reporter, stopped)
            everything = load_sources()  # the build reads every source's batches
            crawl_errors = _crawl(settings, reporter, record,
                                  load_sources(names=source) if source else everything,
                                  _refresh(refresh_attachments, refresh_older_than))
            # A crawl record set aside is reported by a release (its problems, status 5).
            unchanged = None if gates.accept or record.set_aside else _nothing_new(
                settings, everything, gates)
            if crawl_errors and not _any_good_crawl(settings):
                record.status = "failed"  # nothing was ever crawled whole: nothing to build
            elif unchanged is not None:
                record.status, record.release_id = "nothing-new", unchanged["release_id"]
                held = unchanged.get("held_back") or []
                record.held_back = held
                record.problems = [_problem_line(p) for p in unchanged.get("problems") or ()]
                record.new_warnings = []  # all of them reported by that release
                # The published release's batches (a crawl with a failed source found fewer).
                batches = len({i["batch_id"] for i in unchanged.get("inputs") or ()
                               if i.get("is_current")})
                print(f"nothing new: {batches} batches unchanged since release "
                      f"{record.release_id}; no release made"
                      + (f"; {len(held)} batch version(s) still held back" if held else ""),
                      flush=True)
            else:
                counts = _build(settings, reporter, record, publish=True, gates=gates,
                                sources=everything)
        _finish(settings, reporter, record, crawl_errors)
    if not quiet or record.status != "nothing-new" or record.exit_code:
        _summary(settings, reporter, record, counts)
    if serve:
        _serve(settings, reporter, host, port)
    if record.exit_code:
        raise typer.Exit(code=record.exit_code)


@app.command(short_help="Download new and changed batches into the raw archive.")
def crawl(
    data_dir: DataDir = None,
    www_base: WwwBase = None,
    beian_base: BeianBase = None,
    delay: Delay = None,
    source: SourceNames = None,
    refresh_attachments: RefreshAll = False,
    refresh_older_than: RefreshAge = None,
    quiet: Quiet = False,
) -> None:
    """Discover batches and download their files into the raw archive; build nothing.

    Example: cac-filings crawl --source cn_cac_deep_synthesis --delay 2
    """
    settings = _settings(data_dir, www_base, beian_base, delay)
    reporter = Reporter(quiet=quiet)
    record = RunRecord("crawl")
    with _guarded(settings, reporter, record):
        from cac_filings.sources import load_sources

        check_base_urls(settings)
        with data_dir_lock(settings.data_dir, "crawl") as stopped:
            _took_over(reporter, stopped)
            errors = _crawl(settings, reporter, record, load_sources(names=source),
                            _refresh(refresh_attachments, refresh_older_than))
        _finish(settings, reporter, record, errors)
    _summary(settings, reporter, record)
    if record.exit_code:
        raise typer.Exit(code=record.exit_code)


@app.command(short_help="Rebuild a release offline from the raw archive.")
def build(
    data_dir: DataDir = None,
    publish: Annotated[bool, typer.Option("--publish/--no-publish",
                                          help="Move `published` to the new release when "
                                               "every check passes.")] = True,
    quiet: Quiet = False,
    accept: Accept = None,
    accept_reason: AcceptReason = None,
    max_shrink: MaxShrink = None,
    max_batch_shrink: MaxBatchShrink = None,
) -> None:
    """Rebuild a release offline from the raw archive (files already parsed by this code are
    read from data/cache/; delete it to re-parse everything).

    Example: cac-filings build --data-dir /srv/cac-filings --no-publish
    """
    settings = _settings(data_dir)
    gates = _gates(accept, accept_reason, max_shrink, max_batch_shrink)
    reporter = Reporter(quiet=quiet)
    record = RunRecord("build")
    with _guarded(settings, reporter, record):
        from cac_filings.sources import load_sources

        with data_dir_lock(settings.data_dir, "build") as stopped:
            _took_over(reporter, stopped)
            counts = _build(settings, reporter, record, publish=publish, gates=gates,
                            sources=load_sources())
        _finish(settings, reporter, record, [])
    _summary(settings, reporter, record, counts)
    if record.exit_code:
        raise typer.Exit(code=record.exit_code)


@app.command(short_help="Compare the filings of two releases.")
def diff(
    old: Annotated[str | None, typer.Argument(
        metavar="OLD", show_default=False,
        help="Release id (default: the one before NEW).")] = None,
    new: Annotated[str | None, typer.Argument(
        metavar="NEW", show_default=False,
        help="Release id (default: the published release).")] = None,
    data_dir: DataDir = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE", show_default=False,
        help="Also write every change to this JSON file ('-' for stdout).")] = None,
    csv_out: Annotated[Path | None, typer.Option(
        "--csv", metavar="FILE", show_default=False,
        help="Also write every change to this CSV file ('-' for stdout).")] = None,
    limit: Annotated[int, typer.Option(
        "--limit", metavar="ROWS", min=0,
        help="Rows to print per kind of change (0: all).")] = 20,
) -> None:
    """Compare the filings of two releases: counts, then the changed rows (the first
    release: everything in it, added).

    Example: cac-filings diff 20250701T060000Z 20250801T060000Z --csv changes.csv
    """
    from cac_filings.diff import count_changes, diff_filings, diff_releases
    from cac_filings.schema import FILINGS
    from cac_filings.store import load_rows

    settings = _settings(data_dir)
    reporter = Reporter()
    try:
        old_path, new_path = _release_pair(settings, old, new)
    except CacFilingsError as exc:
        reporter.error(str(exc))
        raise typer.Exit(code=2) from None
    # The first release is compared with nothing: everything in it was added.
    changes = diff_releases(old_path, new_path) if old_path is not None else diff_filings(
        [], load_rows(new_path, FILINGS))
    rows = [c.as_row(new_path.name) for c in changes]
    to_stdout = "-" in (str(json_out), str(csv_out))
    if not to_stdout:
        counts = count_changes(changes)
        print(f"{old_path.name if old_path else '(no earlier release)'} → {new_path.name}: "
              + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
        for kind in counts:
            shown = [c for c in changes if c.change == kind]
            for change in shown[:limit or None]:
                detail = ", ".join(f"{f}: {_short((change.before or {}).get(f))} → "
                                   f"{_short((change.after or {}).get(f))}"
                                   for f in change.fields)
                print(f"  {kind:<9} {change.list_kind:<15} {_short(change.filing_number, 60)}  "
                      f"{_short(change.name or '', 60)} · {_short(change.company or '', 60)}"
                      + (f"  [{detail}]" if detail else ""))
            if limit and len(shown) > limit:
                print(f"  … {len(shown) - limit} more {kind}")
    if json_out is not None:
        text = json.dumps(rows, ensure_ascii=False, indent=1)
        _write_out(json_out, text + "\n")
    if csv_out is not None:
        _write_csv(csv_out, rows)


def _short(value: Any, width: int = 40) -> str:
    """A value for the terminal: control and bidi characters escaped, at most `width`."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return printable(text, width)


def _write_out(target: Path, text: str) -> None:
    if str(target) == "-":
        sys.stdout.write(text)
    else:
        target.write_text(text, encoding="utf-8")


def _write_csv(target: Path, rows: list[dict[str, Any]]) -> None:
    from cac_filings.schema import CHANGES
    from cac_filings.store import csv_safe

    safe = [{k: csv_safe(v) for k, v in row.items()} for row in rows]
    if str(target) == "-":
        writer = csv.DictWriter(sys.stdout, fieldnames=CHANGES.column_names)
        writer.writeheader()
        writer.writerows(safe)
        return
    with target.open("w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel reads UTF-8
        writer = csv.DictWriter(fh, fieldnames=CHANGES.column_names)
        writer.writeheader()
        writer.writerows(safe)


def _release_pair(settings: Settings, old: str | None, new: str | None
                  ) -> tuple[Path | None, Path]:
    """(the release to compare with, or None for the first release; the release)."""
    releases = sorted(p for p in settings.releases_dir.glob("2*") if p.is_dir()) \
        if settings.releases_dir.is_dir() else []
    if new is None:
        if not settings.published.exists():
            raise CacFilingsError(f"nothing is published in {settings.data_dir}")
        new_path = settings.published.resolve()
    else:
        new_path = settings.releases_dir / new
    if old is None:
        earlier = [p for p in releases if p.name < new_path.name]
        old_path: Path | None = earlier[-1] if earlier else None
    else:
        old_path = settings.releases_dir / old
    for path in (p for p in (old_path, new_path) if p is not None):
        if not (path / "manifest.json").is_file():
            known = ", ".join(p.name for p in releases[-5:]) or "none"
            raise CacFilingsError(f"no release {path.name} in {settings.releases_dir} "
                                  f"(latest: {known})")
    return old_path, new_path


def _serve(settings: Settings, reporter: Reporter, host: str, port: int) -> None:
    from cac_filings.serve import published_release
    from cac_filings.serve import serve as serve_release

    try:
        release = published_release(settings)
    except CacFilingsError as exc:
        reporter.error(str(exc))
        raise typer.Exit(code=1) from None
    reporter.info(f"serving {release.name} at http://{host}:{port}/ (Ctrl-C to stop)")
    serve_release(settings, host, port)


@app.command(short_help="Serve the published release with Datasette.")
def serve(data_dir: DataDir = None, port: Port = 8001, host: Host = "127.0.0.1") -> None:
    """Serve the published release with Datasette.

    Example: cac-filings serve --port 8001, then open http://127.0.0.1:8001/
    """
    settings = _settings(data_dir)
    _serve(settings, Reporter(), host, port)


@app.command(short_help="List the sources and where each starts.")
def sources(data_dir: DataDir = None) -> None:
    """List the sources: name, list kind, schedule and where each starts.

    Example: cac-filings sources
    """
    from cac_filings.sources import load_sources

    del data_dir  # accepted like everywhere else; sources do not depend on it
    for src in load_sources():
        spec = src.spec
        start = ", ".join(f"{k}: {v}" for k, v in spec.urls.items())
        print(f"{spec.name}\t{spec.list_kind}\t{spec.schedule}\t{spec.title}\t{start}")


def version_callback(value: bool) -> None:
    if value:
        print(f"cac-filings {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Print the version.")] = False,
) -> None:
    del version
    if ctx.invoked_subcommand not in GUARDED:
        _release_early(deliver=True)


def main() -> None:
    _hold_early()
    try:
        app()
    finally:
        _release_early(deliver=True)


if __name__ == "__main__":
    main()
