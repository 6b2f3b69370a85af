"""The PDF table reader (cac_filings.pdf_tables) on PDFs shaped like CAC's (tests/pdf_fixtures.py)
and, when ../shared/cac-replica is present, on the replica's rebuilt PDFs."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pdfplumber
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cac_filings import pdf_tables
from cac_filings.documents import HeaderTest, RawTable, extract_tables
from cac_filings.errors import ExtractionError
from cac_filings.pdf_tables import extract_pdf_tables
from tests.pdf_fixtures import PdfTable, make_pages, make_pdf, page_chunks, split_row

GENAI_HEADER = ["序号", "属地", "大模型名称", "备案单位", "备案编号", "备案时间"]
REGISTER_HEADER = ["序号", "属地", "应用/功能名称", "登记单位", "上线编号", "登记时间"]
CANCEL_HEADER = ["序号", "算法名称", "角色", "主体名称", "应用产品", "主要用途", "备案编号",
                 "注销时间"]
GENAI_WEIGHTS = [6, 10, 22, 28, 36, 13]  # as the replica's build.py (portrait A4)
CANCEL_WEIGHTS = [4, 14, 8, 14, 16, 26, 17, 8]  # landscape A4, 8.5 pt

LONG_NUMBER = "Heilongjiang-Chuanbozhinengliutilixuejiaoxuezhushou-20250520S0006"
LONG_COMPANY = "中国电信股份有限公司人工智能研究院（上海）"
CANCEL_NUMBER = re.compile(r"网信算备\d{21}号")

REPLICA_DATA = Path(__file__).resolve().parents[2] / "shared" / "cac-replica" / "data"


def _key(cells: Sequence[str]) -> tuple[str, ...]:
    return tuple("".join(c.split()) for c in cells)


KNOWN_HEADERS = {_key(GENAI_HEADER), _key(REGISTER_HEADER), _key(CANCEL_HEADER)}


def is_header(cells: list[str]) -> bool:
    """The build's header test, simplified: a row is a header when it names a known list's
    columns (whitespace-insensitive)."""
    return _key(cells) in KNOWN_HEADERS


def genai_rows(start: int, count: int) -> list[list[str]]:
    """备案 rows numbered from `start`; every fifth has a long company name and number."""
    rows = []
    for n in range(start, start + count):
        if n % 5 == 0:
            rows.append([str(n), "黑龙江省", "船舶智能流体力学教学助手", LONG_COMPANY,
                         LONG_NUMBER.replace("S0006", f"{n:04d}"), "2025/5/22"])
        else:
            rows.append([str(n), "北京市", f"心影{n}", "北京心影随形科技有限公司",
                         f"Beijing-XinYing-20250318{n:04d}", "2025/4/10"])
    return rows


def register_rows(start: int, count: int) -> list[list[str]]:
    return [[str(n), "上海市", f"派生万物AI智能问答助手{n}", "上海派生万物智能科技有限公司",
             f"Shanghai-PaiShengWanWuAIZhiNengWenDaZhuShou-20250512S{n:04d}", "2025/5/12"]
            for n in range(start, start + count)]


def cancel_rows(count: int) -> list[list[str]]:
    """Rows like the cancellation notice's: long enough that every page boundary splits a
    row, with a filing number that the split cuts in two."""
    return [[str(n), f"珠海本影智能语音合成算法{n}", "服务提供者", "珠海本影人工智能科技有限公司",
             "卓尧AI(网站)", "应用于语音生成场景，根据用户输入的文本、音频、视频等内容，生成用户"
             "可以理解的音频。", f"网信算备440402289692501240{n:03d}号", "2025年7月"]
            for n in range(1, count + 1)]


def page_tables(body: bytes) -> list[list[list[list[str | None]]]]:
    """What pdfplumber sees: for every page, its tables' raw rows (to check a fixture's shape)."""
    with pdfplumber.open(io.BytesIO(body)) as pdf:
        return [[t.extract() for t in sorted(p.find_tables(), key=lambda t: t.bbox[1])]
                for p in pdf.pages]


def cells_of(table: RawTable) -> list[list[str]]:
    return [row.cells for row in table.rows]


def assert_numbered(table: RawTable) -> None:
    assert [row.row_number for row in table.rows] == list(range(1, len(table.rows) + 1))
    assert not any(row.auto_numbered for row in table.rows)
    assert table.source_format == "pdf"


def refused(body: bytes, source: str, *fragments: str) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        extract_pdf_tables(body, source, is_header)
    assert caught.value.source == source
    assert str(caught.value).startswith(source + ": ")
    for fragment in fragments:
        assert fragment in str(caught.value)
    return caught.value


# ---------------------------------------------------------------- fixture shape


def test_fixture_output_is_deterministic() -> None:
    tables = [PdfTable(CANCEL_HEADER, cancel_rows(12), CANCEL_WEIGHTS)]
    first = make_pdf(tables, landscape=True, rows_per_page=(4, 5), split_rows=True)
    assert first == make_pdf(tables, landscape=True, rows_per_page=(4, 5), split_rows=True)
    assert first.startswith(b"%PDF")


def test_split_row_keeps_the_first_cell_and_cuts_long_cells_in_half() -> None:
    keep, rest = split_row(["8", "短", "网信算备440402289692501240037号"])
    assert keep == ["8", "短", "网信算备440402289"]
    assert rest == ["", "", "692501240037号"]
    assert [list(c) for c in page_chunks(10, (3, 4))] == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]


# ---------------------------------------------------------------- multi-page tables


@pytest.mark.parametrize("header_test", [is_header, None], ids=["is_header", "no-is_header"])
def test_a_table_over_several_pages_is_one_table(header_test: HeaderTest | None
                                                 ) -> None:
    rows = genai_rows(347, 93)
    rows[3][2] = "Zhi·Pu清言"  # drawn with the Helvetica fallback font
    body = make_pdf([PdfTable(GENAI_HEADER, rows, GENAI_WEIGHTS)])
    pages = page_tables(body)
    # The shape under test: several pages, the header only on the first, wrapped cells.
    assert len(pages) >= 3
    assert pages[0][0][0] == GENAI_HEADER
    assert all(p[0][0][0] != "序号" for p in pages[1:])
    raw_cells = [c for p in pages for t in p for r in t for c in r if c]
    assert any("\n" in c and c.replace("\n", "") == LONG_COMPANY for c in raw_cells)
    assert any("\n" in c and c.replace("\n", "").startswith("Heilongjiang-") for c in raw_cells)

    tables = extract_pdf_tables(body, "genai-2025-06.pdf", header_test)
    assert len(tables) == 1
    table = tables[0]
    assert table.index == 0
    assert table.header == GENAI_HEADER
    assert cells_of(table) == rows  # every row, in order, none lost or duplicated
    assert_numbered(table)
    assert (table.header_rows, table.repeated_headers, table.blank_rows, table.merged_rows) == (
        1, 0, 0, 0)
    assert table.physical_rows == table.source_rows == 1 + len(rows)
    numbers = [r.cells[4] for r in table.rows]
    assert LONG_NUMBER.replace("S0006", "0350") in numbers
    assert rows[3][2] == table.rows[3].cells[2] == "Zhi·Pu清言"


def test_extract_tables_dispatches_pdf_bodies() -> None:
    rows = genai_rows(1, 3)
    body = make_pdf([PdfTable(GENAI_HEADER, rows, GENAI_WEIGHTS)])
    tables = extract_tables(body, "a.pdf", is_header)
    assert [cells_of(t) for t in tables] == [rows]
    assert extract_pdf_tables(body, "a.pdf") == extract_pdf_tables(body, "a.pdf")


def test_the_second_table_starts_on_the_page_where_the_first_ends() -> None:
    filed, registered = genai_rows(347, 60), register_rows(160, 50)
    body = make_pdf([PdfTable(GENAI_HEADER, filed, GENAI_WEIGHTS),
                     PdfTable(REGISTER_HEADER, registered, GENAI_WEIGHTS)])
    pages = page_tables(body)
    shared = [i for i, p in enumerate(pages) if len(p) == 2]
    assert len(shared) == 1 and 0 < shared[0] < len(pages) - 1  # the shape under test
    assert pages[shared[0]][1][0] == REGISTER_HEADER
    assert pages[shared[0]][0][0][0] != "序号"

    tables = extract_pdf_tables(body, "genai.pdf", is_header)
    assert [t.index for t in tables] == [0, 1]
    assert [t.header for t in tables] == [GENAI_HEADER, REGISTER_HEADER]
    assert [cells_of(t) for t in tables] == [filed, registered]
    for table, rows in zip(tables, (filed, registered), strict=True):
        assert_numbered(table)
        assert table.physical_rows == table.source_rows == 1 + len(rows)

    # Without a header test only the document's first row is a header (the docx reader's
    # rule): the 登记 header is then an ordinary row of the one table.
    (only,) = extract_pdf_tables(body, "genai.pdf")
    assert cells_of(only) == [*filed, REGISTER_HEADER, *registered]


def test_a_header_row_inside_a_grid_starts_a_new_table() -> None:
    # One drawn table holding both parts, the 登记 rows under their own header row (as in
    # CAC's docx lists).
    filed, registered = genai_rows(1, 4), register_rows(1, 3)
    body = make_pdf([PdfTable(GENAI_HEADER, [*filed, REGISTER_HEADER, *registered])])
    assert [len(p) for p in page_tables(body)] == [1]
    tables = extract_pdf_tables(body, "one-grid.pdf", is_header)
    assert [(t.index, t.header, cells_of(t)) for t in tables] == [
        (0, GENAI_HEADER, filed), (1, REGISTER_HEADER, registered)]
    assert_numbered(tables[1])


@pytest.mark.parametrize("new_page", [True, False])
def test_a_new_header_may_have_another_column_count(new_page: bool) -> None:
    filed, cancelled = genai_rows(1, 3), cancel_rows(2)
    body = make_pdf([PdfTable(GENAI_HEADER, filed),
                     PdfTable(CANCEL_HEADER, cancelled, new_page=new_page)])
    tables = extract_pdf_tables(body, "two-lists.pdf", is_header)
    assert [(t.header, cells_of(t)) for t in tables] == [(GENAI_HEADER, filed),
                                                        (CANCEL_HEADER, cancelled)]


def test_header_rows_repeated_on_every_page_are_counted() -> None:
    rows = genai_rows(1, 90)
    body = make_pdf([PdfTable(GENAI_HEADER, rows, GENAI_WEIGHTS)], repeat_header=True)
    pages = page_tables(body)
    assert len(pages) >= 3 and all(p[0][0] == GENAI_HEADER for p in pages)
    for header_test in (is_header, None):
        (table,) = extract_pdf_tables(body, "repeated.pdf", header_test)
        assert cells_of(table) == rows
        assert table.repeated_headers == len(pages) - 1
        assert table.physical_rows == table.source_rows == len(pages) + len(rows)


def test_blank_rows_are_counted_not_returned() -> None:
    rows = [*genai_rows(1, 2), [""] * 6, *genai_rows(3, 1)]
    (table,) = extract_pdf_tables(make_pdf([PdfTable(GENAI_HEADER, rows, GENAI_WEIGHTS)]),
                                  "blank.pdf", is_header)
    assert cells_of(table) == [rows[0], rows[1], rows[3]]
    assert table.blank_rows == 1
    assert_numbered(table)
    assert table.physical_rows == table.source_rows == 5


# ---------------------------------------------------------------- split rows


def test_cancellation_rows_split_at_page_breaks_come_back_whole() -> None:
    rows = cancel_rows(28)
    body = make_pdf([PdfTable(CANCEL_HEADER, rows, CANCEL_WEIGHTS)], landscape=True,
                    font_size=8.5, rows_per_page=(8, 9), split_rows=True)
    pages = page_tables(body)
    assert len(pages) == 4  # 8 + 9 + 9 + 2 rows: three page breaks, each splitting a row
    for page in pages[1:]:
        top = page[0][0]
        assert top[0] == "" and top[6] and not top[6].startswith("网信算备")

    (table,) = extract_pdf_tables(body, "注销公告.pdf", is_header)
    assert table.header == CANCEL_HEADER
    assert cells_of(table) == rows
    assert [r.cells[0] for r in table.rows] == [str(n) for n in range(1, 29)]
    assert all(CANCEL_NUMBER.fullmatch(r.cells[6]) for r in table.rows)
    assert "网信算备440402289692501240008号" in [r.cells[6] for r in table.rows]
    assert table.merged_rows == len(pages) - 1
    assert table.physical_rows == table.source_rows == 1 + 28 + 3
    assert_numbered(table)


def test_rows_without_a_serial_number_are_merged_only_at_a_page_top() -> None:
    # Page 1 ends with row 2; page 2 starts with the rest of row 2, then a row whose 序号 is
    # empty in the middle of the page: that one is a row of its own.
    rows = [*cancel_rows(2), ["", "无序号算法", "服务提供者", "某公司", "--", "用途", "--", ""]]
    body = make_pdf([PdfTable(CANCEL_HEADER, rows, CANCEL_WEIGHTS)], landscape=True,
                    rows_per_page=(2, 5), split_rows=True)
    (table,) = extract_pdf_tables(body, "mid-page.pdf", is_header)
    assert cells_of(table) == rows
    assert table.merged_rows == 1
    assert table.physical_rows == table.source_rows == 1 + 3 + 1


def test_a_second_table_on_a_page_is_no_page_boundary() -> None:
    # A headerless table below another on the same page continues it, but its first row is
    # not the rest of a row cut by a page break even when its 序号 is empty.
    lone = ["", "无序号算法", "服务提供者", "某公司", "--", "用途", "--", ""]
    body = make_pdf([PdfTable(CANCEL_HEADER, cancel_rows(2), CANCEL_WEIGHTS),
                     PdfTable(None, [lone], CANCEL_WEIGHTS)], landscape=True)
    assert [len(p) for p in page_tables(body)] == [2]
    (table,) = extract_pdf_tables(body, "same-page.pdf", is_header)
    assert cells_of(table) == [*cancel_rows(2), lone]
    assert table.merged_rows == 0


def test_no_merge_unless_the_first_column_is_the_serial_number() -> None:
    header = ["名称", "单位", "编号"]
    rows = [["甲算法", "甲公司", "网信算备110108823483901230031号"],
            ["", "乙公司", "网信算备110108823483901230049号"]]
    body = make_pdf([PdfTable(header, rows[:1]), PdfTable(None, rows[1:], new_page=True)])
    (table,) = extract_pdf_tables(body, "no-serial.pdf")
    assert cells_of(table) == rows
    assert table.merged_rows == 0


def test_a_page_top_row_of_a_table_without_rows_yet_is_not_merged() -> None:
    # The header ends page 1 (a table of no rows there); page 2's first row, 序号 empty, has
    # no row before it to continue.
    rows = [["", "北京市", "心影", "北京心影随形科技有限公司", "Beijing-XinYing-2025", "2025/4/10"]]
    body = make_pdf([PdfTable(GENAI_HEADER, [], GENAI_WEIGHTS),
                     PdfTable(None, rows, GENAI_WEIGHTS, new_page=True)])
    (table,) = extract_pdf_tables(body, "empty-first-page.pdf", is_header)
    assert cells_of(table) == rows
    assert table.merged_rows == 0


def test_a_table_running_past_a_page_whose_grid_was_not_found_is_refused() -> None:
    # Page 2 has text but pdfplumber finds no table there (a grid drawn without lines, an
    # image, a scan): the table continuing on page 3 would silently lose page 2's rows.
    body = make_pdf([PdfTable(GENAI_HEADER, genai_rows(1, 3), GENAI_WEIGHTS),
                     PdfTable(None, genai_rows(9, 2), GENAI_WEIGHTS,
                              page_of_text_before="4 甲算法 甲公司 Beijing-Jia-2025 2025/4/10")])
    refused(body, "missed-grid.pdf", "page 2 has text but no table")


def test_a_new_table_after_a_page_of_text_is_read() -> None:
    # A page of prose between two lists is fine when the next table has its own header.
    body = make_pdf([PdfTable(GENAI_HEADER, genai_rows(1, 2), GENAI_WEIGHTS),
                     PdfTable(CANCEL_HEADER, cancel_rows(2),
                              page_of_text_before="说明：以下为注销信息。")])
    tables = extract_pdf_tables(body, "prose-between.pdf", is_header)
    assert [cells_of(t) for t in tables] == [genai_rows(1, 2), cancel_rows(2)]
    assert [t.source_rows for t in tables] == [3, 3]


CELL_TEXT = st.text(alphabet="甲乙丙丁科技有限公司算法（）·ABCxyz0123456789-/ ", max_size=30)


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.lists(st.lists(CELL_TEXT, min_size=3, max_size=3), min_size=1, max_size=40),
       first=st.integers(1, 8), per_page=st.integers(1, 8),
       layout=st.sampled_from(["flowing", "paged", "split"]))
def test_rows_read_equal_rows_written(data: list[list[str]], first: int, per_page: int,
                                      layout: str) -> None:
    header = ["序号", "名称", "单位", "编号"]
    rows = [[str(n), *cells] for n, cells in enumerate(data, 1)]
    split = layout == "split"
    body = make_pdf([PdfTable(header, rows, [1, 3, 2, 2])],
                    rows_per_page=None if layout == "flowing" else (first, per_page),
                    split_rows=split)
    (table,) = extract_pdf_tables(body, "random.pdf")
    # Compared without whitespace: reportlab drops spaces at a line wrap, joins runs of spaces
    # and trims a cell's ends, and a split row loses the space its cut falls next to (the
    # reader joins wrapped lines and continuations with "").
    assert [_key(r.cells) for r in table.rows] == [_key(r) for r in rows]
    assert_numbered(table)
    chunks = page_chunks(len(rows), (first, per_page))
    boundaries = len(chunks) - 1 if split else 0
    # A continuation with text is merged; one with none (no cell was long enough to cut) is
    # an empty row at the top of the page.
    continued = sum(any(c.strip() for c in split_row(rows[c[-1]])[1]) for c in chunks[:-1])
    assert table.merged_rows == (continued if split else 0)
    assert table.merged_rows + table.blank_rows == boundaries
    assert table.repeated_headers == 0
    assert table.physical_rows == table.source_rows == 1 + len(rows) + boundaries


# ---------------------------------------------------------------- hostile input


def _valid_pdf() -> bytes:
    return make_pdf([PdfTable(GENAI_HEADER, genai_rows(1, 40), GENAI_WEIGHTS)])


def test_not_a_pdf_is_refused() -> None:
    refused(b"PK\x03\x04 not a pdf", "附件.pdf", "not a pdf")
    refused(b"", "empty.pdf", "not a pdf")


def test_a_truncated_pdf_is_refused() -> None:
    body = _valid_pdf()
    refused(body[: len(body) // 2], "truncated.pdf", "truncated")
    refused(body[:-200], "cut.pdf")


@pytest.mark.parametrize("body", [
    b"%PDF-1.7\n\x00\xff garbage \x9c" * 50,
    b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n",
    b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n",
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages "
    b"/Kids [2 0 R] /Count 1 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
], ids=["garbage", "garbage-with-eof", "no-root", "self-referencing-pages"])
def test_garbage_starting_with_the_pdf_signature_is_refused(body: bytes) -> None:
    refused(body, "garbage.pdf", "pdf")


def test_a_pdf_without_pages_is_refused() -> None:
    body = (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n"
            b"<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
    refused(body, "no-pages.pdf", "no pages")


def test_a_password_protected_pdf_is_refused() -> None:
    body = make_pdf([PdfTable(GENAI_HEADER, genai_rows(1, 3))], user_password="secret")
    refused(body, "locked.pdf", "encrypted")


def test_a_pdf_with_only_an_owner_password_is_read_or_refused_never_garbage() -> None:
    # Opens without a password; copying is restricted. pdfminer does not decrypt the strings
    # naming a CID font's character collection, so its text may come out as "(cid:N)": the
    # reader must then refuse the file rather than return those as cell texts.
    rows = genai_rows(1, 3)
    body = make_pdf([PdfTable(GENAI_HEADER, rows)], owner_password="owner")
    try:
        tables = extract_pdf_tables(body, "restricted.pdf", is_header)
    except ExtractionError as exc:
        assert exc.source == "restricted.pdf"
        assert "cannot be decoded" in str(exc)
    else:
        assert [cells_of(t) for t in tables] == [rows]


def test_a_pdf_without_tables_gives_no_tables() -> None:
    body = make_pdf([], intro="根据《互联网信息服务算法推荐管理规定》，注销以下算法备案编号。")
    assert extract_pdf_tables(body, "notice.pdf", is_header) == []
    assert extract_pdf_tables(body, "notice.pdf") == []


def test_a_continuation_with_another_column_count_is_refused() -> None:
    body = make_pdf([PdfTable(GENAI_HEADER, genai_rows(1, 3), GENAI_WEIGHTS),
                     PdfTable(None, [row[:5] for row in genai_rows(4, 2)], new_page=True)])
    error = refused(body, "columns.pdf", "page 2", "5 columns", "6")
    assert "table on page 2" in error.detail


def test_a_table_without_a_header_and_nothing_before_it_is_refused() -> None:
    body = make_pdf([PdfTable(None, genai_rows(1, 3), GENAI_WEIGHTS)])
    refused(body, "headless.pdf", "table on page 1 has no header row")


def test_more_than_a_thousand_pages_are_refused() -> None:
    assert pdf_tables.MAX_PDF_PAGES == 1000
    refused(make_pages(1001), "huge.pdf", "more than 1000 pages")


def test_the_page_cap_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    body = make_pdf([PdfTable(GENAI_HEADER, genai_rows(1, 3)),
                     PdfTable(None, genai_rows(4, 1), new_page=True),
                     PdfTable(None, genai_rows(5, 1), new_page=True)])
    monkeypatch.setattr(pdf_tables, "MAX_PDF_PAGES", 3)
    assert len(extract_pdf_tables(body, "three-pages.pdf", is_header)[0].rows) == 5
    monkeypatch.setattr(pdf_tables, "MAX_PDF_PAGES", 2)
    refused(body, "three-pages.pdf", "more than 2 pages")


_SMALL_PDF = make_pdf([PdfTable(GENAI_HEADER, genai_rows(1, 4), GENAI_WEIGHTS)])


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupted_bytes_give_tables_or_an_extraction_error(data: st.DataObject) -> None:
    body = bytearray(_SMALL_PDF)
    for _ in range(data.draw(st.integers(1, 20))):
        body[data.draw(st.integers(8, len(body) - 8))] = data.draw(st.integers(0, 255))
    try:
        tables = extract_pdf_tables(bytes(body), "mutated.pdf", is_header)
    except ExtractionError as exc:
        assert exc.source == "mutated.pdf"
    else:
        assert all(isinstance(t, RawTable) for t in tables)


# ---------------------------------------------------------------- the replica's PDFs


def _replica_pdfs() -> list[tuple[str, bytes]]:
    if not (REPLICA_DATA / "catalog.json").is_file():
        pytest.skip(f"the CAC replica is not available at {REPLICA_DATA}")
    catalog = json.loads((REPLICA_DATA / "catalog.json").read_text(encoding="utf-8"))
    files = [v["file"] for a in catalog["attachments"].values() for v in a["versions"]]
    files += [n["file"] for n in catalog["notices"] if n.get("file")]
    bodies = [(f, (REPLICA_DATA / f).read_bytes()) for f in files]
    return [(f, body) for f, body in bodies if body.startswith(b"%PDF")]


def _serials(table: RawTable) -> list[int]:
    return [int(row.cells[0]) for row in table.rows]


@pytest.mark.replica
def test_the_replica_pdfs_are_read_whole() -> None:
    kinds = []
    for name, body in _replica_pdfs():
        tables = extract_pdf_tables(body, name, is_header)
        assert tables == extract_pdf_tables(body, name, is_header)  # deterministic
        assert tables, name
        for table in tables:
            assert_numbered(table)
            assert not any("\n" in c for row in table.rows for c in row.cells)
        if tables[0].header == CANCEL_HEADER:
            kinds.append("cancellation")
            (table,) = tables
            assert _serials(table) == list(range(1, 29))
            bad = [r.cells[6] for r in table.rows if not CANCEL_NUMBER.fullmatch(r.cells[6])]
            assert bad == [], name
            assert table.merged_rows >= 1
        else:
            kinds.append("genai")
            assert [_key(t.header)[2] for t in tables] == ["大模型名称", "应用/功能名称"]
            for table in tables:
                serials = _serials(table)
                assert len(serials) == len(set(serials)), name
                assert set(serials) == set(range(min(serials), max(serials) + 1)), name
            # The replica's 2025年6月 list: no first or last row lost either.
            assert [(min(_serials(t)), max(_serials(t))) for t in tables] == [(347, 439),
                                                                             (160, 236)]
    assert sorted(kinds) == ["cancellation", "genai"]
