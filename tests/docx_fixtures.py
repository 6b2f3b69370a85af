"""Minimal, valid .docx files written from a description of tables, for the extractor tests.

The XML is built as strings (python-docx is not used for writing), so a test controls every
element: header rows (`w:tblHeader`), horizontal spans (`w:gridSpan` with a matching
`w:tblGrid`), Word auto-numbering (`w:numPr`), vertical merges (`w:vMerge`), runs split across
several `w:r`, `w:br`/`w:tab` inside runs, tab-stop definitions, `xml:space="preserve"`,
entities, paragraphs around the tables, another namespace prefix, and raw XML where a test
needs something the description cannot say (a nested table, an `mc:AlternateContent` block).

    body = make_docx([Table((row("序号", "名称", header=True), row("1", "甲")))])

Within a paragraph string, "\\n" is written as `<w:br/>` and "\\t" as `<w:tab/>`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
WPS_NS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
V_NS = "urn:schemas-microsoft-com:vml"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml"

DEFAULT_BEFORE = ("附件", "境内互联网信息服务算法备案清单（2024年6月）")

VMerge = Literal["restart", "continue"]


@dataclass(frozen=True)
class Cell:
    """One `w:tc`: its paragraphs and properties."""

    paragraphs: tuple[str, ...] = ("",)
    grid_span: int = 1
    v_merge: VMerge | None = None
    # Word list numbering in the first paragraph (the paragraph gets no text of its own
    # when `paragraphs` is ("",)).
    numbered: bool = False
    # Split each paragraph's text into runs of at most this many characters.
    run_size: int | None = None
    # A tab-stop definition (`w:tabs/w:tab w:pos=…`) in each paragraph's properties.
    tab_stops: bool = False
    # Raw XML written inside the cell after its paragraphs (a nested table, …); it must use the
    # document's prefix for WordprocessingML elements.
    raw: str = ""

    @property
    def text(self) -> str:
        """The text Word shows for this cell (without `raw`)."""
        return "\n".join(self.paragraphs)


@dataclass(frozen=True)
class Row:
    """One `w:tr`."""

    cells: tuple[Cell, ...]
    header: bool = False  # `<w:trPr><w:tblHeader/></w:trPr>`

    @property
    def span(self) -> int:
        return sum(c.grid_span for c in self.cells)


@dataclass(frozen=True)
class Table:
    """One top-level `w:tbl`. `grid_cols` defaults to the widest row's span."""

    rows: tuple[Row, ...]
    grid_cols: int | None = None

    @property
    def grid(self) -> int:
        if self.grid_cols is not None:
            return self.grid_cols
        return max((r.span for r in self.rows), default=1)


def cell(*paragraphs: str, grid_span: int = 1, v_merge: VMerge | None = None,
         numbered: bool = False, run_size: int | None = None, tab_stops: bool = False,
         raw: str = "") -> Cell:
    """A cell of one paragraph per argument (one empty paragraph when there are none)."""
    return Cell(paragraphs=paragraphs or ("",), grid_span=grid_span, v_merge=v_merge,
                numbered=numbered, run_size=run_size, tab_stops=tab_stops, raw=raw)


def row(*cells: Cell | str, header: bool = False) -> Row:
    """A row; plain strings become one-paragraph cells."""
    return Row(cells=tuple(c if isinstance(c, Cell) else cell(c) for c in cells), header=header)


def table(*rows: Row, grid_cols: int | None = None) -> Table:
    return Table(rows=rows, grid_cols=grid_cols)


# ---------------------------------------------------------------- XML writing


def escape(text: str) -> str:
    """Text content escaped as Word writes it (& < > only)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class _Writer:
    prefix: str  # "" for the default namespace
    attr_prefix: str

    def tag(self, name: str) -> str:
        return f"{self.prefix}:{name}" if self.prefix else name

    def val(self, value: str) -> str:
        return f'{self.attr_prefix}:val="{value}"'

    def run(self, text: str) -> str:
        """One `w:r`; "\\n" → `w:br`, "\\t" → `w:tab`, other text in `w:t` elements."""
        parts: list[str] = []
        chunk = ""
        for char in text:
            if char in "\n\t":
                if chunk:
                    parts.append(self.t(chunk))
                    chunk = ""
                parts.append(f"<{self.tag('br' if char == chr(10) else 'tab')}/>")
            else:
                chunk += char
        if chunk:
            parts.append(self.t(chunk))
        r = self.tag("r")
        rpr = f"<{self.tag('rPr')}><{self.tag('rFonts')} {self.attr_prefix}:hint=\"eastAsia\"/>" \
              f"</{self.tag('rPr')}>"
        return f"<{r}>{rpr}{''.join(parts)}</{r}>"

    def t(self, text: str) -> str:
        t = self.tag("t")
        space = ' xml:space="preserve"' if text != text.strip() else ""
        return f"<{t}{space}>{escape(text)}</{t}>"

    def paragraph(self, text: str, *, numbered: bool = False, tab_stops: bool = False,
                  run_size: int | None = None) -> str:
        p = self.tag("p")
        props = ""
        if numbered or tab_stops:
            inner = ""
            if numbered:
                inner += (f"<{self.tag('numPr')}><{self.tag('ilvl')} {self.val('0')}/>"
                          f"<{self.tag('numId')} {self.val('1')}/></{self.tag('numPr')}>")
            if tab_stops:
                inner += (f"<{self.tag('tabs')}><{self.tag('tab')} {self.val('left')} "
                          f"{self.attr_prefix}:pos=\"720\"/></{self.tag('tabs')}>")
            props = f"<{self.tag('pPr')}>{inner}</{self.tag('pPr')}>"
        if not text:
            return f"<{p}>{props}</{p}>"
        if run_size is None or run_size <= 0:
            runs = [text]
        else:
            runs = [text[i:i + run_size] for i in range(0, len(text), run_size)]
        return f"<{p}>{props}{''.join(self.run(r) for r in runs)}</{p}>"

    def cell(self, c: Cell) -> str:
        props = f"<{self.tag('tcW')} {self.attr_prefix}:w=\"{1000 * c.grid_span}\" " \
                f"{self.attr_prefix}:type=\"dxa\"/>"
        if c.grid_span != 1:
            props += f"<{self.tag('gridSpan')} {self.val(str(c.grid_span))}/>"
        if c.v_merge == "restart":
            props += f"<{self.tag('vMerge')} {self.val('restart')}/>"
        elif c.v_merge == "continue":
            props += f"<{self.tag('vMerge')}/>"
        paragraphs = "".join(
            self.paragraph(text, numbered=c.numbered and i == 0, tab_stops=c.tab_stops,
                           run_size=c.run_size)
            for i, text in enumerate(c.paragraphs))
        tc = self.tag("tc")
        return f"<{tc}><{self.tag('tcPr')}>{props}</{self.tag('tcPr')}>{paragraphs}{c.raw}</{tc}>"

    def row(self, r: Row) -> str:
        tr = self.tag("tr")
        props = f"<{self.tag('trPr')}><{self.tag('tblHeader')}/></{self.tag('trPr')}>" \
            if r.header else ""
        return f"<{tr}>{props}{''.join(self.cell(c) for c in r.cells)}</{tr}>"

    def table(self, t: Table) -> str:
        tbl = self.tag("tbl")
        props = (f"<{self.tag('tblPr')}><{self.tag('tblStyle')} {self.val('TableGrid')}/>"
                 f"<{self.tag('tblW')} {self.attr_prefix}:w=\"0\" "
                 f"{self.attr_prefix}:type=\"auto\"/>"
                 f"</{self.tag('tblPr')}>")
        cols = "".join(f"<{self.tag('gridCol')} {self.attr_prefix}:w=\"1000\"/>"
                       for _ in range(t.grid))
        grid = f"<{self.tag('tblGrid')}>{cols}</{self.tag('tblGrid')}>"
        return f"<{tbl}>{props}{grid}{''.join(self.row(r) for r in t.rows)}</{tbl}>"


def document_xml(tables: Sequence[Table], *, before: Sequence[str] = DEFAULT_BEFORE,
                 between: str = "", after: Sequence[str] = (), prefix: str = "w",
                 extra_body: str = "", raw_tables: Sequence[str] = ()) -> bytes:
    """word/document.xml (UTF-8) with paragraphs `before`, the tables (each followed by a
    paragraph `between`, as Word needs a paragraph between two tables), `raw_tables` (table
    XML given as text), the paragraphs `after`, then `extra_body`.

    `prefix` is the WordprocessingML prefix ("" for the default namespace; attributes then
    use the prefix "w", declared for the same namespace after the default one)."""
    writer = _Writer(prefix=prefix, attr_prefix=prefix or "w")
    ns = f'xmlns:{prefix}="{W_NS}"' if prefix else f'xmlns="{W_NS}" xmlns:w="{W_NS}"'
    body = "".join(writer.paragraph(text) for text in before)
    for t in tables:
        body += writer.table(t) + writer.paragraph(between)
    body += "".join(raw_tables)
    body += "".join(writer.paragraph(text) for text in after)
    body += extra_body
    sect = (f"<{writer.tag('sectPr')}><{writer.tag('pgSz')} {writer.attr_prefix}:w=\"16838\" "
            f"{writer.attr_prefix}:h=\"11906\" {writer.attr_prefix}:orient=\"landscape\"/>"
            f"</{writer.tag('sectPr')}>")
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<{writer.tag("document")} {ns} xmlns:r="{R_NS}" xmlns:mc="{MC_NS}" '
        f'xmlns:wps="{WPS_NS}" xmlns:v="{V_NS}" mc:Ignorable="wps">'
        f'<{writer.tag("body")}>{body}{sect}</{writer.tag("body")}>'
        f'</{writer.tag("document")}>'
    )
    return xml.encode("utf-8")


def table_xml(t: Table, *, prefix: str = "w") -> str:
    """One table as XML text (to nest it in a cell's `raw`, or for `raw_tables`)."""
    return _Writer(prefix=prefix, attr_prefix=prefix or "w").table(t)


def paragraph_xml(text: str, *, prefix: str = "w") -> str:
    return _Writer(prefix=prefix, attr_prefix=prefix or "w").paragraph(text)


# ---------------------------------------------------------------- the package

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/word/document.xml" ContentType="{DOCX_MIME}.document.main+xml"/>'
    f'<Override PartName="/word/styles.xml" ContentType="{DOCX_MIME}.styles+xml"/>'
    f'<Override PartName="/word/numbering.xml" ContentType="{DOCX_MIME}.numbering+xml"/>'
    '</Types>'
)

PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    '</Relationships>'
)

DOCUMENT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/numbering" Target="numbering.xml"/>'
    '</Relationships>'
)

STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<w:styles xmlns:w="{W_NS}">'
    '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/>'
    '</w:style>'
    '<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/><w:tblPr>'
    '<w:tblBorders><w:top w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    '<w:left w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    '<w:bottom w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    '<w:right w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    '<w:insideH w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    '<w:insideV w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    '</w:tblBorders></w:tblPr></w:style>'
    '</w:styles>'
)

# numId 1: a decimal list "1." — what the auto-numbered 序号 cells refer to.
NUMBERING = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<w:numbering xmlns:w="{W_NS}">'
    '<w:abstractNum w:abstractNumId="0"><w:multiLevelType w:val="singleLevel"/>'
    '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/>'
    '<w:lvlText w:val="%1"/><w:lvlJc w:val="center"/></w:lvl></w:abstractNum>'
    '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>'
    '</w:numbering>'
)


def package(document: bytes, *, extra: dict[str, bytes] | None = None) -> bytes:
    """A .docx container around a given word/document.xml. Byte-stable: the same content gives
    the same bytes at any time (a fixed member date), as a file re-served unchanged does."""
    buffer = io.BytesIO()
    members: dict[str, str | bytes] = {
        "[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": PACKAGE_RELS,
        "word/document.xml": document, "word/_rels/document.xml.rels": DOCUMENT_RELS,
        "word/styles.xml": STYLES, "word/numbering.xml": NUMBERING, **(extra or {})}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2023, 1, 1, 0, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def make_docx(tables: Sequence[Table], *, before: Sequence[str] = DEFAULT_BEFORE,
              between: str = "", after: Sequence[str] = (), prefix: str = "w",
              extra_body: str = "", raw_tables: Sequence[str] = ()) -> bytes:
    """A .docx holding `tables` (see `document_xml` for the options)."""
    return package(document_xml(tables, before=before, between=between, after=after,
                                prefix=prefix, extra_body=extra_body, raw_tables=raw_tables))
