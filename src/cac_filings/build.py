"""The build stage: raw archive → the published tables, offline and deterministically.

Inputs are the crawl records and archived files only. For every source the latest successful
crawl says which batches the site lists now; every file version ever archived for those
batches becomes a `batches` row and its rows become `listings`. `filings`, `products` and
`companies` are derived from the current version of each batch.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cac_filings.archive import RawArchive
from cac_filings.documents import RawTable, extract_tables
from cac_filings.errors import ArchiveError, ExtractionError
from cac_filings.normalize import (
    NormalizationError,
    Product,
    clean_text,
    is_cancelled_remark,
    looks_like_company,
    normalize_company,
    normalize_filing_number,
    normalize_genai_number,
    normalize_role,
    normalize_serial,
    parse_filed_on,
    parse_former_names,
    parse_month,
    parse_products,
    role_or_category,
)
from cac_filings.pinyin import to_pinyin
from cac_filings.schema import FILINGS
from cac_filings.schema import json_text as _json
from cac_filings.search import fts_texts
from cac_filings.sources import Source, SourceSpec, TableSpec

Row = dict[str, Any]


@dataclass
class BatchVersion:
    entry: dict[str, Any]  # the crawl record entry (a BatchRef plus file facts)
    version: int
    sha256: str
    file_format: str
    file_size: int
    fetched_at: str
    is_current: bool
    published_on: str | None
    published_on_precision: str | None

    @property
    def batch_id(self) -> str:
        return str(self.entry["batch_id"])

    @property
    def label(self) -> str:
        """How errors name this file."""
        return (f"{self.entry['title']} [{self.batch_id} v{self.version}, "
                f"sha256 {self.sha256[:12]}, {self.entry['attachment_url']}]")


@dataclass
class BatchCheck:
    """Row accounting for one file, checked before a release is published."""

    batch_id: str
    version: int
    tables: int
    # Rows accounted for as header, data, repeated header, blank or merged (RawTable).
    physical_rows: int
    data_rows: int
    # Rows the file holds, counted by the reader apart from their assembly (RawTable).
    source_rows: int = 0
    # Tables whose printed 序号 do not cover their own range once each (a row lost, split or
    # duplicated). From a PDF this fails the release; from Word it is a warning.
    serial_problems: list[str] = field(default_factory=list)
    pdf_serial_problems: list[str] = field(default_factory=list)


@dataclass
class BuildResult:
    tables: dict[str, list[Row]]
    inputs: list[dict[str, Any]]
    checks: list[BatchCheck]
    crawl_ids: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per build phase

    def count(self, table: str) -> int:
        return len(self.tables[table])


# ---------------------------------------------------------------- which files

def select_batches(archive: RawArchive, sources: list[Source]) -> tuple[list[BatchVersion],
                                                                         dict[str, str]]:
    """Every archived version of the batches that each source's latest good crawl lists."""
    records = archive.crawls()
    names = {s.spec.name for s in sources}
    latest_ok: dict[str, dict[str, Any]] = {}
    first_ok: dict[str, str] = {}
    # batch_id → (crawl_id, started_at) of the first crawl listing it
    first_seen: dict[str, tuple[str, str]] = {}
    history: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # batch → sha → entry
    for record in records:
        for name, crawled in record.get("sources", {}).items():
            if name not in names:
                continue
            for entry in crawled.get("batches", []):
                first_seen.setdefault(entry["batch_id"],
                                      (record["crawl_id"], record["started_at"]))
                versions = history[entry["batch_id"]]
                known = versions.get(entry["file_sha256"])
                if known is None or entry["fetched_at"] < known["fetched_at"]:
                    versions[entry["file_sha256"]] = entry
            if crawled.get("status") == "ok":
                latest_ok[name] = record | {"entries": crawled["batches"]}
                first_ok.setdefault(name, record["crawl_id"])
    if not latest_ok:
        raise ArchiveError(f"no successful crawl in {archive.root}: run `cac-filings crawl` "
                           "first")

    selected: list[BatchVersion] = []
    crawl_ids: dict[str, str] = {}
    for name in sorted(latest_ok):
        record = latest_ok[name]
        crawl_ids[name] = record["crawl_id"]
        for current in record["entries"]:
            batch_id = current["batch_id"]
            ordered = sorted(history[batch_id].values(),
                             key=lambda e: (e["fetched_at"], e["file_sha256"]))
            published_on = current.get("published_on")
            precision = current.get("published_on_precision")
            seen_in, seen_at = first_seen[batch_id]
            if published_on is None and seen_in > first_ok[name]:
                # Added to an in-place page after cac-filings started watching it: it
                # appeared between the previous check and this date.
                published_on, precision = seen_at[:10], "observed"
            for number, entry in enumerate(ordered, start=1):
                selected.append(BatchVersion(
                    entry=current,
                    version=number,
                    sha256=entry["file_sha256"],
                    file_format=entry["file_format"],
                    file_size=entry["file_size"],
                    fetched_at=entry["fetched_at"],
                    is_current=entry["file_sha256"] == current["file_sha256"],
                    published_on=published_on,
                    published_on_precision=precision,
                ))
    return selected, crawl_ids


# ---------------------------------------------------------------- rows of one file

def match_table(table: RawTable, spec: SourceSpec, label: str) -> TableSpec:
    """The TableSpec whose columns name every header of `table`; else an error naming them."""
    best: tuple[int, TableSpec, list[str]] | None = None
    for tspec in spec.tables:
        fields = [tspec.field_for(h) for h in table.header]
        unknown = [h for h, f in zip(table.header, fields, strict=True) if f is None]
        missing = [r for r in tspec.required if r not in fields]
        if not unknown and not missing:
            duplicated = [f for f, n in Counter(fields).items() if n > 1]
            if duplicated:
                raise ExtractionError(label, f"table {table.index + 1}: two headers map to "
                                             f"{duplicated}: {table.header}")
            return tspec
        score = len(unknown) + len(missing)
        if best is None or score < best[0]:
            problems = [f"unknown header {h!r}" for h in unknown]
            problems += [f"no column for required field {m!r}" for m in missing]
            best = (score, tspec, problems)
    assert best is not None
    raise ExtractionError(label, f"table {table.index + 1} header {table.header}: "
                                 + "; ".join(best[2])
                                 + f" (known headers: {', '.join(best[1].columns)})")


GENAI_KINDS = ("genai_filing", "genai_registration")
# Rows of notices (not lists of approvals): in listings, never filings.
NOTICE_KINDS = ("cancellation",)


def normalize_fields(cells: dict[str, str], list_kind: str, spec: SourceSpec) -> Row:
    """The filing fields of one row (the columns shared by listings and filings)."""
    if list_kind in GENAI_KINDS:
        row = _genai_fields(cells, list_kind)
    else:
        row = _suanbei_fields(cells, list_kind, spec)
    company = row["company"]
    row["_pinyin"] = to_pinyin(company) if company else None
    # Search text of the filings_fts columns, computed here (in the worker processes).
    row["_fts"] = fts_texts(FILINGS, row)
    return row


def _row(flags: list[str], products: list[Product], **fields: Any) -> Row:
    if fields["company"] is None:
        flags.append("company_missing")
    return {
        "role": None, "category": None, "purpose": None, "region_code": None,
        "entity_code": None, "category_code": None, "filing_year": None, "number_parts": None,
        "filed_on": None, "remarks": None, **fields,
        "products": _json([{"name": p.name, "type": p.type} for p in products]),
        "quality_flags": _json(flags),
        # Python values kept beside their JSON for the derived tables (not written out).
        "_flags": flags, "_products": products,
    }


def _suanbei_fields(cells: dict[str, str], list_kind: str, spec: SourceSpec) -> Row:
    """Rows of the algorithm and deep-synthesis lists and of cancellation notices."""
    number = normalize_filing_number(cells.get("filing_number", ""))
    flags = list(number.flags)
    category = clean_text(cells.get("category"))
    if list_kind in NOTICE_KINDS:
        role, noticed_category, role_flags = role_or_category(cells.get("role"),
                                                              spec.categories)
        category = category or noticed_category
        flags += role_flags
    else:
        role = normalize_role(cells.get("role"))
    if category is not None and spec.categories and category not in spec.categories:
        flags.append("unknown_category")
    row = _row(
        flags, parse_products(cells.get("products")),
        filing_number=number.canonical, list_kind=list_kind, name=clean_text(cells.get("name")),
        role=role, category=category, company=normalize_company(cells.get("company")),
        purpose=clean_text(cells.get("purpose")), province=number.province,
        region_code=number.region_code, entity_code=number.entity_code,
        category_code=number.category_code, filing_year=number.year,
        number_valid=number.valid, remarks=clean_text(cells.get("remarks")))
    if list_kind in NOTICE_KINDS:
        row["_cancelled_month"] = parse_month(cells.get("cancelled_month"))
    return row


def _genai_fields(cells: dict[str, str], list_kind: str) -> Row:
    """Rows of the generative-AI lists, with the source's known errors detected and, where
    the evidence is unambiguous, corrected — every detection flagged."""
    flags: list[str] = []
    name, company = clean_text(cells.get("name")), cells.get("company")
    if looks_like_company(name) and not looks_like_company(company):
        # 2025年3月 rows 340–345: 大模型名称 and 备案单位 swapped.
        name, company = clean_text(company), name
        flags.append("name_company_swapped")
    number = normalize_genai_number(cells.get("filing_number", ""))
    flags += number.flags
    if list_kind == "genai_filing" and number.kind == "registration":
        # A 上线编号 (…S0001) in the 备案 table: a registration, by its own number.
        list_kind = "genai_registration"
        flags.append("registration_in_filing_table")
    elif list_kind == "genai_registration" and number.kind == "filing":
        flags.append("filing_number_in_registration_table")
    locality = clean_text(cells.get("locality"))
    province = locality
    if number.provinces is not None:
        if locality is None and len(number.provinces) == 1:
            province = next(iter(number.provinces))
        elif locality is not None and locality not in number.provinces:
            flags.append("province_token_mismatch")
    filed_on, remark = parse_filed_on(cells.get("filed_on"))
    if cells.get("filed_on", "").strip() and filed_on is None:
        flags.append("filed_on_unparsed")
    return _row(
        flags, [], filing_number=number.canonical, list_kind=list_kind, name=name,
        company=normalize_company(company), province=province,
        filing_year=int(number.date[:4]) if number.date else None,
        number_parts=_json(number.parts()), filed_on=filed_on, number_valid=number.valid,
        remarks=remark)


def listing_rows(batch: BatchVersion, tables: list[RawTable], spec: SourceSpec
                 ) -> tuple[list[Row], BatchCheck]:
    check = BatchCheck(batch.batch_id, batch.version, tables=0, physical_rows=0, data_rows=0)
    rows: list[Row] = []
    for table in tables:
        if not table.header and not table.rows:
            continue
        tspec = match_table(table, spec, batch.label)
        check.tables += 1
        check.physical_rows += table.physical_rows
        check.source_rows += table.source_rows
        check.data_rows += len(table.rows)
        fields = [tspec.field_for(h) or "" for h in table.header]
        problem = serial_problem(table, fields)
        if problem:
            where = f"table {table.index + 1} ({tspec.list_kind}): {problem}"
            (check.pdf_serial_problems if table.source_format == "pdf"
             else check.serial_problems).append(where)
        for raw_row in table.rows:
            if len(raw_row.cells) != len(table.header):
                raise ExtractionError(
                    batch.label, f"table {table.index + 1} row {raw_row.row_number} has "
                                 f"{len(raw_row.cells)} cells for {len(table.header)} headers: "
                                 f"{raw_row.cells}")
            cells = dict(zip(fields, raw_row.cells, strict=True))
            try:
                row = normalize_fields(cells, tspec.list_kind, spec)
            except NormalizationError as exc:
                raise ExtractionError(batch.label, f"table {table.index + 1} row "
                                                   f"{raw_row.row_number}: {exc}") from None
            serial = None if raw_row.auto_numbered else normalize_serial(cells.get("serial"))
            rows.append({
                "batch_id": batch.batch_id,
                "version": batch.version,
                "row_number": len(rows) + 1,
                "serial": serial,
                **row,
                "raw": _json(dict(zip(table.header, raw_row.cells, strict=True))),
            })
    if check.tables == 0:
        raise ExtractionError(batch.label, "the file holds no table")
    return rows, check


def serial_problem(table: RawTable, fields: list[str]) -> str | None:
    """Whether the table's printed 序号 cover min..max once each (CAC's lists are not always
    sorted, so only the set is compared). None when the table prints no 序号."""
    if "serial" not in fields:
        return None
    at = fields.index("serial")
    printed = ["".join(r.cells[at].split()) for r in table.rows if not r.auto_numbered]
    if not printed or not any(printed):
        return None
    numbers = [int(p) for p in printed if p.isdigit()]
    if len(numbers) != len(printed):
        missing = sum(1 for p in printed if not p.isdigit())
        return f"{missing} row(s) without a numeric 序号 (a row split or lost?)"
    expected = set(range(min(numbers), max(numbers) + 1))
    if len(numbers) != len(set(numbers)) or set(numbers) != expected:
        return (f"{len(numbers)} rows but 序号 {min(numbers)}–{max(numbers)} "
                f"({len(expected - set(numbers))} missing, "
                f"{len(numbers) - len(set(numbers))} duplicated)")
    return None


# ---------------------------------------------------------------- derived tables

def _batch_order(batch: Row) -> tuple[str, str, str]:
    return (batch["period"], batch["published_on"] or "", batch["batch_id"])


def current_notices(listings: list[Row], batches: dict[tuple[str, int], Row]
                    ) -> list[tuple[Row, Row]]:
    """(row, batch) for every row of the current version of a cancellation notice."""
    out = []
    for row in listings:
        batch = batches[(row["batch_id"], row["version"])]
        if row["list_kind"] in NOTICE_KINDS and batch["is_current"]:
            out.append((row, batch))
    return out


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
                   cancelled: dict[str, str | None]) -> list[Row]:
    """One row per (list_kind, filing_number) from the current version of every batch.

    A number named in a cancellation notice is cancelled from the notice's date; a 已注销 in
    the list's own 备注 also means cancelled. Where the two disagree, the filing is flagged
    (cancellation_not_in_notices / cancellation_not_in_list)."""
    occurrences: dict[tuple[str, str], list[tuple[tuple[str, str, str], int, Row]]] = \
        defaultdict(list)
    for row in listings:
        batch = batches[(row["batch_id"], row["version"])]
        if not batch["is_current"] or row["list_kind"] in NOTICE_KINDS:
            continue
        if not row["filing_number"]:
            continue  # no number: nothing to key a filing on; the row stays in listings
        occurrences[(row["list_kind"], row["filing_number"])].append(
            (_batch_order(batch), row["row_number"], row))
    filings: list[Row] = []
    for key in sorted(occurrences):
        found = sorted(occurrences[key], key=lambda o: (o[0], o[1]))
        first_row, last_row = found[0][2], found[-1][2]
        first_batch = batches[(first_row["batch_id"], first_row["version"])]
        last_batch = batches[(last_row["batch_id"], last_row["version"])]
        flags = list(last_row["_flags"])
        per_batch = Counter(o[2]["batch_id"] for o in found)
        if any(n > 1 for n in per_batch.values()):
            flags.append("duplicate_in_batch")
        filing = {c: last_row[c] for c in _FILING_COLUMNS}
        filing["_products"] = last_row["_products"]
        filing["_fts"] = last_row["_fts"]
        by_remark = is_cancelled_remark(last_row["remarks"])
        by_notice = key[1] in cancelled
        if by_remark and not by_notice:
            flags.append("cancellation_not_in_notices")
        elif by_notice and not by_remark:
            flags.append("cancellation_not_in_list")
        flags = sorted(set(flags))
        filing["_flags"] = flags
        filing.update(
            quality_flags=_json(flags),
            status="cancelled" if by_remark or by_notice else "active",
            cancelled_on=cancelled.get(key[1]),
            first_batch_id=first_row["batch_id"],
            last_batch_id=last_row["batch_id"],
            first_published_on=first_batch["published_on"],
            source_url=last_batch["attachment_url"],
        )
        filings.append(filing)
    return filings


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
            "list_kinds": _json(sorted(kinds.get(row["filing_number"], ()))),
            "source_url": batch["attachment_url"],
        }
    return [rows[k] for k in sorted(rows)]


def derive_products(filings: list[Row]) -> list[Row]:
    rows: list[Row] = []
    for filing in filings:
        for product in filing["_products"]:
            rows.append({"filing_number": filing["filing_number"],
                         "list_kind": filing["list_kind"],
                         "product_name": product.name, "product_type": product.type})
    return rows


def derive_companies(filings: list[Row], listings: list[Row],
                     batches: dict[tuple[str, int], Row]) -> list[Row]:
    by_company: dict[str, list[Row]] = defaultdict(list)
    for filing in filings:
        if filing["company"]:
            by_company[filing["company"]].append(filing)
    published: dict[str, list[str]] = defaultdict(list)
    former: dict[str, set[str]] = defaultdict(set)
    pinyin: dict[str, str] = {}
    for row in listings:
        batch = batches[(row["batch_id"], row["version"])]
        if row["list_kind"] in NOTICE_KINDS or not batch["is_current"]:
            continue
        if row["company"]:
            pinyin[row["company"]] = row["_pinyin"]
        if row["company"] and batch["published_on"]:
            published[row["company"]].append(batch["published_on"])
        for old, new in parse_former_names(row["remarks"]):
            if old != new:
                former[new].add(old)
    companies: list[Row] = []
    for company in sorted(by_company):
        own = by_company[company]
        provinces = Counter(f["province"] for f in own if f["province"])
        province = sorted(provinces.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] \
            if provinces else None
        dates = published.get(company, [])
        companies.append({
            "company": company,
            "province": province,
            "entity_codes": _json(sorted({f["entity_code"] for f in own if f["entity_code"]})),
            "n_filings": len(own),
            "list_kinds": _json(sorted({f["list_kind"] for f in own})),
            "first_published_on": min(dates) if dates else None,
            "last_published_on": max(dates) if dates else None,
            "former_names": _json(sorted(former.get(company, ()))),
            "pinyin": pinyin.get(company) or to_pinyin(company),
        })
    return companies


# ---------------------------------------------------------------- the whole build

def _input(batch: BatchVersion) -> dict[str, Any]:
    """What a release records about each file it was built from (manifest.json `inputs`)."""
    e = batch.entry
    return {"batch_id": batch.batch_id, "version": batch.version, "sha256": batch.sha256,
            "source": e["source"], "attachment_url": e["attachment_url"],
            "is_current": batch.is_current, "published_on": batch.published_on,
            "title": e["title"], "announcement_url": e["announcement_url"]}


def build_inputs(archive: RawArchive, sources: list[Source]) -> list[dict[str, Any]]:
    """The inputs a build of the archive would record, without reading any file: when they
    equal the published release's, a build would publish nothing new."""
    selected, _ = select_batches(archive, sources)
    return sorted((_input(b) for b in selected), key=lambda i: (i["batch_id"], i["version"]))


ParseTask = tuple[BatchVersion, SourceSpec, Path]


@dataclass(frozen=True)
class HeaderMatcher:
    """Whether a row of cells is one of the source's header rows: every cell names a column
    of one table spec, and that spec's required fields are all there."""

    spec: SourceSpec

    def __call__(self, cells: list[str]) -> bool:
        for tspec in self.spec.tables:
            fields = [tspec.field_for(c) for c in cells]
            if all(fields) and all(r in fields for r in tspec.required):
                return True
        return False


def parse_batch(task: ParseTask) -> tuple[list[Row], BatchCheck]:
    """Rows of one archived file: extract its tables, map headers, normalise every row."""
    batch, spec, raw_root = task
    body = RawArchive(raw_root).get(batch.sha256)
    return listing_rows(batch, extract_tables(body, batch.label, HeaderMatcher(spec)), spec)


def default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cpus or 1))


def parse_batches(tasks: list[ParseTask], workers: int) -> list[tuple[list[Row], BatchCheck]]:
    """parse_batch over every file, on `workers` processes (the work is pure Python: threads
    would share one core). Results come back in task order; errors name their file."""
    if workers <= 1 or len(tasks) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [parse_batch(t) for t in tasks]
    # Largest files first, so that no worker is left with a big list at the end.
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i][0].file_size)
    results: dict[int, tuple[list[Row], BatchCheck]] = {}
    with ProcessPoolExecutor(max_workers=workers,
                             mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {i: pool.submit(parse_batch, tasks[i]) for i in order}
        for i in order:
            results[i] = futures[i].result()
    return [results[i] for i in range(len(tasks))]


def build_tables(archive: RawArchive, sources: list[Source], *,
                 workers: int | None = None) -> BuildResult:
    started = time.perf_counter()
    selected, crawl_ids = select_batches(archive, sources)
    specs = {s.spec.name: s.spec for s in sources}
    parsed = parse_batches([(b, specs[b.entry["source"]], archive.root) for b in selected],
                           default_workers() if workers is None else workers)
    parsed_at = time.perf_counter()

    batch_rows: dict[tuple[str, int], Row] = {}
    listings: list[Row] = []
    checks: list[BatchCheck] = []
    inputs: list[dict[str, Any]] = []
    for batch, (rows, check) in zip(selected, parsed, strict=True):
        listings.extend(rows)
        checks.append(check)
        e = batch.entry
        batch_rows[(batch.batch_id, batch.version)] = {
            "batch_id": batch.batch_id, "version": batch.version, "list_kind": e["list_kind"],
            "period": e["period"], "batch_no": e["batch_no"], "title": e["title"],
            "announcement_url": e["announcement_url"],
            "announcement_title": e["announcement_title"],
            "published_on": batch.published_on,
            "published_on_precision": batch.published_on_precision,
            "attachment_url": e["attachment_url"], "file_sha256": batch.sha256,
            "file_format": batch.file_format, "file_size": batch.file_size,
            "fetched_at": batch.fetched_at, "is_current": batch.is_current,
            "row_count": len(rows),
        }
        inputs.append(_input(batch))

    listings.sort(key=lambda r: (r["batch_id"], r["version"], r["row_number"]))
    batches = [batch_rows[k] for k in sorted(batch_rows)]
    notices = current_notices(listings, batch_rows)
    filings = derive_filings(listings, batch_rows, cancellation_dates(notices))
    result = BuildResult(
        tables={
            "batches": batches,
            "listings": listings,
            "filings": filings,
            "products": derive_products(filings),
            "companies": derive_companies(filings, listings, batch_rows),
            "cancellations": derive_cancellations(notices, filings),
        },
        inputs=sorted(inputs, key=lambda i: (i["batch_id"], i["version"])),
        checks=checks,
        crawl_ids=crawl_ids,
    )
    result.warnings.extend(_quality_warnings(filings))
    unnumbered = sum(1 for r in listings if not r["filing_number"]
                     and r["list_kind"] not in NOTICE_KINDS
                     and batch_rows[(r["batch_id"], r["version"])]["is_current"])
    if unnumbered:
        result.warnings.append(f"{unnumbered} listing row(s) without a filing number (flagged "
                               "number_missing) are in listings but not in filings")
    result.warnings.extend(f"{c.batch_id} v{c.version}: {problem}" for c in checks
                           for problem in c.serial_problems)
    result.timings = {"extract_normalise": parsed_at - started,
                      "derive": time.perf_counter() - parsed_at}
    return result


def _quality_warnings(filings: Iterable[Row]) -> list[str]:
    counts: Counter[str] = Counter()
    for filing in filings:
        counts.update(filing["_flags"])
    return [f"{n} filing(s) flagged {flag}" for flag, n in sorted(counts.items())]

