"""The `cac-filings` command: crawl → build → publish → serve.

Every command takes --data-dir (env CAC_FILINGS_DATA_DIR, default ./data). Exit status: 0 on
success, 1 when a stage failed (nothing new was published), 2 on a usage error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from cac_filings import __version__
from cac_filings.config import Settings, load_settings
from cac_filings.errors import CacFilingsError
from cac_filings.report import Reporter

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
Refresh = Annotated[bool, typer.Option(
    "--refresh-attachments", help="Download attachments again even when archived, to catch "
                                  "files CAC edited in place.")]
Port = Annotated[int, typer.Option("--port", help="Port for Datasette.")]
Host = Annotated[str, typer.Option("--host", help="Interface for Datasette.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings, errors and the "
                                                           "summary.")]


def _fail(reporter: Reporter, exc: Exception) -> typer.Exit:
    reporter.error(str(exc))
    return typer.Exit(code=1)


def _crawl(settings: Settings, reporter: Reporter, names: list[str] | None,
           refresh: bool) -> tuple[int, int, int]:
    from cac_filings.crawl import crawl
    from cac_filings.sources import load_sources

    sources = load_sources(names=names)
    reporter.info(f"crawling {len(sources)} source(s) from {settings.www_base} and "
                  f"{settings.beian_base} (delay {settings.delay:g}s)")
    result = crawl(settings, sources, reporter, refresh_attachments=refresh)
    reporter.info(f"crawl {result.crawl_id}: {result.batches} batches, "
                  f"{result.downloaded} downloaded, {result.new_files} new files, "
                  f"{result.stats.requests} requests ({result.stats.retries} retries, "
                  f"{result.stats.not_modified} not modified)")
    if not result.ok:
        raise CacFilingsError("crawl failed: " + " | ".join(result.errors))
    return result.batches, result.new_files, result.stats.requests


def _build(settings: Settings, reporter: Reporter, publish: bool) -> tuple[str, dict[str, int],
                                                                           bool]:
    from cac_filings.release import build_release
    from cac_filings.sources import load_sources

    started = time.monotonic()
    result, release = build_release(settings, load_sources(), publish=publish)
    for warning in result.warnings:
        reporter.warn(warning)
    counts = release.manifest["row_counts"]
    reporter.info(f"built release {release.release_id} in {time.monotonic() - started:.2f}s: "
                  + ", ".join(f"{n} {t}" for t, n in counts.items()))
    return release.release_id, counts, release.published


def _summary(settings: Settings, reporter: Reporter, *, batches: int | None = None,
             new_files: int | None = None, requests: int | None = None,
             release_id: str | None = None, counts: dict[str, int] | None = None,
             published: bool = False) -> None:
    lines = ["", "cac-filings summary"]
    if batches is not None:
        lines.append(f"  batches found      {batches}")
        lines.append(f"  new files          {new_files}")
        lines.append(f"  requests           {requests}")
    if counts:
        lines.append("  rows               " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    if release_id:
        where = settings.releases_dir / release_id
        lines.append(f"  release            {release_id}" + (" (published)" if published
                                                               else " (not published)"))
        lines.append(f"  data               {where}")
        lines.append(f"  published          {settings.published} -> releases/{release_id}"
                     if published else f"  published          {settings.published} (unchanged)")
        lines.append(f"  files              {where}/*.parquet, {where}/cac_filings.db, "
                     "manifest.json, DATA-DICTIONARY.md")
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
    refresh_attachments: Refresh = False,
    serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                        help="Serve the published release with Datasette "
                                             "afterwards.")] = True,
    port: Port = 8001,
    host: Host = "127.0.0.1",
    quiet: Quiet = False,
) -> None:
    """Crawl every source, build a release, publish it and (by default) serve it.

    Example: cac-filings run --www-base http://127.0.0.1:8765 --no-serve
    """
    settings = load_settings(data_dir, www_base, beian_base, delay)
    reporter = Reporter(quiet=quiet)
    try:
        batches, new_files, requests = _crawl(settings, reporter, source, refresh_attachments)
        release_id, counts, published = _build(settings, reporter, publish=True)
    except CacFilingsError as exc:
        raise _fail(reporter, exc) from None
    _summary(settings, reporter, batches=batches, new_files=new_files, requests=requests,
             release_id=release_id, counts=counts, published=published)
    if serve:
        _serve(settings, reporter, host, port)


@app.command()
def crawl(
    data_dir: DataDir = None,
    www_base: WwwBase = None,
    beian_base: BeianBase = None,
    delay: Delay = None,
    source: SourceNames = None,
    refresh_attachments: Refresh = False,
    quiet: Quiet = False,
) -> None:
    """Discover batches and download their files into the raw archive; build nothing.

    Example: cac-filings crawl --source cn_cac_deep_synthesis --delay 2
    """
    settings = load_settings(data_dir, www_base, beian_base, delay)
    reporter = Reporter(quiet=quiet)
    try:
        batches, new_files, requests = _crawl(settings, reporter, source, refresh_attachments)
    except CacFilingsError as exc:
        raise _fail(reporter, exc) from None
    _summary(settings, reporter, batches=batches, new_files=new_files, requests=requests)


@app.command()
def build(
    data_dir: DataDir = None,
    publish: Annotated[bool, typer.Option("--publish/--no-publish",
                                          help="Move `published` to the new release when "
                                               "every check passes.")] = True,
    quiet: Quiet = False,
) -> None:
    """Rebuild a release offline from the raw archive, re-parsing every file.

    Example: cac-filings build --data-dir /srv/cac-filings --no-publish
    """
    settings = load_settings(data_dir)
    reporter = Reporter(quiet=quiet)
    try:
        release_id, counts, published = _build(settings, reporter, publish=publish)
    except CacFilingsError as exc:
        raise _fail(reporter, exc) from None
    _summary(settings, reporter, release_id=release_id, counts=counts, published=published)


def _serve(settings: Settings, reporter: Reporter, host: str, port: int) -> None:
    from cac_filings.serve import published_release
    from cac_filings.serve import serve as serve_release

    try:
        release = published_release(settings)
    except CacFilingsError as exc:
        raise _fail(reporter, exc) from None
    reporter.info(f"serving {release.name} at http://{host}:{port}/ (Ctrl-C to stop)")
    code = serve_release(settings, host, port)
    if code:
        raise typer.Exit(code=code)


@app.command()
def serve(data_dir: DataDir = None, port: Port = 8001, host: Host = "127.0.0.1") -> None:
    """Serve the published release with Datasette.

    Example: cac-filings serve --port 8001, then open http://127.0.0.1:8001/
    """
    settings = load_settings(data_dir)
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
    app()


if __name__ == "__main__":
    main()
