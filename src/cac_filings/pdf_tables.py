"""PDF → fragments (see documents.py): the grid of every table on every page.

CAC publishes some lists as PDF (the 2025年6月 generative-AI list, the beian site's
cancellation notices). A PDF has no tables, only text and ruling lines on pages; pdfplumber
finds the grid of each table on a page and the text inside each cell. documents.py turns
those page tables back into the tables the author wrote:

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

from cac_filings.documents import Fragment, HeaderTest, RawTable, assemble_tables
from cac_filings.errors import ExtractionError
from cac_filings.formats import integrity_problem

# Real lists have fewer than 10 pages; a larger count is a hostile or broken file.
MAX_PDF_PAGES = 1000

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
    return assemble_tables(pdf_fragments(body, source), source, "pdf", is_header)


def pdf_fragments(body: bytes, source: str) -> list[Fragment]:
    return [Fragment(rows=pt.rows, where=f"table on page {pt.page}", source_rows=len(pt.rows),
                     page=pt.page, page_top=pt.first_on_page,
                     after_text_without_table=pt.after_text_without_table)
            for pt in _read_page_tables(body, source)]


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
