"""One filing on one page: what CAC published about it, every row of every file that listed
it (with the cells as published), its cancellation, its quality flags, what its number says,
and what each release of this dataset changed in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cac_filings.normalize import (
    SUANBEI_DIGITS,
    normalize_filing_number,
    normalize_genai_number,
    suanbei_check_digit,
)
from cac_filings.regions import province_for_region
from cac_filings.web.db import Reader, Row, json_list, json_value, read
from cac_filings.web.release import Label, Release
from cac_filings.web.urls import table_url


@dataclass(frozen=True)
class NumberPart:
    where: str  # which characters of the number, e.g. "1–6"
    label: Label
    value: str
    meaning: str = ""
    link: str | None = None
    ok: bool = True


@dataclass(frozen=True)
class DecodedNumber:
    rules: str
    valid: bool
    summary: str
    parts: list[NumberPart] = field(default_factory=list)


def decode_suanbei(number: str, release: Release, category: str | None) -> DecodedNumber:
    """A 网信算备 number: region code (1–6), entity code (1–13: the company), category code
    (14–15), year (16–17), digits 18–20, and the check digit (21)."""
    parsed = normalize_filing_number(number)
    if parsed.region_code is None:
        digits = "".join(c for c in parsed.canonical if c.isascii() and c.isdigit())
        return DecodedNumber("suanbei", False, (
            f"Not the form 网信算备 + {SUANBEI_DIGITS} digits + 号 (it has {len(digits)} "
            f"digits); kept as published. 编号格式不符（{len(digits)}位数字），按原样保留。"))
    digits = parsed.canonical[len("网信算备"):-1]
    province = province_for_region(digits[:6])
    code = digits[13:15]
    code_label = release.label("category_code", code)
    expected = suanbei_check_digit(digits[:20])
    parts = [
        NumberPart("1–6", Label("行政区划代码", "region code"), digits[:6],
                   province or "not a province code 非省级行政区划代码", ok=province is not None),
        NumberPart("1–13", Label("主体代码", "entity code (the filing company)"), digits[:13],
                   "every filing of this company shares it 同一主体的备案共用此代码",
                   table_url("filings", entity_code=digits[:13])),
        NumberPart("14–15", Label("类别代码", "category code"), code,
                   code_label.text if code_label else (category or "")),
        NumberPart("16–17", Label("备案年份", "year of filing"), digits[15:17],
                   str(parsed.year) if parsed.year else ""),
        NumberPart("18–20", Label("序号", "sequence (not documented by CAC)"), digits[17:20]),
        NumberPart("21", Label("校验位", "check digit"), digits[20],
                   "holds 校验通过" if parsed.valid else
                   f"does not hold: {expected} expected 校验不通过（应为 {expected}）",
                   ok=parsed.valid),
    ]
    summary = ("Format and check digit hold. 格式与校验位正确。" if parsed.valid else
               "The check digit does not hold; kept as published. 校验位不符，按原样保留。")
    return DecodedNumber("suanbei", parsed.valid, summary, parts)


def decode_genai(number: str) -> DecodedNumber:
    """A generative-AI number: Province-NameToken-YYYYMMDD then a sequence, or S and a
    sequence for a registration (上线编号)."""
    parsed = normalize_genai_number(number)
    if parsed.province_token is None:
        return DecodedNumber("genai", False, (
            "Not the form Province-Name-YYYYMMDD…; kept as published (it may be cut short). "
            "编号格式不符（可能被截断），按原样保留。"))
    provinces = "、".join(sorted(parsed.provinces or ()))
    kind = (Label("登记（上线编号）", "registration") if parsed.kind == "registration"
            else Label("备案", "filing"))
    parts = [
        NumberPart("1", Label("省份标识", "province token"), parsed.province_token,
                   provinces or "not a province 未知省份", ok=bool(provinces)),
        NumberPart("2", Label("名称标识", "name token (the name in pinyin)"),
                   parsed.name_token or ""),
        NumberPart("3", Label("日期", "date"), (parsed.date or "").replace("-", ""),
                   parsed.date or "not a date 日期无效", ok=parsed.date is not None),
        NumberPart("4", Label("序号", "sequence"), parsed.sequence or "", kind.text),
    ]
    summary = (f"A {kind.en} number. {kind.zh}编号。" if parsed.valid else
               "Its date is not a date; kept as published. 编号中的日期无效，按原样保留。")
    return DecodedNumber("genai", parsed.valid, summary, parts)


def decode_number(number: str, rules: str | None, release: Release,
                  category: str | None) -> DecodedNumber | None:
    if rules == "suanbei":
        return decode_suanbei(number, release, category)
    if rules == "genai":
        return decode_genai(number)
    return None


def _listing(row: Row) -> Row:
    raw = json_value(row.pop("raw"))
    return {**row, "raw": list(raw.items()) if isinstance(raw, dict) else []}


def filing_details(reader: Reader, release: Release, list_kind: str, number: str
                   ) -> Row | None:
    row = reader.first("select * from filings where list_kind = ? and filing_number = ?",
                       [list_kind, number])
    if row is None:
        return None
    # Its rows in the lists, and in cancellation notices (their own list kinds).
    kinds = [list_kind, *release.cancellation_kinds]
    marks = ", ".join("?" for _ in kinds)
    listings = [_listing(r) for r in reader.rows(
        "select l.batch_id, l.version, l.row_number, l.serial, l.list_kind, l.raw, b.title, "
        "b.period, b.batch_no, b.published_on, b.published_on_precision, b.attachment_url, "
        "b.announcement_url, b.announcement_title, b.file_format, b.file_sha256, b.is_current "
        "from listings l join batches b on b.batch_id = l.batch_id and b.version = l.version "
        f"where l.list_kind in ({marks}) and l.filing_number = ? "
        "order by b.published_on is null, b.published_on, l.batch_id, l.version",
        [*kinds, number])]
    cancellations = reader.rows(
        "select notice_id, notice_title, notice_date, cancelled_month, source_url "
        "from cancellations where filing_number = ? order by notice_date", [number])
    others = [k["list_kind"] for k in release.approval_kinds if k["list_kind"] != list_kind]
    elsewhere = reader.rows(
        f"select list_kind, name from filings where list_kind in "
        f"({', '.join('?' for _ in others)}) and filing_number = ?", [*others, number]
    ) if others else []
    history = reader.rows(
        "select c.release_id, r.created_at, c.change, c.fields, c.before, c.after "
        "from changes c left join releases r on r.release_id = c.release_id "
        "where c.filing_number = ? and c.list_kind = ? order by c.release_id desc",
        [number, list_kind])
    for change in history:
        before = json_value(change["before"]) or {}
        after = json_value(change["after"]) or {}
        change["diffs"] = [(f, before.get(f), after.get(f)) for f in json_list(change["fields"])]
    first = reader.first("select published_on_precision from batches where batch_id = ? and "
                         "is_current", [row["first_batch_id"]])
    latest = next((x for x in reversed(listings) if x["list_kind"] == list_kind), None)
    kind = release.kind(list_kind)
    return {
        "filing": row,
        "kind": kind,
        "products": [p for p in json_list(row["products"]) if isinstance(p, dict)],
        "flags": [str(f) for f in json_list(row["quality_flags"])],
        "listings": listings,
        "latest": latest,
        "first_precision": first["published_on_precision"] if first else None,
        "cancellations": cancellations,
        "elsewhere": elsewhere,
        "history": history,
        "number": decode_number(number, kind["rules"] if kind else None, release,
                                row.get("category")),
    }


async def lists_of(datasette: Any, number: str) -> list[str]:
    """The lists that have a filing numbered `number`."""
    return [r["list_kind"] for r in await read(datasette, lambda reader: reader.rows(
        "select list_kind from filings where filing_number = ? order by list_kind",
        [number]))]


async def filing(datasette: Any, release: Release, list_kind: str, number: str) -> Row | None:
    return await read(datasette, lambda reader: filing_details(reader, release, list_kind,
                                                               number))


def as_json(found: Row) -> Row:
    """The page's data for /-/filing/….json."""
    number = found["number"]
    return {**{k: v for k, v in found.items() if k not in ("number", "kind")},
            "number": None if number is None else {
                "rules": number.rules, "valid": number.valid, "summary": number.summary,
                "parts": [{"where": p.where, "label_zh": p.label.zh, "label_en": p.label.en,
                           "value": p.value, "meaning": p.meaning, "ok": p.ok}
                          for p in number.parts]}}
