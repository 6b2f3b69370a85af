"""Excel workbooks (.xlsx) → the cell texts of every sheet, as Excel shows them. Bytes only.

The cells are read by python-calamine (calamine, in Rust). This module guards it against hostile
files and turns its values into text:

Cell text
- strings as stored: rich-text runs joined, phonetic guides (`rPh`, the furigana/pinyin Excel
  does not show in the cell) left out, `_xHHHH_` escapes decoded, line breaks as "\\n" ("\\r\\n"
  and "\\r" too), inner whitespace kept. Leading and trailing whitespace of a `<t>` without
  `xml:space="preserve"` is dropped, as Excel drops it; nothing else is trimmed;
- numbers: integral ones as integers ("12", also for 12.0), others in their shortest repr
  ("12.5", "0.1"); from 1e16 on, where repr takes an exponent, in repr too ("1e+20");
- booleans "TRUE" / "FALSE"; error values their text ("#N/A", "#DIV/0!");
- a number in a date format (built-in, the East Asian built-ins 27-36 and 50-58 such as
  yyyy"年"m"月"d"日", or custom) is a date: "2023-08-31", "2023-08-31T12:30:05" when it has a
  time of day (rounded to the second); a time alone "12:30:00"; a duration ([h]:mm:ss)
  "25:00:00". A date typed as text ("2023/8/31") is a string like any other;
- formulas: the value cached in the file, never the formula ("" when the file holds none);
- an empty cell "".

Merged ranges: the top-left cell carries the value. In the top-left's column, each cell below
it (a vertical merge, like Word's `w:vMerge`) shows the top-left's text; cells right of that
column (a horizontal merge, like Word's `w:gridSpan`), in every row of the range, are dropped
from their rows, so a cell spanning two columns is one cell. Values Excel hides under a merge
are ignored.

Used range: the rectangle from the first to the last non-empty cell, in rows and in columns,
after merges are resolved. `rows` holds every row of it top to bottom, blank rows included (as
""s), each from its first column; `first_row` / `first_column` say where it sits on the sheet.
Formatted but empty cells and empty rows or columns around the values are not part of it;
hidden rows and columns are.

Hostile files are refused with an ExtractionError naming the file: anything that is not an
xlsx zip container (an OLE compound file, `D0 CF 11 E0`, is an encrypted workbook or a legacy
.xls), corrupt or truncated zips, zip bombs (every member goes through `member_problem` before
anything is inflated), XML parts with a DTD or entity declarations, sheets with values past
row 200,000 or column 200, and workbooks whose sheets span more than 10 million cells
together (rows × columns from A1 to each sheet's farthest cell).

calamine is not handed the file itself: the XML parts are inflated here (zipfile stops at a
member's declared size, which is capped), checked, and packed again, stored, into the zip
calamine reads, so that it never inflates anything unchecked. On the way each worksheet is
measured (calamine allocates the whole rectangle up to the farthest cell, so one cell at
XFD1048576 would be 17 billion cells), its `<dimension>` hint is left out (calamine fails on
a malformed one and needs none), and error cells are retyped as strings (python-calamine reads
errors as "").
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import html
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import cast

from python_calamine import CalamineWorkbook, SheetVisibleEnum

from cac_filings.documents import Fragment
from cac_filings.errors import ExtractionError
from cac_filings.formats import MAX_UNZIPPED_BYTES, MAX_XML_BYTES, member_problem, sniff_format

MAX_SHEET_ROWS = 200_000
MAX_SHEET_COLUMNS = 200
# Cells of the sheets' rectangles together: what is allocated and turned into text, whatever
# the file's size (two cells at A1 and GR200000 make a 40-million-cell sheet: 2 GB, 10 s;
# 10 million cells take 0.5 GB and 0.6 s).
MAX_WORKBOOK_CELLS = 10_000_000

_CFB_MAGIC = b"\xd0\xcf\x11\xe0"
_EXACT_INT = 1e16  # from here on, repr writes floats with an exponent

CalamineValue = int | float | str | bool | time | date | datetime | timedelta


@dataclass
class Sheet:
    name: str
    index: int  # 0-based position in the workbook
    hidden: bool  # hidden or veryHidden
    # Every row of the used range, top to bottom (blank rows as ""s), cells left to right.
    rows: list[list[str]]
    physical_rows: int  # rows in the used range: len(rows)
    first_row: int = 1  # sheet row (1-based) of rows[0]
    first_column: int = 1  # sheet column (1-based, A = 1) of the used range's first column


def read_xlsx_sheets(body: bytes, source: str) -> list[Sheet]:
    """Every sheet of an .xlsx workbook, in workbook order. `source` names the file in errors."""
    parts = _unpack(body, source)
    names = _sheet_names(parts)
    budget = MAX_WORKBOOK_CELLS
    for part, xml in parts.items():
        if b"sheetData" not in xml or not _PREFIX_RE.search(xml):
            continue  # not a worksheet (nor a macro or dialog sheet)
        sheets = names.get(part.lower(), [])
        label = f"{sheets[0]!r} ({part})" if sheets else part
        parts[part], cells = _guard_sheet(xml, label, source)
        budget -= cells * max(1, len(sheets))  # several sheets may name one part
        if budget < 0:
            raise _too_many_cells(source)
    return _read_sheets(_repack(parts), source)


def _too_many_cells(source: str) -> ExtractionError:
    return ExtractionError(source, f"the sheets hold more than {MAX_WORKBOOK_CELLS} cells "
                                   "together (cap)")


# ---------------------------------------------------------------- the container


def _unpack(body: bytes, source: str) -> dict[str, bytes]:
    """The XML parts of an xlsx (name → UTF-8 XML), each checked, refusing what is no xlsx."""
    if body.startswith(_CFB_MAGIC):
        raise ExtractionError(source, "an OLE compound file (an encrypted or password-protected "
                                      "workbook, or a legacy .xls), not an xlsx")
    if not body.startswith(b"PK"):
        kind = {"pdf": "a PDF", "html": "an HTML page", "empty": "an empty file"}.get(
            sniff_format(body), "not a zip container")
        raise ExtractionError(source, f"not an xlsx ({kind})")
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ExtractionError(source, f"not a readable zip container (truncated?) ({exc})"
                              ) from None
    seen: set[str] = set()
    total = 0
    for info in infos:
        problem = member_problem(info)
        if problem is not None:
            raise ExtractionError(source, problem)
        key = info.filename.lower()  # calamine looks parts up ignoring case
        if key in seen:
            raise ExtractionError(source, f"the zip holds two members named {info.filename}")
        seen.add(key)
        total += info.file_size
    if total > MAX_UNZIPPED_BYTES:
        raise ExtractionError(source, f"zip members add up to {total} bytes uncompressed "
                                      f"(cap {MAX_UNZIPPED_BYTES})")
    if "xl/workbook.xml" not in {info.filename for info in infos}:
        if "word/document.xml" in seen:
            raise ExtractionError(source, "a Word document (docx), not an xlsx")
        if "xl/workbook.bin" in seen:
            raise ExtractionError(source, "a binary workbook (xlsb), which is not read")
        raise ExtractionError(source, "not an xlsx: the zip has no xl/workbook.xml")
    parts: dict[str, bytes] = {}
    for info in infos:
        if not info.filename.lower().endswith((".xml", ".rels")):
            continue  # pictures, printer settings, VBA: calamine reads none of them
        if info.flag_bits & 0x1:
            raise ExtractionError(source, f"zip member {info.filename} is encrypted")
        try:
            with archive.open(info) as fh:
                data = fh.read(MAX_XML_BYTES + 1)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError,
                RuntimeError, ValueError) as exc:
            raise ExtractionError(source, f"corrupt zip member {info.filename} ({exc})"
                                  ) from None
        if len(data) > info.file_size:
            raise ExtractionError(source, f"zip member {info.filename} is larger than its "
                                          "header says")
        parts[info.filename] = _checked_xml(data, info.filename, source)
    return parts


_XML_DECL_RE = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.-]+)[\"']")
_DECLARATION_RE = re.compile(rb"<!(?!--|\[CDATA\[)")


def _checked_xml(data: bytes, name: str, source: str) -> bytes:
    """One XML part as UTF-8, refused when it declares a DTD or entities."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        data = _transcode(data, "utf-16", name, source)
    elif data.startswith(b"<\0"):  # UTF-16 without a byte order mark, as XML allows
        data = _transcode(data, "utf-16-le", name, source)
    elif data.startswith(b"\0<"):
        data = _transcode(data, "utf-16-be", name, source)
    else:
        declared = _XML_DECL_RE.match(data[:200])
        if declared and declared.group(1).lower().replace(b"-", b"") != b"utf8":
            data = _transcode(data, declared.group(1).decode("ascii"), name, source)
    if b"<!" in data and _DECLARATION_RE.search(data):
        raise ExtractionError(source, f"{name} declares a DTD or entities (refused: Excel "
                                      "never writes one)")
    return data


def _transcode(data: bytes, encoding: str, name: str, source: str) -> bytes:
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise ExtractionError(source, f"{name} cannot be decoded ({exc})") from None
    out = text.lstrip("\ufeff").encode("utf-8")
    return re.sub(rb"^(\s*<\?xml[^>]*encoding\s*=\s*[\"'])[\w.-]+", rb"\g<1>utf-8", out,
                  count=1)


def _repack(parts: dict[str, bytes]) -> bytes:
    """The checked parts as a stored (uncompressed) zip: what calamine reads."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in parts.items():
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


_ATTR_RE = re.compile(rb"([\w.:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _attributes(tag: bytes) -> dict[bytes, bytes]:
    return {key: double or single for key, double, single in _ATTR_RE.findall(tag)}


def _sheet_names(parts: dict[str, bytes]) -> dict[str, list[str]]:
    """Part name (lower case) → the names of the sheets it holds, as workbook.xml lists them
    (best effort: for messages and the cell budget; calamine resolves the sheets itself)."""
    by_lower = {name.lower(): data for name, data in parts.items()}
    rels = by_lower.get("xl/_rels/workbook.xml.rels", b"")
    targets: dict[bytes, str] = {}
    for tag in re.findall(rb"<(?:[\w.-]+:)?Relationship\s[^>]*>", rels):
        attrs = _attributes(tag)
        if b"Id" in attrs and b"Target" in attrs:
            target = attrs[b"Target"].decode("utf-8", errors="replace")
            target = target[1:] if target.startswith("/") else target
            targets[attrs[b"Id"]] = target if target.startswith("xl/") else "xl/" + target
    names: dict[str, list[str]] = {}
    for tag in re.findall(rb"<(?:[\w.-]+:)?sheet\s[^>]*>", by_lower.get("xl/workbook.xml", b"")):
        attrs = _attributes(tag)
        rid = next((v for k, v in attrs.items() if k.endswith(b":id")), None)
        if rid in targets and b"name" in attrs:
            name = html.unescape(attrs[b"name"].decode("utf-8", errors="replace"))
            names.setdefault(targets[rid].lower(), []).append(name)
    return names


# ---------------------------------------------------------------- worksheet guard

_PREFIX_RE = re.compile(rb"<([A-Za-z_][\w.-]*:)?sheetData[\s/>]")
_DIMENSION_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension(?=[\s/>])[^>]*"
                           rb"(?:/>|>[^<]*</(?:[A-Za-z_][\w.-]*:)?dimension\s*>)")
_ERROR_HINT_RE = re.compile(rb"t\s*=\s*[\"']e[\"']")
_ERROR_TYPE_RE = re.compile(rb"(<(?:[A-Za-z_][\w.-]*:)?c(?:\s[^>]*?)?\st\s*=\s*[\"'])e([\"'])")
_SHEET_TOKEN_RE = re.compile(
    rb"<(/?)(?:[A-Za-z_][\w.-]*:)?(row|c|v|is)(?=[\s/>])"
    rb"([^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*)>")
_R_ATTR_RE = re.compile(rb"(?:^|\s)r\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_REF_RE = re.compile(rb"([A-Za-z]*)([0-9]+)")


def _guard_sheet(xml: bytes, label: str, source: str) -> tuple[bytes, int]:
    """A worksheet part fit for calamine, and the cells it may allocate for it; refuses a sheet
    with values past the row or column cap."""
    found = _PREFIX_RE.search(xml)
    prefix = (found.group(1) or b"") if found else b""
    last_row, last_col = _quick_extent(xml, prefix)
    if last_row > MAX_SHEET_ROWS or last_col > MAX_SHEET_COLUMNS:
        last_row, last_col = _exact_extent(xml, label, source)  # formatted empty cells?
    if last_row > MAX_SHEET_ROWS:
        raise ExtractionError(source, f"sheet {label} has values down to row {last_row} "
                                      f"(cap {MAX_SHEET_ROWS} rows)")
    if last_col > MAX_SHEET_COLUMNS:
        raise ExtractionError(source, f"sheet {label} has values out to column {last_col} "
                                      f"(cap {MAX_SHEET_COLUMNS} columns)")
    end = xml.find(b"sheetData")
    head = _DIMENSION_RE.sub(b"", xml[:end], count=1)
    if len(head) != end:
        xml = head + xml[end:]
    if _ERROR_HINT_RE.search(xml):
        xml = _ERROR_TYPE_RE.sub(rb"\1str\2", xml)
    return xml, last_row * last_col


def _quick_extent(xml: bytes, prefix: bytes) -> tuple[int, int]:
    """Upper bounds for the last row and column (1-based) holding a cell, from the references
    alone, for sheets written as Excel writes them (every `<row>` and `<c>` with `r="` first);
    past the caps when the sheet is not written so."""
    unknown = (MAX_SHEET_ROWS + 1, MAX_SHEET_COLUMNS + 1)
    cell, row = re.escape(b"<" + prefix + b"c"), re.escape(b"<" + prefix + b"row")
    if re.search(re.escape(b"<" + prefix) + rb"(?:c|row)(?:[>/\t\n\r]| (?!r=\"))", xml):
        return unknown  # a <c> or <row> without a reference first: placed by what precedes
    if not re.search(cell + rb' r="', xml):
        return 0, 0
    row_numbers = re.findall(row + rb' r="([0-9]+)"', xml)
    last_row = max(map(int, row_numbers), default=1)
    digits = len(str(last_row))
    # The cells whose column has two letters or more, or whose row more digits than the last
    # <row>'s: none in most lists. Any other cell is in column Z or before, and in a row of at
    # most as many digits as the last <row>'s.
    far = re.findall(cell + rb' r="(?=[A-Za-z]{2}|[A-Za-z]+[0-9]{%d})([A-Za-z]+)([0-9]+)"'
                     % (digits + 1), xml)
    last_col = 26
    if 10**digits - 1 > MAX_SHEET_ROWS:
        last_row = max(map(int, re.findall(cell + rb' r="[A-Za-z]+([0-9]+)"', xml)),
                       default=last_row)
    else:
        last_row = 10**digits - 1
    for letters, number in far:
        if len(letters) > 2:
            return last_row, unknown[1]
        last_col = max(last_col, _column_number(letters))
        last_row = max(last_row, int(number))
    return last_row, last_col


def _exact_extent(xml: bytes, label: str, source: str) -> tuple[int, int]:
    """The last row and column (1-based) holding a cell with a value, placing cells as calamine
    does (a reference places a cell; a cell or row without one follows the one before)."""
    row = col = 0
    pending: tuple[int, int] | None = None
    valued = False
    last_row = last_col = 0
    for close, name, attrs in _SHEET_TOKEN_RE.findall(xml):
        empty = attrs.endswith(b"/")
        if name == b"c":
            if close:
                if pending is not None and valued:
                    last_row = max(last_row, pending[0] + 1)
                    last_col = max(last_col, pending[1] + 1)
                pending = None
                col += 1
                continue
            ref = _reference(attrs, label, source)
            where = (row, col)
            if ref is not None:
                if ref[1] is None:
                    raise ExtractionError(source, f"sheet {label}: a cell reference without "
                                                  "a column")
                where = (ref[0], ref[1])
                col = ref[1]
            if empty:  # a cell without a value
                col += 1
            else:
                pending, valued = where, False
        elif name == b"row":
            if close:
                row, col = row + 1, 0
                continue
            ref = _reference(attrs, label, source)
            if ref is not None:
                row = ref[0]
            if empty:
                row, col = row + 1, 0
        elif pending is not None and not close and not empty:  # <v> or <is> inside a cell
            valued = True
    return last_row, last_col


def _reference(attrs: bytes, label: str, source: str) -> tuple[int, int | None] | None:
    """(row, column) of an `r` attribute, 0-based (column None for a row's), or None."""
    found = _R_ATTR_RE.search(attrs)
    if found is None:
        return None
    value = found.group(1) if found.group(1) is not None else found.group(2)
    ref = _REF_RE.fullmatch(value.strip())
    if ref is None or int(ref.group(2)) == 0:
        raise ExtractionError(source, f"sheet {label}: bad cell reference {value!r}")
    return int(ref.group(2)) - 1, _column_number(ref.group(1)) - 1 if ref.group(1) else None


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


# ---------------------------------------------------------------- reading with calamine


def _read_sheets(data: bytes, source: str) -> list[Sheet]:
    # The rows are lists of strings, which hold no cycles: collecting while millions of them are
    # made only walks them over and over (10 million cells: 1.5 s instead of 0.55 s).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_calamine(data, source)
    finally:
        if collecting:
            gc.enable()


def _read_calamine(data: bytes, source: str) -> list[Sheet]:
    sheets: list[Sheet] = []
    current: str | None = None
    try:
        workbook = CalamineWorkbook.from_object(io.BytesIO(data))
        cells = 0
        for index, meta in enumerate(workbook.sheets_metadata):
            current = meta.name
            sheet = workbook.get_sheet_by_index(index)  # at most one guarded part's cells
            cells += sheet.height * sheet.width
            if cells > MAX_WORKBOOK_CELLS:  # sheets that name a part the budget did not see
                raise _too_many_cells(source)
            values = sheet.to_python()
            start = sheet.start
            merges = sheet.merged_cell_ranges or []
            rows, first_row, first_column = _resolve(values, start, merges, meta.name, source)
            sheets.append(Sheet(name=meta.name, index=index,
                                hidden=meta.visible != SheetVisibleEnum.Visible, rows=rows,
                                physical_rows=len(rows), first_row=first_row,
                                first_column=first_column))
    except ExtractionError:
        raise
    except BaseException as exc:
        # calamine's errors, and a Rust panic (pyo3's PanicException is a BaseException)
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        where = f"sheet {current!r}: " if current is not None else ""
        raise ExtractionError(source, f"not a readable xlsx: {where}"
                                      f"{type(exc).__name__}: {exc}") from None
    return sheets


def _resolve(values: list[list[CalamineValue]], start: tuple[int, int] | None,
             merges: list[tuple[tuple[int, int], tuple[int, int]]], name: str, source: str
             ) -> tuple[list[list[str]], int, int]:
    """Texts of a sheet's used range, merges resolved; with its first row and column."""
    if start is None or not values:
        return [], 1, 1
    width = max(map(len, values))
    grid: list[list[str | None]] = []
    for row in values:
        if row.count("") == len(row):  # a blank row (calamine gives "" for an empty cell)
            grid.append([""] * width)
            continue
        texts: list[str | None] = [
            (value if "\r" not in value else _newlines(value)) if type(value) is str
            else _float_text(value) if type(value) is float
            else value.isoformat() if type(value) is date
            else _text(value) for value in row]
        if len(texts) < width:
            texts.extend([""] * (width - len(texts)))
        grid.append(texts)
    touched = _apply_merges(grid, merges, start, width, name, source) if merges else set()

    height = len(grid)
    top = 0
    while top < height and not any(grid[top]):
        top += 1
    if top == height:
        return [], 1, 1
    bottom = height - 1
    while not any(grid[bottom]):
        bottom -= 1
    left, right = width, -1
    for line in grid[top:bottom + 1]:
        if left:
            for i in range(left):
                if line[i]:
                    left = i
                    break
        if right < width - 1:
            for i in range(width - 1, right, -1):
                if line[i]:
                    right = i
                    break
        if not left and right == width - 1:
            break
    if not touched and not left and right == width - 1:
        return cast(list[list[str]], grid[top:bottom + 1]), start[0] + top + 1, start[1] + 1
    rows: list[list[str]] = []
    for r in range(top, bottom + 1):
        cells = grid[r][left:right + 1]
        # only the rows a horizontal merge went through hold dropped cells (None)
        rows.append([t for t in cells if t is not None] if r in touched
                    else cast(list[str], cells))
    return rows, start[0] + top + 1, start[1] + left + 1


def _apply_merges(grid: list[list[str | None]],
                  merges: list[tuple[tuple[int, int], tuple[int, int]]],
                  start: tuple[int, int], width: int, name: str, source: str) -> set[int]:
    """Vertical merges fill down their column, horizontal ones drop (None) the cells right of
    it. Returns the rows with dropped cells."""
    height = len(grid)
    boxes: list[tuple[int, int, int, int, int, int]] = []
    area = 0
    for (r_a, c_a), (r_b, c_b) in merges:
        r1, r2 = sorted((r_a - start[0], r_b - start[0]))
        c1, c2 = sorted((c_a - start[1], c_b - start[1]))
        lo_r, hi_r, lo_c, hi_c = max(r1, 0), min(r2, height - 1), max(c1, 0), min(c2, width - 1)
        if lo_r > hi_r or lo_c > hi_c or (r1 == r2 and c1 == c2):
            continue
        area += (hi_r - lo_r + 1) * (hi_c - lo_c + 1)
        boxes.append((r1, c1, lo_r, hi_r, lo_c, hi_c))
    if area > height * width:
        raise ExtractionError(source, f"sheet {name!r} has overlapping merged ranges")
    touched: set[int] = set()
    for r1, c1, lo_r, hi_r, lo_c, hi_c in boxes:
        top_left = (grid[r1][c1] or "") if r1 >= 0 and c1 >= 0 else ""
        for r in range(lo_r, hi_r + 1):
            row = grid[r]
            first_dropped = max(lo_c, c1 + 1)
            if first_dropped <= hi_c:
                row[first_dropped:hi_c + 1] = [None] * (hi_c + 1 - first_dropped)
                touched.add(r)
            if r > r1 and c1 >= 0:
                row[c1] = top_left
    return touched


# ---------------------------------------------------------------- values → text


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _float_text(value: float) -> str:
    if value.is_integer() and -_EXACT_INT < value < _EXACT_INT:
        return str(int(value))
    return repr(value)


def _text(value: CalamineValue) -> str:
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime):  # before date: a datetime is a date
        seconds = value.replace(microsecond=0)
        if value.microsecond >= 500_000:
            with contextlib.suppress(OverflowError):  # 9999-12-31T23:59:59.5
                seconds += timedelta(seconds=1)
        if seconds.time() == time(0):
            return seconds.date().isoformat()
        return seconds.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):  # before int: a bool is an int
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _newlines(value)
    if isinstance(value, time):
        total = value.hour * 3600 + value.minute * 60 + value.second
        total = (total + (value.microsecond >= 500_000)) % 86400
        return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"
    total = round(value.total_seconds())  # a duration
    sign = "-" if total < 0 else ""
    hours, rest = divmod(abs(total), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def xlsx_fragments(body: bytes, source: str) -> list[Fragment]:
    """Every visible sheet as one fragment (documents.assemble_tables finds its tables).
    Hidden sheets are not what a reader of the workbook sees, and are not read."""
    return [Fragment(rows=sheet.rows, where=f"table on sheet {sheet.name!r}",
                     source_rows=sheet.physical_rows)
            for sheet in read_xlsx_sheets(body, source) if not sheet.hidden]
