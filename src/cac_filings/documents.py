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
  title, counted with its header rows, unless a data row of the table before it comes right
  above it in the same fragment: above a repeated header it is then a row of that table (its
  one field kept, and flagged by the build), above another table's header an error (the
  next table's title, or a row of one field? nothing says);
- at the top of a PDF page (also right below a header repeated there), a row whose 序号 is
  empty continues the row cut by the page break and is merged back into it, cell by cell,
  whatever its number of texts (the rest of a cut row often has one: a wrapped number).

Every row a fragment holds is accounted for as header (or title), data, repeated header, blank
or merged; the reader's own count of the rows (`Fragment.source_rows`: Word's `<w:tr>`
elements, the PDF grid's rows, the sheet's rows) is checked against that by the build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

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

# What a row placed in a table was counted as (RawTable's counts).
RowKind = Literal["data", "blank", "repeated", "merged"]


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
        # the rows they are. (cells, auto, position in the fragment)
        pending: list[tuple[list[str], bool, int]] = []
        continuing = False  # this fragment's rows go to self.current
        # The next row is the first at the top of a PDF page (below a header repeated there).
        page_top = frag.page_top
        # The last row placed from this fragment was a data row of self.current: rows of one
        # text after it are rows of that table, never the title of a header below them.
        after_data = False
        last: RawTable | None = None

        def place_pending() -> None:
            nonlocal after_data
            table = self.current
            assert table is not None
            for cells, auto, _ in pending:
                after_data = self.row(table, cells, auto) == "data"
            table.source_rows += len(pending)
            pending.clear()

        for index, (cells, auto) in enumerate(zip(frag.rows, numbered, strict=True)):
            at_top, page_top = page_top, False
            found = self.header_of(frag, index, cells)
            if found:
                if (self.current is not None and not self.legacy_docx
                        and self.same_header(cells)):
                    # The header again: a page break, or a table split in two.
                    if after_data:
                        place_pending()  # rows of the table above its repeated header
                    self.current.header_rows += len(pending)
                    self.current.repeated_headers += 1
                    self.current.source_rows += len(pending) + 1
                    # Repeated at the top of a page: the row below it is the page's first.
                    page_top = at_top
                else:
                    if pending and after_data:
                        raise self.title_or_row(frag, pending[0])
                    match = found if isinstance(found, HeaderMatch) else None
                    table = RawTable(index=len(self.tables), header=cells,
                                     header_rows=1 + len(pending), source_format=self.fmt,
                                     source_rows=1 + len(pending), match=match,
                                     where=frag.where)
                    self.tables.append(table)
                    self.current, self.key = table, header_key(cells)
                    after_data = False
                pending.clear()
                continuing, last = True, self.current
                continue
            # At a page top, a row whose 序号 is empty continues the row cut by the page break,
            # whatever its number of texts: never a title.
            cut = at_top and not auto and self.continuation(cells)
            if not continuing:
                if not cut and (index < frag.marked_header_rows
                                or (_is_title(cells) and not auto)):
                    pending.append((cells, auto, index))  # wait and see
                    continue
                if self.current is None or not self.continues(frag, cells):
                    raise self.no_header(frag, [c for c, _, _ in pending], cells)
                continuing = True
            current = self.current
            assert current is not None
            if (not cut and not auto and _is_title(cells)
                    and (pending or any(c.strip() for c in cells))):
                # A title line inside a table may open the next table (its header follows).
                pending.append((cells, auto, index))
                continue
            place_pending()
            kind = self.merge(current, cells) if cut else self.row(current, cells, auto)
            current.source_rows += 1
            after_data, last = kind in ("data", "merged"), current
            if kind == "repeated":
                page_top = at_top  # a header repeated at the page top (no header test)
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

    def no_header(self, frag: Fragment, above: list[list[str]], cells: list[str]
                  ) -> ExtractionError:
        if self.is_header is None:
            return ExtractionError(self.source, f"{frag.where} has no header row")
        # The row that was meant to be the header: the first with several texts.
        candidates = [c for c in above if len(_texts(c)) > 1] + [cells]
        explain = getattr(self.is_header, "explain", None)
        why = explain(candidates[0]) if callable(explain) else None
        return ExtractionError(self.source, f"{frag.where} has no header row naming the list's "
                                            f"columns; its first row is {candidates[0][:12]}"
                               + (f" ({why})" if why else ""))

    def title_or_row(self, frag: Fragment, first: tuple[list[str], bool, int]
                     ) -> ExtractionError:
        """A row of one text between a table's rows and the header of another table: the
        next table's title, or a row of this one with one field? Neither is guessed."""
        cells, _, index = first
        text = " ".join(sorted(_texts(cells)))
        return ExtractionError(self.source, f"{frag.where} row {index + 1} holds one text "
                                            f"({text!r}) between the rows of the table above "
                                            "and the header of another table: a title or a "
                                            "row of one field?")

    def continuation(self, cells: list[str]) -> bool:
        """Whether a row at the top of a PDF page is the rest of the current table's last row,
        cut by the page break: its 序号 is empty, it has text, and it has that row's width.
        Only in tables whose first column is 序号, where no real row lacks one: the row it
        would continue has its 序号 (a list whose 序号 column is empty throughout has rows
        without one at every page top, and they are rows)."""
        table = self.current
        return (table is not None and bool(table.rows) and self.key[:1] == (_SERIAL,)
                and not cells[0].strip() and any(c.strip() for c in cells)
                and len(cells) == len(table.rows[-1].cells)
                and bool(table.rows[-1].cells[0].strip()))

    def merge(self, table: RawTable, cells: list[str]) -> RowKind:
        """The rest of a row cut by a page break, joined back into it cell by cell."""
        last = table.rows[-1]
        last.cells = [a + b for a, b in zip(last.cells, cells, strict=True)]
        table.merged_rows += 1
        return "merged"

    def row(self, table: RawTable, cells: list[str], auto: bool) -> RowKind:
        """One row of the table: "repeated" (its header again), "blank" or "data"."""
        if self.is_header is None and not auto and self.same_header(cells):
            table.repeated_headers += 1
            return "repeated"
        if not auto and not any(c.strip() for c in cells):
            table.blank_rows += 1
            return "blank"
        table.rows.append(RawRow(cells=cells, row_number=len(table.rows) + 1,
                                 auto_numbered=auto))
        return "data"


def assemble_tables(fragments: list[Fragment], source: str, fmt: str,
                    is_header: HeaderTest | None = None) -> list[RawTable]:
    """The tables the author wrote, from a file's fragments (see the module docstring)."""
    return _Assembler(source, fmt, is_header).run(fragments)
