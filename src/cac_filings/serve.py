"""Serving the published release with Datasette, in this process.

The database is opened immutable (read-only, no locks); SQL has a time limit and results a
row limit; nothing served writes. When a new release is published, the next request is
answered from it: `cac-filings serve` never needs a restart (web.release.ReleaseWatcher).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from cac_filings.config import Settings
from cac_filings.errors import CacFilingsError
from cac_filings.schema import DB_FILE
from cac_filings.web.release import watch

DATASETTE_SETTINGS = {
    "sql_time_limit_ms": 3000,
    "max_returned_rows": 5000,
    "default_page_size": 50,
    "allow_download": True,
    "allow_csv_stream": True,
    "facet_time_limit_ms": 500,
    # Suggested facets run a query per column on every table page (0.3-0.7 s on the filings);
    # each table's useful facets are configured instead (metadata.py).
    "suggest_facets": False,
    "num_sql_threads": 3,
}


def published_release(settings: Settings) -> Path:
    if not (settings.published / DB_FILE).is_file():
        raise CacFilingsError(f"nothing is published in {settings.data_dir} yet: run "
                              "`cac-filings run` (or crawl + build) first")
    return settings.published.resolve()


def make_datasette(settings: Settings) -> Any:
    """A Datasette on the published release, kept on the newest one by the release watcher."""
    from datasette.app import Datasette

    published_release(settings)
    datasette = Datasette([], immutables=[], settings=DATASETTE_SETTINGS)
    watch(datasette, settings.published, settings.data_dir)
    if "_memory" in datasette.databases:
        datasette.remove_database("_memory")
    return datasette


def serve(settings: Settings, host: str, port: int) -> None:
    """Run Datasette on the published release until interrupted."""
    import uvicorn

    datasette = make_datasette(settings)
    # What is loaded by now (Datasette, its templates, the release's labels and metadata:
    # 280,000 objects) lives as long as the process: frozen, Python's full collections no
    # longer walk it (each took 55 ms of some request, one in about 25 at a million filings).
    gc.collect()
    gc.freeze()
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning")
