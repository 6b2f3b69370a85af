"""One batch (one attachment CAC published, in one version) on one page: where and when CAC
published it, what it added, re-listed, changed or cancelled, and its rows in file order."""

from __future__ import annotations

from typing import Any

from cac_filings.web.db import Reader, Row, json_list, read
from cac_filings.web.latest import BATCH_COLUMNS, summarise_batch
from cac_filings.web.release import Release

MAX_ROWS = 2000  # a batch file holds a few hundred rows; the rest are in the listings table


def batch_details(reader: Reader, release: Release, batch_id: str, version: int | None
                  ) -> Row | None:
    versions = reader.rows(f"select {BATCH_COLUMNS}, file_sha256, file_size, fetched_at "
                           "from batches where batch_id = ? order by version", [batch_id])
    if not versions:
        return None
    chosen = next((v for v in versions if v["version"] == version), None) if version else (
        next((v for v in versions if v["is_current"]), versions[-1]))
    if chosen is None:
        return None
    # Rows of a cancellation notice name numbers of other lists: their filing pages are
    # found through the cancellations table.
    rows = reader.rows(
        "select l.row_number, l.serial, l.list_kind, l.filing_number, l.name, l.company, "
        "l.category, l.role, l.province, l.remarks, f.first_batch_id, f.status, "
        "(select x.list_kinds from cancellations x where x.filing_number = l.filing_number "
        " limit 1) as cancelled_in from listings l left join filings f on "
        "f.list_kind = l.list_kind and f.filing_number = l.filing_number "
        "where l.batch_id = ? and l.version = ? order by l.row_number limit ?",
        [batch_id, chosen["version"], MAX_ROWS])
    cancels = set(release.cancellation_kinds)
    for r in rows:
        kinds = [r["list_kind"]] if r["list_kind"] not in cancels else [
            str(k) for k in json_list(r["cancelled_in"])]
        r["filing_kind"] = kinds[0] if kinds and r["filing_number"] else None
    return {"batch": chosen, "versions": versions, "rows": rows,
            "lists": summarise_batch(reader, release, chosen),
            "cancels": chosen["list_kind"] in cancels,
            "truncated": len(rows) == MAX_ROWS}


async def batch(datasette: Any, release: Release, batch_id: str, version: int | None
                ) -> Row | None:
    return await read(datasette, lambda reader: batch_details(reader, release, batch_id,
                                                              version))
