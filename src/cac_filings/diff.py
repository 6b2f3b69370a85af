"""Diffs between releases, git-history style: a stable key per filing — (list_kind,
filing_number) — and its tracked columns give added / removed / modified / cancelled.

Columns that say where and when a number was listed (first/last batch, source URL) are not
compared: a number re-listed in a later batch is not "modified" unless what the list says
about it changed.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cac_filings.schema import FILINGS, json_text
from cac_filings.store import load_rows

Row = dict[str, Any]
KEY = FILINGS.primary_key  # ("list_kind", "filing_number")
TRACKED: tuple[str, ...] = tuple(c.name for c in FILINGS.columns
                                 if c.tracked and c.name not in KEY)
CHANGE_KINDS = ("added", "modified", "cancelled", "removed")


@dataclass(frozen=True)
class Change:
    list_kind: str
    filing_number: str
    change: str  # added | removed | modified | cancelled
    fields: tuple[str, ...]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    name: str | None
    company: str | None

    def as_row(self, release_id: str) -> Row:
        return {
            "release_id": release_id, "list_kind": self.list_kind,
            "filing_number": self.filing_number, "change": self.change,
            "fields": json_text(list(self.fields)),
            "before": None if self.before is None else json_text(self.before),
            "after": None if self.after is None else json_text(self.after),
            "name": self.name, "company": self.company,
        }


# Only a date column holds date objects (Parquet gives them; the build's rows hold ISO text).
_DATE_COLUMNS = tuple(c.name for c in FILINGS.columns if c.type == "date")


_TRACKED_VALUES = operator.itemgetter(*TRACKED)


def _values(row: Row) -> dict[str, Any]:
    """The tracked columns of a filing (null where a release made before a column existed
    has none), dates as ISO text."""
    try:
        values = dict(zip(TRACKED, _TRACKED_VALUES(row), strict=True))
    except KeyError:
        values = dict(zip(TRACKED, map(row.get, TRACKED), strict=True))
    for column in _DATE_COLUMNS:
        value = values.get(column)
        if isinstance(value, dt.date):
            values[column] = value.isoformat()
    return values


def diff_filings(old: list[Row], new: list[Row]) -> list[Change]:
    """What changed from `old` to `new` filings rows, ordered by list kind and number."""
    key_of = operator.itemgetter(*KEY)
    before = {key_of(r): r for r in old}
    after = {key_of(r): r for r in new}
    changes: list[Change] = []
    for key in sorted(before.keys() | after.keys() if before else after):
        o, n = before.get(key), after.get(key)
        kind_key, number = key[0], key[1]
        if o is None:
            assert n is not None
            changes.append(Change(kind_key, number, "added", (), None, _values(n),
                                  n["name"], n["company"]))
        elif n is None:
            changes.append(Change(kind_key, number, "removed", (), _values(o), None,
                                  o["name"], o["company"]))
        else:
            # .get: a release made before a column existed has none (null, as now for most).
            was, now = _values(o), _values(n)
            if was == now:
                continue
            fields = tuple(c for c in TRACKED if was[c] != now[c])
            kind = ("cancelled" if o["status"] != "cancelled" and n["status"] == "cancelled"
                    else "modified")
            changes.append(Change(kind_key, number, kind, fields,
                                  {c: was[c] for c in fields}, {c: now[c] for c in fields},
                                  n["name"], n["company"]))
    return changes


def count_changes(changes: list[Change]) -> dict[str, int]:
    counts = Counter(c.change for c in changes)
    return {kind: counts.get(kind, 0) for kind in CHANGE_KINDS}


def diff_releases(old: Path, new: Path) -> list[Change]:
    """Compare the filings of two release folders."""
    return diff_filings(load_rows(old, FILINGS), load_rows(new, FILINGS))
