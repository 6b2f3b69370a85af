"""PDF → raw tables, with the same meaning as the docx reader (`documents.RawTable`).

CAC publishes some lists as PDF (the 2025年6月 generative-AI list, the beian site's
cancellation notices). A PDF has no tables, only text and ruling lines on pages; pdfplumber
finds the grid of each table on a page and the text inside each cell. This module turns those
page tables back into the tables the author wrote:

- A line break inside a cell is layout, not content: the cell was too narrow and the text
  wrapped (in the middle of a Latin word too: CJK wrapping breaks anywhere, e.g.
  'Guangdong-FengYuDaMoXing-20250305' / '0027'). So a cell's lines are joined with "", not
  "\\n" (the docx reader keeps "\\n", where a line break is one the author typed). A space at
  which a line wrapped is lost this way: the text cannot tell such a wrap from one inside a
  word, and CAC's wrapped cells are mostly CJK text and long numbers, which have no spaces.
- The header row is only on the first page of a table: a page table whose first row is a
  header (`is_header`; without one, only the first table of the document has a header) starts
  a new table, and one that starts with data continues the table before it, with the same
  number of columns. A header row equal to the table's own header (a PDF exported with
  "repeat header row") is counted in `repeated_headers`; another header starts a new table
  (the 登记 table may start on the page where the 备案 table ends).
- A row that reaches a page break may be split: its first part stays at the bottom of the
  page and the rest continues at the top of the next page as a row whose first cell (序号) is
  empty. Such a row is merged back, cell by cell, into the row it continues (which also
  rejoins a filing number cut in two) and counted in `merged_rows`. This is done only at a
  page boundary and only in tables whose first column is 序号, where no real row lacks one.

Hostile input (not a PDF, truncated, corrupt, encrypted with a password, no pages or more
than MAX_PDF_PAGES) is an ExtractionError naming the source; nothing from pdfminer leaks out.
So is text pdfminer cannot map to Unicode ("(cid:123)"), rather than rows of garbage: this
includes PDFs encrypted with only an owner password (no password to open, copying
restricted) that use a CID font, because pdfminer does not decrypt the strings that name the
font's character collection.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError
from pdfminer.pdfpage import PDFPage
from pdfplumber.utils.exceptions import PdfminerException

from cac_filings.documents import HeaderTest, RawRow, RawTable, header_key
from cac_filings.errors import ExtractionError
from cac_filings.formats import integrity_problem

# Real lists have fewer than 10 pages; a larger count is a hostile or broken file.
MAX_PDF_PAGES = 1000

_SERIAL = "序号"
# pdfminer writes a glyph it cannot map to Unicode as "(cid:123)"; such text is unreadable.
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")


@dataclass
class _PageTable:
    page: int  # 1-based page number
    first_on_page: bool
    rows: list[list[str]]
    # A page before this table (since the previous table) has text but no table grid: if
    # this table continues the one before, the rows on that page were missed.
    after_text_without_table: int | None = None


def extract_pdf_tables(body: bytes, source: str, is_header: HeaderTest | None = None
                       ) -> list[RawTable]:
    """All tables of a PDF, in reading order. `source` names the file in errors."""
    return _assemble(_read_page_tables(body, source), source, is_header)


def _cell_text(value: str | None) -> str:
    return "" if value is None else value.replace("\n", "").strip()


def _read_page_tables(body: bytes, source: str) -> list[_PageTable]:
    """The tables of every page, pages in order and each page's tables top to bottom."""
    if not body.startswith(b"%PDF"):
        raise ExtractionError(source, "not a pdf file (no %PDF signature)")
    problem = integrity_problem(body, "pdf")
    if problem:
        raise ExtractionError(source, f"unreadable pdf: {problem}")
    found: list[_PageTable] = []
    text_without_table: int | None = None
    try:
        # Not `with`: PDF.close() would build a Page for every page, even past the cap. The
        # stream is in memory; each page's caches are released after it is read.
        pdf = pdfplumber.open(io.BytesIO(body))
        # Count lazily before pdfplumber builds a Page object for every page.
        n_pages = sum(1 for _ in itertools.islice(PDFPage.create_pages(pdf.doc),
                                                   MAX_PDF_PAGES + 1))
        if n_pages > MAX_PDF_PAGES:
            raise ExtractionError(source, f"pdf has more than {MAX_PDF_PAGES} pages")
        if n_pages == 0:
            raise ExtractionError(source, "pdf has no pages (broken page tree?)")
        for page in pdf.pages:
            tables = sorted(page.find_tables(), key=lambda t: (t.bbox[1], t.bbox[0]))
            for position, table in enumerate(tables):
                # pdfplumber's rows are rectangular: a missing cell is None.
                rows = [[_cell_text(c) for c in row] for row in table.extract()]
                if any(_UNMAPPED_GLYPH.search(c) for row in rows for c in row):
                    raise ExtractionError(source, f"the text of a table on page "
                                                  f"{page.page_number} cannot be decoded "
                                                  "(a font without a Unicode map)")
                if rows:
                    found.append(_PageTable(page.page_number, position == 0, rows,
                                            text_without_table))
                    text_without_table = None
            if not tables and any(c.get("text", "").strip() for c in page.chars):
                text_without_table = text_without_table or page.page_number
            page.close()
    except ExtractionError:
        raise
    except Exception as exc:  # pdfminer raises anything on hostile input; name the file
        cause = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
        reason = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
        if isinstance(cause, PDFEncryptionError):
            raise ExtractionError(source, f"pdf is encrypted ({reason})") from None
        raise ExtractionError(source, f"unreadable pdf ({reason})") from None
    return found


def _assemble(page_tables: list[_PageTable], source: str, is_header: HeaderTest | None
              ) -> list[RawTable]:
    out: list[RawTable] = []
    current: RawTable | None = None
    key: tuple[str, ...] = ()

    def start(header: list[str]) -> RawTable:
        table = RawTable(index=len(out), header=header, source_format="pdf")
        out.append(table)
        return table

    for pt in page_tables:
        rows = pt.rows
        first = rows[0]
        opens = is_header(first) if is_header is not None else current is None
        at_page_top = False
        if opens and (current is None or header_key(first) != key):
            current, key = start(first), header_key(first)
            current.source_rows += 1
            rows = rows[1:]
        elif current is None:
            raise ExtractionError(source, f"table on page {pt.page} has no header row")
        elif len(first) != len(current.header):
            raise ExtractionError(source, f"table on page {pt.page} has {len(first)} columns, "
                                          f"the table it continues has {len(current.header)}")
        elif pt.after_text_without_table is not None:
            # The table runs on past a page whose grid was not found: its rows would be lost.
            raise ExtractionError(source, f"page {pt.after_text_without_table} has text but no "
                                          f"table, and the table on page {pt.page} continues "
                                          "the one before it: rows in between were missed")
        else:
            # A continuation from the previous page (a repeated header row may come first).
            at_page_top = pt.first_on_page and bool(current.rows)
        for cells in rows:
            if is_header is not None and is_header(cells) and header_key(cells) != key:
                current, key = start(cells), header_key(cells)
                current.source_rows += 1
                at_page_top = False
                continue
            current.source_rows += 1
            if header_key(cells) == key:
                current.repeated_headers += 1
                continue
            if not any(cells):
                current.blank_rows += 1
                continue
            if at_page_top and not cells[0] and key[:1] == (_SERIAL,):
                last = current.rows[-1]
                last.cells = [a + b for a, b in zip(last.cells, cells, strict=True)]
                current.merged_rows += 1
            else:
                current.rows.append(RawRow(cells=cells, row_number=len(current.rows) + 1))
            at_page_top = False
    return out
