"""Full-text search that works for Chinese, including one- and two-character queries.

SQLite's unicode61 tokenizer treats a run of Chinese characters as one token, and the trigram
tokenizer cannot match queries shorter than three characters (抖音, 百度). So the text stored
in the *_fts tables is segmented: every CJK character is its own token. A query is segmented
the same way and each term becomes an FTS5 phrase, so 抖音 → "抖 音" matches the two
characters side by side anywhere in a column. Latin words and digits stay whole and match as
prefixes (chatglm*, 1101088*); a word that is pinyin (baidu) also matches its syllables
(bai du), found in the pinyin column (of the company, and a filing's name). This needs only
the FTS5 that ships with SQLite 3.40.

parse_search reads a search box (every term must match; FTS5 syntax typed by users is only
text; capped at MAX_QUERY_CHARS and MAX_QUERY_TERMS) and fts_query gives its expression, also
as Datasette's escape_fts. highlight and suggest_shorter serve the result pages.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from cac_filings.pinyin import read_pinyin

if TYPE_CHECKING:
    from cac_filings.schema import Table

_CJK_RANGES = (
    "\u3040-\u30ff"  # kana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\uac00-\ud7af"  # hangul
    "\U00020000-\U0003134f"  # CJK extensions B-H
)
_CJK_RE = re.compile(f"[{_CJK_RANGES}]")
_SEGMENT_RE = re.compile(f"[{_CJK_RANGES}]|[^{_CJK_RANGES}]+")
# Characters Python counts as word characters (or that lie in the CJK ranges) but SQLite's
# unicode61 tokenizer (Unicode 6.1 tables) treats as separators: combining and spacing kana
# voicing marks, ゠ and ・, New Tai Lue vowel signs and two Vedic signs (Mc in 6.1, Lo today).
# That is all of them (every code point checked against SQLite 3.40); leaving them out of query
# tokens means a query phrase never comes out empty in FTS5.
_NOT_FTS_TOKEN = "\u3099-\u309c\u30a0\u30fb\u19b0-\u19c0\u19c8\u19c9\u1cf2\u1cf3"
_CJK_TOKEN = f"(?![{_NOT_FTS_TOKEN}])[{_CJK_RANGES}]"
_LATIN = f"[^\\W_{_CJK_RANGES}{_NOT_FTS_TOKEN}]"
# A Latin/digit token may carry combining diacritics (decomposed é), which FTS5 removes.
_TOKEN_RE = re.compile(f"{_CJK_TOKEN}|{_LATIN}(?:{_LATIN}|[\u0300-\u036f])*")


# Full-width digits and Latin letters (１１０１０８, ＡＩＧＣ: a Chinese input method's full-width
# mode, text copied from a PDF) are searched as the ASCII ones, in the index and in queries.
_FULL_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in (
    *range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))})
_HAS_FULL_WIDTH = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


def _narrow(text: str) -> str:
    """Full-width digits and letters as ASCII (looked for first: most text has none, and a
    translation looks up every character)."""
    return text.translate(_FULL_WIDTH) if _HAS_FULL_WIDTH.search(text) else text


def segment_text(text: str | None) -> str | None:
    """Text as stored in a full-text table: a space around every CJK character, full-width
    digits and letters as ASCII."""
    if not text or text.isascii():
        return text  # no CJK character, no full-width one: one run, as it is
    return " ".join(_SEGMENT_RE.findall(_narrow(text)))


def search_text(value: str | None, column_type: str) -> str | None:
    """What a column contributes to full-text search: JSON columns give their string values."""
    if value is None:
        return None
    if column_type == "json":
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return segment_text(value)
        strings: list[str] = []
        _collect_strings(parsed, strings)
        return segment_text(" ".join(strings))
    return segment_text(value)


def fts_texts(table: Table, row: dict[str, Any]) -> tuple[str | None, ...]:
    """The segmented search text of a row's full-text columns, in `table.fts` order. A name
    that is not a column of the table is an index-only text the build computed (`_pinyin`:
    the company's pinyin, so that `baidu` finds Baidu's filings)."""
    columns = table.column_types
    return tuple(search_text(row[c], columns[c]) if c in columns else row.get("_" + c)
                 for c in table.fts)


def _collect_strings(value: object, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect_strings(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, out)




# ---------------------------------------------------------------- search box → FTS5

MAX_QUERY_CHARS = 100  # characters of a query searched, after trimming; the rest is ignored
MAX_QUERY_TERMS = 12  # terms of a query searched; the rest is ignored
NO_MATCH = '""'  # the expression of a query with nothing to search: an empty phrase
# Terms are separated by white space and by the punctuation that separates words in Chinese
# (and , ;). Inside a term other punctuation (-, :, ., parentheses) only separates tokens,
# which must then follow one another: Beijing-WenXinYiYan-20230821 is one phrase.
_TERM_RE = re.compile(r'"([^"]*)"?|“([^”]*)”?|([^\s"“”,;，。、；！？]+)')


@dataclass(frozen=True)
class SearchTerm:
    """One term of a query, as the user wrote it."""

    text: str  # the term as typed, without its quotes
    tokens: tuple[str, ...]  # what FTS5 matches, one after another: CJK characters, words
    syllables: tuple[str, ...] | None = None  # its pinyin reading (baidu → bai du), if pinyin
    quoted: bool = False

    @property
    def prefix(self) -> bool:
        """A term ending in a Latin word or a number matches it as a prefix (chat → ChatGLM)."""
        return not _CJK_RE.fullmatch(self.tokens[-1])

    @property
    def match(self) -> str:
        """The term's FTS5 expression: a phrase, or a phrase OR its pinyin syllables."""
        phrase = _fts_phrase(self.tokens) + (" *" if self.prefix else "")
        if self.syllables and " ".join(self.syllables) != self.tokens[0].lower():
            return f"({phrase} OR {_fts_phrase(self.syllables)})"
        return phrase

    @property
    def source(self) -> str:
        """The term as it would be typed again (quoted when it must be)."""
        return '"' + self.text.replace('"', " ") + '"' if self.quoted else self.text


@dataclass(frozen=True)
class SearchQuery:
    """A search box's text, read: the FTS5 expression to run and the terms it is made of."""

    text: str  # the query as typed, trimmed
    match: str  # FTS5 MATCH expression; NO_MATCH when there is nothing to search
    terms: tuple[SearchTerm, ...]
    too_long: bool = False  # longer than MAX_QUERY_CHARS or MAX_QUERY_TERMS: it was cut
    truncated_to: str | None = None  # the query actually searched, when it was cut

    @property
    def matches_nothing(self) -> bool:
        return self.match == NO_MATCH


def _fts_phrase(tokens: tuple[str, ...]) -> str:
    # Tokens never hold a double quote; doubling one is how FTS5 escapes it anyway.
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def _term(text: str, quoted: bool) -> SearchTerm | None:
    tokens = tuple(_TOKEN_RE.findall(_narrow(text)))
    if not tokens:
        return None
    syllables = None
    if len(tokens) == 1 and not _CJK_RE.fullmatch(tokens[0]):
        found = read_pinyin(tokens[0])
        syllables = tuple(found) if found else None
    return SearchTerm(text.strip(), tokens, syllables, quoted)


def parse_search(text: str) -> SearchQuery:
    """A user's search box text → the FTS5 expression that finds rows matching every term.

    Terms are separated by spaces (and Chinese punctuation); "quoted text" or “quoted text” is
    one phrase. A term is the phrase of its tokens (CJK characters and words, punctuation
    ignored); a term ending in a word or number matches it as a prefix; a pinyin word (baidu)
    also matches its syllables (bai du, in the companies' pinyin column). Operators typed by
    the user (AND, OR, NOT, NEAR, name:, *, ^, -, +) are words like any other, never FTS5
    syntax. Queries are cut to MAX_QUERY_CHARS characters and MAX_QUERY_TERMS terms. Any text
    gives a valid expression; one with nothing searchable gives NO_MATCH, which matches nothing.
    """
    typed = text.strip()
    searched = typed[:MAX_QUERY_CHARS].rstrip()
    too_long = len(typed) > MAX_QUERY_CHARS
    terms: list[SearchTerm] = []
    seen: set[str] = set()
    for found in _TERM_RE.finditer(searched):
        bare = found.group(3)
        quoted_text = found.group(1) if found.group(1) is not None else found.group(2)
        term = _term(bare if bare is not None else quoted_text, quoted=bare is None)
        if term is None or term.match.casefold() in seen:
            continue
        if len(terms) == MAX_QUERY_TERMS:
            too_long = True
            searched = searched[:found.start()].rstrip()
            break
        seen.add(term.match.casefold())
        terms.append(term)
    return SearchQuery(typed, _fts_and(terms), tuple(terms), too_long,
                       searched if too_long else None)


def _fts_and(terms: list[SearchTerm]) -> str:
    """Every term must match. FTS5 reads phrases side by side as AND ("北 京" "字 节") but not a
    parenthesised group beside anything (its grammar has implicit AND only between phrases):
    a group is joined with an explicit AND. Both ANDs mean the same here, since no query
    phrase is ever empty (an empty phrase is dropped by implicit AND, but empties AND)."""
    out: list[str] = []
    previous_group = False
    for term in terms:
        fragment = term.match
        group = fragment.startswith("(")
        if out:
            out.append(" AND " if group or previous_group else " ")
        out.append(fragment)
        previous_group = group
    return "".join(out) or NO_MATCH


def fts_query(query: str) -> str:
    """A user's search box text → an FTS5 MATCH expression over segmented text (see
    parse_search). Also Datasette's escape_fts for the served database: never raises, and
    SQL NULL or a blob (not text) matches nothing."""
    if not isinstance(query, str):
        return NO_MATCH
    return parse_search(query).match


# ---------------------------------------------------------------- result pages

def _fold(token: str) -> str:
    """A token as FTS5 compares it (as the index holds it): case folded, diacritics removed,
    full-width digits and letters as ASCII."""
    if token.isascii():
        return token.lower()
    token = _narrow(token)
    return "".join(c for c in unicodedata.normalize("NFD", token)
                   if not unicodedata.combining(c)).lower()


def _phrases(query: SearchQuery) -> list[tuple[tuple[str, ...], bool]]:
    """What highlight looks for: each term's folded tokens (its last one a prefix or not), and
    pinyin terms' syllables, which only match pinyin, never the Chinese characters they read."""
    phrases = []
    for term in query.terms:
        phrases.append((tuple(map(_fold, term.tokens)), term.prefix))
        if term.syllables:
            phrases.append((term.syllables, False))
    return phrases


def highlight(text: str | None, query: SearchQuery) -> list[tuple[str, bool]]:
    """`text` in (segment, matched) parts, for showing which parts of a result matched: Chinese
    terms as substrings, Latin words and numbers case-insensitively as prefixes of words, pinyin
    terms' syllables only in pinyin. The parts joined give `text` back.

    Matches as FTS5 does: `text` is cut into the tokens the index holds, and a term matches
    where its tokens follow one another (whatever punctuation lies between). Time linear in
    the number of tokens of `text`, times those of the query; no regular expression is built
    per query."""
    if not text:
        return []
    spans = [(m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
    folded = [_fold(text[start:end]) for start, end in spans]
    marked = bytearray(len(text))
    for tokens, prefix in _phrases(query):
        last = len(tokens) - 1
        for i in range(len(spans) - last):
            if not all(folded[i + k] == tokens[k] for k in range(last)):
                continue
            word = folded[i + last]
            if not (word.startswith(tokens[last]) if prefix else word == tokens[last]):
                continue
            start, end = spans[i][0], spans[i + last][1]
            if prefix and word != tokens[last]:
                # Only the typed part of the last word (all of it when folding changed lengths).
                token_start = spans[i + last][0]
                if len(word) == end - token_start:
                    end = token_start + len(tokens[last])
            marked[start:end] = b"\x01" * (end - start)
    parts: list[tuple[str, bool]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or marked[i] != marked[start]:
            parts.append((text[start:i], bool(marked[start])))
            start = i
    return parts


MAX_SUGGESTIONS = 5
# Words that say little on their own: where a company or algorithm is, and what kind it is.
_PLACE_RE = re.compile(
    "(?:北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|"
    "广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门|深圳|广州|"
    "杭州|南京|苏州|成都|武汉|西安|厦门|青岛|宁波|合肥|长沙|郑州|济南|福州|大连|沈阳|无锡|东莞|"
    "佛山|珠海|中国)(?:省|市|自治区)?")
_KINDS = (  # longest first
    "股份有限公司", "有限责任公司", "有限公司", "人工智能", "分公司", "大模型", "公司", "集团",
    "科技", "技术", "信息", "网络", "服务", "智能", "数据", "软件", "算法", "推荐", "模型", "平台",
    "系统")


def _chinese_words(text: str) -> list[tuple[str, bool]]:
    """A Chinese name in (word, generic) parts, without a dictionary: a leading place, trailing
    kinds of company or algorithm, and the rest in two-character words (the last of three)."""
    head: list[tuple[str, bool]] = []
    tail: list[tuple[str, bool]] = []
    place = _PLACE_RE.match(text)
    if place and len(text) - place.end() >= 2:
        head.append((place.group(), True))
        text = text[place.end():]
    peeled = True
    while peeled:
        peeled = False
        for kind in _KINDS:
            if text.endswith(kind) and len(text) - len(kind) >= 2:
                tail.insert(0, (kind, True))
                text = text[:-len(kind)]
                peeled = True
                break
    core: list[tuple[str, bool]] = []
    while len(text) > 3:
        core.append((text[:2], False))
        text = text[2:]
    core.append((text, False))
    return head + core + tail


def suggest_shorter(query: SearchQuery) -> list[str]:
    """Shorter queries to try when `query` found nothing: the query without one of its terms
    (the last first); for a single long Chinese term, its meaningful parts: 北京字节跳动 →
    字节跳动, 北京字节, 字节, 跳动 (first those that drop only a place or a kind of company or
    algorithm, then the longest). At most MAX_SUGGESTIONS, no duplicates, never the query."""
    terms = query.terms
    candidates: list[str] = []
    if len(terms) > 1:
        for i in reversed(range(len(terms))):
            candidates.append(" ".join(t.source for j, t in enumerate(terms) if j != i))
    elif len(terms) == 1 and all(_CJK_RE.fullmatch(t) for t in terms[0].tokens):
        words = _chinese_words("".join(terms[0].tokens))
        ranked = []
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                if (i, j) == (0, len(words)) or all(generic for _, generic in words[i:j]):
                    continue
                dropped = sum(len(w) for k, (w, generic) in enumerate(words)
                              if not generic and not i <= k < j)
                text = "".join(w for w, _ in words[i:j])
                ranked.append((dropped, -len(text), i, text))
        candidates = [text for *_, text in sorted(ranked)]
    out: list[str] = []
    original = " ".join(t.source for t in terms)
    for candidate in candidates:
        if candidate and candidate not in out and candidate not in (original, query.text):
            out.append(candidate)
    return out[:MAX_SUGGESTIONS]
