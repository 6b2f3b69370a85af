"""The `cac-filings` command: crawl → build → publish → serve, and diffs between releases.

Every command takes --data-dir (env CAC_FILINGS_DATA_DIR, default ./data). Exit status, for
schedulers to alert on:
  0  success (a new release was published, or there was nothing new)
  1  fetching failed (network, WAF block, changed page layout): nothing new was published
  2  usage error
  3  the data was refused (an unreadable file, an unknown header, a failed release check):
     nothing new was published; a maintainer has to look
  4  another cac-filings process holds the data folder's lock (runs never overlap)
"""

from __future__ import annotations

import csv
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cac_filings import __version__
from cac_filings.config import Settings, env_float, load_settings, utc_now
from cac_filings.errors import (
    ArchiveError,
    CacFilingsError,
    ExtractionError,
    InvariantError,
)
from cac_filings.lock import data_dir_lock
from cac_filings.report import Reporter

if TYPE_CHECKING:
    from cac_filings.crawl import Refresh
    from cac_filings.sources import Source

EXIT_FETCH, EXIT_USAGE, EXIT_DATA, EXIT_BUSY = 1, 2, 3, 4

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Open, versioned data on the algorithm filings published by China's Cyberspace "
         "Administration (CAC).",
)

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Data folder (env CAC_FILINGS_DATA_DIR; default ./data).",
    show_default=False)]
WwwBase = Annotated[str | None, typer.Option(
    "--www-base", help="Base URL for www.cac.gov.cn (env CAC_WWW_BASE).", show_default=False)]
BeianBase = Annotated[str | None, typer.Option(
    "--beian-base", help="Base URL for beian.cac.gov.cn (env CAC_BEIAN_BASE).",
    show_default=False)]
Delay = Annotated[float | None, typer.Option(
    "--delay", help="Seconds between two requests to one host (env CAC_FILINGS_DELAY; "
                    "default 1).", show_default=False, min=0)]
SourceNames = Annotated[list[str] | None, typer.Option(
    "--source", help="Only this source (repeatable; see `cac-filings sources`).",
    show_default=False)]
RefreshAll = Annotated[bool, typer.Option(
    "--refresh-attachments", help="Download every attachment again, even when archived, and "
                                  "walk every column page: catches files CAC edited in place.")]
RefreshAge = Annotated[float | None, typer.Option(
    "--refresh-older-than", help="Download again the attachments last checked more than this "
                                 "many days ago.", show_default=False, min=0)]
Port = Annotated[int, typer.Option("--port", help="Port for Datasette.")]
Host = Annotated[str, typer.Option("--host", help="Interface for Datasette.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings, errors and the "
                                                           "summary.")]
Accept = Annotated[list[str] | None, typer.Option(
    "--accept", help="Publish although this release gate failed, after review (repeatable: "
                     "no_large_drop, no_table_emptied, known_categories, no_duplicate_in_batch,"
                     " pdf_rows_whole); recorded in manifest.json.", show_default=False)]
AcceptReason = Annotated[str | None, typer.Option(
    "--accept-reason", help="Why the failed gates were accepted (recorded with them).",
    show_default=False)]
MaxShrink = Annotated[float | None, typer.Option(
    "--max-shrink", help="Largest share of a list's filings a release may lose (env "
                         "CAC_FILINGS_MAX_SHRINK; default 0.2).", show_default=False, min=0,
    max=1)]


@dataclass
class RunRecord:
    """One line of DATA_DIR/runs.jsonl: what a run did, for monitoring scheduled runs."""

    command: str
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    status: str = "running"  # published | nothing-new | built | crawled | failed
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
    error: str | None = None


def _log_run(settings: Settings, record: RunRecord) -> None:
    record.finished_at = utc_now()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / "runs.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")


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
    if isinstance(exc, SourceConfigError):
        return EXIT_USAGE  # an unknown --source, a broken source.yml: fix the setup, not data
    return EXIT_DATA if isinstance(exc, (ExtractionError, InvariantError, ArchiveError)) \
        else EXIT_FETCH


@dataclass(frozen=True)
class Gates:
    accept: frozenset[str]
    reason: str | None
    max_shrink: float


def _gates(accept: list[str] | None, reason: str | None, max_shrink: float | None) -> Gates:
    from cac_filings.release import MAX_SHRINK

    if max_shrink is None:
        try:
            max_shrink = env_float("CAC_FILINGS_MAX_SHRINK", MAX_SHRINK)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--max-shrink") from None
        if not 0 <= max_shrink <= 1:
            raise typer.BadParameter(f"CAC_FILINGS_MAX_SHRINK={max_shrink:g} is not between 0 "
                                     "and 1", param_hint="--max-shrink")
    gates = frozenset(g.strip() for a in accept or () for g in a.split(",") if g.strip())
    if gates and not reason:
        raise typer.BadParameter("say why with --accept-reason", param_hint="--accept")
    return Gates(gates, reason, max_shrink)


def _fail(settings: Settings, reporter: Reporter, record: RunRecord,
          exc: CacFilingsError) -> typer.Exit:
    reporter.error(str(exc))
    record.status, record.exit_code, record.error = "failed", _exit_code(exc), str(exc)
    _log_run(settings, record)
    return typer.Exit(code=record.exit_code)


def _refresh(all_: bool, older_than: float | None) -> Refresh:
    from cac_filings.crawl import Refresh

    return Refresh(all=all_, older_than_days=older_than)


def _crawl(settings: Settings, reporter: Reporter, record: RunRecord, sources: list[Source],
           refresh: Refresh) -> None:
    from cac_filings.crawl import crawl

    reporter.info(f"crawling {len(sources)} source(s) from {settings.www_base} and "
                  f"{settings.beian_base} (delay {settings.delay:g}s)")
    result = crawl(settings, sources, reporter, refresh=refresh)
    stats = result.stats
    record.crawl_id, record.batches = result.crawl_id, result.batches
    record.downloaded, record.new_files = result.downloaded, result.new_files
    record.requests, record.not_modified = stats.requests, stats.not_modified
    record.retries = stats.retries
    reporter.info(f"crawl {result.crawl_id}: {result.batches} batches, "
                  f"{result.downloaded} downloaded, {result.new_files} new files, "
                  f"{stats.requests} requests ({stats.retries} retries, "
                  f"{stats.not_modified} not modified)")
    if not result.ok:
        raise CacFilingsError("crawl failed: " + " | ".join(result.errors))


def _nothing_new(settings: Settings, sources: list[Source]) -> str | None:
    """The published release's id when a build now would have the same inputs and code."""
    from cac_filings.archive import RawArchive
    from cac_filings.build import build_inputs
    from cac_filings.release import published_manifest

    published = published_manifest(settings)
    if published is None or published.get("code_version") != __version__:
        return None
    inputs = build_inputs(RawArchive(settings.raw_dir), sources)
    if inputs != published.get("inputs"):
        return None
    release_id: str = published["release_id"]
    return release_id


def _build(settings: Settings, reporter: Reporter, record: RunRecord, publish: bool,
           gates: Gates, sources: list[Source]) -> dict[str, int]:
    from cac_filings.release import Acceptance, build_release

    started = time.monotonic()
    result, release = build_release(settings, sources, publish=publish,
                                    acceptance=Acceptance(gates.accept, gates.reason),
                                    max_shrink=gates.max_shrink)
    for assertion in release.assertions:
        if assertion.accepted:
            reporter.warn(f"gate {assertion.name} failed and was accepted ({gates.reason}): "
                          f"{assertion.detail}")
    for warning in result.warnings:
        reporter.warn(warning)
    counts: dict[str, int] = release.manifest["row_counts"]
    record.release_id, record.changes = release.release_id, release.manifest["changes"]
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


@app.command()
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
) -> None:
    """Crawl every source, build a release, publish it and (by default) serve it. A run that
    finds nothing new builds nothing and says so in one line.

    Example: cac-filings run --www-base http://127.0.0.1:8765 --no-serve
    """
    settings = _settings(data_dir, www_base, beian_base, delay)
    gates = _gates(accept, accept_reason, max_shrink)
    reporter = Reporter(quiet=quiet)
    record = RunRecord("run")
    counts = None
    try:
        from cac_filings.sources import load_sources

        with data_dir_lock(settings.data_dir, "run"):
            everything = load_sources()  # the build reads every source's batches
            _crawl(settings, reporter, record,
                   load_sources(names=source) if source else everything,
                   _refresh(refresh_attachments, refresh_older_than))
            unchanged = None if gates.accept else _nothing_new(settings, everything)
            if unchanged is not None:
                record.status, record.release_id = "nothing-new", unchanged
                print(f"nothing new: {record.batches} batches unchanged since release "
                      f"{unchanged}; no release made", flush=True)
            else:
                counts = _build(settings, reporter, record, publish=True, gates=gates,
                                sources=everything)
    except CacFilingsError as exc:
        raise _fail(settings, reporter, record, exc) from None
    _log_run(settings, record)
    if not quiet or record.status != "nothing-new":
        _summary(settings, reporter, record, counts)
    if serve:
        _serve(settings, reporter, host, port)


@app.command()
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
    try:
        from cac_filings.sources import load_sources

        with data_dir_lock(settings.data_dir, "crawl"):
            _crawl(settings, reporter, record, load_sources(names=source),
                   _refresh(refresh_attachments, refresh_older_than))
    except CacFilingsError as exc:
        raise _fail(settings, reporter, record, exc) from None
    record.status = "crawled"
    _log_run(settings, record)
    _summary(settings, reporter, record)


@app.command()
def build(
    data_dir: DataDir = None,
    publish: Annotated[bool, typer.Option("--publish/--no-publish",
                                          help="Move `published` to the new release when "
                                               "every check passes.")] = True,
    quiet: Quiet = False,
    accept: Accept = None,
    accept_reason: AcceptReason = None,
    max_shrink: MaxShrink = None,
) -> None:
    """Rebuild a release offline from the raw archive, re-parsing every file.

    Example: cac-filings build --data-dir /srv/cac-filings --no-publish
    """
    settings = _settings(data_dir)
    gates = _gates(accept, accept_reason, max_shrink)
    reporter = Reporter(quiet=quiet)
    record = RunRecord("build")
    try:
        from cac_filings.sources import load_sources

        with data_dir_lock(settings.data_dir, "build"):
            counts = _build(settings, reporter, record, publish=publish, gates=gates,
                            sources=load_sources())
    except CacFilingsError as exc:
        raise _fail(settings, reporter, record, exc) from None
    _log_run(settings, record)
    _summary(settings, reporter, record, counts)


@app.command()
def diff(
    old: Annotated[str | None, typer.Argument(
        help="Release id (default: the one before NEW).", show_default=False)] = None,
    new: Annotated[str | None, typer.Argument(
        help="Release id (default: the published release).", show_default=False)] = None,
    data_dir: DataDir = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write every change to this JSON file ('-' for stdout).",
        show_default=False)] = None,
    csv_out: Annotated[Path | None, typer.Option(
        "--csv", help="Also write every change to this CSV file ('-' for stdout).",
        show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows to print per kind of change "
                                                       "(0: all).", min=0)] = 20,
) -> None:
    """Compare the filings of two releases: counts, then the changed rows.

    Example: cac-filings diff 20250701T060000Z 20250801T060000Z --csv changes.csv
    """
    from cac_filings.diff import count_changes, diff_releases

    settings = _settings(data_dir)
    reporter = Reporter()
    try:
        old_path, new_path = _release_pair(settings, old, new)
    except CacFilingsError as exc:
        reporter.error(str(exc))
        raise typer.Exit(code=2) from None
    changes = diff_releases(old_path, new_path)
    rows = [c.as_row(new_path.name) for c in changes]
    to_stdout = "-" in (str(json_out), str(csv_out))
    if not to_stdout:
        counts = count_changes(changes)
        print(f"{old_path.name} → {new_path.name}: "
              + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
        for kind in counts:
            shown = [c for c in changes if c.change == kind]
            for change in shown[:limit or None]:
                detail = ", ".join(f"{f}: {_short((change.before or {}).get(f))} → "
                                   f"{_short((change.after or {}).get(f))}"
                                   for f in change.fields)
                print(f"  {kind:<9} {change.list_kind:<15} {change.filing_number}  "
                      f"{change.name or ''} · {change.company or ''}"
                      + (f"  [{detail}]" if detail else ""))
            if limit and len(shown) > limit:
                print(f"  … {len(shown) - limit} more {kind}")
    if json_out is not None:
        text = json.dumps(rows, ensure_ascii=False, indent=1)
        _write_out(json_out, text + "\n")
    if csv_out is not None:
        _write_csv(csv_out, rows)


def _short(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


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


def _release_pair(settings: Settings, old: str | None, new: str | None) -> tuple[Path, Path]:
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
        if not earlier:
            raise CacFilingsError(f"no release before {new_path.name} to compare with")
        old_path = earlier[-1]
    else:
        old_path = settings.releases_dir / old
    for path in (old_path, new_path):
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


@app.command()
def serve(data_dir: DataDir = None, port: Port = 8001, host: Host = "127.0.0.1") -> None:
    """Serve the published release with Datasette.

    Example: cac-filings serve --port 8001, then open http://127.0.0.1:8001/
    """
    settings = _settings(data_dir)
    _serve(settings, Reporter(), host, port)


@app.command()
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
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Print the version.")] = False,
) -> None:
    del version


def main() -> None:
    # pdfminer logs every recovered oddity of a broken PDF at WARNING; the reader reports
    # what matters as errors naming the file.
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    app()


if __name__ == "__main__":
    main()
