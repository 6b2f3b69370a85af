"""Derived tables: filings, products, companies and cancellations, from the listing rows of
the current version of every batch.

A filing is one (list_kind, filing_number) of an approvals list; its fields are those of the
latest row listing it. A cancellations list (a notice) names numbers: they become the
`cancellations` table and the status of the filings they name.
"""

from __future__ import annotations

import itertools
import operator
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import orjson

from cac_filings.kinds import Registry
from cac_filings.normalize import is_cancelled_remark, parse_former_names
from cac_filings.pinyin import to_pinyin
from cac_filings.schema import COMPANIES, FILINGS
from cac_filings.schema import json_text as _json
from cac_filings.search import search_text

Row = dict[str, Any]


def _batch_order(batch: Row) -> tuple[str, str, str]:
    return (batch["period"], batch["published_on"] or "", batch["batch_id"])


def current_notices(listings: list[Row], batches: dict[tuple[str, int], Row],
                    kinds: Registry) -> list[tuple[Row, Row]]:
    """(row, batch) for every row of the current version of a cancellation notice."""
    approvals = _approval_kinds(kinds)
    out = []
    for row in listings:
        if row["list_kind"] in approvals:
            continue
        batch = batches[(row["batch_id"], row["version"])]
        if batch["is_current"]:
            out.append((row, batch))
    return out


def _approval_kinds(kinds: Registry) -> frozenset[str]:
    """The list kinds whose rows are filings (Registry.is_approvals, as one set)."""
    return frozenset(k.key for k in kinds.approvals)


def _current_approvals(listings: list[Row], batches: dict[tuple[str, int], Row],
                       kinds: Registry) -> Iterator[tuple[Row, Row]]:
    """(row, batch) for every row of the current version of an approvals list."""
    approvals = _approval_kinds(kinds)
    for row in listings:
        if row["list_kind"] in approvals:
            batch = batches[(row["batch_id"], row["version"])]
            if batch["is_current"]:
                yield row, batch


def cancellation_dates(notices: list[tuple[Row, Row]]) -> dict[str, str | None]:
    """filing number → date of the first notice naming it (None when no notice's is known)."""
    found: dict[str, str | None] = {}
    for row, batch in notices:
        number, day = row["filing_number"], batch["published_on"]
        known = found.get(number)
        if number not in found or (day is not None and (known is None or day < known)):
            found[number] = day
    return found


def derive_filings(listings: list[Row], batches: dict[tuple[str, int], Row],
                   cancelled: dict[str, str | None], kinds: Registry) -> list[Row]:
    """One row per (list_kind, filing_number) from the current version of every batch.

    A number named in a cancellation notice is cancelled from the notice's date; a 已注销 in
    the list's own 备注 also means cancelled. Where the two disagree, the filing is flagged
    (cancellation_not_in_notices / cancellation_not_in_list). A number listed again under
    another company, with no 备注 saying the company was renamed, is flagged
    company_changed: a number identifies one filing of one company."""
    occurrences: dict[tuple[str, str], list[tuple[tuple[str, str, str], int, Row, Row]]] = \
        defaultdict(list)
    order: dict[int, tuple[str, str, str]] = {}  # id(batch) → _batch_order(batch)
    for row, batch in _current_approvals(listings, batches, kinds):
        if not row["filing_number"]:
            continue  # no number: nothing to key a filing on; the row stays in listings
        at = order.get(id(batch))
        if at is None:
            at = order[id(batch)] = _batch_order(batch)
        occurrences[(row["list_kind"], row["filing_number"])].append(
            (at, row["row_number"], row, batch))
    columns = operator.itemgetter(*_FILING_COLUMNS)
    filings: list[Row] = []
    for key in sorted(occurrences):
        found = occurrences[key]
        if len(found) > 1:
            found.sort(key=lambda o: (o[0], o[1]))
        _, _, first_row, first_batch = found[0]
        _, _, last_row, last_batch = found[-1]
        flags = list(last_row["_flags"])
        if len(found) > 1:
            per_batch = Counter(o[2]["batch_id"] for o in found)
            if any(n > 1 for n in per_batch.values()):
                flags.append("duplicate_in_batch")
            if company_changed([o[2] for o in found]):
                flags.append("company_changed")
        filing = dict(zip(_FILING_COLUMNS, columns(last_row), strict=True))
        filing["_fts"] = last_row["_fts"]
        by_remark = is_cancelled_remark(last_row["remarks"])
        by_notice = key[1] in cancelled
        if by_remark and not by_notice:
            flags.append("cancellation_not_in_notices")
        elif by_notice and not by_remark:
            flags.append("cancellation_not_in_list")
        if flags:  # most filings have none
            flags = sorted(set(flags))
        filing["_flags"] = flags
        filing["quality_flags"] = _json(flags) if flags else "[]"
        filing["status"] = "cancelled" if by_remark or by_notice else "active"
        filing["cancelled_on"] = cancelled.get(key[1])
        filing["first_batch_id"] = first_row["batch_id"]
        filing["last_batch_id"] = last_row["batch_id"]
        filing["first_published_on"] = first_batch["published_on"]
        filing["source_url"] = last_batch["attachment_url"]
        filings.append(filing)
    return filings


def company_changed(rows: list[Row]) -> bool:
    """Whether the rows listing one number (in listing order) name different companies
    without a 备注 saying the company was renamed (原主体名称“X”变更为“Y”)."""
    companies = [r["company"] for r in rows if r["company"]]
    if len(set(companies)) < 2:
        return False
    renamed = {pair for r in rows for pair in parse_former_names(r["remarks"])}
    return any(a != b and (a, b) not in renamed for a, b in itertools.pairwise(companies))


_COMPANY_AT = FILINGS.fts.index("company")

_FILING_COLUMNS = [c.name for c in FILINGS.columns if c.name not in {
    "status", "cancelled_on", "first_batch_id", "last_batch_id", "first_published_on",
    "source_url"}]


def derive_cancellations(notices: list[tuple[Row, Row]], filings: list[Row]) -> list[Row]:
    """One row per number named in a current cancellation notice, joined to its filings."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for filing in filings:
        kinds[filing["filing_number"]].add(filing["list_kind"])
    rows: dict[tuple[str, str], Row] = {}
    for row, batch in notices:
        notice_id = batch["batch_id"].split("/", 1)[1]
        rows[(notice_id, row["filing_number"])] = {
            "notice_id": notice_id, "notice_title": batch["title"],
            "notice_date": batch["published_on"], "filing_number": row["filing_number"],
            "name": row["name"], "company": row["company"],
            "cancelled_month": row.get("_cancelled_month"),
            "_pinyin": row.get("_pinyin"),
            "list_kinds": _json(sorted(kinds.get(row["filing_number"], ()))),
            "source_url": batch["attachment_url"],
        }
    return [rows[k] for k in sorted(rows)]


def derive_products(filings: list[Row]) -> list[Row]:
    """One row per product of each filing (its products column, JSON)."""
    rows: list[Row] = []
    for filing in filings:
        if not filing["products"] or filing["products"] == "[]":
            continue
        for product in orjson.loads(filing["products"]):
            rows.append({"filing_number": filing["filing_number"],
                         "list_kind": filing["list_kind"],
                         "product_name": product["name"], "product_type": product.get("type")})
    return rows


def derive_companies(filings: list[Row], listings: list[Row],
                     batches: dict[tuple[str, int], Row], kinds: Registry) -> list[Row]:
    by_company: dict[str, list[Row]] = defaultdict(list)
    for filing in filings:
        if filing["company"]:
            by_company[filing["company"]].append(filing)
    published: dict[str, list[str]] = defaultdict(list)
    former: dict[str, set[str]] = defaultdict(set)
    pinyin: dict[str, str] = {}
    for row, batch in _current_approvals(listings, batches, kinds):
        company = row["company"]
        if company:
            pinyin[company] = row["_pinyin"]
            if batch["published_on"]:
                published[company].append(batch["published_on"])
        if row["remarks"]:
            for old, new in parse_former_names(row["remarks"]):
                if old != new:
                    former[new].add(old)
    companies: list[Row] = []
    for company in sorted(by_company):
        own = by_company[company]
        if len(own) == 1:  # most companies: one filing, its province
            province = own[0]["province"] or None
        else:  # the most frequent, the first by name of those as frequent
            provinces = Counter(f["province"] for f in own if f["province"])
            province = sorted(provinces.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] \
                if provinces else None
        dates = published.get(company, [])
        former_names = _json(sorted(former.get(company, ())))
        reading = pinyin.get(company) or to_pinyin(company)
        search = {  # companies_fts's text (search.fts_texts), the company's from its filing's
            "company": own[0]["_fts"][_COMPANY_AT] if "_fts" in own[0]
            else search_text(company, "text"),
            "former_names": search_text(former_names, "json"),
            "pinyin": search_text(reading, "text")}
        companies.append({
            "company": company,
            "province": province,
            "entity_codes": _json(sorted({f["entity_code"] for f in own if f["entity_code"]})),
            "n_filings": len(own),
            "list_kinds": _json(sorted({f["list_kind"] for f in own})),
            "first_published_on": min(dates) if dates else None,
            "last_published_on": max(dates) if dates else None,
            "former_names": former_names,
            "pinyin": reading,
            "_fts": tuple(search[c] for c in COMPANIES.fts),
        })
    return companies


