"""Table headers matched by meaning, the same for Word, PDF and Excel.

CAC writes the same column in many ways: `序号：`, `算法类别:`, `序\\n号` (a narrow header cell
wrapped onto two lines), `应⽤产品` (U+2F64, a Kangxi radical that looks like 用), full-width
forms, stray spaces. A header cell is compared after `header_text`: NFKC, no whitespace or
zero-width characters anywhere, punctuation at either end dropped. A source's `source.yml`
maps each known header text to a field (`TableSpec.columns`); a row is a header when the
cells it maps cover every required field of one table spec. Cells no spec knows are
*unknown columns*: their text stays in `raw` and the table is still read.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_INVISIBLE_RE = re.compile("[\\s\u200b\u200c\u200d\u2060\ufeff\u00ad]+")
# Punctuation and symbols around a header (序号：, *算法名称, 备注.) — not inside it, where
# 应用/功能名称 keeps its slash.
_EDGE_CATEGORIES = ("P", "S")
_UNSEEN = "\x00unseen"  # what no cell was found to be (compared by identity)


def header_text(cell: str) -> str:
    """'序 号：' → '序号'; '应⽤产品' → '应用产品'; '算法\\n类别:' → '算法类别'."""
    text = unicodedata.normalize("NFKC", cell)
    text = _INVISIBLE_RE.sub("", text)
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start])[0] in _EDGE_CATEGORIES:
        start += 1
    while end > start and unicodedata.category(text[end - 1])[0] in _EDGE_CATEGORIES:
        end -= 1
    return text[start:end]


def header_key(cells: Sequence[str]) -> tuple[str, ...]:
    """A row compared as a header (a repeated header row equals the header this way)."""
    return tuple(header_text(c) for c in cells)


@dataclass(frozen=True)
class TableSpec:
    """How the header of one kind of table maps onto fields (one entry of source.yml
    `tables`)."""

    list_kind: str
    columns: dict[str, str]  # header_text of a published header → field name
    required: tuple[str, ...]

    def field_for(self, header: str) -> str | None:
        return self.columns.get(header_text(header))


@dataclass(frozen=True)
class HeaderMatch:
    """A header row read against a table spec: the field of each cell (None: unknown)."""

    spec: TableSpec
    fields: tuple[str | None, ...]

    @property
    def unknown(self) -> list[int]:
        """Positions of the cells no field of the spec names."""
        return [i for i, f in enumerate(self.fields) if f is None]


def match_header(cells: Sequence[str], specs: Sequence[TableSpec]) -> HeaderMatch | None:
    """The spec this row is the header of, or None when it is not a header row."""
    return HeaderMatcher(tuple(specs))(list(cells))


def duplicated_fields(cells: Sequence[str], spec: TableSpec) -> list[str]:
    """Fields two cells of a header row both map to (模型名称 and 大模型名称, say)."""
    known = [f for f in (spec.field_for(c) for c in cells if c.strip()) if f is not None]
    return sorted(f for f, n in Counter(known).items() if n > 1)


# No known header is longer than this once normalised; longer cells are data.
_LONGEST_HEADER = 24


class HeaderMatcher:
    """The header test of one source: which of its table specs a row is the header of.

    A header names every required field of its spec, no field twice, and knows at least as
    many of its non-empty cells as it does not (a data row never names 备案编号 and 主体名称
    among its cells). Of several specs the one that knows the most cells wins (the on-device
    list's header is the 备案 header plus 适用场景), then the one with the fewest unknown.
    Called on every row of every table, so short cells' normal forms are remembered (data
    rows repeat 北京市, 服务提供者, 个性化推送类 …) and long cells are never normalised."""

    def __init__(self, specs: tuple[TableSpec, ...]) -> None:
        self.specs = specs
        self._known = frozenset(h for s in specs for h in s.columns)
        # A cell whose first visible character begins no known header cannot be one (unless
        # that character is punctuation or a compatibility form, which header_text changes).
        self._firsts = frozenset(h[0] for h in self._known if h)
        self._texts: dict[str, str | None] = {}

    def _text(self, cell: str) -> str | None:
        """header_text of a cell that may be a known header, else None."""
        found = self._texts.get(cell, _UNSEEN)  # not a KeyError per data cell: most are
        if found is not _UNSEEN:
            return found
        first = cell.lstrip()[:1]
        if len(cell) > 2 * _LONGEST_HEADER or (
                first and first not in self._firsts and first.isalnum()
                and unicodedata.is_normalized("NFKC", first)):
            return None  # data: never remembered (every name is different)
        text = header_text(cell)
        found = text if text in self._known else None
        if len(self._texts) < 100_000:
            self._texts[cell] = found
        return found

    def __call__(self, cells: list[str]) -> HeaderMatch | None:
        texts = [self._text(c) for c in cells]
        if sum(1 for t in texts if t is not None) < 2:
            return None
        best: tuple[int, int, int, HeaderMatch] | None = None
        for order, spec in enumerate(self.specs):
            fields = tuple(spec.columns.get(t) if t is not None else None for t in texts)
            known = [f for f in fields if f is not None]
            if not known or any(r not in known for r in spec.required):
                continue
            if any(n > 1 for n in Counter(known).values()):
                continue
            unknown = sum(1 for c, f in zip(cells, fields, strict=True)
                          if f is None and c.strip())
            if unknown > len(known):
                continue
            score = (len(known), -unknown, -order)
            if best is None or score > best[:3]:
                best = (*score, HeaderMatch(spec, fields))
        return best[3] if best else None
