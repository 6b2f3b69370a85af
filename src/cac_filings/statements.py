"""Totals that CAC states about its own generative-AI lists, read from announcement text.

CAC's yearly generative-AI announcements open with a sentence of totals. On the page of
2025-01-08:

    截至2024年12月31日，共有302款生成式人工智能服务在国家网信办完成备案，其中2024年新增备案
    238款；对于通过API接口或其他方式直接调用已备案模型能力的生成式人工智能应用或功能，2024年
    共有105款生成式人工智能应用或功能在地方网信办完成登记。

and on the page of 2026-01-09: 截至2025年12月31日，累计748款……完成备案，累计435款……完成登记。

`parse_statement` reads such text into `StatedCount`s so that the published lists can be
reconciled against them. It works in small steps, each with its own few patterns:

1. compaction: whitespace (line breaks inside sentences included) is dropped and full-width
   digits and letters are read as ASCII, keeping each character's position in the source so
   that quoted sentences are exactly as written; a blank line, or a line break after a full
   stop, ends a paragraph;
2. paragraphs → sentences (。！？!? and a "." that is not inside a number or an address) →
   clauses (，；：,;: but not the comma of 1,234);
3. as-of phrases (截至2024年12月31日, 截止到2024年底, …) are read, then masked so that their
   digits never become counts or years;
4. count tokens: a number followed by 款 (services, apps), 个 (items) or 家 (companies);
5. per count: the verb (备案 → filed, 登记 → registered), the measure (a running total or the
   new ones of a year), the year, the as-of date and the subject as written.

A sentence that mentions 备案 or 登记 and holds a count token that cannot be classified is
returned in `unparsed` rather than guessed at; nothing here raises on any text. Decisions on
what the source leaves open:

- a count in a sentence without 备案 or 登记 (督促59家平台优化算法推荐机制) is not about
  filings: it is neither a count nor unparsed;
- approximate figures (超过300款, 300余款, 数十家), figures of a month, quarter or batch, counts
  of enforcement (督促, 约谈, 下架…), negated verbs (尚未完成备案), 备案和登记 together, and an
  as-of date that is not a day (截至2024年) are unparsed, never guessed;
- 新增 with no year written is new in the as-of year; with neither, unparsed;
- a count that names no subject (新增备案238款) takes the subject of the paragraph's last
  count of the same kind, else "";
- 家 counts companies (filed_companies); 个 counts items like 款.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

__all__ = [
    "CUMULATIVE",
    "NEW_IN_YEAR",
    "ParsedStatement",
    "StatedCount",
    "chinese_numeral",
    "parse_statement",
]

CUMULATIVE = "cumulative"
NEW_IN_YEAR = "new_in_year"


@dataclass(frozen=True)
class StatedCount:
    as_of: str | None  # ISO date the figure is as of; None when the text gives none
    year: int | None  # the year of a new_in_year figure, else None
    measure: str  # CUMULATIVE or NEW_IN_YEAR
    counted: str  # filed, registered, filing_cancelled, …; *_companies for 家
    subject: str  # what is counted, as written ("" when the text names nothing)
    figure: int
    sentence: str  # the clause(s) the figure was read from, as written


@dataclass(frozen=True)
class ParsedStatement:
    counts: list[StatedCount]
    unparsed: list[str]  # sentences that state a count near 备案/登记 that could not be read


# ---------------------------------------------------------------- numerals

_CN_DIGIT = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "两": 2, "贰": 2, "三": 3, "叁": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8,
    "捌": 8, "九": 9, "玖": 9,
}  # fmt: skip
_CN_UNIT = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_MYRIADS = (("亿", 10**8), ("万", 10**4))  # 億 and 萬 are folded into these first
_CN_CHARS = frozenset([*_CN_DIGIT, *_CN_UNIT, "万", "亿"])
_THOUSANDS_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")


def chinese_numeral(text: str) -> int | None:
    """The integer written in `text`, or None when it is not one number.

    "302", "1,234", full-width "３０２", "三百零二", "两千", "一万二千", "一万二" (= 12000),
    "两千五" (= 2500), "二〇二四" (a year read digit by digit, = 2024), "3万", "壹佰".
    """
    s = unicodedata.normalize("NFKC", text).strip()  # folds full-width digits and commas
    if _THOUSANDS_RE.fullmatch(s):
        s = s.replace(",", "")
    if not s:
        return None
    if s.isdecimal():
        return _to_int(s)
    s = s.replace("萬", "万").replace("億", "亿")
    if any(ch not in _CN_CHARS and not "0" <= ch <= "9" for ch in s):
        return None
    if len(s) > 1 and all(ch in _CN_DIGIT for ch in s):
        return _to_int("".join(str(_CN_DIGIT[ch]) for ch in s))
    return _myriads(s, _CN_MYRIADS)


def _to_int(digits: str) -> int | None:
    try:
        return int(digits)
    except ValueError:  # beyond Python's limit on digits converted at once
        return None


def _myriads(s: str, levels: tuple[tuple[str, int], ...]) -> int | None:
    """Split at 亿, then 万: each part below them is a section under 10000."""
    if not levels:
        return _section(s)
    (char, value), lower = levels[0], levels[1:]
    head, found, tail = s.partition(char)
    if not found:
        return _myriads(s, lower)
    high = _myriads(head, lower) if head else None
    if not high:
        return None
    if not tail:
        return high * value
    if len(tail) == 1 and _CN_DIGIT.get(tail, 0):  # 一万二 = 12000: the next place is implied
        return high * value + _CN_DIGIT[tail] * value // 10
    low = _myriads(tail, lower)
    if low is None or low >= value:
        return None
    return high * value + low


def _section(s: str) -> int | None:
    """A number below 10000 in 千百十 units ("三百零二"), or plain ASCII digits."""
    if s.isascii():
        return _to_int(s) if s.isdigit() else None
    value = 0
    pending: int | None = None
    last_unit = 10**4
    after_zero = False
    for ch in s:
        if ch in _CN_DIGIT:
            if pending is not None:  # two digits in a row ("二三"), or a digit before 零
                return None
            if _CN_DIGIT[ch] == 0:
                after_zero = True  # 三百零二: 零 stands for the skipped tens
            else:
                pending = _CN_DIGIT[ch]
        elif ch in _CN_UNIT:
            unit = _CN_UNIT[ch]
            if unit >= last_unit:  # units only fall: 百百, 十百 are not numbers
                return None
            if pending is None:
                if unit != 10:  # only 十 may stand alone (十二 = 12); 百 alone is not a number
                    return None
                pending = 1
            value += pending * unit
            pending, last_unit, after_zero = None, unit, False
        else:
            return None
    if pending is not None:
        if not after_zero and last_unit in (100, 1000):  # 两千五 = 2500, 一百一 = 110
            pending *= last_unit // 10
        value += pending
    return value


# ---------------------------------------------------------------- compaction

# Full-width digits, letters and ％．are read as ASCII; one character to one, so positions in
# the compact text map straight back to the source. Full-width ，；：。 are kept: a full-width
# comma always separates clauses, while an ASCII comma may group thousands.
_WIDTH = {
    **{code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)},
    **{code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)},
    **{code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)},
    0xFF05: ord("%"),
    0xFF0E: ord("."),
}
_SENTENCE_ENDS = frozenset("。！？!?")
_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028"


@dataclass(frozen=True)
class _Paragraph:
    text: str  # whitespace dropped, widths folded
    origin: tuple[int, ...]  # the source index of each character of text

    def quote(self, source: str, start: int, end: int) -> str:
        """The source text of text[start:end], as written."""
        return source[self.origin[start] : self.origin[end - 1] + 1].strip()


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) == "Cf"


def _paragraphs(source: str) -> list[_Paragraph]:
    paragraphs: list[_Paragraph] = []
    chars: list[str] = []
    origin: list[int] = []

    def close() -> None:
        if chars:
            paragraphs.append(_Paragraph("".join(chars), tuple(origin)))
        chars.clear()
        origin.clear()

    i = 0
    while i < len(source):
        if not _invisible(source[i]):
            chars.append(source[i].translate(_WIDTH))
            origin.append(i)
            i += 1
            continue
        j = i
        while j < len(source) and _invisible(source[j]):
            j += 1
        run = source[i:j]
        breaks = run.count("\n") + run.count("\r") - run.count("\r\n")
        breaks += sum(run.count(ch) for ch in _LINE_BREAKS)
        ended = bool(chars) and (chars[-1] in _SENTENCE_ENDS or chars[-1] == ".")
        if "\u2029" in run or breaks >= 2 or (breaks == 1 and ended):
            close()
        i = j
    close()
    return paragraphs


# ---------------------------------------------------------------- sentences and clauses


def _ends_sentence(text: str, i: int) -> bool:
    ch = text[i]
    if ch in _SENTENCE_ENDS:
        return True
    if ch != ".":
        return False
    # A half-width full stop, unless inside 3.5 or beian.cac.gov.cn.
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    return not (before.isascii() and before.isalnum() and after.isascii() and after.isalnum())


def _split(start: int, end: int, is_separator: Iterator[bool]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    begin = start
    for i, separates in zip(range(start, end), is_separator, strict=False):
        if separates:
            if i > begin:
                spans.append((begin, i))
            begin = i + 1
    if begin < end:
        spans.append((begin, end))
    return spans


def _sentences(text: str) -> list[tuple[int, int]]:
    return _split(0, len(text), (_ends_sentence(text, i) for i in range(len(text))))


_CLAUSE_SEPARATORS = frozenset("，；：;:")
_GROUPING_COMMA_RE = re.compile(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))")


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    def separates(i: int) -> bool:
        if text[i] == ",":
            return not _GROUPING_COMMA_RE.match(text, i)  # the comma of 1,234 groups digits
        return text[i] in _CLAUSE_SEPARATORS

    return _split(start, end, (separates(i) for i in range(start, end)))


# ---------------------------------------------------------------- as-of phrases

# 截至 / 截止 / 截止到 / 截至到 introduce the cut-off of a running total; 截止日期, 截止时间 are
# deadlines, not cut-offs.
_AS_OF_LEAD_RE = re.compile(r"(?:截至|截止)(?:到|至)?(?!日期|时间|期限)")
# 截至目前: as of the day the text was published.
_NOW_RE = re.compile(r"目前|当前|现在|今天|今日|发稿时?|本公告发布之日|发布之日")
_NUMERAL_YEAR = r"[0-9]{4}|[〇零一二三四五六七八九]{4}"  # 2024, 二〇二四
_YEAR_RE = re.compile(rf"({_NUMERAL_YEAR})年")
_RELATIVE_YEAR = {"今年": 0, "本年": 0, "去年": -1, "上年": -1, "前年": -2}
_RELATIVE_YEAR_RE = re.compile("|".join(_RELATIVE_YEAR))
_MONTH_RE = re.compile(r"([0-9]{1,2}|十[一二]?|[一二三四五六七八九])月")
_DAY_RE = re.compile(r"([0-9]{1,2}|[二三]?十[一二三四五六七八九]?|[一二三四五六七八九])[日号]")
_MONTH_END_RE = re.compile(r"[底末]")  # 12月底, 12月末
_YEAR_END_RE = re.compile(r"年?[底末]|上半年|年中")  # 2024年底, 2024年年末, 2024年上半年
# A date without 截至 is an as-of date only when it opens a clause and a running total follows
# it straight away: "2024年12月31日，共有302款……". Elsewhere it is just a date ("2025年1月8日发布").
_OPENS_CLAUSE = frozenset("，；：,;:。！？!?.（(")
_TOTAL_FOLLOWS_RE = re.compile(r"[，,]?(?:累计|共有|共计|总计|合计|已有|总共|一共)")


@dataclass(frozen=True)
class _DateRead:
    end: int
    iso: str | None  # None when relative to an unknown publication date
    readable: bool
    point: bool = True  # a day or a month's or year's end, not just a month


@dataclass(frozen=True)
class _AsOf:
    start: int
    end: int
    sentence: int
    iso: str | None
    readable: bool


def _iso(year: int | None, month: int | None, day: int | None) -> str | None:
    """YYYY-MM-DD; day None is the month's last day; None for impossible dates."""
    if year is None or month is None or not 1 <= year <= 9999 or not 1 <= month <= 12:
        return None
    last = calendar.monthrange(year, month)[1]
    day = last if day is None else day
    return date(year, month, day).isoformat() if 1 <= day <= last else None


def _read_date(text: str, pos: int, published: date | None) -> _DateRead | None:
    """The date at text[pos:], or None when nothing there looks like one."""
    now = _NOW_RE.match(text, pos)
    if now:
        return _DateRead(now.end(), published.isoformat() if published else None, True)
    year: int | None = None
    year_given = False
    end = pos
    if match := _YEAR_RE.match(text, pos):
        year, year_given, end = chinese_numeral(match.group(1)), True, match.end()
    elif match := _RELATIVE_YEAR_RE.match(text, pos):  # 截至今年6月底
        year_given, end = True, match.end()
        year = published.year + _RELATIVE_YEAR[match.group()] if published else None
    day: int | None = None
    point = True
    if month_match := _MONTH_RE.match(text, end):
        month, end = chinese_numeral(month_match.group(1)), month_match.end()
        if day_match := _DAY_RE.match(text, end):
            day, end = chinese_numeral(day_match.group(1)), day_match.end()
        elif end_match := _MONTH_END_RE.match(text, end):
            end = end_match.end()
        else:
            point = False  # 截至2024年12月: the month's end, but only after 截至
        if not year_given and published is not None:
            # 截至12月31日 in a text of 2025-01-08 is the last 12-31 before it.
            year = published.year
            this_year = _iso(year, month, day)
            if this_year is not None and this_year > published.isoformat():
                year -= 1
    elif year_given:
        year_end = _YEAR_END_RE.match(text, end)
        if not year_end:  # 截至2024年: a year, not a day of it
            return _DateRead(end, None, False, False)
        month, day = (6, 30) if year_end.group() in ("上半年", "年中") else (12, 31)
        end = year_end.end()
    else:
        return None
    if year is None and (published is None or not year_given):
        return _DateRead(end, None, True, point)
    iso = _iso(year, month, day)
    return _DateRead(end, iso, iso is not None, point)


def _as_of_phrases(
    text: str, sentences: list[tuple[int, int]], published: date | None
) -> list[_AsOf]:
    starts = [start for start, _ in sentences]

    def sentence_of(pos: int) -> int:
        return bisect_right(starts, pos) - 1

    phrases: list[_AsOf] = []
    for lead in _AS_OF_LEAD_RE.finditer(text):
        read = _read_date(text, lead.end(), published)
        if read is None:  # 截至 followed by nothing we can read as a date
            phrases.append(_AsOf(lead.start(), lead.end(), sentence_of(lead.start()), None, False))
        else:
            phrases.append(
                _AsOf(lead.start(), read.end, sentence_of(lead.start()), read.iso, read.readable)
            )
    covered = bytearray(len(text))
    for phrase in phrases:
        covered[phrase.start : phrase.end] = b"\x01" * (phrase.end - phrase.start)
    for year in _YEAR_RE.finditer(text):
        if covered[year.start()]:
            continue
        if year.start() and text[year.start() - 1] not in _OPENS_CLAUSE:
            continue  # 截止日期为2024年12月31日: a date inside a clause is not its as-of date
        read = _read_date(text, year.start(), published)
        if read and read.readable and read.point and _TOTAL_FOLLOWS_RE.match(text, read.end):
            phrases.append(_AsOf(year.start(), read.end, sentence_of(year.start()), read.iso, True))
    return sorted(phrases, key=lambda p: p.start)


def _mask(text: str, phrases: list[_AsOf]) -> str:
    """text with the as-of phrases blanked out, so their digits are neither counts nor years."""
    chars = list(text)
    for phrase in phrases:
        chars[phrase.start : phrase.end] = "\x00" * (phrase.end - phrase.start)
    return "".join(chars)


def _as_of_for(
    own: list[_AsOf], own_starts: list[int], carried: _AsOf | None, pos: int
) -> _AsOf | None:
    """The sentence's own as-of phrase (the last one before the count, else the first after
    it), else the one carried from an earlier sentence of the same paragraph."""
    before = bisect_right(own_starts, pos)
    if before:
        return own[before - 1]
    return own[0] if own else carried


# ---------------------------------------------------------------- count tokens

_CN_NUMERAL_CLASS = "零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟萬億"
# A whole run of digits (with the commas of 1,234) or of Chinese numerals: each run is tried
# once, as a whole, and a run that is not one number (12,3456) is not read as a part of it.
_NUMBER = rf"(?<![0-9])[0-9][0-9,]*+[万亿]?|(?<![{_CN_NUMERAL_CLASS}])[{_CN_NUMERAL_CLASS}]++"
# 302款 (services, apps), 302个 (items), 59家 (companies); 300余款, 二十来家 are approximate.
_COUNT_RE = re.compile(rf"(?P<number>{_NUMBER})(?P<about>余|多|来)?(?P<measure>[款个家])")
# 3个月, 10个工作日, 个人: 个 there measures time or is part of a word.
_GE_NOT_A_COUNT_RE = re.compile(r"月|工作日|小时|自然日|日|星期|季度|年|百分点|人|体|别")
_ABOUT_BEFORE_RE = re.compile(r"(?:超过?|逾|近|约|大约|不到|不足|不少于|至少)$")
# A lone 一 is "one" in 每一款, 任何一家, 其中一款 — a count only after a total's keyword.
_LONE_ONE_OK_RE = re.compile(r"(?:共有?|共计|累计|新增|合计|总计|备案|登记)$")
# 3.5款: a decimal, not a count; 1，234 (a full-width comma) is too ambiguous to read.
_DECIMAL_RE = re.compile(r"[0-9][.,]$")
_FULL_WIDTH_GROUPING_RE = re.compile(r"[0-9]，$")


@dataclass(frozen=True)
class _Token:
    start: int  # of the number
    end: int  # after the measure word
    figure: int | None
    measure_word: str
    readable: bool  # False: approximate or malformed — the sentence goes to unparsed


def _tokens(masked: str, start: int, end: int) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _COUNT_RE.finditer(masked, start, end):
        number, measure_word = match.group("number"), match.group("measure")
        before = masked[max(start, match.start() - 8) : match.start()]  # the few words before
        after = masked[match.end() : min(end, match.end() + 4)]
        chinese = number[0] not in "0123456789"
        if before.endswith("第"):  # 第十二批, 第一款 (of an article): ordinals, not counts
            continue
        if before and before[-1].isascii() and (before[-1].isalpha() or before[-1] in "-_"):
            continue  # a model version such as V3
        if measure_word == "个" and _GE_NOT_A_COUNT_RE.match(after):
            continue
        if measure_word == "款" and after[:1] in ("项", "式"):  # 款项 (funds), 款式 (styles)
            continue
        figure = chinese_numeral(number)
        if chinese and (figure is None or (number == "一" and not _LONE_ONE_OK_RE.search(before))):
            continue  # 百家号, 千家万户, 每一款: words, not numbers
        readable = (
            figure is not None
            and match.group("about") is None
            and not _ABOUT_BEFORE_RE.search(before)
            and not (chinese and before.endswith(("数", "几")))  # 数十家
            and not _DECIMAL_RE.search(before)
            and not (not chinese and len(number) == 3 and _FULL_WIDTH_GROUPING_RE.search(before))
        )
        tokens.append(_Token(match.start(), match.end(), figure, measure_word, readable))
    return tokens


# ---------------------------------------------------------------- what a count counts

# 完成备案, 已备案, 通过备案, 办理登记; 注销备案 counts cancellations. 备案号, 备案系统 are nouns.
_VERB_RE = re.compile(
    r"(?:完成|进行|办理|通过|获得|予以)?(?P<undo>注销|撤销|撤回|取消)?(?P<verb>备案|登记)"
    r"(?!号|编号|系统|证)"
)
_COUNTED = {
    ("", "备案"): "filed",
    ("", "登记"): "registered",
    ("undo", "备案"): "filing_cancelled",
    ("undo", "登记"): "registration_cancelled",
}
_NEGATION_RE = re.compile(
    r"尚未|暂未|未经|没有|不予|未(?:完成|进行|办理|通过|获得|在|向|于|予|被|备案|登记)"
)
_VERB_PAIR_RE = re.compile(r"(?:备案|登记)[和、及与或并/](?:已|完成|进行|办理)?(?:备案|登记)")
# 涉及200家企业 after a count of services: the companies behind the count before it.
_ATTACHED_RE = re.compile(r"涉及|来自|覆盖|分属|包括|包含|含")
# Enforcement news counts what CAC did to platforms, not what was filed.
_ACTION_RE = re.compile(r"督促|约谈|处置|查处|下架|关停|清理|责令|通报|处罚|警告|曝光|整改|指导")


# ---------------------------------------------------------------- measure and year

_NEW_RE = re.compile(r"新增")
_EXPLICIT_TOTAL_RE = re.compile(r"累计|总计|合计")
# 共 alone is a total only next to the count or its verb (not in 公共, 共享).
_TOTAL_RE = re.compile(
    r"累计|总计|合计|共有|共计|总共|一共|已有|现有|总数|总量|达到?|共(?=$|备案|登记|完成|通过)"
)
# 2024年新增 / 2024年共有: the figures of that year (2024年12月… is a month, see _PERIOD_RE).
_YEAR_PREFIX_RE = re.compile(
    rf"(?P<year>{_NUMERAL_YEAR})年(?!底|末)(?:度|全年|内)?"
    r"|(?P<relative>今年|本年度?|去年|上年度?|当年|全年|年内)"
)
_RELATIVE_PREFIX = {"今年": 0, "本年": 0, "本年度": 0, "去年": -1, "上年": -1, "上年度": -1}
# Figures of a month or a quarter (2024年12月新增, 近3个月) are neither totals nor a year's.
_PERIOD_RE = re.compile(
    r"[0-9]{1,2}月|[一二三四五六七八九十]{1,3}月|个月|季度|半年|本月|当月|上月|本周|以来|期间"
)
# Nor is the size of a batch being published (现公开发布第十二批……共有50款), unless it says
# 累计; searched in the whole sentence before the count.
_BATCH_RE = re.compile(
    r"第[^，,；;。]{1,8}批|本批|该批|此批|批次|本次|此次|该次|本轮|公开发布|现公布|现将"
)


def _year_as_of(year: int, statement: str | None, published: date | None) -> str | None:
    """A year's figure is as of the statement's date when that falls in the year (2024年新增
    under 截至2024年12月31日), else as of the year's last day — unless the text was published
    before that day, when the year was not over and the cut-off is unknown."""
    if statement is not None and statement.startswith(f"{year:04d}-"):
        return statement
    end = _iso(year, 12, 31)
    if end is None or (published is not None and published.isoformat() < end):
        return None
    return end


def _classify(
    before: str, batch: bool, as_of: _AsOf | None, published: date | None
) -> tuple[str, int | None, str | None] | None:
    """(measure, year, as_of) of a count from the words before it, or None if unclassifiable.

    `before` is the count's own stretch of its clause, as-of phrases masked out; `batch` says
    whether its sentence spoke of a batch before it."""
    explicit_total = _EXPLICIT_TOTAL_RE.search(before) is not None
    if _ACTION_RE.search(before) or _PERIOD_RE.search(before):
        return None
    if batch and not explicit_total:
        return None
    if as_of is not None and not as_of.readable:
        return None
    statement = as_of.iso if as_of else None
    statement_year = int(statement[:4]) if statement else None
    prefixes = list(_YEAR_PREFIX_RE.finditer(before))
    if prefixes or _NEW_RE.search(before):
        year: int | None = statement_year  # 其中新增备案238款: new in the as-of year
        if prefixes and prefixes[-1].group("year"):
            year = chinese_numeral(prefixes[-1].group("year"))
        elif prefixes and prefixes[-1].group("relative") in _RELATIVE_PREFIX:
            offset = _RELATIVE_PREFIX[prefixes[-1].group("relative")]
            if published is not None:
                year = published.year + offset
            elif offset:
                year = None
        if year is None or not 1 <= year <= 9999:
            return None
        return NEW_IN_YEAR, year, _year_as_of(year, statement, published)
    if _TOTAL_RE.search(before) or as_of is not None:
        return CUMULATIVE, None, statement
    return None


# ---------------------------------------------------------------- subjects

# Between the counted noun and its verb stand where and how it was filed: 在国家网信办, 已,
# 完成; between a verb and a count stand 的 and the total's words: 的……数量达.
_SUBJECT_TAIL_RE = re.compile(
    r"(?:(?:在|于|向|经|由|通过)[^在于向经由]{0,20}?"
    r"(?:网信办|网信部门|网信办公室|互联网信息办公室|网信机构|部门|系统|平台)"
    r"|完成|通过|办理|获得|进行了?|已经|已|均已|均|都|并|先后|陆续|正式|依法|顺利"
    r"|累计|共计|共有|共|合计|总计|数量|总数|总量|达到|达|为|有|计)$"
)
_SUBJECT_HEAD_RE = re.compile(r"的|了|是|为")


def _trim_subject(text: str) -> str:
    text = text.replace("\x00", "")
    low, high = 0, len(text)
    while low < high:  # every tail above is under 40 characters long
        if tail := _SUBJECT_TAIL_RE.search(text, max(low, high - 40), high):
            high = tail.start()
        elif head := _SUBJECT_HEAD_RE.match(text, low, high):
            low = head.end()
        else:
            break
    return text[low:high]


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Context:
    own: list[_AsOf]  # the sentence's own as-of phrases
    own_starts: list[int]
    carried: _AsOf | None  # the last one of the paragraph's earlier sentences
    batch_end: int | None  # where the sentence first speaks of a batch (第十二批, 本次)


@dataclass(frozen=True)
class _Verb:
    start: int
    end: int
    counted: str


def _last_verb(masked: str, start: int, end: int) -> _Verb | None:
    found = None
    for match in _VERB_RE.finditer(masked, start, end):
        key = ("undo" if match.group("undo") else "", match.group("verb"))
        found = _Verb(match.start(), match.end(), _COUNTED[key])
    return found


class _ParagraphReader:
    def __init__(self, source: str, paragraph: _Paragraph, published: date | None) -> None:
        self.source = source
        self.paragraph = paragraph
        self.published = published
        self.text = paragraph.text
        self.sentences = _sentences(self.text)
        self.as_ofs = _as_of_phrases(self.text, self.sentences, published)
        self.masked = _mask(self.text, self.as_ofs)
        self.counts: list[StatedCount] = []
        self.unparsed: list[str] = []
        self.subjects: dict[str, str] = {}  # counted → the subject last stated for it

    def read(self) -> None:
        by_sentence: dict[int, list[_AsOf]] = {}
        for phrase in self.as_ofs:
            by_sentence.setdefault(phrase.sentence, []).append(phrase)
        carried: _AsOf | None = None
        for number, (start, end) in enumerate(self.sentences):
            own = by_sentence.get(number, [])
            self._read_sentence(start, end, own, carried)
            carried = own[-1] if own else carried

    def _read_sentence(self, start: int, end: int, own: list[_AsOf], carried: _AsOf | None) -> None:
        tokens = _tokens(self.masked, start, end)
        sentence = self.text[start:end]
        if not tokens or ("备案" not in sentence and "登记" not in sentence):
            return  # no count, or a count of something other than filings
        clauses = _clauses(self.text, start, end)
        clause_starts = [s for s, _ in clauses]
        by_clause: dict[int, list[_Token]] = {}
        for token in tokens:
            by_clause.setdefault(bisect_right(clause_starts, token.start) - 1, []).append(token)
        batch = _BATCH_RE.search(self.masked, start, end)
        context = _Context(own, [p.start for p in own], carried, batch.end() if batch else None)
        found: list[StatedCount] = []
        failed = False
        for index, clause_tokens in by_clause.items():
            for position, token in enumerate(clause_tokens):
                count = self._count(token, position, clause_tokens, index, clauses, by_clause,
                                    context, found)  # fmt: skip
                if count is None:
                    failed = True
                else:
                    found.append(count)
                    self.subjects[count.counted] = count.subject
        self.counts.extend(found)
        if failed:
            self.unparsed.append(self.paragraph.quote(self.source, start, end))

    def _count(
        self,
        token: _Token,
        position: int,
        clause_tokens: list[_Token],
        index: int,
        clauses: list[tuple[int, int]],
        by_clause: dict[int, list[_Token]],
        context: _Context,
        found: list[StatedCount],
    ) -> StatedCount | None:
        if not token.readable or token.figure is None:
            return None
        clause_start, clause_end = clauses[index]
        last_in_clause = position == len(clause_tokens) - 1
        window_start = clause_tokens[position - 1].end if position else clause_start
        window_end = clause_end if last_in_clause else clause_tokens[position + 1].start
        masked = self.masked
        quote_end = clause_end

        # The verb: after the count (302款……完成备案), else before it (新增备案238款), else in
        # the next clause when that holds no count of its own (302款服务，在……完成备案).
        verb = _last_verb(masked, token.end, window_end)
        if verb is not None:
            subject = _trim_subject(masked[token.end : verb.start])
            subject = subject or _trim_subject(masked[verb.end : window_end])
            region_end = window_end
        elif (verb := _last_verb(masked, window_start, token.start)) is not None:
            subject = _trim_subject(masked[verb.end : token.start])
            subject = subject or _trim_subject(masked[token.end : window_end])
            region_end = window_end
        else:
            following = clauses[index + 1] if last_in_clause and index + 1 < len(clauses) else None
            verb = (
                _last_verb(masked, *following) if following and index + 1 not in by_clause else None
            )
            if verb is None or following is None:
                return self._attached(token, window_start, window_end, clause_start, found)
            subject = _trim_subject(masked[token.end : window_end])
            subject = subject or _trim_subject(masked[following[0] : verb.start])
            region_end = quote_end = following[1]
        region = masked[window_start:region_end]
        if _NEGATION_RE.search(region) or _VERB_PAIR_RE.search(region):
            return None  # 尚未完成备案; 完成备案和登记 (which of the two?)

        as_of = _as_of_for(context.own, context.own_starts, context.carried, token.start)
        batch = context.batch_end is not None and context.batch_end <= token.start
        before = masked[window_start : token.start]
        kind = _classify(before, batch, as_of, self.published)
        if kind is None:
            return None
        measure, year, as_of_iso = kind
        counted = verb.counted + ("_companies" if token.measure_word == "家" else "")
        return StatedCount(
            as_of=as_of_iso,
            year=year,
            measure=measure,
            counted=counted,
            # 其中新增备案238款 names nothing: it counts what the count before it counted.
            subject=subject or self.subjects.get(counted, ""),
            figure=token.figure,
            sentence=self.paragraph.quote(self.source, clause_start, quote_end),
        )

    def _attached(
        self,
        token: _Token,
        window_start: int,
        window_end: int,
        clause_start: int,
        found: list[StatedCount],
    ) -> StatedCount | None:
        """涉及200家企业: companies behind the count just before, in the same sentence."""
        before = self.masked[window_start : token.start]
        if token.measure_word != "家" or not found or not _ATTACHED_RE.search(before):
            return None
        if token.figure is None or _ACTION_RE.search(before):
            return None
        previous = found[-1]
        counted = previous.counted.removesuffix("_companies") + "_companies"
        return StatedCount(
            as_of=previous.as_of,
            year=previous.year,
            measure=previous.measure,
            counted=counted,
            subject=_trim_subject(self.masked[token.end : window_end]),
            figure=token.figure,
            sentence=self.paragraph.quote(self.source, clause_start, window_end),
        )


def _published(published_on: str | None) -> date | None:
    if not published_on:
        return None
    try:
        return date.fromisoformat(published_on.strip()[:10])
    except ValueError:
        return None


def parse_statement(text: str, published_on: str | None = None) -> ParsedStatement:
    """The counts CAC states in `text` (an announcement's body, paragraphs separated by blank
    lines or by line breaks after a full stop).

    `published_on` (ISO; anything else is ignored) resolves 截至目前, 今年, 去年 and 截至12月31日
    written without a year, and tells whether a year was over when its figure was stated; it is
    never an as-of date by itself."""
    published = _published(published_on)
    counts: list[StatedCount] = []
    unparsed: dict[str, None] = {}  # in order, once each
    for paragraph in _paragraphs(text):
        reader = _ParagraphReader(text, paragraph, published)
        reader.read()
        counts.extend(reader.counts)
        unparsed.update(dict.fromkeys(reader.unparsed))
    return ParsedStatement(counts, list(unparsed))
