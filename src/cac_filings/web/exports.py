"""Datasette's own CSV exports, made as safe for spreadsheets as the release's CSV files."""

from __future__ import annotations

import csv
import io

from cac_filings.store import csv_safe


def neutralise_csv(body: bytes) -> bytes:
    """Datasette's CSV export with formula-looking cells (=, +, -, @ first) prefixed by an
    apostrophe, so a spreadsheet shows them as text (see store.csv_safe)."""
    text = body.decode("utf-8", errors="replace")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv.reader(io.StringIO(text)):
        writer.writerow([csv_safe(cell) for cell in row])
    return out.getvalue().encode("utf-8")
