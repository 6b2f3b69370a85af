"""Is the tracker healthy, and does the data agree with CAC's own totals? /-/status (and
/-/status.json, for monitors) shows status.tracker_status; /-/reconciliation shows every total
CAC states beside the same figure counted from this release. A difference is a warning for
readers (CAC's totals and its lists are published separately), not an error."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cac_filings.status import tracker_status
from cac_filings.web.db import Reader, Row, json_value, read
from cac_filings.web.release import Release, watcher_of

STATUS_SECONDS = 15.0  # the status reads every crawl record: answered from memory meanwhile
_STATUS: dict[tuple[str, str], tuple[float, Row]] = {}


async def status(datasette: Any, release: Release) -> Row:
    watcher = watcher_of(datasette)
    # releases/<id> is in the data folder (DATA-CONTRACT.md) when no watcher says where.
    data_dir = watcher.data_dir if watcher else release.path.parent.parent
    key = (str(data_dir), str(release.path))
    held = _STATUS.get(key)
    if held is not None and time.monotonic() - held[0] < STATUS_SECONDS:
        return held[1]
    found = await asyncio.to_thread(tracker_status, data_dir, release.path)
    _STATUS.clear()
    _STATUS[key] = (time.monotonic(), found)
    return found


def reconciliation_rows(reader: Reader) -> list[Row]:
    if not reader.has_table("reconciliation"):
        return []
    rows = reader.rows("select * from reconciliation order by statement_date desc, as_of desc, "
                       "list_kind, counted, measure")
    for r in rows:
        batches = json_value(r["batches"])
        r["batches"] = sorted(batches.items()) if isinstance(batches, dict) else []
    return rows


async def reconciliation(datasette: Any, release: Release) -> list[Row]:
    async def compute() -> list[Row]:
        return await read(datasette, reconciliation_rows)
    return await release.cached("reconciliation", compute)
