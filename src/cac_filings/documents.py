"""Documents → raw tables, the same way for Word, PDF and Excel. Reads bytes only (from the
archive); no network, no normalisation.

Each format's reader (docx_tables, pdf_tables, xlsx_tables) turns a file into *fragments*:
the tables as they lie in the file — a Word `w:tbl`, the grid of a table on one PDF page, an
Excel sheet — each a list of rows of cell texts, with what the format knows about them (Word's
header marks and list numbering, the PDF page). `assemble_tables` turns fragments into the
tables the author wrote, by one set of rules:

- a header row is recognised by meaning (`headers.HeaderMatcher`: the cells name the required
  fields of one of the source's table specs), wherever it is: a title row or blank rows may
  come before it, columns may come in any order, a column may be unknown;
- a row equal to the table's header (repeated at a page break, or at the top of the second
  part of a table split in two) is counted, not read;
- a different header inside a table starts a new table (the 登记 rows of a generative-AI list
  sit under their own header in the 备案 table; the on-device table sits between the two);
- a fragment that starts without a header continues the table before it (a PDF page, the
  second part of a split Word table) when it has that table's number of columns; else it is
  an error: those rows belong to no header;
- blank rows are counted, not read; a row of one text right above a header is that table's
  title, counted with its header rows;
- at the top of a PDF page, a row whose 序号 is empty continues the row cut by the page break
  and is merged back into it, cell by cell.

Every row a fragment holds is accounted for as header (or title), data, repeated header, blank
or merged; the reader's own count of the rows (`Fragment.source_rows`: Word's `<w:tr>`
elements, the PDF grid's rows, the sheet's rows) is checked against that by the build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cac_filings.errors import ExtractionError
from cac_filings.formats import sniff_format
from cac_filings.headers import HeaderMatch, header_key


@dataclass
class RawRow:
    cells: list[str]
    row_number: int  # 1-based position among the table's data rows, in file order
    auto_numbered: bool = False


@dataclass
class RawTable:
    index: int  # 0-based position of the table in the document
    header: list[str]
    rows: list[RawRow] = field(default_factory=list)
    # Rows above the first data row that are not data: the header row, the rows of a
    # multi-row header, a title row.
    header_rows: int = 1
    repeated_headers: int = 0
    blank_rows: int = 0
    # PDF: rows split by a page break, whose continuation (first cell empty, at the top of the
    # next page) was merged back into the row it continues. Each counts one physical row.
    merged_rows: int = 0
    source_format: str = "docx"
    # Rows the document holds for this table, counted by the format's reader apart from the
    # assembly above (Word: <w:tr> elements; PDF: grid rows; Excel: sheet rows).
    source_rows: int = 0
    # The header read against the source's table specs (None without a header test).
    match: HeaderMatch | None = field(default=None, compare=False)
    # Where the table starts, for messages: "table 2", "table on page 5".
    where: str = field(default="", compare=False)

    @property
    def physical_rows(self) -> int:
        return (self.header_rows + len(self.rows) + self.repeated_headers + self.blank_rows
                + self.merged_rows)


@dataclass
class Fragment:
    """A table as one format lays it out, before headers are found."""

    rows: list[list[str]]
    where: str  # how messages name it: "table 2", "table on page 5", "table on sheet 'A'"
    source_rows: int  # rows the reader counted here, apart from `rows`
    # Word: leading rows marked w:tblHeader, and rows whose first cell is list numbering.
    marked_header_rows: int = 0
    numbered: list[bool] | None = None
    # PDF: the page, and whether this is the first table on it (a row cut by the page break
    # continues here).
    page: int | None = None
    page_top: bool = False
    # PDF: a page since the previous table had text but no grid (rows there were missed).
    after_text_without_table: int | None = None


# Whether a row of cells is a header row. The build passes a headers.HeaderMatcher, whose
# HeaderMatch says which table spec; any truthy value means "a header".
HeaderTest = Callable[[list[str]], object]

_SERIAL = "序号"


def extract_tables(body: bytes, source: str, is_header: HeaderTest | None = None
                   ) -> list[RawTable]:
    """All tables of a document, by sniffed format. `source` names the file in errors."""
    fmt = sniff_format(body)
    if fmt == "docx":
        from cac_filings.docx_tables import docx_fragments

        return assemble_tables(docx_fragments(body, source), source, "docx", is_header)
    if fmt == "pdf":
        from cac_filings.pdf_tables import pdf_fragments

        return assemble_tables(pdf_fragments(body, source), source, "pdf", is_header)
    if fmt == "xlsx":
        from cac_filings.xlsx_tables import xlsx_fragments

        return assemble_tables(xlsx_fragments(body, source), source, "xlsx", is_header)
    raise ExtractionError(source, f"cannot extract tables from a {fmt} file")


def _texts(cells: list[str]) -> set[str]:
    return {t for t in (c.strip() for c in cells) if t}


def _is_title(cells: list[str]) -> bool:
    """A row with one text at most (a title merged across the table, 附件2, 端侧大模型)."""
    return len(_texts(cells)) <= 1


class _Assembler:
    def __init__(self, source: str, fmt: str, is_header: HeaderTest | None) -> None:
        self.source = source
        self.fmt = fmt
        self.is_header = is_header
        # Without a header test, every Word table is its own table with its own header.
        self.legacy_docx = fmt == "docx" and is_header is None
        self.tables: list[RawTable] = []
        self.current: RawTable | None = None
        self.key: tuple[str, ...] = ()

    def header_of(self, frag: Fragment, index: int, cells: list[str]) -> object:
        if self.is_header is not None:
            return self.is_header(cells)
        # Without a header test: a Word table's header is its last marked row (or its first
        # row); a PDF's first table starts with its header and every later one continues.
        if self.fmt == "pdf":
            return index == 0 and self.current is None
        return index == max(frag.marked_header_rows, 1) - 1

    def run(self, fragments: list[Fragment]) -> list[RawTable]:
        for frag in fragments:
            self.fragment(frag)
        for index, table in enumerate(self.tables):
            table.index = index
        return self.tables

    def fragment(self, frag: Fragment) -> None:
        numbered = frag.numbered or [False] * len(frag.rows)
        # Rows waiting for what follows them: blank or title rows (and the upper rows of a
        # marked multi-row header) are the next table's title when a header follows, else
        # the rows they are.
        pending: list[tuple[list[str], bool]] = []
        continuing = False  # this fragment's rows go to self.current
        page_top = False  # the next row is the first at the top of a PDF page
        last: RawTable | None = None

        def place_pending() -> None:
            nonlocal page_top
            table = self.current
            assert table is not None
            for cells, auto in pending:
                self.row(table, cells, auto, page_top)
                page_top = False
            table.source_rows += len(pending)
            pending.clear()

        for index, (cells, auto) in enumerate(zip(frag.rows, numbered, strict=True)):
            found = self.header_of(frag, index, cells)
            if found:
                if (self.current is not None and not self.legacy_docx
                        and self.same_header(cells)):
                    # The header again: a page break, or a table split in two.
                    self.current.header_rows += len(pending)
                    self.current.repeated_headers += 1
                    self.current.source_rows += len(pending) + 1
                else:
                    match = found if isinstance(found, HeaderMatch) else None
                    table = RawTable(index=len(self.tables), header=cells,
                                     header_rows=1 + len(pending), source_format=self.fmt,
                                     source_rows=1 + len(pending), match=match,
                                     where=frag.where)
                    self.tables.append(table)
                    self.current, self.key = table, header_key(cells)
                pending.clear()
                continuing, page_top, last = True, False, self.current
                continue
            if not continuing:
                if index < frag.marked_header_rows or (_is_title(cells) and not auto):
                    pending.append((cells, auto))  # wait and see
                    continue
                if self.current is None or not self.continues(frag, cells):
                    raise self.no_header(frag, cells, pending)
                continuing = True
                page_top = frag.page_top and bool(self.current.rows)
            current = self.current
            assert current is not None
            if not auto and _is_title(cells) and (pending or any(c.strip() for c in cells)):
                # A title line inside a table may open the next table (its header follows).
                pending.append((cells, auto))
                continue
            place_pending()
            self.row(current, cells, auto, page_top)
            current.source_rows += 1
            page_top, last = False, current
        if pending and continuing:
            place_pending()
            last = self.current
        # What the reader counted beyond the rows it gave lands on the table the fragment
        # fed, where the build's check finds the difference.
        extra = frag.source_rows - len(frag.rows)
        if last is not None:
            last.source_rows += extra
        elif pending or extra:
            # Only titles or blank rows, and no header: not a list table. Its rows are
            # accounted for all the same.
            self.tables.append(RawTable(index=len(self.tables), header=[],
                                        header_rows=len(pending), source_format=self.fmt,
                                        source_rows=len(pending) + extra, where=frag.where))

    def same_header(self, cells: list[str]) -> bool:
        """Whether a row repeats the current table's header (by meaning; a header of
        punctuation alone, which means nothing, by its text)."""
        if self.current is None:
            return False
        if any(self.key):
            return header_key(cells) == self.key
        return [c.split() for c in cells] == [c.split() for c in self.current.header]

    def continues(self, frag: Fragment, cells: list[str]) -> bool:
        """Whether a fragment that starts without a header continues the current table."""
        assert self.current is not None
        if self.legacy_docx:
            return False
        if len(cells) != len(self.current.header):
            raise ExtractionError(self.source, f"{frag.where} has {len(cells)} columns, the "
                                               f"table it continues ({self.current.where}) "
                                               f"has {len(self.current.header)}")
        if frag.after_text_without_table is not None:
            # The table runs on past a page whose grid was not found: its rows would be lost.
            raise ExtractionError(self.source, f"page {frag.after_text_without_table} has text "
                                               f"but no table, and the {frag.where} continues "
                                               "the one before it: rows in between were missed")
        return True

    def no_header(self, frag: Fragment, cells: list[str],
                  pending: list[tuple[list[str], bool]]) -> ExtractionError:
        if self.is_header is None:
            return ExtractionError(self.source, f"{frag.where} has no header row")
        # The row that was meant to be the header: the first with several texts.
        candidates = [c for c, _ in pending if len(_texts(c)) > 1] + [cells]
        explain = getattr(self.is_header, "explain", None)
        why = explain(candidates[0]) if callable(explain) else None
        return ExtractionError(self.source, f"{frag.where} has no header row naming the list's "
                                            f"columns; its first row is {candidates[0][:12]}"
                               + (f" ({why})" if why else ""))

    def row(self, table: RawTable, cells: list[str], auto: bool, page_top: bool) -> None:
        if self.is_header is None and not auto and self.same_header(cells):
            table.repeated_headers += 1
            return
        if not auto and not any(c.strip() for c in cells):
            table.blank_rows += 1
            return
        if (page_top and table.rows and not cells[0].strip() and self.key[:1] == (_SERIAL,)
                and len(cells) == len(table.rows[-1].cells)):
            last = table.rows[-1]
            last.cells = [a + b for a, b in zip(last.cells, cells, strict=True)]
            table.merged_rows += 1
            return
        table.rows.append(RawRow(cells=cells, row_number=len(table.rows) + 1,
                                 auto_numbered=auto))


def assemble_tables(fragments: list[Fragment], source: str, fmt: str,
                    is_header: HeaderTest | None = None) -> list[RawTable]:
    """The tables the author wrote, from a file's fragments (see the module docstring)."""
    return _Assembler(source, fmt, is_header).run(fragments)
