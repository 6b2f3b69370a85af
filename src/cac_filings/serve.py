"""Serving the published release with Datasette."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cac_filings.config import Settings
from cac_filings.errors import CacFilingsError
from cac_filings.release import DB_NAME


def datasette_command(release: Path, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "datasette", "serve",
        "--immutable", str(release / DB_NAME),
        "--metadata", str(release / "metadata.json"),
        "--host", host, "--port", str(port),
        "--setting", "sql_time_limit_ms", "3000",
        "--setting", "max_returned_rows", "5000",
        "--setting", "default_page_size", "50",
        "--setting", "allow_download", "on",
    ]


def published_release(settings: Settings) -> Path:
    if not (settings.published / DB_NAME).is_file():
        raise CacFilingsError(f"nothing is published in {settings.data_dir} yet: run "
                              "`cac-filings run` (or crawl + build) first")
    return settings.published.resolve()


def serve(settings: Settings, host: str, port: int) -> int:
    """Run Datasette on the published release until interrupted; returns its exit code."""
    release = published_release(settings)
    process = subprocess.Popen(datasette_command(release, host, port))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=10)
        return 0
