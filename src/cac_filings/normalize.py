"""Normalisers for the fields of the published lists.

Each function takes the text of one cell as published and returns the normalised value. Nothing
is "fixed" silently: values that do not fit the expected form are kept as published and get a
quality flag (see DATA-CONTRACT.md, "Canonical filing numbers").
"""

from __future__ import annotations

import datetime as dt
import operator
import re
import unicodedata
from dataclasses import dataclass

from cac_filings.regions import province_for_region, provinces_for_token

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
# Control characters a cell may carry (NUL, ESC, C1) and the invisible bidirectional controls
# that reorder text on screen (RLO …): never part of a name. Tab and line breaks are layout.
CONTROL = ("\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
           "\u2066-\u2069")
_CONTROL_RE = re.compile(f"[{CONTROL}]")
_ZERO_WIDTH_RE = re.compile(f"[{ZERO_WIDTH}{CONTROL}]")
_WHITESPACE_RE = re.compile(r"\s+")
_NEEDS_CLEANING_RE = re.compile(f"[\\s{ZERO_WIDTH}{CONTROL}]")
# Han characters plus CJK and full-width punctuation (，。、；：“”（）…): text where a line break
# is layout, not a word boundary.
_CJK = r"\u2018-\u201d\u2026\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_LINE_BREAK_BETWEEN_CJK_RE = re.compile(rf"(?<=[{_CJK}])\s*\n\s*(?=[{_CJK}])")

SUANBEI_PREFIX = "网信算备"
SUANBEI_DIGITS = 21
_SUANBEI_RE = re.compile(r"网信算备[:：]?([0-9]+)号?")  # ASCII digits only, after NFKC
_WEIGHTS = tuple(1 << (SUANBEI_DIGITS - i) for i in range(1, SUANBEI_DIGITS))  # 2**20 … 2**1


class NormalizationError(ValueError):
    """A cell whose value is outside the known vocabulary of its column."""


def has_control_characters(text: str) -> bool:
    """Whether text holds control or bidi-override characters (flagged, dropped from the
    normalised value; `raw` keeps them)."""
    return _CONTROL_RE.search(text) is not None


def printable(text: str, width: int = 80) -> str:
    """Text safe for a terminal: control and bidi characters shown as \\uXXXX escapes, line
    breaks as spaces, at most `width` characters."""
    shown = _CONTROL_RE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text).replace("\n", " ")
    shown = shown.replace("\r", " ").replace("\t", " ")
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def clean_text(value: str | None) -> str | None:
    """Trim a free-text cell; line breaks inside Chinese text are joined, others become spaces.

    Word wraps long names and purposes into several paragraphs; the break is layout, not data.
    Control and bidi characters are dropped (the row is flagged control_characters).
    """
    if value is None:
        return None
    if not _NEEDS_CLEANING_RE.search(value):
        return value or None
    text = _ZERO_WIDTH_RE.sub("", value)
    text = _LINE_BREAK_BETWEEN_CJK_RE.sub("", text)
    text = _WHITESPACE_RE.sub(" ", text).strip()
    return text or None


def _squeeze(value: str) -> str:
    """NFKC, then drop every whitespace and zero-width character."""
    text = value if unicodedata.is_normalized("NFKC", value) else unicodedata.normalize("NFKC",
                                                                                        value)
    if not _NEEDS_CLEANING_RE.search(text):
        return text
    text = _WHITESPACE_RE.sub("", _ZERO_WIDTH_RE.sub("", text))
    # Removing a separator can bring a letter and a combining mark together: normalise again.
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


@dataclass(frozen=True)
class FilingNumber:
    canonical: str
    valid: bool
    region_code: str | None = None
    entity_code: str | None = None
    category_code: str | None = None
    year: int | None = None
    province: str | None = None
    flags: tuple[str, ...] = ()


def suanbei_check_ok(digits: str) -> bool:
    """Check digit of a 21-digit 网信算备 number.

    Empirical rule (holds for all but one of ~8 000 published numbers):
    (d21 + sum(2**(21-i) * d_i for i in 1..20)) mod 10 == 1.
    """
    if len(digits) != SUANBEI_DIGITS or not digits.isascii() or not digits.isdigit():
        return False
    total: int = int(digits[20]) + sum(map(operator.mul, _WEIGHTS, map(int, digits[:20])))
    return total % 10 == 1


def suanbei_check_digit(first20: str) -> str:
    """The check digit that completes twenty digits into a valid number."""
    partial: int = sum(map(operator.mul, _WEIGHTS, map(int, first20)))
    return str((1 - partial) % 10)


def normalize_filing_number(value: str) -> FilingNumber:
    """Canonical 网信算备 number plus its parts; anything else is kept (squeezed) and flagged."""
    squeezed = _squeeze(value)
    match = _SUANBEI_RE.fullmatch(squeezed)
    if match is None:
        return FilingNumber(squeezed, False,
                            flags=("number_malformed",) if squeezed else ("number_missing",))
    digits = match.group(1)
    canonical = f"{SUANBEI_PREFIX}{digits}号"
    if len(digits) != SUANBEI_DIGITS:
        return FilingNumber(canonical, False, flags=("number_malformed",))
    flags: list[str] = []
    valid = suanbei_check_ok(digits)
    if not valid:
        flags.append("check_digit_failed")
    region = digits[:6]
    province = province_for_region(region)
    if province is None:
        flags.append("region_unknown")
    return FilingNumber(
        canonical=canonical,
        valid=valid,
        region_code=region,
        entity_code=digits[:13],
        category_code=digits[13:15],
        year=2000 + int(digits[15:17]),
        province=province,
        flags=tuple(flags),
    )


def normalize_company(value: str | None) -> str | None:
    """NFKC, no whitespace or zero-width characters, full-width parentheses (the form used in
    Chinese business registrations, e.g. 腾讯科技（深圳）有限公司)."""
    if value is None:
        return None
    text = _squeeze(value).replace("(", "（").replace(")", "）")
    return text or None


ROLES: dict[str, str] = {"服务提供者": "service_provider", "服务技术支持者": "technical_supporter"}


def normalize_role(value: str | None) -> str | None:
    if value is None:
        return None
    text = _squeeze(value)
    if not text:
        return None
    try:
        return ROLES[text]
    except KeyError:
        raise NormalizationError(f"unknown role {value!r} (known: {', '.join(ROLES)})") from None


_SERIAL_RE = re.compile(r"[(\[（【]?(\d+)[)\]）】]?[.、:：]?")


def normalize_serial(value: str | None) -> str | None:
    """序号 as printed, squeezed; '1.', '（1）', '1、' → '1'."""
    if value is None:
        return None
    text = _squeeze(value)
    match = _SERIAL_RE.fullmatch(text)
    return match.group(1) if match else (text or None)


# ---------------------------------------------------------------- products

PRODUCT_TYPES = ("APP", "网站", "小程序", "公众账号", "其他", "智能硬件", "快应用")
_PRODUCT_TYPES_FOLDED = {t.casefold(): t for t in PRODUCT_TYPES}
# Platform-specific mini programs are published as their own type: 微信小程序, 抖音小程序, …
_MINI_PROGRAM_RE = re.compile(r"[\w]{1,8}小程序")
_OPEN = "（("
_CLOSE = "）)"
_ITEM_SEPARATORS = "、，,；;\n"
_NO_PRODUCT = {"", "-", "--", "—", "——", "/", "无"}


@dataclass(frozen=True)
class Product:
    name: str
    type: str | None


def _product_types(group: str) -> list[str] | None:
    """The types named in a parenthesised group such as （APP、网站）, or None if it is not one."""
    parts = [p for p in re.split(r"[、,，/]", unicodedata.normalize("NFKC", group).strip()) if p]
    types: list[str] = []
    for part in parts:
        part = part.strip()
        known = _PRODUCT_TYPES_FOLDED.get(part.casefold())
        if known is None and _MINI_PROGRAM_RE.fullmatch(part):
            known = part
        if known is None:
            return None
        types.append(known)
    return types or None


def _split_product_items(text: str) -> list[str]:
    """Split at top-level separators, and after a type group run into the next product
    (CAC sometimes omits the 、: 百度新闻（APP、网站）百度百科（APP、网站）)."""
    items: list[str] = []
    buf: list[str] = []
    depth = 0
    group_start = -1
    for i, ch in enumerate(text):
        if ch in _OPEN:
            if depth == 0:
                group_start = i
            depth += 1
        elif ch in _CLOSE and depth > 0:
            depth -= 1
        if depth == 0 and ch in _ITEM_SEPARATORS:
            items.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
        if depth == 0 and ch in _CLOSE and group_start >= 0:
            rest = text[i + 1 :].lstrip()
            if (rest and rest[0] not in _ITEM_SEPARATORS and rest[0] not in _OPEN
                    and rest[0] != "等"
                    and _product_types(text[group_start + 1 : i]) is not None):
                items.append("".join(buf))
                buf = []
            group_start = -1
    items.append("".join(buf))
    return items


def _trailing_group(item: str) -> tuple[str, str] | None:
    """Split 'name（group）' into (name, group) when the item ends with a parenthesised group."""
    if not item or item[-1] not in _CLOSE:
        return None
    depth = 0
    for i in range(len(item) - 1, -1, -1):
        ch = item[i]
        if ch in _CLOSE:
            depth += 1
        elif ch in _OPEN:
            depth -= 1
            if depth == 0:
                return item[:i], item[i + 1 : -1]
    return None


def parse_products(value: str | None) -> list[Product]:
    """应用产品 → products. '小红书（APP、网站）' is two products (one per type); '--' is none;
    a trailing 等 ("and others") is dropped (the raw cell keeps it)."""
    if value is None:
        return []
    text = _ZERO_WIDTH_RE.sub("", value).strip()
    if text in _NO_PRODUCT:
        return []
    products: list[Product] = []
    seen: set[Product] = set()
    for raw_item in _split_product_items(text):
        item = _WHITESPACE_RE.sub(" ", raw_item).strip()
        if item.endswith("等"):
            item = item[:-1].rstrip()
        if item in _NO_PRODUCT:
            continue
        split = _trailing_group(item)
        types = _product_types(split[1]) if split else None
        if split is not None and types is not None and split[0].strip():
            name = split[0].strip()
            found = [Product(name, t) for t in types]
        else:
            found = [Product(item, None)]
        for product in found:
            if product not in seen:
                seen.add(product)
                products.append(product)
    return products


# ---------------------------------------------------------------- remarks

# CAC words a rename in several ways: 原主体名称“X”变更为“Y” most often, also 主体名称由“X”变更为
# “Y”, 原主体“X”变更为“Y”, 主体由X变更为Y, 原主体名称X变更为Y (a name without quotes ends at
# the punctuation after it). 产品名称由…, 算法名称由… do not name the company (主体).
# A bare name needs 由 (or 原主体名称) right before it and 变更为 right after it, and holds no
# 于/已/由 (主体名称由X于2024年4月变更为Y, 主体名称已由X…: not read rather than misread).
_QUOTED = "[“\"'‘]([^”\"'’]+)[”\"'’]"
_BARE = "([^“”\"'‘’，,、；;。：:于已由\\s]+)"
_FORMER_NAME_RE = re.compile(
    rf"(?:主体(?:名称)?由?\s*{_QUOTED}|(?:主体(?:名称)?由|原主体名称)\s*{_BARE[:-1]}?))"
    rf"\s*变更为\s*(?:{_QUOTED}|{_BARE})")


def parse_former_names(remarks: str | None) -> list[tuple[str, str]]:
    """(old, new) company names from 备注 such as 原主体名称“X”变更为“Y”, both normalised."""
    if not remarks:
        return []
    pairs: list[tuple[str, str]] = []
    for quoted_old, old, quoted_new, new in _FORMER_NAME_RE.findall(remarks):
        old_n, new_n = normalize_company(quoted_old or old), normalize_company(quoted_new or new)
        if old_n and new_n:
            pairs.append((old_n, new_n))
    return pairs


def is_cancelled_remark(remarks: str | None) -> bool:
    return remarks is not None and "已注销" in _squeeze(remarks)


# ---------------------------------------------------------------- generative-AI numbers

# {Province}-{Name}-{YYYYMMDD}[{NNNN}] for 备案 (filings), {Province}-{Name}-{YYYYMMDD}S{NNNN}
# for 登记 (registrations). The name may itself contain "-", ".", "·", "’".
_GENAI_RE = re.compile(r"(?P<province>[A-Za-z]+)-(?P<name>.+)-(?P<date>[0-9]{8})"
                       r"(?:(?P<registration>[Ss])(?P<reg_seq>[0-9]+)|(?P<seq>[0-9]*))")
_REGISTRATION_RE = re.compile(r"[0-9]{8}\s*[Ss]\s*[0-9]+\s*$")


@dataclass(frozen=True)
class GenaiNumber:
    canonical: str
    valid: bool
    kind: str | None  # "filing" | "registration" | None when unparsable
    province_token: str | None = None
    name_token: str | None = None
    date: str | None = None  # ISO date from the number
    sequence: str | None = None
    provinces: frozenset[str] | None = None  # what the province token may stand for
    flags: tuple[str, ...] = ()

    def parts(self) -> dict[str, str | None]:
        return {"kind": self.kind, "province_token": self.province_token,
                "name_token": self.name_token, "date": self.date, "sequence": self.sequence}


def is_registration_number(value: str) -> bool:
    """登记 上线编号 end in YYYYMMDD S NNNN; 备案 numbers do not."""
    return bool(_REGISTRATION_RE.search(value))


def normalize_genai_number(value: str) -> GenaiNumber:
    """Trimmed, internal whitespace removed, case kept; parsed into its parts."""
    canonical = _squeeze(value)
    if not canonical:
        return GenaiNumber(canonical, False, None, flags=("number_missing",))
    match = _GENAI_RE.fullmatch(canonical)
    if match is None:
        kind = "registration" if is_registration_number(canonical) else None
        flag = "truncated_number" if "-" in canonical else "number_malformed"
        return GenaiNumber(canonical, False, kind, flags=(flag,))
    flags: list[str] = []
    raw_date = match.group("date")
    try:
        date = dt.date(int(raw_date[:4]), int(raw_date[4:6]), int(raw_date[6:])).isoformat()
    except ValueError:
        date = None
        flags.append("number_date_invalid")
    token = match.group("province")
    provinces = provinces_for_token(token)
    if provinces is None:
        flags.append("province_token_unknown")
    registration = match.group("registration") is not None
    sequence = match.group("reg_seq") if registration else (match.group("seq") or None)
    return GenaiNumber(
        canonical=canonical, valid=date is not None,
        kind="registration" if registration else "filing", province_token=token,
        name_token=match.group("name"), date=date, sequence=sequence, provinces=provinces,
        flags=tuple(flags))


_DATE_RE = re.compile(r"(\d{4})\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?")


def parse_filed_on(value: str | None) -> tuple[str | None, str | None]:
    """备案时间 / 登记时间 → (ISO date, remark): '2023/8/31' → ('2023-08-31', None);
    '2025/6/30（补登）' → ('2025-06-30', '补登'). Unparsable → (None, the text)."""
    text = clean_text(value)
    if not text:
        return None, None
    folded = unicodedata.normalize("NFKC", text)
    found = _find_date(folded)
    if found is None:
        return None, text
    day, end = found
    rest = folded[end:].strip().strip("()（）[]【】 ")
    return day, rest or None


def _find_date(text: str) -> tuple[str, int] | None:
    """The first date in `text` (already NFKC) as ISO, and where it ends; None if there is
    none or it is not a real day."""
    match = _DATE_RE.search(text)
    if match is None:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups())).isoformat(), match.end()
    except ValueError:
        return None


def iso_date(text: str | None) -> str | None:
    """'2023年8月31日', '2023/8/31', '2025-07-14 10:00:00' → ISO date; None if no real day."""
    found = _find_date(unicodedata.normalize("NFKC", text or ""))
    return found[0] if found else None


_COMPANY_SUFFIXES = ("公司", "集团", "大学", "学院", "学校", "研究院", "研究所", "中心", "医院",
                     "银行", "委员会", "协会", "学会", "基金会", "事务所", "有限合伙）",
                     "出版社", "报社", "电视台", "工作室", "合作社")


def looks_like_company(value: str | None) -> bool:
    """Whether a name reads like the name of an organisation (…有限公司, …大学, …研究院)."""
    text = normalize_company(value) or ""
    return "有限公司" in text or text.endswith(_COMPANY_SUFFIXES)


_MONTH_RE = re.compile(r"(\d{4})\s*[年/\-.]\s*(\d{1,2})\s*月?")


def parse_month(value: str | None) -> str | None:
    """'2025年7月' → '2025-07'."""
    match = _MONTH_RE.search(unicodedata.normalize("NFKC", value or ""))
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return None
    return f"{match.group(1)}-{int(match.group(2)):02d}"


def role_or_category(value: str | None, categories: tuple[str, ...]
                     ) -> tuple[str | None, str | None, list[str]]:
    """The 角色 column of cancellation notices: a role (服务提供者), or for recommendation
    algorithms their 算法类别 (个性化推送类), sometimes cut short (服务提供).
    Returns (role, category, flags)."""
    text = _squeeze(value or "")
    if not text:
        return None, None, []
    if text in ROLES:
        return ROLES[text], None, []
    if text in categories:
        return None, text, []
    roles = [r for r in ROLES if r.startswith(text)]
    if len(text) >= 3 and len(roles) == 1:
        return ROLES[roles[0]], None, ["role_truncated"]
    cats = [c for c in categories if c.startswith(text)]
    if len(text) >= 3 and len(cats) == 1:
        return None, cats[0], ["category_truncated"]
    return None, None, ["role_unknown"]
