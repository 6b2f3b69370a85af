"""Rows of one file: extract its tables, read their headers by meaning, normalise every row.

A pure function of the file's bytes and the source's source.yml (`parse_file`), so that its
result can be cached per file and code fingerprint. Whatever in the file cannot be read is an
ExtractionError naming the file: the build holds that batch version back. Whatever can be read
but looks wrong is kept and flagged, row by row, and summed up in the file's FileCheck.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cac_filings.documents import RawTable, extract_tables
from cac_filings.errors import ExtractionError
from cac_filings.headers import HeaderMatcher, duplicated_fields
from cac_filings.kinds import ListKind, Registry
from cac_filings.normalize import (
    NormalizationError,
    clean_text,
    has_control_characters,
    looks_like_company,
    normalize_company,
    normalize_filing_number,
    normalize_genai_number,
    normalize_role,
    normalize_serial,
    parse_filed_on,
    parse_month,
    parse_products,
    role_or_category,
)
from cac_filings.pinyin import to_pinyin
from cac_filings.schema import FILINGS
from cac_filings.schema import json_text as _json
from cac_filings.search import fts_texts
from cac_filings.sources import SourceSpec

Row = dict[str, Any]


@dataclass
class FileCheck:
    """What the build checks about one file before its rows are published."""

    tables: int = 0
    # Rows accounted for as header, data, repeated header, blank or merged (RawTable).
    physical_rows: int = 0
    data_rows: int = 0
    # Rows the file holds, counted by the format's reader apart from their assembly.
    source_rows: int = 0
    # Tables whose printed 序号 do not cover their own range once each (a row lost, split or
    # duplicated). From a PDF this holds the file back (gate pdf_rows_whole); from Word it is
    # a warning.
    serial_problems: list[str] = field(default_factory=list)
    pdf_serial_problems: list[str] = field(default_factory=list)
    # Columns no table spec of the source names: kept in raw, reported for a maintainer.
    unknown_columns: list[str] = field(default_factory=list)
    # 算法类别 outside the source's vocabulary (gate known_categories).
    unknown_categories: list[str] = field(default_factory=list)
    # Numbers listed twice in this file (gate no_duplicate_in_batch).
    duplicates: list[str] = field(default_factory=list)
    # Data rows per list kind.
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def rows_accounted(self) -> bool:
        return self.physical_rows == self.source_rows


@dataclass
class ParsedFile:
    rows: list[Row]  # listing rows in file order (build_tables adds batch_id and version)
    check: FileCheck


class SourceMatcher(HeaderMatcher):
    """The header test of one source, which can also say why a row is not a header."""

    def explain(self, cells: list[str]) -> str:
        problems = []
        for spec in self.specs:
            fields = [spec.field_for(c) for c in cells]
            missing = [r for r in spec.required if r not in fields]
            twice = duplicated_fields(cells, spec)
            problems.append((len(missing) + len(twice), spec, missing, twice))
        _, spec, missing, twice = min(problems, key=lambda p: p[0])
        parts = [f"no column for required field {m!r}" for m in missing]
        parts += [f"two columns map to {f!r}" for f in twice]
        return "; ".join(parts) + f" (known headers of {spec.list_kind}: " \
            f"{', '.join(spec.columns)})"


def parse_file(body: bytes, label: str, spec: SourceSpec, kinds: Registry) -> ParsedFile:
    """The listing rows of one archived file. `label` names the file in errors."""
    tables = extract_tables(body, label, SourceMatcher(spec.tables))
    return listing_rows(tables, label, spec, kinds)


def _raw_keys(header: list[str]) -> list[str]:
    """Keys of `raw`: the headers as published; an empty or repeated header gets its column
    number, so that no cell is lost to a duplicate key."""
    keys: list[str] = []
    seen: set[str] = set()
    for position, text in enumerate(header, start=1):
        key = text if text.strip() else f"(column {position})"
        if key in seen:
            key = f"{key} (column {position})"
        seen.add(key)
        keys.append(key)
    return keys


def listing_rows(tables: list[RawTable], label: str, spec: SourceSpec, kinds: Registry
                 ) -> ParsedFile:
    check = FileCheck()
    rows: list[Row] = []
    numbers: Counter[tuple[str, str]] = Counter()
    for table in tables:
        check.physical_rows += table.physical_rows
        check.source_rows += table.source_rows
        if not table.header and not table.rows:
            continue  # titles or blank rows only: not a list table
        if table.match is None:
            raise ExtractionError(label, f"{table.where or f'table {table.index + 1}'}: "
                                         f"header {table.header} is not one of the source's")
        tspec = table.match.spec
        kind = kinds[tspec.list_kind]
        check.tables += 1
        check.data_rows += len(table.rows)
        fields = [f or "" for f in table.match.fields]
        unknown = [table.header[i] for i in table.match.unknown if table.header[i].strip()
                   or any(r.cells[i].strip() for r in table.rows if i < len(r.cells))]
        check.unknown_columns += [f"{table.where} ({tspec.list_kind}): unknown column "
                                  f"{h!r}" for h in unknown]
        unknown_at = [i for i in table.match.unknown]
        problem = serial_problem(table, fields)
        if problem:
            where = f"{table.where} ({tspec.list_kind}): {problem}"
            (check.pdf_serial_problems if table.source_format == "pdf"
             else check.serial_problems).append(where)
        keys = _raw_keys(table.header)
        approvals = kinds.is_approvals(kind.key)
        for raw_row in table.rows:
            if len(raw_row.cells) != len(table.header):
                raise ExtractionError(
                    label, f"{table.where} row {raw_row.row_number} has "
                           f"{len(raw_row.cells)} cells for {len(table.header)} headers: "
                           f"{raw_row.cells}")
            cells = dict(zip(fields, raw_row.cells, strict=True))
            row = normalize_fields(cells, kind, spec)
            flags: list[str] = row["_flags"]
            if any(raw_row.cells[i].strip() for i in unknown_at):
                flags.append("unknown_column")
            if has_control_characters("".join(raw_row.cells)):
                flags.append("control_characters")
            if "unknown_category" in flags:
                check.unknown_categories.append(f"{row['list_kind']}: {row['category']}")
            row["quality_flags"] = _json(flags)
            serial = None if raw_row.auto_numbered else normalize_serial(cells.get("serial"))
            if row["filing_number"] and (approvals if row["list_kind"] == kind.key
                                         else kinds.is_approvals(row["list_kind"])):
                numbers[(row["list_kind"], row["filing_number"])] += 1
            check.kinds[row["list_kind"]] = check.kinds.get(row["list_kind"], 0) + 1
            rows.append({
                "row_number": len(rows) + 1,
                "serial": serial,
                **row,
                "raw": _json(dict(zip(keys, raw_row.cells, strict=True))),
            })
    if check.tables == 0:
        raise ExtractionError(label, "the file holds no table")
    check.unknown_categories = sorted(set(check.unknown_categories))
    check.duplicates = sorted(f"{number} ×{n}" for (_, number), n in numbers.items() if n > 1)
    return ParsedFile(rows, check)


def serial_problem(table: RawTable, fields: list[str]) -> str | None:
    """Whether the table's printed 序号 cover min..max once each (CAC's lists are not always
    sorted, so only the set is compared). None when the table prints no 序号."""
    if "serial" not in fields:
        return None
    at = fields.index("serial")
    printed = [normalize_serial(r.cells[at]) or "" for r in table.rows if not r.auto_numbered]
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


# ---------------------------------------------------------------- one row

def normalize_fields(cells: dict[str, str], kind: ListKind, spec: SourceSpec) -> Row:
    """The filing fields of one row (the columns shared by listings and filings)."""
    if kind.rules == "genai":
        row = _genai_fields(cells, kind)
    else:
        row = _suanbei_fields(cells, kind, spec)
    row["scenario"] = clean_text(cells.get("scenario"))
    _search_fields(row)
    return row


def _search_fields(row: Row) -> None:
    """The company's pinyin and the search text of the filings_fts columns, computed here
    (in the worker processes). A filing's pinyin text reads its company and its name
    (`wenxin` finds 文心大模型算法)."""
    company = row["company"]
    row["_pinyin"] = to_pinyin(company) if company else None
    fts = list(fts_texts(FILINGS, row))
    readings = [r for r in (row["_pinyin"], to_pinyin(row["name"]) if row["name"] else None)
                if r]
    fts[_PINYIN_AT] = " ".join(readings) or None
    row["_fts"] = tuple(fts)


def restore_private(row: Row, cancelled_month: str | None = None) -> Row:
    """A listing row as a published release holds it → as the build holds the rows it reads
    (with the values beside the columns that the derived tables read): for a version that
    is carried forward from the published release because it cannot be read now."""
    restored: Row = {**row, "_flags": json.loads(row["quality_flags"] or "[]")}
    if cancelled_month is not None:  # a notice's row: the month its 注销时间 named
        restored["_cancelled_month"] = cancelled_month
    _search_fields(restored)
    return restored


_PINYIN_AT = FILINGS.fts.index("pinyin")


# CAC's lists repeat the same companies and products from row to row and batch to batch:
# each distinct cell is read once per process (the functions are pure).
_company = lru_cache(maxsize=1 << 16)(normalize_company)


@lru_cache(maxsize=1 << 16)
def _products(cell: str | None) -> str:
    """应用产品 → its products as JSON (what the products table is derived from: the
    parse workers send no Product objects back, which cost more to unpickle than the rest of
    a row)."""
    return _json([{"name": p.name, "type": p.type} for p in parse_products(cell)])


def _row(flags: list[str], products_cell: str | None, **fields: Any) -> Row:
    if fields["company"] is None:
        flags.append("company_missing")
    return {
        "role": None, "category": None, "purpose": None, "region_code": None,
        "entity_code": None, "category_code": None, "filing_year": None, "number_parts": None,
        "filed_on": None, "remarks": None, **fields,
        "products": _products(products_cell),
        # Kept beside its JSON for the derived tables (not written out).
        "_flags": flags,
    }


def _suanbei_fields(cells: dict[str, str], kind: ListKind, spec: SourceSpec) -> Row:
    """Rows with 网信算备 numbers: the algorithm and deep-synthesis lists, the notices."""
    number = normalize_filing_number(cells.get("filing_number", ""))
    flags = list(number.flags)
    category = clean_text(cells.get("category"))
    if not kind.approvals:
        # A notice's 角色 holds the role, or for recommendation algorithms their 算法类别.
        role, noticed_category, role_flags = role_or_category(cells.get("role"),
                                                              spec.categories)
        category = category or noticed_category
        flags += role_flags
    else:
        try:
            role = normalize_role(cells.get("role"))
        except NormalizationError:
            # A role outside 服务提供者/服务技术支持者: kept in raw, flagged, not guessed.
            role = None
            flags.append("role_unknown")
    if category is not None and spec.categories and category not in spec.categories:
        flags.append("unknown_category")
    row = _row(
        flags, cells.get("products"),
        filing_number=number.canonical, list_kind=kind.key, name=clean_text(cells.get("name")),
        role=role, category=category, company=_company(cells.get("company")),
        purpose=clean_text(cells.get("purpose")), province=number.province,
        region_code=number.region_code, entity_code=number.entity_code,
        category_code=number.category_code, filing_year=number.year,
        number_valid=number.valid, remarks=clean_text(cells.get("remarks")))
    if not kind.approvals:
        row["_cancelled_month"] = parse_month(cells.get("cancelled_month"))
    return row


def _genai_fields(cells: dict[str, str], kind: ListKind) -> Row:
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
    list_kind = kind.key
    misfiled = kind.misfiled.get(number.kind or "") if number.kind != kind.number_kind else None
    if misfiled is not None:
        # e.g. a 上线编号 (…S0001) in the 备案 table: a registration, by its own number.
        flags.append(misfiled.flag)
        list_kind = misfiled.list_kind or list_kind
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
        flags, None, filing_number=number.canonical, list_kind=list_kind, name=name,
        company=_company(company), province=province,
        filing_year=int(number.date[:4]) if number.date else None,
        number_parts=_json(number.parts()), filed_on=filed_on, number_valid=number.valid,
        remarks=remark)


