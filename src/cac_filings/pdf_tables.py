"""PDF → fragments (see documents.py): the grid of every table on every page.

CAC publishes some lists as PDF (the 2025年6月 generative-AI list, the beian site's
cancellation notices). A PDF has no tables, only text and ruling lines on pages; pdf_grid.py
reads every character, its box and the ruling lines once with pdfium and finds the grid of
each table on a page and the text inside each cell (pdfplumber reads the same; the tests keep
it as a cross-check, at 6–9 times the cost). documents.py turns those page tables back into
the tables the author wrote:

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
than MAX_PDF_PAGES) is an ExtractionError naming the source; nothing from pdfium leaks out.
So is text that cannot be mapped to Unicode (a font without a ToUnicode map), rather than
rows of garbage. PDFs encrypted with only an owner password (no password to open, copying
restricted) are read.
"""

from __future__ import annotations

from cac_filings.documents import Fragment, HeaderTest, RawTable, assemble_tables
from cac_filings.pdf_grid import PageTable, read_page_tables

# Real lists have fewer than 10 pages; a larger count is a hostile or broken file.
MAX_PDF_PAGES = 1000


def extract_pdf_tables(body: bytes, source: str, is_header: HeaderTest | None = None
                       ) -> list[RawTable]:
    """All tables of a PDF, in reading order. `source` names the file in errors."""
    return assemble_tables(pdf_fragments(body, source), source, "pdf", is_header)


def pdf_fragments(body: bytes, source: str) -> list[Fragment]:
    return [Fragment(rows=pt.rows, where=f"table on page {pt.page}", source_rows=len(pt.rows),
                     page=pt.page, page_top=pt.first_on_page,
                     after_text_without_table=pt.after_text_without_table)
            for pt in _read_page_tables(body, source)]


def _read_page_tables(body: bytes, source: str) -> list[PageTable]:
    """The tables of every page, pages in order and each page's tables top to bottom."""
    return read_page_tables(body, source, max_pages=MAX_PDF_PAGES)
