"""Rows of one text (a title, or a data row with one field, or the rest of a row cut by a page
break) and page tops (documents.py): none is dropped. A row of one text is a title only when
it stands above a header with no data row of the table before it in the same fragment (or a
blank row between them); at the top of a PDF page, below a repeated header too, a row whose
序号 is empty is merged into the row it continues; elsewhere a row of one text is a data row,
or, above the header of another table, an error naming the file, table and row."""

from __future__ import annotations

import json

import pytest

from cac_filings.build.rows import SourceMatcher, parse_file
from cac_filings.documents import RawTable, extract_tables
from cac_filings.errors import ExtractionError
from cac_filings.sources import Source, SourceSpec, load_sources, registry_of
from tests.docx_fixtures import Table, cell, make_docx, row
from tests.pdf_fixtures import PdfTable, make_pdf, split_row
from tests.tinysite import GENAI_FILING_HEADER, GENAI_REGISTRATION_HEADER

WEIGHTS = [5, 8, 16, 22, 30, 11]
# A number longer than a cell that is cut at a page break (split_row cuts cells of more than
# 8 characters): the continuation's only text.
CUT_NUMBER = "Beijing-XinYing-202503180003"


@pytest.fixture(scope="module")
def sources() -> dict[str, Source]:
    return {s.spec.name: s for s in load_sources()}


def genai_spec(sources: dict[str, Source]) -> SourceSpec:
    return sources["cn_cac_generative_ai"].spec


def filings(start: int, count: int) -> list[list[str]]:
    return [[str(n), "北京市", f"心影{n}", "北京心影随形科技有限公司",
             f"Beijing-XinYing-20250318{n:04d}", "2025/4/10"] for n in range(start, start + count)]


def short_filing(n: int) -> list[str]:
    """A row whose only cell longer than 8 characters is its number."""
    return [str(n), "北京市", f"心影{n}", "某公司", f"Beijing-XinYing-20250318{n:04d}", "2025/4/1"]


def registrations(count: int) -> list[list[str]]:
    return [[str(n), "上海市", f"派生万物助手{n}", "上海派生万物智能科技有限公司",
             f"Shanghai-PaiSheng-20250512S{n:04d}", "2025/5/12"] for n in range(1, count + 1)]


def tables_of(body: bytes, sources: dict[str, Source], label: str = "rows") -> list[RawTable]:
    return [t for t in extract_tables(body, label, SourceMatcher(genai_spec(sources).tables))
            if t.header]


def cells_of(table: RawTable) -> list[list[str]]:
    return [r.cells for r in table.rows]


def accounted(tables: list[RawTable]) -> None:
    for table in tables:
        assert table.physical_rows == table.source_rows, table.where
        assert [r.row_number for r in table.rows] == list(range(1, len(table.rows) + 1))


# ---------------------------------------------------------------- page tops (PDF)


def test_a_one_text_continuation_above_the_next_tables_header_is_merged(
        sources: dict[str, Source]) -> None:
    # Page 1 ends with row 3 cut in two; page 2's grid starts with the rest of its number (序号
    # empty, one text), then the 登记 header. That row is not the 登记 table's title.
    last = short_filing(3)
    kept, rest = split_row(last)
    assert [c for c in rest if c] == [CUT_NUMBER[14:]]  # the shape under test
    body = make_pdf([
        PdfTable(GENAI_FILING_HEADER, [*filings(1, 2), kept], WEIGHTS),
        PdfTable(None, [rest, list(GENAI_REGISTRATION_HEADER), *registrations(2)], WEIGHTS,
                 new_page=True),
    ])
    filed, registered = tables_of(body, sources)
    assert cells_of(filed) == [*filings(1, 2), last]
    assert filed.merged_rows == 1
    assert (registered.header_rows, cells_of(registered)) == (1, registrations(2))
    accounted([filed, registered])


def test_a_one_text_continuation_alone_in_its_grid_is_merged(
        sources: dict[str, Source]) -> None:
    # The rest of the cut row is a grid of its own at the top of page 2, the next table's grid
    # below it: a fragment of one row of one text, which used to become a table of titles.
    last = short_filing(3)
    kept, rest = split_row(last)
    body = make_pdf([
        PdfTable(GENAI_FILING_HEADER, [*filings(1, 2), kept], WEIGHTS),
        PdfTable(None, [rest], WEIGHTS, new_page=True),
        PdfTable(GENAI_REGISTRATION_HEADER, registrations(2), WEIGHTS),
    ])
    tables = extract_tables(body, "alone.pdf", SourceMatcher(genai_spec(sources).tables))
    assert [t.header for t in tables] == [list(GENAI_FILING_HEADER),
                                          list(GENAI_REGISTRATION_HEADER)]
    filed, registered = tables
    assert cells_of(filed) == [*filings(1, 2), last]
    assert cells_of(registered) == registrations(2)
    accounted(tables)


def test_a_one_text_continuation_above_data_rows_is_merged(sources: dict[str, Source]) -> None:
    rows = [short_filing(n) for n in range(1, 7)]
    body = make_pdf([PdfTable(GENAI_FILING_HEADER, rows, WEIGHTS)], rows_per_page=(3, 3),
                    split_rows=True)
    (table,) = tables_of(body, sources)
    assert cells_of(table) == rows
    assert table.merged_rows == 1
    accounted([table])


def test_a_title_at_a_page_top_is_a_title_not_a_continuation(
        sources: dict[str, Source]) -> None:
    # A title merged across the grid has its text in the first cell: not a continuation.
    title = ["二、已登记信息", "", "", "", "", ""]
    body = make_pdf([
        PdfTable(GENAI_FILING_HEADER, filings(1, 3), WEIGHTS),
        PdfTable(None, [title, list(GENAI_REGISTRATION_HEADER), *registrations(2)], WEIGHTS,
                 new_page=True),
    ])
    filed, registered = tables_of(body, sources)
    assert (cells_of(filed), filed.merged_rows) == (filings(1, 3), 0)
    assert (registered.header_rows, cells_of(registered)) == (2, registrations(2))
    accounted([filed, registered])


@pytest.mark.parametrize("one_text", [False, True], ids=["several-texts", "one-text"])
@pytest.mark.parametrize("with_header_test", [True, False], ids=["is_header", "no-is_header"])
def test_the_row_below_a_repeated_header_at_a_page_top_is_the_page_top(
        sources: dict[str, Source], one_text: bool, with_header_test: bool) -> None:
    # "Repeat header row": each page starts with the header, then the rest of the row cut by
    # the page break. That row is merged like any page top's.
    rows = [short_filing(n) for n in range(1, 9)] if one_text else filings(1, 8)
    body = make_pdf([PdfTable(GENAI_FILING_HEADER, rows, WEIGHTS)], rows_per_page=(3, 3),
                    split_rows=True, repeat_header=True)
    is_header = SourceMatcher(genai_spec(sources).tables) if with_header_test else None
    (table,) = extract_tables(body, "repeated.pdf", is_header)
    assert cells_of(table) == rows
    assert (table.repeated_headers, table.merged_rows) == (2, 2)
    assert table.physical_rows == table.source_rows == 1 + 8 + 2 + 2


def test_a_repeated_header_lower_on_a_page_is_no_page_top(sources: dict[str, Source]) -> None:
    # The header again in the middle of a grid: the row below it, 序号 empty, is its own row.
    lone = ["", "北京市", "无序号模型", "某公司", "Beijing-WuXuHao-2025", "2025/4/1"]
    body = make_pdf([PdfTable(GENAI_FILING_HEADER,
                              [*filings(1, 2), list(GENAI_FILING_HEADER), lone], WEIGHTS)])
    (table,) = tables_of(body, sources)
    assert cells_of(table) == [*filings(1, 2), lone]
    assert (table.repeated_headers, table.merged_rows) == (1, 0)
    accounted([table])


# ---------------------------------------------------------------- one text inside a table


ONE_FIELD = ["", "", "心影补充", "", "", ""]


def test_a_one_text_row_between_rows_is_a_flagged_data_row(sources: dict[str, Source]) -> None:
    body = make_docx([Table((row(*GENAI_FILING_HEADER, header=True), *(row(*r) for r in (
        *filings(1, 2), ONE_FIELD, *filings(3, 1)))))])
    result = parse_file(body, "one-field.docx", genai_spec(sources),
                        registry_of(list(sources.values())))
    assert [json.loads(r["raw"])["大模型名称"] for r in result.rows] == [
        "心影1", "心影2", "心影补充", "心影3"]
    assert "number_missing" in json.loads(result.rows[2]["quality_flags"])
    assert result.check.serial_problems  # the 序号 column has a gap: reported
    assert result.check.rows_accounted


def test_a_one_text_row_above_a_repeated_header_is_a_data_row(
        sources: dict[str, Source]) -> None:
    # The header again inside one Word table: the row of one text above it follows the
    # table's rows, so it is one of them, not the repeated header's title.
    body = make_docx([Table((row(*GENAI_FILING_HEADER, header=True), *(row(*r) for r in (
        *filings(1, 2), ONE_FIELD, GENAI_FILING_HEADER, *filings(3, 1)))))])
    (table,) = tables_of(body, sources)
    assert cells_of(table) == [*filings(1, 2), ONE_FIELD, *filings(3, 1)]
    assert (table.header_rows, table.repeated_headers) == (1, 1)
    accounted([table])


def test_a_one_text_row_between_rows_and_another_header_is_refused(
        sources: dict[str, Source]) -> None:
    # Title of the 登记 table, or a 备案 row of one field? Nothing says: the file is held back
    # with the file, table and row named.
    body = make_docx([Table((row(*GENAI_FILING_HEADER, header=True), *(row(*r) for r in (
        *filings(1, 2), ["登记信息", "", "", "", "", ""], GENAI_REGISTRATION_HEADER,
        *registrations(1)))))])
    with pytest.raises(ExtractionError, match=r"^between\.docx: table 1 row 4 .*'登记信息'"):
        tables_of(body, sources, "between.docx")


def test_a_one_text_row_between_pdf_rows_and_another_header_is_refused(
        sources: dict[str, Source]) -> None:
    body = make_pdf([PdfTable(GENAI_FILING_HEADER, [
        *filings(1, 2), ["登记", "", "", "", "", ""], list(GENAI_REGISTRATION_HEADER),
        *registrations(1)], WEIGHTS)])
    with pytest.raises(ExtractionError, match=r"^g\.pdf: table on page 1 row 4 .*'登记'"):
        tables_of(body, sources, "g.pdf")


def test_a_title_after_a_blank_row_below_the_rows_is_the_next_tables_title(
        sources: dict[str, Source]) -> None:
    body = make_docx([Table((
        row(*GENAI_FILING_HEADER, header=True), *(row(*r) for r in filings(1, 2)),
        row(*[""] * 6), row(cell("登记信息", grid_span=6)),
        row(*GENAI_REGISTRATION_HEADER), *(row(*r) for r in registrations(1)),
    ), grid_cols=6)])
    filed, registered = tables_of(body, sources)
    assert (cells_of(filed), filed.blank_rows) == (filings(1, 2), 1)
    assert (cells_of(registered), registered.header_rows) == (registrations(1), 2)
    accounted([filed, registered])


def test_a_title_above_the_first_header_is_a_title(sources: dict[str, Source]) -> None:
    body = make_docx([Table((row(cell("生成式人工智能服务已备案信息", grid_span=6)),
                             row(*GENAI_FILING_HEADER), *(row(*r) for r in filings(1, 2))),
                            grid_cols=6)])
    (table,) = tables_of(body, sources)
    assert (cells_of(table), table.header_rows) == (filings(1, 2), 2)
    accounted([table])


def test_a_one_text_row_in_a_pdf_table_is_kept_and_holds_the_pdf_back(
        sources: dict[str, Source]) -> None:
    rows = [*filings(1, 2), ONE_FIELD, *filings(3, 2)]
    body = make_pdf([PdfTable(GENAI_FILING_HEADER, rows, WEIGHTS)])
    result = parse_file(body, "one-field.pdf", genai_spec(sources),
                        registry_of(list(sources.values())))
    assert [json.loads(r["raw"])["大模型名称"] for r in result.rows] == [r[2] for r in rows]
    assert result.check.pdf_serial_problems  # gate pdf_rows_whole
    assert result.check.rows_accounted


def test_a_list_without_serials_keeps_every_page_tops_row(sources: dict[str, Source]) -> None:
    # 序号 empty throughout (README: it may be): the first row of page 2 is a row, not the
    # rest of page 1's last row.
    rows = [["", *r[1:]] for r in filings(1, 6)]
    body = make_pdf([PdfTable(GENAI_FILING_HEADER, rows[:3], WEIGHTS),
                     PdfTable(None, rows[3:], WEIGHTS, new_page=True)])
    (table,) = tables_of(body, sources)
    assert cells_of(table) == rows
    assert table.merged_rows == 0
    accounted([table])
