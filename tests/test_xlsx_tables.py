"""Tests of cac_filings.xlsx_tables: xlsx → the cell texts of every sheet, as Excel shows them.

Every workbook is written here (tests/xlsx_fixtures.py builds the XML parts as strings); one
test reads a workbook written by openpyxl, an independent writer, when it is installed.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import time
import zipfile
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cac_filings import xlsx_tables
from cac_filings.errors import ExtractionError
from cac_filings.formats import MAX_COMPRESSION_RATIO
from cac_filings.xlsx_tables import (
    MAX_SHEET_COLUMNS,
    MAX_SHEET_ROWS,
    MAX_WORKBOOK_CELLS,
    Sheet,
    read_xlsx_sheets,
)
from tests.xlsx_fixtures import (
    CAC_EXPECTED,
    MAIN_NS,
    CellValue,
    Date,
    Error,
    Formatted,
    Formula,
    Inline,
    Raw,
    Rich,
    Shared,
    SheetSpec,
    Styled,
    cac_workbook,
    column_letters,
    make_parts,
    make_xlsx,
    package,
)

SOURCE = "attachments/list.xlsx"


def read(body: bytes) -> list[Sheet]:
    return read_xlsx_sheets(body, SOURCE)


def rows_of(*rows: list[CellValue], merges: tuple[str, ...] = (), **kwargs: bool) -> list[
        list[str]]:
    """The rows the reader makes of one sheet holding `rows`."""
    body = make_xlsx([SheetSpec("S", rows, merges=merges)], **kwargs)
    (sheet,) = read(body)
    assert sheet.physical_rows == len(sheet.rows)
    return sheet.rows


def refused(body: bytes, *fragments: str) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        read(body)
    error = caught.value
    assert error.source == SOURCE
    assert SOURCE in str(error)
    for fragment in fragments:
        assert fragment in error.detail, error.detail
    return error


def sheet_with(cells_xml: str, *, before: str = "", after: str = "",
               compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A one-sheet workbook whose sheetData is `cells_xml` verbatim."""
    parts = make_parts([SheetSpec("S", [["x"]])])
    parts["xl/worksheets/sheet1.xml"] = (
        f'<worksheet xmlns="{MAIN_NS}">{before}<sheetData>{cells_xml}</sheetData>{after}'
        "</worksheet>").encode()
    return package(parts, compression=compression)


# ---------------------------------------------------------------- a CAC-shaped workbook


def test_cac_workbook_reads_as_excel_shows_it() -> None:
    sheets = read(cac_workbook())
    assert [(s.name, s.hidden, s.rows) for s in sheets] == CAC_EXPECTED
    assert [s.index for s in sheets] == [0, 1, 2]
    for sheet in sheets:
        assert sheet.physical_rows == len(sheet.rows)
        assert (sheet.first_row, sheet.first_column) == (1, 1)
    # the formatted empty row 7 and the "" in row 8 are past the used range
    assert sheets[0].physical_rows == 6


def test_fixture_is_byte_stable() -> None:
    body = cac_workbook()
    assert body == cac_workbook()
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert archive.testzip() is None


def test_hidden_and_very_hidden_sheets_in_workbook_order() -> None:
    body = make_xlsx([SheetSpec("甲", [["a"]], state="veryHidden"), SheetSpec("乙", [["b"]]),
                      SheetSpec("丙", [["c"]], state="hidden"), SheetSpec("空", [])])
    sheets = read(body)
    assert [(s.index, s.name, s.hidden) for s in sheets] == [
        (0, "甲", True), (1, "乙", False), (2, "丙", True), (3, "空", False)]
    assert (sheets[3].rows, sheets[3].physical_rows) == ([], 0)


# ---------------------------------------------------------------- cell text


def test_numbers() -> None:
    assert rows_of([1, 12.0, 12.5, 0.1, -0.0, -3, 1 / 3, 1e20, 2.5e-7, 9007199254740993,
                    123456789012345.0]) == [[
        "1", "12", "12.5", "0.1", "0", "-3", "0.3333333333333333", "1e+20", "2.5e-07",
        "9007199254740992", "123456789012345"]]


def test_booleans_and_errors() -> None:
    assert rows_of([True, False, Error("#N/A"), Error("#DIV/0!", formula="1/0"),
                    Error("#REF!"), Error("#VALUE!")]) == [
        ["TRUE", "FALSE", "#N/A", "#DIV/0!", "#REF!", "#VALUE!"]]


def test_dates_in_every_kind_of_date_format() -> None:
    day = dt.date(2023, 8, 31)
    assert rows_of([Date(day, 14), Date(day, 31), Date(day, 57), Date(day, 176),
                    dt.datetime(2023, 8, 31, 12, 30, 5), dt.datetime(2023, 8, 31),
                    "2023/8/31", "2023年8月31日"]) == [[
        "2023-08-31", "2023-08-31", "2023-08-31", "2023-08-31", "2023-08-31T12:30:05",
        "2023-08-31", "2023/8/31", "2023年8月31日"]]


def test_1904_date_system() -> None:
    assert rows_of([dt.date(2023, 8, 31), dt.datetime(2024, 2, 29, 23, 59, 59)],
                   date1904=True) == [["2023-08-31", "2024-02-29T23:59:59"]]


def test_times_durations_and_text_formats() -> None:
    assert rows_of([Formatted(0.5208333333333334, 21), Formatted(1.0416666666666667, 46),
                    Formatted(45169.0, 49), Formatted(45169.0, 0)]) == [
        ["12:30:00", "25:00:00", "45169", "45169"]]


def test_datetime_rounded_to_the_second() -> None:
    # 12:30:04.9999 as Excel stores it: shown 12:30:05
    almost = dt.datetime(2023, 8, 31, 12, 30, 4, 999_900)
    assert rows_of([almost]) == [["2023-08-31T12:30:05"]]


def test_strings_as_stored() -> None:
    assert rows_of([
        "  leading", "trailing  ", "inner  two  spaces", "line one\nline two", "tab\there",
        "crlf\r\nand cr\ronly", "&<>\"'", "_x0041_ literally", "bell\x07", "　全角空格　",
    ]) == [[
        "  leading", "trailing  ", "inner  two  spaces", "line one\nline two", "tab\there",
        "crlf\nand cr\nonly", "&<>\"'", "_x0041_ literally", "bell\x07", "　全角空格　",
    ]]


def test_outer_whitespace_without_preserve_is_dropped_as_excel_drops_it() -> None:
    assert rows_of([Shared("  a  b  ", preserve=False), Inline("\n x \n", preserve=False),
                    Shared("  a  b  ")]) == [["a  b", "x", "  a  b  "]]


def test_shared_and_inline_strings_read_the_same() -> None:
    table: list[list[CellValue]] = [["序号", "名称"], ["1", "网信算备110108823483901230031号"]]
    assert rows_of(*table) == rows_of(*table, inline_strings=True) == [
        ["序号", "名称"], ["1", "网信算备110108823483901230031号"]]


def test_rich_text_runs_are_joined_and_phonetic_guides_left_out() -> None:
    runs = (("深度", True), ("合成", False), (" 算法", True))
    assert rows_of([Rich(runs), Rich(runs, inline=True), Rich((("課", False),), phonetic="カ"),
                    Rich((("重庆", False),), phonetic="chóng qìng", inline=True)]) == [
        ["深度合成 算法", "深度合成 算法", "課", "重庆"]]


def test_formulas_give_their_cached_value_never_the_formula() -> None:
    assert rows_of([Formula("1+1", 2), Formula('"网信"&"算备"', "网信算备"),
                    Formula("A1=2", True), Formula("NOW()", None), Formula("SUM(A1:B1)", 2.5),
                    "end"]) == [["2", "网信算备", "TRUE", "", "2.5", "end"]]


def test_iso_date_cells() -> None:
    assert rows_of([Raw(' t="d"', "<v>2023-08-31T00:00:00</v>"),
                    Raw(' t="d"', "<v>2023-08-31T10:11:12</v>"),
                    Raw(' t="str"', "<f>A1</f><v> as cached </v>")]) == [
        ["2023-08-31", "2023-08-31T10:11:12", " as cached "]]


def test_empty_shared_string_is_empty() -> None:
    assert rows_of(["a", Shared(""), "b", Shared("")]) == [["a", "", "b"]]


# ---------------------------------------------------------------- merged ranges


def test_title_merged_across_all_columns_is_one_cell() -> None:
    assert rows_of(["清单", None, None], ["序号", "名称", "编号"], merges=("A1:C1",)) == [
        ["清单"], ["序号", "名称", "编号"]]


def test_horizontal_span_is_one_cell_in_every_row() -> None:
    rows: list[list[CellValue]] = [["序号", "产品", None, "编号"], [1, "甲", None, "x"],
                                   [2, "乙", "hidden by the merge", "y"]]
    assert rows_of(*rows, merges=("B1:C1", "B2:C2", "B3:C3")) == [
        ["序号", "产品", "编号"], ["1", "甲", "x"], ["2", "乙", "y"]]


def test_vertical_merge_shows_the_top_left_text_below_it() -> None:
    rows: list[list[CellValue]] = [["序号", "属地", "名称"], [1, "北京市", "甲"],
                                   [2, None, "乙"], [3, "stale", "丙"], [4, "上海市", "丁"]]
    assert rows_of(*rows, merges=("B2:B4",)) == [
        ["序号", "属地", "名称"], ["1", "北京市", "甲"], ["2", "北京市", "乙"],
        ["3", "北京市", "丙"], ["4", "上海市", "丁"]]


def test_block_merge_fills_down_its_first_column_and_drops_the_rest() -> None:
    rows: list[list[CellValue]] = [["a", "块", None, "b"], ["c", None, None, "d"],
                                   ["e", "f", "g", "h"]]
    assert rows_of(*rows, merges=("B1:C2",)) == [
        ["a", "块", "b"], ["c", "块", "d"], ["e", "f", "g", "h"]]


def test_merge_with_empty_top_left_is_blank() -> None:
    assert rows_of(["a", None, "b"], ["c", "hidden", "d"], merges=("B1:B2",)) == [
        ["a", "", "b"], ["c", "", "d"]]


def test_merges_reaching_past_the_used_range_are_clipped() -> None:
    # A 属地 merged to the bottom of the sheet, a title merged to column XFD
    body = make_xlsx([SheetSpec("S", [["清单", None, None], ["北京市", "甲", "x"],
                                      [None, "乙", "y"]],
                                merges=("A1:XFD1", "A2:A1048576"))])
    assert read(body)[0].rows == [["清单"], ["北京市", "甲", "x"], ["北京市", "乙", "y"]]


def test_overlapping_merges_are_refused() -> None:
    body = make_xlsx([SheetSpec("S", [["a", "b"], ["c", "d"]],
                                merges=("A1:B2", "A1:B2", "A1:A2"))])
    refused(body, "overlapping merged ranges")


# ---------------------------------------------------------------- the used range


def test_blank_rows_in_the_middle_are_rows_and_trailing_ones_are_not() -> None:
    body = make_xlsx([SheetSpec("S", [
        ["序号", "名称"], [1, "甲"], [None, None], [Shared(""), Shared("")], [2, "乙"],
        [None], [Styled(), Styled()], [Shared(""), Styled()], [], [Styled()]])])
    (sheet,) = read(body)
    assert sheet.rows == [["序号", "名称"], ["1", "甲"], ["", ""], ["", ""], ["2", "乙"]]
    assert sheet.physical_rows == 5


def test_used_range_starts_at_the_first_non_empty_cell() -> None:
    body = make_xlsx([SheetSpec("S", [["清单"], [], ["序号", "名称", Shared("")],
                                      [1, "甲", Styled()]], first_row=4, first_column=3)])
    (sheet,) = read(body)
    assert sheet.rows == [["清单", ""], ["", ""], ["序号", "名称"], ["1", "甲"]]
    assert (sheet.first_row, sheet.first_column, sheet.physical_rows) == (4, 3, 4)


def test_trailing_empty_columns_are_not_part_of_the_used_range() -> None:
    assert rows_of(["a", "b", Shared(""), Styled()], ["c", None, Shared(""), Shared("")]) == [
        ["a", "b"], ["c", ""]]


def test_formatted_cells_far_away_do_not_widen_or_refuse_the_sheet() -> None:
    body = sheet_with('<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c>'
                      '<c r="XFD1" s="0"/><c r="B1048576" s="0"></c></row>'
                      '<row r="1048576" s="0" customFormat="1"/>',
                      before='<dimension ref="A1:XFD1048576"/>')
    assert read(body)[0].rows == [["a"]]


def test_cells_and_rows_without_references_are_placed_as_excel_places_them() -> None:
    rows: list[list[CellValue]] = [["序号", "名称", "编号"], [1, None, "x"], [None, None, None],
                                   [2, "乙", "y"]]
    with_refs = make_xlsx([SheetSpec("S", rows)])
    without = make_xlsx([SheetSpec("S", rows, no_references=True)])
    assert b'<c t="s">' in make_parts([SheetSpec("S", rows, no_references=True)])[
        "xl/worksheets/sheet1.xml"]
    assert read(without)[0].rows == read(with_refs)[0].rows == [
        ["序号", "名称", "编号"], ["1", "", "x"], ["", "", ""], ["2", "乙", "y"]]


def test_references_written_otherwise_than_excel_writes_them() -> None:
    # `r` not the first attribute, single quotes, a namespace prefix
    body = sheet_with("<row spans='1:2' r='2'><c t=\"inlineStr\" r='B2'><is><t>b</t></is></c>"
                      "<c s=\"0\" r='A2'><v>1</v></c></row>")
    assert read(body)[0].rows == [["1", "b"]]
    parts = make_parts([SheetSpec("S", [["x"]])])
    parts["xl/worksheets/sheet1.xml"] = (
        f'<x:worksheet xmlns:x="{MAIN_NS}"><x:sheetData><x:row r="1"><x:c r="A1" t="e">'
        "<x:v>#N/A</x:v></x:c><x:c r=\"B1\"><x:v>2</x:v></x:c></x:row></x:sheetData>"
        "</x:worksheet>").encode()
    assert read(package(parts))[0].rows == [["#N/A", "2"]]


def test_a_malformed_dimension_is_ignored() -> None:
    body = sheet_with('<row r="1"><c r="A1"><v>1</v></c></row>', before='<dimension ref=""/>')
    assert read(body)[0].rows == [["1"]]


# ---------------------------------------------------------------- hostile files


def test_not_an_xlsx() -> None:
    refused(b"", "not an xlsx", "empty")
    refused(b"%PDF-1.7\n...", "not an xlsx", "PDF")
    refused(b"<!DOCTYPE html><html><title>", "not an xlsx", "HTML")
    refused(b"hello", "not an xlsx")
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    refused(docx.getvalue(), "docx")
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("xl/Workbook.bin", b"\x83\x01")
        archive.writestr("xl/workbook.bin", b"\x83\x01")
    refused(other.getvalue(), "two members")
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("readme.txt", "hi")
    refused(plain.getvalue(), "no xl/workbook.xml")


def test_ole_compound_file_is_refused_as_encrypted_or_legacy() -> None:
    cfb = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    refused(cfb, "OLE compound file", "encrypted", "not an xlsx")


def test_truncated_and_corrupt_zips() -> None:
    body = cac_workbook()
    for cut in (len(body) // 2, len(body) - 10, 30):
        refused(body[:cut])
    # flip bytes inside the compressed data of the sheet
    archive = zipfile.ZipFile(io.BytesIO(body))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20
    corrupt = body[:start] + bytes(b ^ 0x55 for b in body[start:start + 40]) + body[start + 40:]
    refused(corrupt, "xl/worksheets/sheet1.xml")


def _set_declared_size(body: bytes, name: str, size: int) -> bytes:
    """The zip with `name`'s uncompressed size rewritten in its local and central headers."""
    data = bytearray(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    info = archive.getinfo(name)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    offset = archive.start_dir
    while data[offset:offset + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, offset + 28)
        if bytes(data[offset + 46:offset + 46 + name_len]).decode() == name:
            struct.pack_into("<I", data, offset + 24, size)
        offset += 46 + name_len + extra_len + comment_len
    return bytes(data)


def test_zip_bombs_are_refused_before_anything_is_inflated() -> None:
    parts = make_parts([SheetSpec("S", [["x"]])])
    parts["xl/sharedStrings.xml"] = b"<sst>" + b" " * 30_000_000 + b"</sst>"
    body = package(parts)
    assert len(body) < 200_000  # a ratio of well over MAX_COMPRESSION_RATIO
    started = time.perf_counter()
    refused(body, "compression ratio", f"cap {MAX_COMPRESSION_RATIO}:1")
    assert time.perf_counter() - started < 0.1  # nothing was inflated
    # a member that inflates past the size its headers declare
    parts = make_parts([SheetSpec("S", [["x"] * 50] * 50)])
    lying = _set_declared_size(package(parts), "xl/worksheets/sheet1.xml", 100)
    refused(lying, "xl/worksheets/sheet1.xml")


def test_dtds_and_entities_are_refused() -> None:
    laughs = ('<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;">]>'
              f'<sst xmlns="{MAIN_NS}"><si><t>&c;</t></si></sst>')
    external = ('<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY x SYSTEM '
                f'"file:///etc/passwd">]><worksheet xmlns="{MAIN_NS}"><sheetData><row r="1">'
                '<c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row></sheetData></worksheet>')
    for name, xml in (("xl/sharedStrings.xml", laughs.encode()),
                      ("xl/worksheets/sheet1.xml", external.encode()),
                      ("xl/worksheets/sheet1.xml", external.encode("utf-16")),
                      ("xl/worksheets/sheet1.xml", external.encode("utf-16-be")),
                      ("xl/worksheets/sheet1.xml", external.encode("utf-16-le")),
                      ("[Content_Types].xml", b'<!DOCTYPE Types SYSTEM "http://x/t.dtd"><Types/>')):
        parts = make_parts([SheetSpec("S", [["x"]])])
        parts[name] = xml
        refused(package(parts), name, "DTD")


def test_other_encodings_are_read() -> None:
    parts = make_parts([SheetSpec("S", [["网信算备"]])])
    sst = parts["xl/sharedStrings.xml"].decode()
    parts["xl/sharedStrings.xml"] = sst.replace('encoding="UTF-8"', 'encoding="GB18030"').encode(
        "gb18030")
    assert read(package(parts))[0].rows == [["网信算备"]]
    parts["xl/sharedStrings.xml"] = sst.encode("utf-16")
    assert read(package(parts))[0].rows == [["网信算备"]]


def test_too_many_rows_or_columns() -> None:
    def one_far_cell(ref: str) -> bytes:
        row = ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return sheet_with(f'<row r="1"><c r="A1"><v>1</v></c></row>'
                          f'<row r="{row}"><c r="{ref}"><v>2</v></c></row>')

    refused(one_far_cell(f"A{MAX_SHEET_ROWS + 1}"), f"row {MAX_SHEET_ROWS + 1}",
            f"cap {MAX_SHEET_ROWS} rows", "'S' (xl/worksheets/sheet1.xml)")
    refused(one_far_cell(f"{column_letters(MAX_SHEET_COLUMNS + 1)}1"),
            f"cap {MAX_SHEET_COLUMNS} columns")
    started = time.perf_counter()
    refused(one_far_cell("XFD1048576"), "row 1048576")  # 17 billion cells, were it read
    assert time.perf_counter() - started < 1
    # a cell placed below every <row> by its own reference
    refused(sheet_with(f'<row r="1"><c r="A1"><v>1</v></c><c r="B{MAX_SHEET_ROWS + 5}"><v>1</v>'
                       "</c></row>"), f"row {MAX_SHEET_ROWS + 5}")
    # cells placed without references
    refused(sheet_with("<row>" + "<c><v>1</v></c>" * (MAX_SHEET_COLUMNS + 1) + "</row>"),
            f"column {MAX_SHEET_COLUMNS + 1}")
    refused(sheet_with("<row/>" * MAX_SHEET_ROWS + "<row><c><v>1</v></c></row>",
                       compression=zipfile.ZIP_STORED), f"row {MAX_SHEET_ROWS + 1}")


def test_the_caps_themselves_are_allowed() -> None:
    last_column = column_letters(MAX_SHEET_COLUMNS)
    body = sheet_with(f'<row r="1"><c r="A1"><v>1</v></c><c r="{last_column}1"><v>2</v></c>'
                      f'</row><row r="3"><c r="B3"><v>3</v></c></row>')
    (sheet,) = read(body)
    assert len(sheet.rows[0]) == MAX_SHEET_COLUMNS
    assert sheet.rows[2][:3] == ["", "3", ""]
    body = sheet_with(f'<row r="1"><c r="A1"><v>1</v></c></row><row r="{MAX_SHEET_ROWS}">'
                      f'<c r="B{MAX_SHEET_ROWS}"><v>2</v></c></row>')
    (sheet,) = read(body)
    assert sheet.physical_rows == len(sheet.rows) == MAX_SHEET_ROWS
    assert (sheet.rows[0], sheet.rows[1], sheet.rows[-1]) == (["1", ""], ["", ""], ["", "2"])


def test_too_many_cells_in_the_workbook() -> None:
    # each sheet alone is within every cap; together they are not
    columns = MAX_WORKBOOK_CELLS // MAX_SHEET_ROWS * 6 // 10  # 60% of the cap each
    corner = f"{column_letters(columns)}{MAX_SHEET_ROWS}"
    parts = make_parts([SheetSpec("S1", [["x"]]), SheetSpec("S2", [["x"]])])
    for name in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"):
        parts[name] = (f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="{MAX_SHEET_ROWS}">'
                       f'<c r="{corner}"><v>1</v></c></row></sheetData></worksheet>').encode()
    started = time.perf_counter()
    refused(package(parts), f"more than {MAX_WORKBOOK_CELLS} cells")
    assert time.perf_counter() - started < 1  # refused before anything was allocated


def test_many_sheets_naming_one_part_count_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = make_parts([SheetSpec("S", [["x"]])])
    parts["xl/worksheets/sheet1.xml"] = (
        f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
        f'<row r="{MAX_SHEET_ROWS}"><c r="J{MAX_SHEET_ROWS}"><v>2</v></c></row></sheetData>'
        "</worksheet>").encode()  # 2 million cells
    entries = "".join(f'<sheet name="S{i}" sheetId="{i + 1}" r:id="rId1"/>' for i in range(6))
    parts["xl/workbook.xml"] = re.sub(rb"<sheets>.*</sheets>", f"<sheets>{entries}</sheets>"
                                      .encode(), parts["xl/workbook.xml"])
    started = time.perf_counter()
    refused(package(parts), f"more than {MAX_WORKBOOK_CELLS} cells")
    assert time.perf_counter() - started < 1
    # were the sheets not matched to their part beforehand, reading would stop them
    monkeypatch.setattr(xlsx_tables, "_sheet_names", lambda parts: {})
    refused(package(parts), f"more than {MAX_WORKBOOK_CELLS} cells")


def test_malformed_sheets_are_extraction_errors() -> None:
    refused(sheet_with('<row r="1"><c r="1A"><v>1</v></c></row><row><c><v>1</v></c></row>'),
            "bad cell reference")
    refused(sheet_with('<row r="1"><c r="A1" t="s"><v>7</v></c></row>'), "shared strings")
    refused(sheet_with('<row r="1"><c r="A1"><v>1</v></row>'), "not a readable xlsx")
    refused(sheet_with('<row r="1"><c r="A1" t="n"><v>abc</v></c></row>'), "sheet 'S'",
            "Parse float error")
    refused(sheet_with('<row r="1"><c r="A1" t="zz"><v>1</v></c></row>'), "not a readable xlsx")
    refused(sheet_with('<row r="1"><c r="A1" t="b"><v>7</v></c></row>'), "not a readable xlsx")
    refused(sheet_with('<row r="1"><c r="A1" t="inlineStr"><is><t>&bogus;</t></is></c></row>'),
            "not a readable xlsx")
    parts = make_parts([SheetSpec("S", [["x"]])])
    del parts["xl/worksheets/sheet1.xml"]
    refused(package(parts), "not a readable xlsx")


def test_encrypted_zip_member_is_refused() -> None:
    body = bytearray(cac_workbook())
    archive = zipfile.ZipFile(io.BytesIO(bytes(body)))
    info = archive.getinfo("xl/styles.xml")
    struct.pack_into("<H", body, info.header_offset + 6, info.flag_bits | 1)
    offset = archive.start_dir
    while body[offset:offset + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", body, offset + 28)
        if bytes(body[offset + 46:offset + 46 + name_len]) == b"xl/styles.xml":
            struct.pack_into("<H", body, offset + 8, info.flag_bits | 1)
        offset += 46 + name_len + extra_len + comment_len
    refused(bytes(body), "xl/styles.xml", "encrypted")


_PARTS = make_parts([SheetSpec("S", [["标题", None], [1, Rich((("a", True),))],
                                     [Date(dt.date(2023, 8, 31)), Error("#N/A")]],
                                merges=("A1:B1",))])


@settings(max_examples=150, deadline=None)
@given(part=st.sampled_from(sorted(_PARTS)), data=st.data())
def test_damaged_parts_read_or_raise_extraction_error(part: str, data: st.DataObject) -> None:
    xml = bytearray(_PARTS[part])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(xml) - 1))
        xml[at:at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    try:
        read(package({**_PARTS, part: bytes(xml)}))
    except ExtractionError as error:
        assert error.source == SOURCE


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_damaged_zips_read_or_raise_extraction_error(data: st.DataObject) -> None:
    body = bytearray(package(_PARTS))
    at = data.draw(st.integers(0, len(body) - 1))
    body[at:at + data.draw(st.integers(1, 8))] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        read(bytes(body[:data.draw(st.integers(1, len(body)))]))
    except ExtractionError as error:
        assert error.source == SOURCE


# ---------------------------------------------------------------- random tables


def _used_range(table: list[list[str]]) -> list[list[str]]:
    """The table's rows and columns from the first to the last non-empty cell."""
    rows = [i for i, row in enumerate(table) if any(row)]
    cols = [j for row in table for j, text in enumerate(row) if text]
    if not rows:
        return []
    return [row[min(cols):max(cols) + 1] for row in table[rows[0]:rows[-1] + 1]]


_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # not encodable
_TEXT = st.text(alphabet=st.characters(
    codec="utf-8", exclude_categories=_SURROGATES,
    include_characters="序号网信算备号　 \n\t\r&<>_x0041_\x01"), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=st.integers(1, 6).flatmap(lambda width: st.lists(
    st.lists(_TEXT, min_size=width, max_size=width), min_size=1, max_size=8)),
       inline=st.booleans())
def test_random_tables_of_strings_read_back(table: list[list[str]], inline: bool) -> None:
    body = make_xlsx([SheetSpec("S", [list(row) for row in table])], inline_strings=inline)
    shown = [[text.replace("\r\n", "\n").replace("\r", "\n") for text in row] for row in table]
    (sheet,) = read(body)
    assert sheet.rows == _used_range(shown)
    assert sheet.physical_rows == len(sheet.rows)


@settings(max_examples=60, deadline=None)
@given(numbers=st.lists(st.one_of(
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False)), min_size=1, max_size=8))
def test_random_numbers_read_back_in_shortest_form(numbers: list[int | float]) -> None:
    def shown(number: int | float) -> str:
        if float(number).is_integer() and abs(number) < 1e16:
            return str(int(number))
        return repr(float(number))

    assert rows_of(list(numbers)) == [[shown(n) for n in numbers]]


_SPARSE_CELL = st.one_of(st.none(), st.just(Styled()), st.just(Shared("")),
                        st.sampled_from(["甲", "网信算备", " x "]), st.integers(0, 99))


@settings(max_examples=60, deadline=None)
@given(table=st.lists(st.lists(_SPARSE_CELL, max_size=6), max_size=7))
def test_random_sparse_sheets_with_and_without_references(
        table: list[list[CellValue]]) -> None:
    def shown(value: CellValue) -> str:
        return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""

    width = max((len(row) for row in table), default=0)
    expected = _used_range([[shown(v) for v in row] + [""] * (width - len(row)) for row in table])
    for no_references in (False, True):
        (sheet,) = read(make_xlsx([SheetSpec("S", table, no_references=no_references)]))
        assert sheet.rows == expected


def _merged_model(table: list[list[str]], merges: list[tuple[int, int, int, int]]
                  ) -> list[list[str]]:
    """What the reader should make of `table` with `merges` (r1, c1, r2, c2, 0-based)."""
    grid: list[list[str | None]] = [list(row) for row in table]
    for r1, c1, r2, c2 in merges:
        for r in range(r1, r2 + 1):
            for c in range(c1 + 1, c2 + 1):
                grid[r][c] = None
            if r > r1:
                grid[r][c1] = table[r1][c1]
    rows = [i for i, row in enumerate(grid) if any(row)]
    cols = [j for row in grid for j, text in enumerate(row) if text]
    if not rows:
        return []
    return [[t for t in row[min(cols):max(cols) + 1] if t is not None]
            for row in grid[rows[0]:rows[-1] + 1]]


@st.composite
def _merged_tables(draw: st.DrawFn) -> tuple[list[list[str]], list[tuple[int, int, int, int]]]:
    height, width = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    table = [[draw(st.sampled_from(["", "a", "序号", "北京市"])) for _ in range(width)]
             for _ in range(height)]
    taken: set[tuple[int, int]] = set()
    merges = []
    for _ in range(draw(st.integers(0, 4))):
        r1, c1 = draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))
        r2, c2 = draw(st.integers(r1, height - 1)), draw(st.integers(c1, width - 1))
        cells = {(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
        if len(cells) > 1 and not cells & taken:
            taken |= cells
            merges.append((r1, c1, r2, c2))
    return table, merges


@settings(max_examples=80, deadline=None)
@given(case=_merged_tables())
def test_random_merges(case: tuple[list[list[str]], list[tuple[int, int, int, int]]]) -> None:
    table, merges = case
    refs = [f"{column_letters(c1 + 1)}{r1 + 1}:{column_letters(c2 + 1)}{r2 + 1}"
            for r1, c1, r2, c2 in merges]
    cells: list[list[CellValue]] = [[Shared(t) for t in row] for row in table]
    (sheet,) = read(make_xlsx([SheetSpec("S", cells, merges=refs)]))
    assert sheet.rows == _merged_model(table, merges)


# ---------------------------------------------------------------- another writer


def test_a_workbook_written_by_openpyxl() -> None:
    openpyxl = pytest.importorskip("openpyxl")
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "清单"
    sheet.append(["境内深度合成服务算法备案清单"])
    sheet.append(["序号", "属地", "名称", None, "备案编号", "备案日期"])
    runs: list[str | TextBlock] = ["某某", TextBlock(InlineFont(b=True), "助手")]
    sheet.append([1, "北京市", CellRichText(runs),
                  None, "网信算备110108823483901230031号", dt.date(2023, 8, 31)])
    sheet.append([2, None, "  前后空格  ", None, "网信算备110108823483901230048号",
                  dt.datetime(2023, 9, 1, 8, 0)])
    sheet.append([])
    sheet.append(["=1+1", True, 2.5])
    for merge in ("A1:F1", "C2:D2", "C3:D3", "C4:D4", "B3:B4"):
        sheet.merge_cells(merge)
    hidden = workbook.create_sheet("备注")
    hidden.sheet_state = "hidden"
    hidden["B2"] = "说明"
    out = io.BytesIO()
    workbook.save(out)
    sheets = read(out.getvalue())
    assert [(s.name, s.hidden) for s in sheets] == [("清单", False), ("备注", True)]
    assert sheets[0].rows == [
        ["境内深度合成服务算法备案清单"],
        ["序号", "属地", "名称", "备案编号", "备案日期"],
        ["1", "北京市", "某某助手", "网信算备110108823483901230031号", "2023-08-31"],
        ["2", "北京市", "  前后空格  ", "网信算备110108823483901230048号", "2023-09-01T08:00:00"],
        ["", "", "", "", "", ""],
        ["", "TRUE", "2.5", "", "", ""],  # openpyxl caches no value for its formula
    ]
    assert (sheets[1].rows, sheets[1].first_row, sheets[1].first_column) == ([["说明"]], 2, 2)


def test_a_large_sheet_reads_in_reasonable_time() -> None:
    rows: list[list[CellValue]] = [["序号", "名称", "编号", "属地", "产品", "用途", "日期",
                                    "备注"]]
    rows += [[i, f"某某科技有限公司{i}", f"网信算备1101088234839012{i:05d}号", "北京市",
              f"产品{i % 97}", "应用于文本生成场景", Date(dt.date(2023, 8, 31)), "2023/8/31"]
             for i in range(1, 5001)]
    body = make_xlsx([SheetSpec("S", rows)])
    started = time.perf_counter()
    (sheet,) = read(body)
    assert time.perf_counter() - started < 2
    assert sheet.physical_rows == 5001
    assert sheet.rows[5000] == ["5000", "某某科技有限公司5000", "网信算备110108823483901205000号",
                                "北京市", "产品53", "应用于文本生成场景", "2023-08-31", "2023/8/31"]
