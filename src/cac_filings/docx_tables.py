"""Word files → fragments (see documents.py), reading bytes only.

Every top-level `w:tbl` becomes a Fragment of cell texts, as Word shows them:
- a cell's paragraphs are joined with "\\n" (`w:br`/`w:cr` are line breaks, `w:tab` a tab);
- cells are `w:tc` elements, so a cell spanning two grid columns (`w:gridSpan`, the 2024年6月
  deep-synthesis list) is one cell, not two;
- rows marked `w:tblHeader` are counted (`marked_header_rows`); which row is the header is
  decided by documents.assemble_tables, by meaning;
- Word auto-numbering (`w:numPr` in a cell's paragraph) leaves no text in the cell; the row
  records that its first cell was auto-numbered;
- a vertically merged continuation cell (`w:vMerge` without "restart") shows the text of the
  cell above it, as Word displays it;
- text of nested tables, deleted runs (`w:delText`), field codes and the fallback copy of
  drawings (`mc:Fallback`) is not cell text.

The XML is scanned with one compiled regular expression instead of being parsed into a tree:
it is five times faster than building an lxml tree of document.xml (see benchmarks/rebuild.py),
and it never expands entities. Documents with a DTD are refused; structural problems (a table
that never ends, a cell outside a row) are errors naming the file. XML constructs the scanner
would otherwise misread are handled before it runs: CDATA sections become escaped text, and
processing instructions are dropped (they are not text); any other markup inside a `w:t` is
refused, naming the file, rather than read as empty.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from functools import lru_cache

from cac_filings.documents import Fragment, HeaderTest, RawTable, assemble_tables
from cac_filings.errors import ExtractionError
from cac_filings.formats import MAX_XML_BYTES, member_problem

WORD_NAMESPACES = (
    b"http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    b"http://purl.oclc.org/ooxml/wordprocessingml/main",
)
MC_NAMESPACE = b"http://schemas.openxmlformats.org/markup-compatibility/2006"



def read_docx_xml(body: bytes, source: str) -> bytes:
    """word/document.xml of a docx, refusing zip bombs and corrupt containers."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
        info = archive.getinfo("word/document.xml")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ExtractionError(source, f"not a readable docx ({exc})") from None
    problem = member_problem(info)
    if problem is not None:
        raise ExtractionError(source, problem)
    try:
        with archive.open(info) as fh:
            data = fh.read(MAX_XML_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise ExtractionError(source, f"corrupt docx ({exc})") from None
    if len(data) > MAX_XML_BYTES:
        raise ExtractionError(source, "word/document.xml is larger than its header says")
    return data


# ---------------------------------------------------------------- the scanner

_XML_DECL_RE = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([\w.-]+)[\"']")
_COMMENT_RE = re.compile(rb"<!--.*?-->", re.S)
_VAL_RE = re.compile(rb"(?:^|\s)[\w.-]*:?val\s*=\s*[\"']([^\"']*)[\"']")
_ENTITY_RE = re.compile(rb"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {b"amp": b"&", b"lt": b"<", b"gt": b">", b"quot": b'"', b"apos": b"'"}
_FALSE = {b"false", b"0", b"off"}
# Whether a document starts with a declaration or processing instruction (matched in place:
# xml.lstrip() would copy the whole document).
_DECLARATION_RE = re.compile(rb"\s*<\?")
_XML_DECLARATION_RE = re.compile(rb"\s*<\?xml")


def _qualified(prefix: bytes) -> bytes:
    """`w:` for the prefix w, nothing for a default namespace."""
    return prefix + b":" if prefix else b""


def _prefix_for(xml: bytes, namespaces: tuple[bytes, ...]) -> bytes | None:
    """The prefix bound to one of `namespaces` on the root element (b"" for a default one)."""
    root_start = xml.find(b"<", xml.find(b"?>") + 1 if _DECLARATION_RE.match(xml) else 0)
    root_end = xml.find(b">", root_start)
    root = xml[root_start:root_end]
    for ns in namespaces:
        match = re.search(rb"xmlns(?::([\w.-]+))?\s*=\s*[\"']" + re.escape(ns) + rb"[\"']", root)
        if match:
            return match.group(1) or b""
    return None


@lru_cache(maxsize=8)
def _markup_in_text_re(prefix: bytes) -> re.Pattern[bytes]:
    """A `w:t` whose text is followed by anything but its end tag."""
    p = re.escape(_qualified(prefix))
    return re.compile(rb"<" + p + rb"t(?:\s[^>]*)?(?<!/)>[^<]*<(?!/" + p + rb"t\s*>)[^>]*>")


@lru_cache(maxsize=8)
def _token_re(prefix: bytes, mc_prefix: bytes) -> re.Pattern[bytes]:
    """Start tags of the elements read, and end tags of those that enclose others (an end
    tag of a run's text or a paragraph says nothing: a third of the tags, not matched)."""
    p = re.escape(_qualified(prefix))
    mc = re.escape(mc_prefix) if mc_prefix else b"mc"
    return re.compile(
        rb"<(/)?(?:" + p
        + rb"((?(1)(?:tbl|tr|tc|txbxContent)"
          rb"|(?:tbl|tr|tc|p|t|br|cr|tab|numPr|vMerge|tblHeader|gridSpan|txbxContent)))"
        rb"|" + mc + rb":(Fallback))(?=[\s/>])"
        # attributes: quoted values may contain ">" (unrolled-loop form, no backtracking)
        rb"([^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*)>([^<]*)"
    )


def _unescape(text: bytes) -> bytes:
    def sub(match: re.Match[bytes]) -> bytes:
        ref = match.group(1)
        if ref in _NAMED:
            return _NAMED[ref]
        code = int(ref[2:], 16) if ref[:2] == b"#x" else int(ref[1:])
        try:
            return chr(code).encode("utf-8")
        except (ValueError, OverflowError):
            return match.group(0)
    return _ENTITY_RE.sub(sub, text)


def _attr_val(attrs: bytes) -> bytes | None:
    match = _VAL_RE.search(attrs)
    return match.group(1) if match else None


class _Cell:
    __slots__ = ("numbered", "paragraphs", "span", "v_continue")

    def __init__(self) -> None:
        self.paragraphs: list[list[bytes]] = []
        self.span = 1
        self.v_continue = False
        self.numbered = False

    def text(self) -> str:
        paragraphs = self.paragraphs
        if len(paragraphs) == 1:
            return b"".join(paragraphs[0]).decode("utf-8", errors="replace")
        return b"\n".join([b"".join(p) for p in paragraphs]).decode("utf-8", errors="replace")


def docx_fragments(body: bytes, source: str) -> list[Fragment]:
    return scan_document_xml(read_docx_xml(body, source), source)


def extract_docx_tables(body: bytes, source: str, is_header: HeaderTest | None = None
                        ) -> list[RawTable]:
    return assemble_tables(docx_fragments(body, source), source, "docx", is_header)


def _cell_property(cell: _Cell, name: bytes, attrs: bytes) -> None:
    if name == b"numPr":
        cell.numbered = True
    elif name == b"vMerge":
        if _attr_val(attrs) != b"restart":
            cell.v_continue = True
    elif name == b"gridSpan":
        value = _attr_val(attrs)
        cell.span = int(value) if value and value.isdigit() and int(value) > 0 else 1


def scan_document_xml(xml: bytes, source: str) -> list[Fragment]:
    """Tables of a WordprocessingML document.xml, as lists of cell texts."""
    if xml.startswith(b"\xef\xbb\xbf"):
        xml = xml[3:]
    elif xml.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            xml = xml.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExtractionError(source, f"word/document.xml cannot be decoded ({exc})") from None
        xml = re.sub(rb"^(\s*<\?xml[^>]*encoding=[\"'])[\w.-]+", rb"\1utf-8", xml)
    head = xml[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in xml:
        raise ExtractionError(source, "word/document.xml declares a DTD or entities "
                                      "(refused: Word never writes one)")
    declared = _XML_DECL_RE.match(head)
    if declared and declared.group(1).lower().replace(b"-", b"") not in (b"utf8",):
        try:
            xml = xml.decode(declared.group(1).decode("ascii")).encode("utf-8")
        except (LookupError, UnicodeDecodeError) as exc:
            raise ExtractionError(source, f"word/document.xml cannot be decoded ({exc})") from None
    if b"<!--" in xml:
        xml = _COMMENT_RE.sub(b"", xml)
    xml = _plain_markup(xml, source)
    prefix = _prefix_for(xml, WORD_NAMESPACES)
    if prefix is None:
        raise ExtractionError(source, "word/document.xml does not use the WordprocessingML "
                                      "namespace")
    mc_prefix = _prefix_for(xml, (MC_NAMESPACE,)) or b""
    nested = _markup_in_text_re(prefix).search(xml)
    if nested is not None:
        # Text the scanner cannot see would be read as missing: refuse instead.
        snippet = nested.group(0)[-60:].decode("utf-8", errors="replace")
        raise ExtractionError(source, f"word/document.xml has markup inside a text run "
                                      f"({snippet!r}); refused rather than read in part")
    return _scan_with_closing_tags(xml, prefix, mc_prefix, source)


def _scan_with_closing_tags(xml: bytes, prefix: bytes, mc_prefix: bytes, source: str
                            ) -> list[Fragment]:
    """The general tokenizer: follows closing tags, so nested tables, the fallback copies of
    drawings (mc:Fallback) and text boxes (w:txbxContent, floating over the page, not part of
    the cell's text, as python-docx also reads it) are recognised and skipped."""
    tokens = _token_re(prefix, mc_prefix).findall(xml)

    tables: list[Fragment] = []
    depth = 0  # table nesting; only depth-1 tables are read
    fallback = 0
    text_box = 0
    opened_rows = 0
    rows: list[tuple[list[_Cell], bool]] = []
    row: list[_Cell] | None = None
    row_header = False
    cell: _Cell | None = None
    para: list[bytes] | None = None
    for close, name, mc_name, attrs, text in tokens:
        if mc_name:
            if not attrs.endswith(b"/"):
                fallback += -1 if close else 1
            continue
        if name == b"txbxContent":
            if not attrs.endswith(b"/"):
                text_box += -1 if close else 1
            continue
        if fallback or text_box:
            continue
        if name == b"tbl":
            if attrs.endswith(b"/"):
                continue
            if close:
                depth -= 1
                if depth < 0:
                    raise ExtractionError(source, "word/document.xml closes a table it never "
                                                  "opened")
                if depth == 0:
                    if row is not None:
                        raise ExtractionError(source, "a table ends inside an unfinished row")
                    tables.append(_fragment(len(tables), rows, opened_rows))
                    rows = []
                    opened_rows = 0
            else:
                depth += 1
            continue
        if depth != 1:
            continue
        if name == b"t":
            if not close and para is not None and not attrs.endswith(b"/") and text:
                para.append(_unescape(text) if b"&" in text else text)
        elif name == b"p":
            if not close and cell is not None:
                para = []
                cell.paragraphs.append(para)
        elif name == b"tc":
            if close:
                if row is None or cell is None:
                    raise ExtractionError(source, "a table cell ends outside a row")
                row.append(cell)
                cell = para = None
            else:
                if row is None:
                    raise ExtractionError(source, "a table cell starts outside a row")
                cell = _Cell()
                if attrs.endswith(b"/"):
                    row.append(cell)
                    cell = None
        elif name == b"tr":
            if close:
                if row is None:
                    raise ExtractionError(source, "a table row ends that never started")
                rows.append((row, row_header))
                row = None
            else:
                row = []
                row_header = False
                opened_rows += 1
        elif name in (b"br", b"cr"):
            if para is not None and not close:
                para.append(b"\n")
        elif name == b"tab":
            # w:tab is also a tab-stop definition inside w:tabs (paragraph properties).
            if para is not None and not close and b"pos=" not in attrs:
                para.append(b"\t")
        elif cell is not None and not close:
            _cell_property(cell, name, attrs)
        elif name == b"tblHeader" and row is not None and not close:
            row_header = _attr_val(attrs) not in _FALSE
    if depth != 0 or row is not None:
        raise ExtractionError(source, "word/document.xml ends inside a table (truncated?)")
    return tables


def _resolve(rows: list[tuple[list[_Cell], bool]]) -> list[list[str]]:
    """Cell texts of every row; a vertical-merge continuation shows the text above it."""
    above: dict[int, str] = {}  # grid column → text of the cell above
    resolved = []
    for cells_raw, _marked in rows:
        cells: list[str] = []
        col = 0
        for c in cells_raw:
            text = c.text()
            if c.v_continue and not text:
                text = above.get(col, "")
            above[col] = text
            cells.append(text)
            col += c.span
        resolved.append(cells)
    return resolved


def _fragment(index: int, rows: list[tuple[list[_Cell], bool]], opened_rows: int) -> Fragment:
    """One Word table as a fragment: resolved cell texts, header marks, list numbering."""
    marked = 0
    while marked < len(rows) and rows[marked][1]:
        marked += 1
    return Fragment(rows=_resolve(rows), where=f"table {index + 1}", source_rows=opened_rows,
                    marked_header_rows=marked,
                    numbered=[bool(cells) and cells[0].numbered for cells, _ in rows])


# ---------------------------------------------------------------- markup the scanner skips

_CDATA_RE = re.compile(rb"<!\[CDATA\[(.*?)\]\]>", re.S)
_PI_RE = re.compile(rb"<\?(?!xml[\s?])[^>]*\?>")


def _plain_markup(xml: bytes, source: str) -> bytes:
    """CDATA sections as escaped text and processing instructions dropped, so that the
    scanner, which reads the text after each tag up to the next "<", sees all of it."""
    if b"<![CDATA[" in xml:
        if xml.count(b"<![CDATA[") != len(_CDATA_RE.findall(xml)):
            raise ExtractionError(source, "word/document.xml has a CDATA section that never "
                                          "ends")
        xml = _CDATA_RE.sub(lambda m: m.group(1).replace(b"&", b"&amp;")
                            .replace(b"<", b"&lt;").replace(b">", b"&gt;"), xml)
    if xml.find(b"<?", 1) != -1:
        head = xml[:xml.find(b"?>") + 2] if _XML_DECLARATION_RE.match(xml) else b""
        xml = head + _PI_RE.sub(b"", xml[len(head):])
    return xml
