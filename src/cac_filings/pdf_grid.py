"""The tables of a PDF's pages, read with pdfium: a faster replacement for pdfplumber's table
finder (`page.find_tables()` + `table.extract()`) with the same result.

pdfplumber parses the whole PDF in Python (pdfminer) and builds an object per character and
per ruling line before it finds a table. Here pdfium (pypdfium2) reads each page's characters,
their boxes and its path objects once, in bulk, and the grid is assembled from them the way
pdfplumber's default ("lines") strategy does it, step by step:

1. Ruling lines. Every painted path (stroked or filled, as pdfminer sees them) is split into
   subpaths and each subpath becomes a line, a rectangle or a curve (pdfminer's rules); their
   horizontal and vertical edges are the candidate rulings (a thin filled rectangle gives two
   close parallel edges, a stroked line one).
2. Edges within 3 pt of one another are snapped to their mean position, collinear edges less
   than 3 pt apart are joined, and edges shorter than 3 pt are dropped.
3. Every point where a vertical edge meets a horizontal one (3 pt tolerance) is a corner; a
   cell is the smallest rectangle of four corners joined by edges; cells sharing a corner form
   a table (a "table" of one cell is none).
4. A table's rows are its cells grouped by top; every row has one slot per distinct left edge
   of the table's cells, "" where the row has no cell there (a merged cell).
5. A cell's text is the characters whose box centre lies in the cell, in reading order: lines
   top to bottom (characters within 3 pt of height on one line), characters left to right,
   words split at a space character or a gap of more than 3 pt and joined with one space, and
   the lines of a cell joined with "" (a line break in a cell is layout: see pdf_tables.py).

Coordinates are taken in the page's display space (after /Rotate), as pdfminer does. pdfium's
"loose" character box (advance width by font ascent/descent, united with the glyph's outline)
stands in for pdfminer's box (advance width by font size): the two agree on the left edge and
differ by a fraction of a point elsewhere, far less than the 3 pt tolerances and the cells'
padding. pdfium's own additions to the text (the spaces and line breaks it generates between
words and lines) are left out: only characters drawn on the page count, as in pdfminer.

A font the PDF does not embed (CAC's lists set in STSong-Light) is drawn with a font of this
machine, and pdfium measures a text object by its glyphs' outlines: where no font here has
the glyphs (no CJK font installed), every outline is empty, and pdfium's text page leaves out
each text object less than 0.01 pt wide, a line of one character among them (a serial "1",
the last character of a wrapped cell). A PDF with such a text object in a CJK font this
machine cannot draw, on any page, is read with pdfplumber instead (pdfminer measures by the
widths the PDF gives), several times slower, with the same result as here where a CJK font
is installed (Debian's fonts-noto-cjk); one with more than MAX_SLOW_CHARS characters is
refused rather (an ExtractionError that says what to install).

Hostile input (not a PDF, truncated, corrupt, encrypted with a password, no pages or more
than MAX_PDF_PAGES) is an ExtractionError naming the source; nothing from pdfium leaks out. So
is a table whose text pdfium cannot map to Unicode (a font without a ToUnicode map and without
a known encoding: pdfium then reports the glyph's character code as its text and flags it),
where pdfminer would write "(cid:123)". pdfium is not thread-safe: calls are serialised.
Every pdfium object (text page, page, document) is freed, on errors too.

Where pdfium and pdfminer see a PDF differently (none of it in the PDFs the tests make or the
replica's, on which both readers give the same tables):
- pdfium marks a hyphen ending a line before the rest of a word (a wrapped filing number
  "…DaMoXing-" / "2025…") as its own "hyphen" character; it is read back as "-" (a soft
  hyphen U+00AD drawn there would read as "-" too, where pdfminer gives "\xad").
- A PDF encrypted with only an owner password and a CID font is read: pdfium decrypts the
  strings naming the font's character collection, pdfminer does not (pdf_tables refuses it).
- pdfium opens no PDF whose page tree is empty ("corrupt, or no pages"), and trusts a page
  tree's /Count: a page it counts but cannot load is an error.
- pdfium's text page leaves out a text object drawn again over itself (fake bold), a glyph
  drawn twice at one place, and text replaced by a marked-content /ActualText; pdfminer
  keeps the duplicates and ignores /ActualText.
- Rotated (non-upright) text inside a cell is read as upright text: pdfplumber would read it
  top to bottom.
"""

from __future__ import annotations

import ctypes
import io
import math
import os
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, compress, pairwise, repeat
from operator import add, itemgetter
from typing import Any, cast

import pypdfium2.raw as _pdfium  # type: ignore[import-untyped]

from cac_filings.errors import ExtractionError
from cac_filings.formats import integrity_problem

# Real lists have fewer than 10 pages; a larger count is a hostile or broken file.
MAX_PDF_PAGES = 1000

# pdfplumber's defaults: snap, join and intersection tolerances, the minimum edge length
# before and after merging, and the text tolerances of `extract_text`.
_SNAP = 3.0
_JOIN = 3.0
_INTERSECT = 3.0
_MIN_EDGE_PREFILTER = 1.0
_MIN_EDGE = 3.0
_X_TOLERANCE = 3.0
_Y_TOLERANCE = 3.0

# pdfplumber's `extract_text` expands these ligatures (pdfium already splits them into pieces).
_LIGATURES = {"ﬀ": "ff", "ﬃ": "ffi", "ﬄ": "ffl", "ﬁ": "fi", "ﬂ": "fl", "ﬆ": "st", "ﬅ": "st"}
# The characters pdfium may generate between words and lines (IsGenerated tells them apart
# from drawn ones).
_MAYBE_GENERATED = re.compile(r"[ \r\n]")


@dataclass
class PageTable:
    page: int  # 1-based page number
    first_on_page: bool  # the first (topmost) table on its page
    # Rectangular: every row has one string per grid column; a missing cell is "".
    rows: list[list[str]]
    # A page before this table (since the previous table) has text but no table grid: if
    # this table continues the one before, the rows on that page were missed.
    after_text_without_table: int | None = None


# ---------------------------------------------------------------- pdfium, typed

# pypdfium2's raw bindings are untyped ctypes functions taking pointer types. The functions
# used here are re-declared from their addresses with plain addresses (ints) for arguments
# and results: typed (no Any leaves this section), and cheap enough to call once per
# character through `map` (a C loop). pypdfium2 initialises pdfium when it is imported.

_Handle = int | None  # a pdfium object (NULL: None)


def _c_function(name: str, restype: Any, *argtypes: Any) -> Any:
    address = ctypes.cast(getattr(_pdfium, name), ctypes.c_void_p).value
    if address is None:  # pragma: no cover - a broken pdfium build
        raise ImportError(f"pdfium has no {name}")
    return ctypes.CFUNCTYPE(restype, *argtypes)(address)


_P = ctypes.c_void_p
_I = ctypes.c_int

_load_document = cast(Callable[[bytes, int, bytes | None], _Handle],
                      _c_function("FPDF_LoadMemDocument64", _P, ctypes.c_char_p,
                                  ctypes.c_size_t, ctypes.c_char_p))
_last_error = cast(Callable[[], int], _c_function("FPDF_GetLastError", ctypes.c_ulong))
_close_document = cast(Callable[[int], None], _c_function("FPDF_CloseDocument", None, _P))
_page_count = cast(Callable[[int], int], _c_function("FPDF_GetPageCount", _I, _P))
_load_page = cast(Callable[[int, int], _Handle], _c_function("FPDF_LoadPage", _P, _P, _I))
_close_page = cast(Callable[[int], None], _c_function("FPDF_ClosePage", None, _P))
_page_rotation = cast(Callable[[int], int], _c_function("FPDFPage_GetRotation", _I, _P))
_media_box = cast(Callable[[int, int, int, int, int], int],
                  _c_function("FPDFPage_GetMediaBox", _I, _P, _P, _P, _P, _P))
_load_text_page = cast(Callable[[int], _Handle], _c_function("FPDFText_LoadPage", _P, _P))
_close_text_page = cast(Callable[[int], None], _c_function("FPDFText_ClosePage", None, _P))
_count_chars = cast(Callable[[int], int], _c_function("FPDFText_CountChars", _I, _P))
_get_text = cast(Callable[[int, int, int, int], int],
                 _c_function("FPDFText_GetText", _I, _P, _I, _I, _P))
_get_unicode = cast(Callable[[int, int], int],
                    _c_function("FPDFText_GetUnicode", ctypes.c_uint, _P, _I))
_loose_char_box = cast(Callable[[int, int, int], int],
                       _c_function("FPDFText_GetLooseCharBox", _I, _P, _I, _P))
# Per-character flags, called once per character: declared without argument types (ctypes'
# default conversions of a c_void_p and an int are the cheapest call).
_CharFlag = Callable[[ctypes.c_void_p, int], int]
_is_generated = cast(_CharFlag, _c_function("FPDFText_IsGenerated", _I))
_is_hyphen = cast(_CharFlag, _c_function("FPDFText_IsHyphen", _I))
_unmapped = cast(_CharFlag, _c_function("FPDFText_HasUnicodeMapError", _I))
_count_objects = cast(Callable[[int], int], _c_function("FPDFPage_CountObjects", _I, _P))
_get_object = cast(Callable[[int, int], _Handle], _c_function("FPDFPage_GetObject", _P, _P, _I))
_object_type = cast(Callable[[_Handle], int], _c_function("FPDFPageObj_GetType", _I, _P))
_object_matrix = cast(Callable[[_Handle, int], int],
                      _c_function("FPDFPageObj_GetMatrix", _I, _P, _P))
_form_count_objects = cast(Callable[[_Handle], int],
                           _c_function("FPDFFormObj_CountObjects", _I, _P))
_form_get_object = cast(Callable[[_Handle, int], _Handle],
                        _c_function("FPDFFormObj_GetObject", _P, _P, ctypes.c_ulong))
_object_bounds = cast(Callable[[_Handle, int, int, int, int], int],
                      _c_function("FPDFPageObj_GetBounds", _I, _P, _P, _P, _P, _P))
_text_font = cast(Callable[[_Handle], _Handle], _c_function("FPDFTextObj_GetFont", _P, _P))
_font_embedded = cast(Callable[[_Handle], int], _c_function("FPDFFont_GetIsEmbedded", _I, _P))
_glyph_path = cast(Callable[[_Handle, int, float], _Handle],
                   _c_function("FPDFFont_GetGlyphPath", _P, _P, ctypes.c_uint32, ctypes.c_float))
_glyph_segments = cast(Callable[[_Handle], int],
                       _c_function("FPDFGlyphPath_CountGlyphSegments", _I, _P))
_glyph_width = cast(Callable[[_Handle, int, float, int], int],
                    _c_function("FPDFFont_GetGlyphWidth", _I, _P, ctypes.c_uint32,
                                ctypes.c_float, _P))
_count_segments = cast(Callable[[_Handle], int], _c_function("FPDFPath_CountSegments", _I, _P))
_get_segment = cast(Callable[[_Handle, int], _Handle],
                    _c_function("FPDFPath_GetPathSegment", _P, _P, _I))
_segment_point = cast(Callable[[_Handle, int, int], int],
                      _c_function("FPDFPathSegment_GetPoint", _I, _P, _P, _P))
_segment_type = cast(Callable[[_Handle], int], _c_function("FPDFPathSegment_GetType", _I, _P))
_segment_close = cast(Callable[[_Handle], int], _c_function("FPDFPathSegment_GetClose", _I, _P))

_ERR_PASSWORD = int(_pdfium.FPDF_ERR_PASSWORD)
_ERR_SECURITY = int(_pdfium.FPDF_ERR_SECURITY)
_ERR_FORMAT = int(_pdfium.FPDF_ERR_FORMAT)
_OBJ_TEXT = int(_pdfium.FPDF_PAGEOBJ_TEXT)
_OBJ_PATH = int(_pdfium.FPDF_PAGEOBJ_PATH)
_OBJ_FORM = int(_pdfium.FPDF_PAGEOBJ_FORM)
_SEG_LINETO = int(_pdfium.FPDF_SEGMENT_LINETO)
_SEG_BEZIERTO = int(_pdfium.FPDF_SEGMENT_BEZIERTO)
_SEG_MOVETO = int(_pdfium.FPDF_SEGMENT_MOVETO)
# Form XObjects nest; pdfium bounds the depth too, this only keeps the walk finite.
_MAX_FORM_DEPTH = 32

_LOCK = threading.Lock()


def _new_lock() -> None:  # a child forked while another thread held the lock
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock)


class _Unplaced(Exception):
    """A page has text pdfium would leave out (_unplaced_text): the PDF is read with
    pdfplumber instead."""


class _Unreadable(Exception):
    """pdfium failed; `detail` is the ExtractionError's detail."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@contextmanager
def _document(body: bytes) -> Iterator[int]:
    doc = _load_document(body, len(body), None)  # reads `body` in place: no copy
    if not doc:
        code = _last_error()
        if code in (_ERR_PASSWORD, _ERR_SECURITY):
            raise _Unreadable("pdf is encrypted (it needs a password to open)"
                              if code == _ERR_PASSWORD else
                              "pdf is encrypted (with an unsupported security handler)")
        # pdfium opens no document without pages, and says so as it does of a corrupt one.
        raise _Unreadable("unreadable pdf (corrupt, or no pages)" if code == _ERR_FORMAT
                          else f"unreadable pdf (pdfium error {code})")
    try:
        yield doc
    finally:
        _close_document(doc)


@contextmanager
def _page(doc: int, index: int) -> Iterator[int]:
    page = _load_page(doc, index)
    if not page:
        raise _Unreadable(f"unreadable pdf (page {index + 1} cannot be loaded)")
    try:
        yield page
    finally:
        _close_page(page)


@contextmanager
def _text_page(page: int, number: int) -> Iterator[int]:
    text_page = _load_text_page(page)
    if not text_page:
        raise _Unreadable(f"unreadable pdf (the text of page {number} cannot be read)")
    try:
        yield text_page
    finally:
        _close_text_page(text_page)


# ---------------------------------------------------------------- reading a page

# (x0, top, x1, bottom) in display space: x to the right, top downwards.
_Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Orientation:
    """User space → display space (pdfminer's page rotation, then top = height - y)."""

    rotation: int  # quarter turns clockwise (/Rotate / 90)
    x0: float  # the media box
    y0: float
    x1: float
    y1: float

    def point(self, x: float, y: float) -> tuple[float, float]:
        r = self.rotation
        if r == 0:
            return x - self.x0, self.y1 - y
        if r == 1:
            return y - self.y0, x - self.x0
        if r == 2:
            return self.x1 - x, y - self.y0
        return self.y1 - y, self.x1 - x

    def boxes(self, left: list[float], top: list[float], right: list[float],
              bottom: list[float]) -> tuple[list[float], list[float], list[float], list[float]]:
        """(x0, top, x1, height of the centre) lists in display space from user-space
        rectangles."""
        r = self.rotation
        if r == 0:
            x0, y1 = self.x0, self.y1
            middle = [y1 - (t + b) / 2 for t, b in zip(top, bottom, strict=True)]
            if x0:
                return ([v - x0 for v in left], [y1 - v for v in top],
                        [v - x0 for v in right], middle)
            return left, [y1 - v for v in top], right, middle
        if r == 1:
            y0, x0 = self.y0, self.x0
            return ([v - y0 for v in bottom], [v - x0 for v in left], [v - y0 for v in top],
                    [(a + b) / 2 - x0 for a, b in zip(left, right, strict=True)])
        if r == 2:
            x1, y0 = self.x1, self.y0
            return ([x1 - v for v in right], [v - y0 for v in bottom], [x1 - v for v in left],
                    [(t + b) / 2 - y0 for t, b in zip(top, bottom, strict=True)])
        x1, y1 = self.x1, self.y1
        return ([y1 - v for v in top], [x1 - v for v in right], [y1 - v for v in bottom],
                [x1 - (a + b) / 2 for a, b in zip(left, right, strict=True)])


def _orientation(page: int) -> _Orientation:
    box = (ctypes.c_float * 4)()
    base = ctypes.addressof(box)
    if not _media_box(page, base, base + 4, base + 8, base + 12):
        return _Orientation(_page_rotation(page) % 4, 0.0, 0.0, 612.0, 792.0)
    left, bottom, right, top = box
    if not math.isfinite(left + bottom + right + top):
        return _Orientation(_page_rotation(page) % 4, 0.0, 0.0, 612.0, 792.0)
    return _Orientation(_page_rotation(page) % 4, min(left, right), min(bottom, top),
                        max(left, right), max(bottom, top))


@dataclass
class _Chars:
    """A page's drawn characters in pdfium's order (content order; text objects on one line
    left to right), without what pdfium generated (spaces between words, line breaks)."""

    text: str  # one character per char
    x0: list[float]
    top: list[float]
    x1: list[float]
    middle: list[float]  # the height of the box's centre (pdfplumber's test for a cell)
    unmapped: set[int]  # characters without a Unicode mapping


def _read_chars(text_page: int, orientation: _Orientation) -> _Chars:
    n = _count_chars(text_page)
    if n <= 0:
        return _Chars("", [], [], [], [], set())
    # Boxes: FS_RECTF (left, top, right, bottom) per character, read in one C loop.
    rects = (ctypes.c_float * (4 * n))()
    base = ctypes.addressof(rects)
    ok = list(map(_loose_char_box, repeat(text_page, n), range(n),
                  range(base, base + 16 * n, 16)))
    flat = _floats(memoryview(rects).cast("B").cast("f"))
    text = _page_text(text_page, n)
    handle = ctypes.c_void_p(text_page)
    unmapped = set(compress(range(n), map(_unmapped, repeat(handle, n), range(n))))
    if _ODD.search(text):
        text, odd = _restore_hyphens(handle, text)
        unmapped |= odd
    # Leave out what pdfium generated (spaces between words, line breaks) and characters it
    # could not place (no box, or not finite: hostile matrices).
    blanks = [m.start() for m in _MAYBE_GENERATED.finditer(text)]
    drop = list(compress(blanks, map(_is_generated, repeat(handle, len(blanks)), blanks)))
    if not all(ok):
        drop += [i for i, good in enumerate(ok) if not good]
    if not math.isfinite(sum(flat)):
        drop += [i for i in range(n) if not math.isfinite(sum(flat[4 * i:4 * i + 4]))]
    if drop:  # the pieces between the dropped characters, joined
        dropped = set(drop)
        drop = sorted(dropped)
        starts, ends = [0, *(i + 1 for i in drop)], [*drop, n]
        text = "".join([text[a:b] for a, b in zip(starts, ends, strict=True)])
        flat = list(chain.from_iterable(
            [flat[4 * a:4 * b] for a, b in zip(starts, ends, strict=True)]))
        if unmapped:
            unmapped = {i - bisect_left(drop, i) for i in unmapped if i not in dropped}
    left, top, right, bottom = flat[0::4], flat[1::4], flat[2::4], flat[3::4]
    return _Chars(text, *orientation.boxes(left, top, right, bottom), unmapped)


def _floats(view: memoryview[float]) -> list[float]:
    """A memoryview of C floats as a list (typeshed types `tolist()` as a list of ints)."""
    return cast(list[float], view.tolist())


def _page_text_only(text_page: int) -> str:
    """The page's text, for pages without a table (what pdfium generated is whitespace)."""
    n = _count_chars(text_page)
    return _page_text(text_page, n) if n > 0 else ""


def _page_text(text_page: int, n: int) -> str:
    """One character per char index: the page's text in one call when it maps one to one
    (no character pdfium leaves out of its text, no surrogate pair), else char by char."""
    buffer = (ctypes.c_uint16 * (n + 1))()
    written = _get_text(text_page, 0, n, ctypes.addressof(buffer))
    if written == n + 1:
        try:
            text = bytes(buffer)[:2 * n].decode("utf-16-le")
        except UnicodeDecodeError:
            text = ""
        if len(text) == n:
            return text
    return "".join(_char(u) for u in map(_get_unicode, repeat(text_page, n), range(n)))


# pdfium's marks in the text: a hyphen at the end of a line, before the rest of the word on
# the next line (its text U+FFFE, its Unicode 0x2), or a glyph without any text (U+FFFE, 0).
_ODD = re.compile("[\x00\x02\ufffe]")


def _restore_hyphens(text_page: ctypes.c_void_p, text: str) -> tuple[str, set[int]]:
    """The text with each wrap hyphen back to "-", and the indices of glyphs without text
    (pdfminer's "(cid:0)")."""
    chars = list(text)
    odd: set[int] = set()
    for m in _ODD.finditer(text):
        i = m.start()
        if _is_hyphen(text_page, i):
            chars[i] = "-"
        elif chars[i] != "\x02":  # a real STX character is text (pdfminer keeps it)
            odd.add(i)
    return "".join(chars), odd


def _char(code: int) -> str:
    return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\x00"


# ---------------------------------------------------------------- ruling lines

_Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _compose(inner: _Matrix, outer: _Matrix) -> _Matrix:
    """inner, then outer (PDF row-vector convention)."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D,
            e * A + f * C + E, e * B + f * D + F)


@dataclass
class _Rulings:
    """The candidate edges of a page, as pdfplumber's `page.edges` filtered by orientation
    and a minimum length of 1 pt: (x0, top, x1, bottom)."""

    vertical: list[_Box]
    horizontal: list[_Box]
    # A text object pdfium leaves out of the page's text (see _unplaced_text).
    unplaced_text: bool = False


def _read_rulings(page: int, orientation: _Orientation) -> _Rulings:
    rulings = _Rulings([], [])
    n = _count_objects(page)
    if n > 0:
        _walk(list(map(_get_object, repeat(page, n), range(n))), _IDENTITY, orientation,
              rulings, 0)
    return rulings


def _walk(objects: list[_Handle], outer: _Matrix, orientation: _Orientation,
          rulings: _Rulings, depth: int) -> None:
    """The edges of the path objects among `objects` (and in their form XObjects)."""
    kinds = list(map(_object_type, objects))
    paths = [obj for obj, kind in zip(objects, kinds, strict=True) if kind == _OBJ_PATH]
    texts = [obj for obj, kind in zip(objects, kinds, strict=True) if kind == _OBJ_TEXT]
    if texts and not rulings.unplaced_text:
        rulings.unplaced_text = _unplaced_text(texts)
    if depth < _MAX_FORM_DEPTH and _OBJ_FORM in kinds:
        for obj, kind in zip(objects, kinds, strict=True):
            if kind == _OBJ_FORM and obj:
                form = _object_matrix_of(obj)
                if form is not None:
                    inner = _compose(form, outer)
                    count = _form_count_objects(obj)
                    _walk(list(map(_form_get_object, repeat(obj, count), range(count))),
                          inner, orientation, rulings, depth + 1)
    if not paths:
        return
    # Every path's matrix, segment count and segments (point, kind, closing flag), each
    # read in one C loop for the whole page.
    p = len(paths)
    matrices = (ctypes.c_float * (6 * p))()
    m_base = ctypes.addressof(matrices)
    have_matrix = list(map(_object_matrix, paths, range(m_base, m_base + 24 * p, 24)))
    m = _floats(memoryview(matrices).cast("B").cast("f"))
    counts = [max(c, 0) for c in map(_count_segments, paths)]
    total = sum(counts)
    segments = list(map(_get_segment, chain.from_iterable(map(repeat, paths, counts)),
                        chain.from_iterable(map(range, counts))))
    points = (ctypes.c_float * (2 * total))()
    s_base = ctypes.addressof(points)
    list(map(_segment_point, segments, range(s_base, s_base + 8 * total, 8),
             range(s_base + 4, s_base + 8 * total + 4, 8)))
    xy = _floats(memoryview(points).cast("B").cast("f"))
    kinds = list(map(_segment_type, segments))
    closes = list(map(_segment_close, segments))
    first = 0
    for k in range(p):
        count = counts[k]
        if count and have_matrix[k]:
            own: _Matrix = (m[6 * k], m[6 * k + 1], m[6 * k + 2], m[6 * k + 3], m[6 * k + 4],
                            m[6 * k + 5])
            if outer != _IDENTITY:
                own = _compose(own, outer)
            # A path pdfium cannot place (coordinates not finite: hostile input) is left out.
            if not math.isfinite(sum(own) + sum(xy[2 * first:2 * (first + count)])):
                pass
            elif (count == 2 and kinds[first] == _SEG_MOVETO
                  and kinds[first + 1] == _SEG_LINETO
                  and not closes[first] and not closes[first + 1]):
                a, b, c, d, e, f = own  # one straight line (reportlab's rulings)
                x, y, x2, y2 = xy[2 * first:2 * first + 4]
                _add_line(orientation.point(a * x + c * y + e, b * x + d * y + f),
                          orientation.point(a * x2 + c * y2 + e, b * x2 + d * y2 + f), rulings)
            else:
                _path_edges(xy, kinds, closes, first, first + count, own, orientation,
                            rulings)
        first += count


def _unplaced_text(texts: list[_Handle]) -> bool:
    """Whether pdfium's text page leaves out one of these text objects, its characters with
    it: it skips a text object less than 0.01 pt wide, and it measures one by its glyphs'
    outlines. A font the PDF does not embed is drawn with a font of this machine; where no
    font here has its glyphs (no CJK font installed: CAC's lists in STSong-Light), every
    glyph is an empty outline, and a line of one character (the last of a wrapped cell)
    would vanish from the table. Counted: a narrow text object in a CJK font that is not
    embedded and that this machine cannot draw (_undrawable_cjk). A narrow one in a font
    drawn here holds spaces alone (a space has no outline in any font): nothing is lost.
    (A CJK font drawn here but lacking one rare character would lose a line of that
    character alone: not seen, and not detected.)"""
    n = len(texts)
    bounds = (ctypes.c_float * (4 * n))()
    base = ctypes.addressof(bounds)
    placed = list(map(_object_bounds, texts, range(base, base + 16 * n, 16),
                      range(base + 4, base + 16 * n, 16), range(base + 8, base + 16 * n, 16),
                      range(base + 12, base + 16 * n, 16)))
    flat = _floats(memoryview(bounds).cast("B").cast("f"))
    narrow = [obj for k, obj in enumerate(texts)
              if placed[k] and abs(flat[4 * k + 2] - flat[4 * k]) < 0.01]
    fonts = map(_text_font, narrow)
    return any(font and not _font_embedded(font) and _undrawable_cjk(font) for font in fonts)


_IDEOGRAPH = ord("一")


def _undrawable_cjk(font: int) -> bool:
    """A CJK font (its 一 is a full em wide) of which this machine draws no 一: pdfium found
    no font here with its glyphs (its own fonts are Latin)."""
    width = ctypes.c_float()
    if not _glyph_width(font, _IDEOGRAPH, 1000.0, ctypes.addressof(width)) \
            or width.value < 900:
        return False
    path = _glyph_path(font, _IDEOGRAPH, 1000.0)
    return not path or _glyph_segments(path) <= 0


def _object_matrix_of(obj: int) -> _Matrix | None:
    matrix = (ctypes.c_float * 6)()
    if not _object_matrix(obj, ctypes.addressof(matrix)):
        return None
    a, b, c, d, e, f = matrix
    return (a, b, c, d, e, f)


def _path_edges(xy: list[float], kinds: list[int], closes: list[int], first: int, last: int,
                m: _Matrix, orientation: _Orientation, rulings: _Rulings) -> None:
    """The edges of one path: segments first..last of the page's."""
    a, b, c, d, e, f = m
    point = orientation.point
    # pdfminer's path: (operator, point) with "m" starting a subpath, "l" a line, "c" a
    # Bézier curve (its end point) and "h" closing the subpath (the subpath's start).
    ops: list[tuple[str, tuple[float, float]]] = []
    start = (0.0, 0.0)
    bezier = 0
    for j in range(first, last):
        x, y = xy[2 * j], xy[2 * j + 1]
        at = point(a * x + c * y + e, b * x + d * y + f)
        kind = kinds[j]
        if kind == _SEG_MOVETO:
            ops.append(("m", at))
            start = at
            bezier = 0
        elif kind == _SEG_LINETO:
            ops.append(("l", at))
            bezier = 0
        elif kind == _SEG_BEZIERTO:
            bezier += 1
            if bezier < 3:
                continue
            ops.append(("c", at))
            bezier = 0
        else:
            return  # a segment pdfium cannot read: not a path pdfminer would paint either
        if closes[j]:
            ops.append(("h", start))
    if not ops or ops[0][0] != "m":
        return  # pdfminer ignores a path that does not begin a subpath
    begin = 0
    for k in range(1, len(ops) + 1):
        if k == len(ops) or ops[k][0] == "m":
            if k - begin > 1:
                _subpath_edges(ops[begin:k], rulings)
            begin = k


def _add_line(start: tuple[float, float], end: tuple[float, float], rulings: _Rulings) -> None:
    """pdfminer's LTLine as pdfplumber's edge: horizontal when flat, else vertical (even
    when slanted)."""
    (xa, ta), (xb, tb) = start, end
    x0, x1 = min(xa, xb), max(xa, xb)
    top, bottom = min(ta, tb), max(ta, tb)
    if top == bottom:
        if x1 - x0 >= _MIN_EDGE_PREFILTER:
            rulings.horizontal.append((x0, top, x1, bottom))
    elif bottom - top >= _MIN_EDGE_PREFILTER:
        rulings.vertical.append((x0, top, x1, bottom))


def _subpath_edges(ops: list[tuple[str, tuple[float, float]]], rulings: _Rulings) -> None:
    """pdfminer's LTLine / LTRect / LTCurve for one subpath, as pdfplumber's edges."""
    shape = "".join(op for op, _ in ops)
    pts = [p for _, p in ops]
    # Drop a redundant "l" on a path closed with "h" (pdfminer does).
    if len(shape) > 3 and shape[-2:] == "lh" and pts[-2] == pts[0]:
        shape = shape[:-2] + "h"
        pts.pop()
    if shape in ("ml", "mlh"):
        _add_line(pts[0], pts[1], rulings)
        return
    if shape in ("mlllh", "mllll"):
        (xa, ta), (xb, tb), (xc, tc), (xd, td), _ = pts
        square = ((xa == xb and tb == tc and xc == xd and td == ta)
                  or (ta == tb and xb == xc and tc == td and xd == xa))
        if pts[0] == pts[4] and square:
            x0, x1 = min(xa, xc), max(xa, xc)
            top, bottom = min(ta, tc), max(ta, tc)
            if x1 - x0 >= _MIN_EDGE_PREFILTER:
                rulings.horizontal.append((x0, top, x1, top))
                rulings.horizontal.append((x0, bottom, x1, bottom))
            if bottom - top >= _MIN_EDGE_PREFILTER:
                rulings.vertical.append((x0, top, x0, bottom))
                rulings.vertical.append((x1, top, x1, bottom))
            return
    for (xa, ta), (xb, tb) in pairwise(pts):  # a curve: its straight pieces
        if xa == xb:
            if abs(ta - tb) >= _MIN_EDGE_PREFILTER:
                rulings.vertical.append((xa, min(ta, tb), xa, max(ta, tb)))
        elif ta == tb and abs(xa - xb) >= _MIN_EDGE_PREFILTER:
            rulings.horizontal.append((min(xa, xb), ta, max(xa, xb), ta))


# ---------------------------------------------------------------- grids


def _clusters(values: Sequence[float], tolerance: float) -> dict[float, int]:
    """pdfplumber's `make_cluster_dict`: each distinct value → its cluster's number, a
    cluster being a run of sorted values each within `tolerance` of the one before."""
    out: dict[float, int] = {}
    number = -1
    last = -math.inf
    for v in sorted(set(values)):
        if v > last + tolerance:
            number += 1
        out[v] = number
        last = v
    return out


def _snap(edges: list[_Box], vertical: bool) -> list[_Box]:
    """Move edges within _SNAP of one another (by x0, or by top) to their mean position."""
    if not edges:
        return []
    k = 0 if vertical else 1
    cluster = _clusters([e[k] for e in edges], _SNAP)
    groups: dict[int, list[_Box]] = {}
    for e in edges:
        groups.setdefault(cluster[e[k]], []).append(e)
    out: list[_Box] = []
    for number in sorted(groups):
        members = groups[number]
        mean = sum(e[k] for e in members) / len(members)
        for x0, top, x1, bottom in members:
            if vertical:
                shift = mean - x0
                out.append((x0 + shift, top, x1 + shift, bottom))
            else:
                shift = mean - top
                out.append((x0, top + shift, x1, bottom + shift))
    return out


def _merge(edges: list[_Box], vertical: bool) -> list[_Box]:
    """pdfplumber's `merge_edges` and the final length filter for one orientation."""
    position, low, high = (0, 1, 3) if vertical else (1, 0, 2)
    lines: dict[float, list[_Box]] = {}
    for e in _snap(edges, vertical):
        lines.setdefault(e[position], []).append(e)
    out: list[_Box] = []
    for at in sorted(lines):
        joined: list[list[float]] = []
        for e in sorted(lines[at], key=itemgetter(low)):
            if joined and e[low] <= joined[-1][high] + _JOIN:
                if e[high] > joined[-1][high]:
                    joined[-1][high] = e[high]
            else:
                joined.append(list(e))
        out += [(j[0], j[1], j[2], j[3]) for j in joined if j[high] - j[low] >= _MIN_EDGE]
    return out


_Point = tuple[float, float]


def _cells(vertical: list[_Box], horizontal: list[_Box]) -> list[_Box]:
    """pdfplumber's `edges_to_intersections` and `intersections_to_cells`."""
    # The edges through each intersection, as bit sets of edge numbers.
    v_bits: dict[_Point, int] = {}
    h_bits: dict[_Point, int] = {}
    horizontal = sorted(horizontal, key=itemgetter(1))
    h_tops = [h[1] for h in horizontal]
    for vi, (vx, vtop, _, vbottom) in enumerate(vertical):
        bit = 1 << vi
        # The candidates by bisection (with a margin for rounding), then pdfplumber's test.
        first = bisect_left(h_tops, vtop - _INTERSECT - 1)
        last = bisect_right(h_tops, vbottom + _INTERSECT + 1)
        for hi in range(first, last):
            hx0, htop, hx1, _ = horizontal[hi]
            if (vtop <= htop + _INTERSECT and vbottom >= htop - _INTERSECT
                    and vx >= hx0 - _INTERSECT and vx <= hx1 + _INTERSECT):
                point = (vx, htop)
                v_bits[point] = v_bits.get(point, 0) | bit
                h_bits[point] = h_bits.get(point, 0) | (1 << hi)
    # Points with the same x top to bottom, with the same top left to right; for each point
    # (in pdfplumber's order, by x then top) the smallest cell whose corners are points
    # joined by edges: the first point below joined to it, then the first point to its right
    # joined to it whose corner below-right is joined to both.
    columns: dict[float, list[_Point]] = {}
    rows: dict[float, list[_Point]] = {}
    for point in sorted(v_bits):
        columns.setdefault(point[0], []).append(point)
        rows.setdefault(point[1], []).append(point)
    place = {p: k for row in rows.values() for k, p in enumerate(row)}
    cells: list[_Box] = []
    for column in columns.values():
        height = len(column)
        for k in range(height - 1):
            p = column[k]
            row = rows[p[1]]
            m = place[p] + 1
            width = len(row)
            if m == width:
                continue
            pv, ph = v_bits[p], h_bits[p]
            cell = None
            for kb in range(k + 1, height):
                b = column[kb]
                if not pv & v_bits[b]:
                    continue
                bh = h_bits[b]
                for mr in range(m, width):
                    r = row[mr]
                    if not ph & h_bits[r]:
                        continue
                    corner = (r[0], b[1])
                    cv = v_bits.get(corner)
                    if cv is not None and cv & v_bits[r] and h_bits[corner] & bh:
                        cell = (p[0], p[1], corner[0], corner[1])
                        break
                if cell is not None:
                    cells.append(cell)
                    break
    return cells


def _tables(cells: list[_Box]) -> list[list[_Box]]:
    """pdfplumber's `cells_to_tables` (cells sharing a corner belong to one table; a table of
    one cell is dropped), top to bottom then left to right as pdf_tables sorts them."""
    # Union-find over the cells, joined through their corners; roots are the smallest index.
    root = list(range(len(cells)))
    owner: dict[_Point, int] = {}
    for i, (x0, top, x1, bottom) in enumerate(cells):
        mine = i  # the root of cell i's table so far
        for corner in ((x0, top), (x0, bottom), (x1, top), (x1, bottom)):
            j = owner.setdefault(corner, i)
            if j == i:
                continue
            while root[j] != j:
                root[j] = root[root[j]]
                j = root[j]
            if j != mine:
                if j < mine:
                    root[mine] = j
                    mine = j
                else:
                    root[j] = mine
    groups: dict[int, list[_Box]] = {}
    for i, cell in enumerate(cells):
        j = i
        while root[j] != j:
            j = root[j]
        groups.setdefault(j, []).append(cell)
    tables = sorted((g for g in groups.values() if len(g) > 1),
                    key=lambda t: min((c[1], c[0]) for c in t))
    return sorted(tables, key=lambda t: (min(c[1] for c in t), min(c[0] for c in t)))


# ---------------------------------------------------------------- cell text

_LIGATURE_CHARS = re.compile("[" + "".join(_LIGATURES) + "]")
_LIGATURE_TABLE = str.maketrans(_LIGATURES)


@dataclass
class _Reading:
    """A page's characters and what reading the cells' texts fast takes."""

    chars: _Chars
    # The characters by the height of their box centre (to find a row's by bisection), and
    # twice the x of their box centre (x0 + x1: compared with twice a cell's bounds, the
    # same test as pdfplumber's, as doubling is exact).
    by_height: list[int]
    across: list[float]
    # Positions i where character i does not simply follow character i - 1 on one line
    # (another line, back to the left, or a gap: pdfplumber's test for a new word).
    specials: list[int]
    ligatures: bool  # the page's text has a ligature (pdfium splits them: never, so far)


def _reading(chars: _Chars) -> _Reading:
    x0s, x1s, tops = chars.x0, chars.x1, chars.top
    specials = [i for i, a0, a1, b0, t0, t1 in zip(range(1, len(x0s)), x0s, x0s[1:], x1s,
                                                    tops, tops[1:], strict=False)
                if a1 < a0 or a1 > b0 + _X_TOLERANCE or abs(t1 - t0) > _Y_TOLERANCE]
    return _Reading(chars, sorted(range(len(x0s)), key=chars.middle.__getitem__),
                    list(map(add, x0s, x1s)), specials,
                    bool(_LIGATURE_CHARS.search(chars.text)))


def _cell_text(inside: list[int], reading: _Reading) -> str:
    """pdfplumber's `extract_text` of a cell's characters (in page order), its lines joined
    with "" (pdf_tables' `_cell_text`)."""
    if len(inside) == 1:
        ch = reading.chars.text[inside[0]]
        return "" if ch.isspace() else _LIGATURES.get(ch, ch)
    if inside[-1] - inside[0] + 1 == len(inside):
        text = _run_text(inside[0], inside[-1] + 1, reading)
        if text is not None:
            return text
    text = _simple_cell_text(inside, reading.chars)
    return text if text is not None else _exact_cell_text(inside, reading.chars)


def _run_text(a: int, b: int, reading: _Reading) -> str | None:
    """The text of characters a..b-1 (a run in page order) when they form lines one below
    the other (each within _Y_TOLERANCE of height, more than that apart), each read left to
    right, or None. Then pdfplumber's clustering and sorting keep page order, and the text
    is each line's words (split at whitespace and gaps) joined with " ", the lines with "".
    Only the special positions in the run are looked at, and slices of the text."""
    chars = reading.chars
    text, x0s, tops = chars.text, chars.x0, chars.top
    specials = reading.specials
    first, last = bisect_right(specials, a), bisect_left(specials, b)
    if first == last:  # one line without gaps (the most common cell)
        line_tops = tops[a:b]
        if max(line_tops) - min(line_tops) > _Y_TOLERANCE:
            return None
        out = " ".join(text[a:b].split())
        return out.translate(_LIGATURE_TABLE) if reading.ligatures else out
    breaks = [a]
    gaps: list[int] = []
    for p in specials[first:last]:
        dt = tops[p] - tops[p - 1]
        if dt > _Y_TOLERANCE:
            breaks.append(p)  # perhaps the next line (checked below)
        elif dt < -_Y_TOLERANCE or x0s[p] < x0s[p - 1]:
            return None
        else:
            gaps.append(p)
    breaks.append(b)
    lines: list[str] = []
    above = -math.inf
    for start, end in pairwise(breaks):
        line_tops = tops[start:end]
        low, high = min(line_tops), max(line_tops)
        if high - low > _Y_TOLERANCE or not low > above + _Y_TOLERANCE:
            return None
        above = high
        cuts = [g for g in gaps if start < g < end]
        if cuts:
            words = [w for s, e in pairwise([start, *cuts, end])
                     for w in text[s:e].split()]
        else:
            words = text[start:end].split()
        lines.append(" ".join(words))
    out = "".join(lines)
    return out.translate(_LIGATURE_TABLE) if reading.ligatures else out


def _simple_cell_text(chars: list[int], page: _Chars) -> str | None:
    """_run_text for characters that are not a run in page order, one by one, or None."""
    text, x0s, x1s, tops = page.text, page.x0, page.x1, page.top
    lines: list[str] = []
    words: list[str] = []
    word: list[str] = []
    first = chars[0]
    low = high = tops[first]
    above = -math.inf  # the lowest top of the lines above
    left = x0s[first]
    end = -math.inf  # x1 of the word's last character
    for i in chars:
        t = tops[i]
        x = x0s[i]
        if t > high + _Y_TOLERANCE:  # the next line
            if word:
                words.append("".join(word))
                word = []
            if words:
                lines.append(" ".join(words))
                words = []
            above = high
            low = high = t
        else:
            if t < low:
                if high - t > _Y_TOLERANCE or t <= above + _Y_TOLERANCE:
                    return None
                low = t
            elif t > high:
                if t - low > _Y_TOLERANCE:
                    return None
                high = t
            if x < left:
                return None
        left = x
        ch = text[i]
        if ch.isspace():
            if word:
                words.append("".join(word))
                word = []
            continue
        if word and x > end + _X_TOLERANCE:
            words.append("".join(word))
            word = []
        word.append(_LIGATURES.get(ch, ch))
        end = x1s[i]
    if word:
        words.append("".join(word))
    if words:
        lines.append(" ".join(words))
    return "".join(lines)


def _exact_cell_text(chars: list[int], page: _Chars) -> str:
    """pdfplumber's WordExtractor and `extract_text` (upright text), step by step."""
    text, x0s, x1s, tops = page.text, page.x0, page.x1, page.top
    line_of = _clusters([tops[i] for i in chars], _Y_TOLERANCE)
    lines: dict[int, list[int]] = {}
    for i in chars:
        lines.setdefault(line_of[tops[i]], []).append(i)
    words: list[tuple[str, float]] = []  # (text, top)
    for number in sorted(lines):
        word: list[int] = []
        for i in sorted(lines[number], key=x0s.__getitem__):
            if text[i].isspace():
                if word:
                    words.append(_word(word, page))
                word = []
                continue
            if word:
                last = word[-1]
                if (x0s[i] < x0s[last] or x0s[i] > x1s[last] + _X_TOLERANCE
                        or abs(tops[i] - tops[last]) > _Y_TOLERANCE):
                    words.append(_word(word, page))
                    word = []
            word.append(i)
        if word:
            words.append(_word(word, page))
    if not words:
        return ""
    word_line = _clusters([top for _, top in words], _Y_TOLERANCE)
    by_line: dict[int, list[str]] = {}
    for w, top in words:
        by_line.setdefault(word_line[top], []).append(w)
    return "".join(" ".join(by_line[n]) for n in sorted(by_line)).strip()


def _word(chars: list[int], page: _Chars) -> tuple[str, float]:
    return ("".join(_LIGATURES.get(page.text[i], page.text[i]) for i in chars),
            min(page.top[i] for i in chars))


# ---------------------------------------------------------------- tables of a page


def _grids(rulings: _Rulings) -> list[list[_Box]]:
    """The cells of each table grid on a page, tables top to bottom then left to right."""
    vertical, horizontal = _merge(rulings.vertical, True), _merge(rulings.horizontal, False)
    regular = _regular_grid(vertical, horizontal)
    if regular is not None:
        return [regular] if len(regular) > 1 else []
    return _tables(_cells(vertical, horizontal))


def _regular_grid(vertical: list[_Box], horizontal: list[_Box]) -> list[_Box] | None:
    """The cells when every vertical edge meets every horizontal one (the common page: one
    table, no merged cells), else None. Then every pair of edges intersects, each x has one
    vertical edge and each top one horizontal edge (edges on one line that both met every
    other edge would overlap, and were joined), the intersections are all (x, top) pairs,
    and pdfplumber's smallest cell at each is the one reaching the next x and the next top:
    the cells between consecutive lines, all in one table."""
    if len(vertical) < 2 or len(horizontal) < 2:
        return None
    xs = [v[0] for v in vertical]
    tops = [h[1] for h in horizontal]
    low, high = min(tops), max(tops)
    left, right = min(xs), max(xs)
    # pdfplumber's intersection test, for every pair at once.
    if not (all(v[0] == v[2] and v[1] <= low + _INTERSECT and v[3] >= high - _INTERSECT
                for v in vertical)
            and all(h[0] - _INTERSECT <= left and right <= h[2] + _INTERSECT
                    for h in horizontal)):
        return None
    xs.sort()
    tops.sort()
    if any(a == b for a, b in pairwise(xs)) or any(a == b for a, b in pairwise(tops)):
        return None  # not one edge per line (cannot happen, as said: kept for safety)
    return [(x0, top, x1, bottom) for x0, x1 in pairwise(xs) for top, bottom in pairwise(tops)]


def _table_rows(cells: list[_Box], reading: _Reading, number: int, source: str
                ) -> list[list[str]]:
    """pdfplumber's `Table.rows` and `Table.extract()` of one grid, cells as pdf_tables'
    `_cell_text` makes them."""
    chars = reading.chars
    v_mid, by_height, across = chars.middle, reading.by_height, reading.across
    text, tops, specials, unmapped = chars.text, chars.top, reading.specials, chars.unmapped
    columns = sorted({c[0] for c in cells})
    slot = {x: k for k, x in enumerate(columns)}
    rows: dict[float, list[_Box]] = {}
    for cell in sorted(cells, key=itemgetter(1, 0)):
        rows.setdefault(cell[1], []).append(cell)
    table: list[list[str]] = []
    for row_top, row_cells in rows.items():
        values = [""] * len(columns)
        table.append(values)
        row_bottom = max(map(itemgetter(3), row_cells))
        # The row's characters (centre in the row's height), left to right by centre.
        candidates = by_height[bisect_left(by_height, row_top, key=v_mid.__getitem__):
                               bisect_left(by_height, row_bottom, key=v_mid.__getitem__)]
        if not candidates:
            continue
        candidates.sort(key=across.__getitem__)
        centres = list(map(across.__getitem__, candidates))
        for x0, _, x1, bottom in row_cells:
            inside = candidates[bisect_left(centres, 2 * x0):bisect_left(centres, 2 * x1)]
            if bottom < row_bottom:  # a cell less tall than another in its row
                inside = [i for i in inside if v_mid[i] < bottom]
            if not inside:
                continue
            inside.sort()  # page order
            if unmapped and not unmapped.isdisjoint(inside):
                raise ExtractionError(source, f"the text of a table on page {number} cannot "
                                              "be decoded (a font without a Unicode map)")
            # The most common cell, as _run_text reads it: one line without gaps, a run of
            # characters in page order.
            a, b = inside[0], inside[-1] + 1
            if b - a == len(inside) and bisect_right(specials, a) == bisect_left(specials, b):
                line_tops = tops[a:b]
                if max(line_tops) - min(line_tops) <= _Y_TOLERANCE:
                    value = " ".join(text[a:b].split())
                    values[slot[x0]] = (value.translate(_LIGATURE_TABLE) if reading.ligatures
                                        else value)
                    continue
            values[slot[x0]] = _cell_text(inside, reading)
    return table


def read_page_tables(body: bytes, source: str, *, max_pages: int = MAX_PDF_PAGES
                     ) -> list[PageTable]:
    """The tables of every page, pages in order and each page's tables top to bottom (then
    left to right). `source` names the file in errors; more than `max_pages` pages is one."""
    if not body.startswith(b"%PDF"):
        raise ExtractionError(source, "not a pdf file (no %PDF signature)")
    problem = integrity_problem(body, "pdf")
    if problem:
        raise ExtractionError(source, f"unreadable pdf: {problem}")
    try:
        try:
            with _LOCK:
                return _read(body, source, max_pages)
        except _Unplaced:
            with _LOCK:
                _check_slow_read(body, source)
            return _read_with_pdfplumber(body, source, max_pages)
    except ExtractionError:
        raise
    except _Unreadable as exc:
        raise ExtractionError(source, exc.detail) from None
    except Exception as exc:  # anything else on hostile input; name the file
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ExtractionError(source, f"unreadable pdf ({reason})") from None


def _read(body: bytes, source: str, max_pages: int) -> list[PageTable]:
    found: list[PageTable] = []
    text_without_table: int | None = None
    with _document(body) as doc:
        n_pages = _page_count(doc)
        if n_pages > max_pages:
            raise ExtractionError(source, f"pdf has more than {max_pages} pages")
        if n_pages <= 0:
            raise ExtractionError(source, "pdf has no pages (broken page tree?)")
        for index in range(n_pages):
            number = index + 1
            # pdfium's work first (the page's objects and characters read in bulk), the
            # grids and cells after: done in between, the Python work slows pdfium down.
            chars: _Chars | None = None
            with _page(doc, index) as page:
                orientation = _orientation(page)
                rulings = _read_rulings(page, orientation)
                if rulings.unplaced_text:
                    raise _Unplaced
                with _text_page(page, number) as text_page:
                    if rulings.vertical and rulings.horizontal:  # perhaps a grid
                        chars = _read_chars(text_page, orientation)
                        page_text = chars.text
                    else:
                        page_text = _page_text_only(text_page)
            grids = _grids(rulings) if chars is not None else []
            if chars is None or not grids:
                if page_text.strip():  # text, but no table grid
                    text_without_table = text_without_table or number
                continue
            reading = _reading(chars)
            for position, cells in enumerate(grids):
                found.append(PageTable(number, position == 0,
                                       _table_rows(cells, reading, number, source),
                                       text_without_table))
                text_without_table = None
    return found


# What pdfminer writes for a glyph without Unicode.
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")

# pdfminer keeps an object of about 2 KB per character: a PDF that only the slow reader can
# read is refused beyond this much text (CAC's largest lists hold a tenth of it).
MAX_SLOW_CHARS = 400_000


def _check_slow_read(body: bytes, source: str) -> None:
    """Refuse a PDF with more text than pdfplumber should be given (a few KB of compressed
    content can draw millions of characters)."""
    chars = 0
    with _document(body) as doc:
        for index in range(_page_count(doc)):
            with _page(doc, index) as page, _text_page(page, index + 1) as text_page:
                chars += max(_count_chars(text_page), 0)
            if chars > MAX_SLOW_CHARS:
                raise ExtractionError(source, f"more than {MAX_SLOW_CHARS:,} characters to "
                                      "read without the fonts the pdf does not embed (no CJK "
                                      "font on this machine: install one, e.g. fonts-noto-cjk)")


def _read_with_pdfplumber(body: bytes, source: str, max_pages: int = MAX_PDF_PAGES
                          ) -> list[PageTable]:
    """The tables as pdfplumber finds and extracts them (what `_read` reproduces faster),
    for a PDF with text pdfium cannot place: pdfminer measures the glyphs by the widths the
    PDF gives, without the font itself. Several times slower than `_read`. (pdfminer finds
    the pages by the page tree's kids, where pdfium trusts its /Count: both are bounded.)"""
    import pdfplumber  # only for these files: importing it costs 0.2 s

    found: list[PageTable] = []
    text_without_table: int | None = None
    with pdfplumber.open(io.BytesIO(body)) as pdf:
        if len(pdf.pages) > max_pages:
            raise ExtractionError(source, f"pdf has more than {max_pages} pages")
        for page in pdf.pages:
            tables = sorted(page.find_tables(), key=lambda t: (t.bbox[1], t.bbox[0]))
            for position, table in enumerate(tables):
                rows = [["" if c is None else c.replace("\n", "").strip() for c in row]
                        for row in table.extract()]
                if any(_UNMAPPED_GLYPH.search(c) for row in rows for c in row):
                    raise ExtractionError(source, f"the text of a table on page "
                                                  f"{page.page_number} cannot be decoded (a "
                                                  "font without a Unicode map)")
                found.append(PageTable(page.page_number, position == 0, rows,
                                       text_without_table))
                text_without_table = None
            if not tables and any(c.get("text", "").strip() for c in page.chars):
                text_without_table = text_without_table or page.page_number
    return found
