"""PDFs shaped like CAC's PDF attachments, written with reportlab, for the PDF reader tests.

The layout follows the replica's `build.py` (`pdf_tables`), which mirrors the real files:
the CID font STSong-Light, one Paragraph per cell with CJK word wrap (so a long cell wraps
inside the cell, even in the middle of a Latin word), a GRID border, and the header row only
on the first page of each table. Tables flow on: a second table starts below the end of the
first, on the same page when there is room.

`rows_per_page=(first, per_page)` paginates explicitly (`first` rows on the first page of a
table, `per_page` on the next ones). With `split_rows=True` the row on each page boundary is
split the way a word processor does: its first part stays at the bottom of the page, the rest
continues at the top of the next page in a row whose first cell is empty (`split_row`).

    body = make_pdf([PdfTable(HEADER, rows)], rows_per_page=(8, 9), split_rows=True)

`make_pages(n)` writes n pages without a table (for the page cap). Output is deterministic
(reportlab's `invariant=1`): the same arguments give the same bytes.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FONT = "STSong-Light"
# Characters the STSong-Light CID font does not round-trip through text extraction are drawn
# with a standard font that does (as build.py does for the middle dot in model names).
_FALLBACK_FONTS = {"\u00b7": "Helvetica", "\u2022": "Symbol"}
# Cells of at most this many characters are not cut when a row is split (as in build.py).
_UNSPLIT_LENGTH = 8

_font_registered = False


@dataclass(frozen=True)
class PdfTable:
    """One table: a header row (None: a table without one) and data rows of cell strings."""

    header: Sequence[str] | None
    rows: Sequence[Sequence[str]]
    # Relative column widths (default: all equal); narrow columns make cells wrap.
    col_weights: Sequence[float] | None = None
    # Start the table at the top of a new page instead of below the previous one.
    new_page: bool = False
    # A page holding only this text (no table grid) before the table's own page.
    page_of_text_before: str | None = None


def split_row(cells: Sequence[str]) -> tuple[list[str], list[str]]:
    """A row cut at a page boundary: (the part at the bottom of the page, the continuation at
    the top of the next page). The first cell stays whole, so the continuation's is empty."""
    keep: list[str] = []
    rest: list[str] = []
    for i, value in enumerate(cells):
        if i == 0 or len(value) <= _UNSPLIT_LENGTH:
            keep.append(value)
            rest.append("")
        else:
            cut = (len(value) + 1) // 2
            keep.append(value[:cut])
            rest.append(value[cut:])
    return keep, rest


def page_chunks(n_rows: int, rows_per_page: tuple[int, int]) -> list[range]:
    """Which data rows go on each page of an explicitly paginated table."""
    first, per_page = rows_per_page
    if first < 1 or per_page < 1:
        raise ValueError("rows_per_page must be positive")
    chunks: list[range] = []
    start, size = 0, first
    while start < n_rows:
        chunks.append(range(start, min(start + size, n_rows)))
        start += size
        size = per_page
    return chunks


def markup(value: str) -> str:
    """Paragraph markup for a cell's text (fallback fonts, line breaks, escaping)."""
    out = []
    for ch in value:
        if ch in _FALLBACK_FONTS:
            out.append(f'<font name="{_FALLBACK_FONTS[ch]}">{html.escape(ch)}</font>')
        elif ch == "\n":
            out.append("<br/>")
        else:
            out.append(html.escape(ch))
    return "".join(out)


def _register_font() -> None:
    global _font_registered
    if not _font_registered:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _font_registered = True


def make_pdf(tables: Sequence[PdfTable], *, title: str = "生成式人工智能服务已备案信息",
             intro: str | None = None, landscape: bool = False, font_size: float = 9,
             rows_per_page: tuple[int, int] | None = None, split_rows: bool = False,
             repeat_header: bool = False, user_password: str | None = None,
             owner_password: str | None = None) -> bytes:
    """A PDF with a title, an optional intro paragraph and `tables`, one after the other.

    repeat_header: repeat each table's header row at the top of every page (as Word does
    when "repeat header row" is set, and with rows_per_page above each page's rows); CAC's
    PDFs do not. user_password / owner_password
    encrypt the file (an owner password alone only restricts copying and printing)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.pagesizes import landscape as to_landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    if split_rows and rows_per_page is None:
        raise ValueError("split_rows needs rows_per_page")
    _register_font()
    page = to_landscape(A4) if landscape else A4
    encrypt: Any = None
    if user_password is not None or owner_password is not None:
        from reportlab.lib.pdfencrypt import StandardEncryption

        encrypt = StandardEncryption(user_password or "", ownerPassword=owner_password,
                                     canCopy=0 if owner_password else 1)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=page, leftMargin=1.6 * cm, rightMargin=1.6 * cm,
                            topMargin=1.8 * cm, bottomMargin=1.8 * cm, title=title, author="",
                            subject="", creator="", producer="", invariant=1, encrypt=encrypt)
    st_title = ParagraphStyle("t", fontName=FONT, fontSize=18, leading=26, alignment=1,
                              spaceBefore=6, spaceAfter=10)
    st_intro = ParagraphStyle("i", fontName=FONT, fontSize=11, leading=17, firstLineIndent=22,
                              spaceAfter=8, wordWrap="CJK")
    st_cell = ParagraphStyle("c", fontName=FONT, fontSize=font_size, leading=font_size + 3,
                             wordWrap="CJK")
    st_head = ParagraphStyle("h", fontName=FONT, fontSize=font_size + 0.5,
                             leading=font_size + 4, alignment=1, wordWrap="CJK")
    style = TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP" if rows_per_page else "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ])
    width = page[0] - 3.2 * cm

    def cells(values: Sequence[str], st: Any) -> list[Any]:
        return [Paragraph(markup(v), st) for v in values]

    def table(rows: list[list[Any]], col_widths: list[float], header: bool) -> Any:
        t = Table(rows, colWidths=col_widths, repeatRows=1 if header and repeat_header else 0)
        t.setStyle(style)
        return t

    story: list[Any] = [Paragraph(html.escape(title), st_title)]
    if intro:
        story.append(Paragraph(html.escape(intro), st_intro))
    for ti, spec in enumerate(tables):
        n_cols = len(spec.header) if spec.header is not None else len(spec.rows[0])
        weights = list(spec.col_weights or [1.0] * n_cols)
        col_widths = [width * w / sum(weights) for w in weights]
        head = [cells(spec.header, st_head)] if spec.header is not None else []
        body = [[r[i] if i < len(r) else "" for i in range(n_cols)] for r in spec.rows]
        if spec.page_of_text_before is not None:
            story += [PageBreak(), Paragraph(html.escape(spec.page_of_text_before), st_intro)]
        if spec.new_page or spec.page_of_text_before is not None:
            story.append(PageBreak())
        elif ti:
            story.append(Spacer(1, 14))
        if rows_per_page is None:
            story.append(table(head + [cells(r, st_cell) for r in body], col_widths, bool(head)))
            continue
        chunks = [[list(body[i]) for i in chunk] for chunk in page_chunks(len(body),
                                                                          rows_per_page)]
        carry: list[str] | None = None
        for ci, chunk in enumerate(chunks):
            if carry is not None:
                chunk.insert(0, carry)
                carry = None
            if split_rows and ci < len(chunks) - 1:
                chunk[-1], carry = split_row(chunk[-1])
            top = head if ci == 0 or repeat_header else []
            if ci:
                story.append(PageBreak())
            story.append(table(top + [cells(r, st_cell) for r in chunk], col_widths, bool(top)))
    doc.build(story)
    return buf.getvalue()


def make_pages(n_pages: int) -> bytes:
    """A PDF of `n_pages` pages holding only their page number (no table)."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, invariant=1)
    for n in range(1, n_pages + 1):
        pdf.drawString(72, 72, str(n))
        pdf.showPage()
    pdf.save()
    return buf.getvalue()
