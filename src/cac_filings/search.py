"""Full-text search that works for Chinese, including one- and two-character queries.

SQLite's unicode61 tokenizer treats a run of Chinese characters as one token, and the trigram
tokenizer cannot match queries shorter than three characters (抖音, 百度). So the text stored
in the *_fts tables is segmented: every CJK character is its own token. A query is segmented
the same way and each term becomes an FTS5 phrase, so 抖音 → "抖 音" matches the two
characters side by side anywhere in a column. Latin words and digits stay whole and match as
prefixes (chatglm*, 1101088*); a word that is pinyin (baidu) also matches its syllables
(bai du), found in the companies' pinyin column. This needs only the FTS5 that ships with
SQLite 3.40.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

from cac_filings.pinyin import split_pinyin

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
_TOKEN_RE = re.compile(f"[{_CJK_RANGES}]|[^\\W_{_CJK_RANGES}]+")
_TERM_RE = re.compile(r'"([^"]*)"|(\S+)')


def segment_text(text: str | None) -> str | None:
    """Text as stored in a full-text table: a space around every CJK character."""
    if not text:
        return text
    return " ".join(_SEGMENT_RE.findall(text))


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
    """The segmented search text of a row's full-text columns, in `table.fts` order."""
    return tuple(search_text(row[c], table.column(c).type) for c in table.fts)


def _collect_strings(value: object, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect_strings(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, out)


def fts_query(query: str) -> str:
    """A user's search box text → an FTS5 MATCH expression over segmented text.

    Terms separated by spaces must all match; "quoted text" is one phrase. Punctuation is
    ignored. A query with no searchable characters matches nothing.
    """
    phrases: list[str] = []
    for quoted, bare in _TERM_RE.findall(query):
        term = quoted or bare
        tokens = _TOKEN_RE.findall(term)
        if not tokens:
            continue
        phrase = '"' + " ".join(tokens) + '"'
        if not _CJK_RE.fullmatch(tokens[-1]):
            phrase += " *"
        syllables = split_pinyin(term) if len(tokens) == 1 else None
        if syllables and len(syllables) > 1:
            # A pinyin query (baidu) also matches the syllables of names' pinyin (bai du).
            phrase = f'({phrase} OR "{" ".join(syllables)}")'
        phrases.append(phrase)
    return " ".join(phrases) if phrases else '""'
