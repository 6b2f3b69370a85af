"""CAC's own totals, and this release beside them.

CAC states totals about its generative-AI lists in its announcements (the annual summary of
2025-01-08: 截至2024年12月31日，共有302款生成式人工智能服务…完成备案，其中2024年新增备案238款；
…2024年共有105款…完成登记). The crawl records such pages as statements; here every stated
figure becomes an `official_counts` row (statements.parse_statement reads the sentences), and
each is computed again from this release's filings, the same way, into `reconciliation`:

- cumulative, as of day D: filings of the counted list whose 备案时间/登记时间 (`filed_on`) is
  on or before D; a filing without one counts by the day its first batch was published;
- new in year Y: those whose date falls in Y.

A difference is information for users (shown beside the figures and warned about), never a
reason to refuse a release. A statement whose sentences cannot be read is a problem to report.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from cac_filings.archive import RawArchive
from cac_filings.errors import ArchiveError, PageLayoutError
from cac_filings.schema import json_text
from cac_filings.site import parse_article
from cac_filings.sources import Source
from cac_filings.statements import CUMULATIVE, NEW_IN_YEAR, parse_statement

Row = dict[str, Any]


@dataclass
class StatementProblem:
    url: str
    reason: str


def official_counts(statements: list[dict[str, Any]], archive: RawArchive,
                    sources: list[Source]) -> tuple[list[Row], list[StatementProblem]]:
    """One row per figure the statement pages state (only those whose `counted` the
    source maps to a list kind), and what could not be read."""
    mapping = {s.spec.name: s.spec.statements for s in sources}
    rows: dict[tuple[Any, ...], Row] = {}
    problems: list[StatementProblem] = []
    for page in sorted(statements, key=lambda p: (p.get("published_on") or "", p["url"])):
        try:
            html = archive.get(page["sha256"]).decode("utf-8", errors="replace")
            article = parse_article(html, page["url"])
        except (ArchiveError, PageLayoutError) as exc:
            problems.append(StatementProblem(page["url"], str(exc)))
            continue
        parsed = parse_statement(article.text, article.published_on)
        for sentence in parsed.unparsed:
            problems.append(StatementProblem(page["url"], f"a sentence that seems to state a "
                                                          f"total could not be read: "
                                                          f"{sentence[:200]}"))
        kinds = mapping.get(page["source"], {})
        for count in parsed.counts:
            if count.counted not in kinds:
                continue
            row = {"statement_url": page["url"], "statement_title": article.title,
                   "statement_date": article.published_on, "as_of": count.as_of,
                   "year": count.year, "list_kind": kinds[count.counted],
                   "counted": count.counted, "measure": count.measure,
                   "subject": count.subject or None, "official": count.figure,
                   "sentence": count.sentence}
            rows.setdefault((row["statement_url"], row["counted"], row["measure"],
                             row["as_of"], row["year"]), row)
    return [rows[k] for k in sorted(rows, key=lambda k: tuple(str(x) for x in k))], problems


def _day(filing: Row, published: dict[str, str | None]) -> str | None:
    """The day a filing counts from: its 备案时间/登记时间, else its first batch's date."""
    return filing.get("filed_on") or published.get(filing["first_batch_id"])


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def _window(count: Row) -> tuple[str, str] | None:
    """The days a figure counts, as ISO strings (first, last); None when it names none."""
    if count["measure"] == CUMULATIVE and count["as_of"]:
        return "0000-01-01", str(count["as_of"])
    if count["measure"] == NEW_IN_YEAR and count["year"]:
        year = int(count["year"])
        last = str(count["as_of"]) if count["as_of"] and str(count["as_of"])[:4] == str(
            year) else f"{year}-12-31"
        return f"{year}-01-01", last
    return None


def reconcile(counts: list[Row], filings: list[Row], batches: list[Row]) -> list[Row]:
    """Each official figure beside ours."""
    published = {b["batch_id"]: b["published_on"] for b in batches if b["is_current"]}
    present = {f["list_kind"] for f in filings}
    out = []
    for count in counts:
        kind, window = count["list_kind"], _window(count)
        contributing: Counter[str] = Counter()
        ours: int | None = None
        method = "this kind of figure is not computed (no as-of day or year)"
        if window is not None:
            first, last = window
            method = (f"{kind} filings whose filed_on (else their first batch's published_on) "
                      f"is from {first} to {last}" if first > "0000-01-01" else
                      f"{kind} filings whose filed_on (else their first batch's published_on) "
                      f"is on or before {last}")
            if kind in present:
                for filing in filings:
                    day = _day(filing, published) if filing["list_kind"] == kind else None
                    if day is not None and _ISO.fullmatch(str(day)) and first <= str(day) <= last:
                        contributing[filing["first_batch_id"]] += 1
                ours = sum(contributing.values())
        status = ("not_comparable" if ours is None
                  else "agrees" if ours == count["official"] else "differs")
        out.append({
            **{k: count[k] for k in ("statement_url", "statement_date", "as_of", "year",
                                     "list_kind", "counted", "measure", "official",
                                     "sentence")},
            "ours": ours, "difference": None if ours is None else ours - count["official"],
            "status": status, "method": method,
            "batches": json_text(dict(sorted(contributing.items()))) if ours is not None
            else None,
        })
    return out


def reconciliation_warnings(rows: list[Row]) -> list[str]:
    return [f"reconciliation: CAC states {r['official']} ({r['counted']}, {r['measure']}, "
            f"{r['as_of'] or r['year']}) where this release counts {r['ours']} "
            f"(difference {r['difference']:+d}; {r['statement_url']})"
            for r in rows if r["status"] == "differs"]
