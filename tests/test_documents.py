"""Tests of cac_filings.documents: docx → raw tables, as Word shows them.

Every fixture is written here (tests/docx_fixtures.py builds the XML as strings); the replica
files in ../shared are only read, and only by the last test.
"""

from __future__ import annotations

import io
import json
import re
import tracemalloc
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cac_filings.documents import RawTable, extract_tables
from cac_filings.docx_tables import (
    extract_docx_tables,
    read_docx_xml,
    scan_document_xml,
)
from cac_filings.errors import ExtractionError
from cac_filings.formats import MAX_COMPRESSION_RATIO, sniff_format
from cac_filings.headers import header_text
from tests.docx_fixtures import (
    W_NS,
    Cell,
    Row,
    Table,
    cell,
    document_xml,
    make_docx,
    package,
    paragraph_xml,
    row,
    table,
    table_xml,
)

REPLICA_DATA = Path(__file__).resolve().parents[2] / "shared" / "cac-replica" / "data"

HEADER_A = ("序号", "算法名称", "算法类别", "主体名称", "应用产品", "主要用途", "备案编号", "备注")
HEADER_B = ("序号", "算法名称", "角色", "主体名称", "应用产品", "主要用途", "备案编号", "备注")


def only_table(body: bytes, source: str = "test.docx") -> RawTable:
    tables = extract_tables(body, source)
    assert len(tables) == 1
    return tables[0]


def data(t: RawTable) -> list[list[str]]:
    return [r.cells for r in t.rows]


def fallback_block(text: str = "", *, prefix: str = "mc") -> str:
    """An `mc:AlternateContent` run as Word writes a text box: the DrawingML copy in
    `mc:Choice`, the VML copy of the same text in `mc:Fallback`."""
    content = (f"<w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent>"
               if text else "")
    return (f'<w:r><{prefix}:AlternateContent><{prefix}:Choice Requires="wps"><w:drawing>'
            f"<wps:wsp><wps:txbx>{content}</wps:txbx></wps:wsp></w:drawing></{prefix}:Choice>"
            f"<{prefix}:Fallback><w:pict><v:shape><v:textbox>{content}</v:textbox></v:shape>"
            f"</w:pict></{prefix}:Fallback></{prefix}:AlternateContent></w:r>")


# ---------------------------------------------------------------- python-docx as the oracle


@dataclass(frozen=True)
class Seen:
    """A table as python-docx reads it, with the extractor's row rules applied on top."""

    header: list[str]
    rows: list[list[str]]
    auto_numbered: list[bool]
    physical_rows: int


_FALSE = {"false", "0", "off"}


def read_with_python_docx(body: bytes) -> list[Seen]:
    """Each row's `cell.text` per distinct `w:tc` (python-docx repeats a spanned cell once per
    grid column; a vMerge continuation yields the cell above, as Word displays it)."""
    document = docx.Document(io.BytesIO(body))
    w_val = f"{{{W_NS}}}val"
    seen: list[Seen] = []
    for docx_table in document.tables:
        grid: list[tuple[list[str], bool, bool]] = []
        for docx_row in docx_table.rows:
            tcs: list[Any] = []
            texts: list[str] = []
            for docx_cell in docx_row.cells:
                if any(docx_cell._tc is tc for tc in tcs):
                    continue
                tcs.append(docx_cell._tc)
                texts.append(docx_cell.text)
            tr = docx_row._tr
            marked = any(m.get(w_val, "true") not in _FALSE
                         for m in tr.xpath("./w:trPr/w:tblHeader"))
            first = tr.tc_lst[0] if len(tr.tc_lst) else None
            numbered = first is not None and bool(first.xpath(".//w:numPr"))
            grid.append((texts, marked, numbered))
        n_marked = 0
        while n_marked < len(grid) and grid[n_marked][1]:
            n_marked += 1
        header_rows = max(1, n_marked)
        header = grid[header_rows - 1][0]
        # A repeated header is known by meaning (a header of punctuation alone, meaning
        # nothing, by its text); an auto-numbered row is never one.
        key = [header_text(t) for t in header]
        if not any(key):
            key = [" ".join(t.split()) for t in header]
        rows: list[list[str]] = []
        auto: list[bool] = []
        for texts, _marked, numbered in grid[header_rows:]:
            seen_as = [header_text(t) for t in texts] if any(
                header_text(t) for t in header) else [" ".join(t.split()) for t in texts]
            if not numbered and seen_as == key:
                continue
            if not numbered and not any(t.strip() for t in texts):
                continue
            rows.append(texts)
            auto.append(numbered)
        seen.append(Seen(header, rows, auto, len(grid)))
    return seen


def as_seen(tables: list[RawTable]) -> list[Seen]:
    for t in tables:
        assert [r.row_number for r in t.rows] == list(range(1, len(t.rows) + 1))
    return [Seen(t.header, data(t), [r.auto_numbered for r in t.rows], t.physical_rows)
            for t in tables]


# ---------------------------------------------------------------- cell text


def test_multi_paragraph_cells_are_joined_with_newlines() -> None:
    body = make_docx([table(
        row(*HEADER_B, header=True),
        row("1", "文本生成算法", "服务提供者", "某某科技有限公司", "某某（APP）",
            cell("应用于文本生成场景。", "根据用户输入生成回答。"),
            cell("网信算备110108823483901230031号", ""),
            cell("", "已注销")),
    )])
    t = only_table(body)
    assert t.header == list(HEADER_B)
    assert data(t) == [["1", "文本生成算法", "服务提供者", "某某科技有限公司", "某某（APP）",
                        "应用于文本生成场景。\n根据用户输入生成回答。",
                        "网信算备110108823483901230031号\n", "\n已注销"]]


def test_breaks_and_tabs_inside_runs_are_newline_and_tab() -> None:
    body = make_docx([table(
        row("序号", "名称", "备注", header=True),
        row("1", "第一行\n第二行", "前\t后"),
        row("2", cell("a\tb\nc", "d", run_size=1), cell("\t", "\n")),
    )])
    t = only_table(body)
    assert data(t) == [["1", "第一行\n第二行", "前\t后"],
                       ["2", "a\tb\nc\nd", "\t\n\n"]]


def test_carriage_return_element_is_a_line_break() -> None:
    xml = document_xml([table(row("序号", "名称", header=True), row("1", "CR"))])
    xml = xml.replace(b"<w:t>CR</w:t>", b"<w:t>\xe7\x94\xb2</w:t><w:cr/><w:t>\xe4\xb9\x99</w:t>")
    assert data(only_table(package(xml))) == [["1", "甲\n乙"]]


def test_tab_stop_definitions_are_not_text() -> None:
    body = make_docx([table(
        row("序号", "名称", header=True),
        row("1", cell("无制表符", tab_stops=True)),
        row("2", cell("有\t制表符", "", tab_stops=True)),
    )])
    xml = read_docx_xml(body, "tabs.docx")
    assert xml.count(b'<w:tab w:val="left" w:pos="720"/>') == 3  # the fixture has them
    assert data(only_table(body)) == [["1", "无制表符"], ["2", "有\t制表符\n"]]


def test_runs_split_across_elements_are_concatenated() -> None:
    number = "网信算备110108823483901230031号"
    body = make_docx([table(
        row("序号", "备案编号", header=True),
        row("1", cell(number, run_size=1)),
        row("2", cell(number, run_size=4)),
        row("3", cell("  首尾空格  ", " 中 间 ", run_size=3)),
    )])
    xml = read_docx_xml(body, "runs.docx")
    assert xml.count(b"<w:r>") > 40
    assert b'xml:space="preserve"' in xml
    assert data(only_table(body)) == [["1", number], ["2", number],
                                      ["3", "  首尾空格  \n 中 间 "]]


def test_entities_are_decoded_once() -> None:
    xml = document_xml([table(row("序号", "名称", header=True),
                              row("1", "研发&运营 <AI> a>b"),
                              row("2", "ENTITIES"))])
    raw = (b"<w:t>A&amp;B &lt;C&gt; &quot;q&quot; &apos;s&apos; &#20013;&#x6587; &amp;lt; "
           b"&amp;amp;</w:t>")
    xml = xml.replace(b"<w:t>ENTITIES</w:t>", raw)
    assert b"&amp;" in xml and b"&lt;AI&gt;" in xml
    t = only_table(package(xml))
    assert data(t) == [["1", "研发&运营 <AI> a>b"],
                       ["2", "A&B <C> \"q\" 's' 中文 &lt; &amp;"]]


# ---------------------------------------------------------------- auto-numbering, spans, merges


def test_auto_numbered_first_column_is_empty_and_rows_are_numbered_in_file_order() -> None:
    rows = [row(cell(numbered=True), f"算法{i}", "服务提供者", f"公司{i}", "--", "用途",
                f"网信算备{i:021d}号", "") for i in range(1, 6)]
    body = make_docx([table(row(*HEADER_B, header=True), *rows)])
    assert read_docx_xml(body, "n.docx").count(
        b'<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>') == 5
    t = only_table(body)
    assert t.header == list(HEADER_B)
    assert [r.cells[0] for r in t.rows] == [""] * 5
    assert [r.auto_numbered for r in t.rows] == [True] * 5
    assert [r.row_number for r in t.rows] == [1, 2, 3, 4, 5]
    assert [r.cells[1] for r in t.rows] == [f"算法{i}" for i in range(1, 6)]
    assert t.physical_rows == t.source_rows == 6


def test_rows_with_text_numbers_are_not_auto_numbered() -> None:
    t = only_table(make_docx([table(row("序号", "名称", header=True), row("1", "甲"),
                                    row("2", "乙"))]))
    assert [(r.cells, r.row_number, r.auto_numbered) for r in t.rows] == [
        (["1", "甲"], 1, False), (["2", "乙"], 2, False)]


def test_2024_06_main_use_spans_two_grid_columns() -> None:
    """The 2024年6月 deep-synthesis list: 主要用途 spans two of 9 grid columns in every row."""
    def spanned(texts: tuple[str, ...], *, header: bool = False, numbered: bool = False) -> Row:
        cells = [cell(t, grid_span=2 if i == 5 else 1) for i, t in enumerate(texts)]
        if numbered:
            cells[0] = cell(numbered=True)
        return Row(tuple(cells), header=header)

    records = [("", f"深度合成算法{i}", "服务技术支持者", f"某公司{i}", "--",
                f"用于第{i}类场景的文本生成", f"网信算备{i:021d}号", "")
               for i in range(1, 4)]
    body = make_docx([table(spanned(HEADER_B, header=True),
                            *(spanned(r, numbered=True) for r in records))])
    xml = read_docx_xml(body, "2024-06.docx")
    assert xml.count(b"<w:gridCol ") == 9
    assert xml.count(b"<w:tc>") == 8 * 4
    assert xml.count(b'<w:gridSpan w:val="2"/>') == 4
    # python-docx repeats the spanned cell: 9 cells per row, 主要用途 twice
    docx_rows = docx.Document(io.BytesIO(body)).tables[0].rows
    assert [len(r.cells) for r in docx_rows] == [9] * 4

    t = only_table(body)
    assert t.header == list(HEADER_B)
    assert data(t) == [list(r) for r in records]
    assert all(len(r.cells) == 8 for r in t.rows)
    assert all(r.cells.count(f"用于第{r.row_number}类场景的文本生成") == 1 for r in t.rows)
    assert [r.auto_numbered for r in t.rows] == [True] * 3


def test_vmerge_continuation_cells_take_the_text_of_the_cell_above() -> None:
    body = make_docx([table(
        row("序号", "主体名称", "算法名称", header=True),
        row("1", cell("甲公司", v_merge="restart"), "算法一"),
        row("2", cell(v_merge="continue"), "算法二"),
        row("3", cell(v_merge="continue"), "算法三"),
        row("4", "乙公司", "算法四"),
        row("5", cell("丙公司", v_merge="restart"), "算法五"),
        row("6", cell(v_merge="continue"), "算法六"),
    )])
    xml = read_docx_xml(body, "vmerge.docx")
    assert xml.count(b"<w:vMerge/>") == 3 and xml.count(b'<w:vMerge w:val="restart"/>') == 2
    assert [r.cells[1] for r in only_table(body).rows] == [
        "甲公司", "甲公司", "甲公司", "乙公司", "丙公司", "丙公司"]


def test_vmerge_follows_grid_columns_after_a_spanned_cell() -> None:
    body = make_docx([table(
        row(cell("序号", grid_span=2), "主体", "产品", header=True),
        row(cell("1", grid_span=2), cell("甲公司", v_merge="restart"), "A"),
        row(cell("2", grid_span=2), cell(v_merge="continue"), "B"),
        row("3", "x", cell(v_merge="continue"), "C"),
    )])
    assert data(only_table(body)) == [["1", "甲公司", "A"], ["2", "甲公司", "B"],
                                      ["3", "x", "甲公司", "C"]]


def test_multi_row_header_names_vertically_merged_columns() -> None:
    """A two-row header: 序号 and 备案编号 span both rows (vMerge), 算法信息 spans two columns of
    the first row. The last header row names the columns — as Word shows it, the merged cells
    read 序号 and 备案编号 there, not empty strings."""
    body = make_docx([table(
        row(cell("序号", v_merge="restart"), cell("算法信息", grid_span=2),
            cell("备案编号", v_merge="restart"), header=True),
        row(cell(v_merge="continue"), "算法名称", "主体名称", cell(v_merge="continue"),
            header=True),
        row("1", "算法一", "甲公司", "网信算备1号"),
    )])
    t = only_table(body)
    assert t.header_rows == 2
    assert data(t) == [["1", "算法一", "甲公司", "网信算备1号"]]
    assert t.header == read_with_python_docx(body)[0].header
    assert t.header == ["序号", "算法名称", "主体名称", "备案编号"]


# ---------------------------------------------------------------- header, repeats, blank rows


def test_repeated_headers_are_dropped_and_counted() -> None:
    header = row(*HEADER_A, header=True)
    spaced = ("序  号", "算法 名称", "算法\n类别", " 主体名称 ", "应用产品", "主要用途",
              "备案\t编号", "备注")
    records = [(str(i), f"算法{i}", "个性化推送类", f"公司{i}", f"产品{i}", "推荐",
                f"网信算备{i:021d}号", "") for i in range(1, 7)]
    rows = [
        row(*records[0]), row(*records[1]),
        row(*HEADER_A),                    # repeated at a page break, not marked
        row(*records[2]), row(*records[3]),
        row(*spaced),                      # repeated with other whitespace
        row(*records[4]),
        row(*HEADER_A, header=True),       # repeated and marked (not leading: not a header)
        row(*records[5]),
        # starts like the header but is a data row
        row("序号", "不是表头", "", "", "", "", "", ""),
    ]
    t = only_table(make_docx([table(header, *rows)]))
    assert t.header == list(HEADER_A)
    assert t.repeated_headers == 3
    assert data(t) == [list(r) for r in records] + [["序号", "不是表头", "", "", "", "", "", ""]]
    assert [r.row_number for r in t.rows] == list(range(1, 8))
    assert t.header_rows == 1
    assert t.physical_rows == t.source_rows == 1 + len(rows)


def test_table_without_header_marking_uses_its_first_row() -> None:
    t = only_table(make_docx([table(row("序号", "属地", "模型名称"), row("1", "北京市", "模型甲"),
                                    row("2", "上海市", "模型乙"))]))
    assert t.header == ["序号", "属地", "模型名称"]
    assert t.header_rows == 1
    assert data(t) == [["1", "北京市", "模型甲"], ["2", "上海市", "模型乙"]]
    assert t.physical_rows == t.source_rows == 3


def test_several_marked_header_rows_the_last_names_the_columns() -> None:
    t = only_table(make_docx([table(
        row(cell("境内深度合成服务算法备案清单", grid_span=3), header=True),
        row("（2024年6月）", "", "", header=True),
        row("序号", "算法名称", "备案编号", header=True),
        row("1", "算法一", "网信算备1号"),
        row("序号", "算法名称", "备案编号"),
        row("2", "算法二", "网信算备2号"),
    )]))
    assert t.header == ["序号", "算法名称", "备案编号"]
    assert t.header_rows == 3
    assert t.repeated_headers == 1
    assert data(t) == [["1", "算法一", "网信算备1号"], ["2", "算法二", "网信算备2号"]]
    assert t.physical_rows == t.source_rows == 6


def test_header_marking_with_a_false_value_is_not_a_header() -> None:
    xml = document_xml([table(row("标题", "", header=True), row("序号", "名称", header=True),
                              row("1", "甲"))])
    xml = xml.replace(b"<w:tblHeader/>", b'<w:tblHeader w:val="false"/>', 1)
    t = only_table(package(xml))
    assert t.header == ["标题", ""]
    assert t.header_rows == 1
    assert data(t) == [["序号", "名称"], ["1", "甲"]]


def test_blank_rows_are_dropped_and_counted() -> None:
    t = only_table(make_docx([table(
        row("序号", "名称", "备注", header=True),
        row("1", "甲", ""),
        row("", "", ""),
        row(" ", cell("", ""), "\t"),
        row("2", "乙", ""),
        row(cell("\n"), "", "  "),
    )]))
    assert t.blank_rows == 3
    assert data(t) == [["1", "甲", ""], ["2", "乙", ""]]
    assert [r.row_number for r in t.rows] == [1, 2]
    assert t.physical_rows == t.source_rows == 6


def test_physical_rows_account_for_every_row() -> None:
    rows = [row("序号", "名称", header=True), row("表头续", "", header=True)]
    rows += [row(str(i), f"名{i}") for i in range(1, 4)]
    rows += [row("", ""), row("表头续", ""), row("4", "名4"), row(" ", " ")]
    t = only_table(make_docx([table(*rows)]))
    assert (t.header_rows, len(t.rows), t.repeated_headers, t.blank_rows) == (2, 4, 1, 2)
    assert t.physical_rows == t.source_rows == len(rows)


# ---------------------------------------------------------------- documents


def test_several_tables_with_their_index_and_text_outside_tables_ignored() -> None:
    filed = table(row("序号", "属地", "模型名称", "备案单位", "备案号", "备案时间", header=True),
                  row("1", "北京市", "模型甲", "甲公司", "Beijing-JiaModel-20230831", "2023/8/31"))
    registered = table(row("序号", "属地", "应用/功能名称", "登记单位", "上线编号", "登记时间",
                           header=True),
                       row("1", "上海市", "应用乙", "乙公司", "Shanghai-YiApp-20240501S0001",
                           "2024/5/1"))
    third = table(row("甲", "乙"), row("丙", "丁"))
    body = make_docx([filed, registered, third], before=("附件", "生成式人工智能服务备案信息"),
                     between="段落文字不属于表格", after=("附件说明文字", "落款"))
    tables = extract_tables(body, "genai.docx")
    assert [t.index for t in tables] == [0, 1, 2]
    assert tables[0].header[2] == "模型名称" and tables[1].header[2] == "应用/功能名称"
    assert data(tables[0]) == [["1", "北京市", "模型甲", "甲公司", "Beijing-JiaModel-20230831",
                                "2023/8/31"]]
    assert data(tables[1]) == [["1", "上海市", "应用乙", "乙公司",
                                "Shanghai-YiApp-20240501S0001", "2024/5/1"]]
    assert tables[2].header == ["甲", "乙"] and data(tables[2]) == [["丙", "丁"]]
    everything = json.dumps([[t.header, data(t)] for t in tables], ensure_ascii=False)
    for outside in ("附件", "生成式人工智能服务备案信息", "段落文字", "附件说明", "落款"):
        assert outside not in everything


def test_a_header_inside_a_table_starts_a_sub_table_and_its_repeats_are_counted() -> None:
    filed_header = ("序号", "属地", "模型名称", "备案单位", "备案号", "备案时间")
    registered_header = ("序号", "属地", "应用/功能名称", "登记单位", "上线编号", "登记时间")
    filed = ("1", "北京市", "模型甲", "甲公司", "Beijing-JiaModel-20230831", "2023/8/31")
    first = ("1", "上海市", "应用乙", "乙公司", "Shanghai-YiApp-20240501S0001", "2024/5/1")
    second = ("2", "上海市", "应用丙", "丙公司", "Shanghai-BingApp-20240502S0002", "2024/5/2")
    body = make_docx([table(row(*filed_header, header=True), row(*filed),
                            row(*registered_header), row(*first),
                            row(*registered_header),  # repeated at a page break
                            row(*second))])

    def is_header(cells: list[str]) -> bool:
        return cells[:1] == ["序号"] and cells[2:3] in (["模型名称"], ["应用/功能名称"])

    tables = extract_docx_tables(body, "genai.docx", is_header)
    assert [t.header for t in tables] == [list(filed_header), list(registered_header)]
    assert [data(t) for t in tables] == [[list(filed)], [list(first), list(second)]]
    assert [r.row_number for r in tables[1].rows] == [1, 2]
    assert tables[1].repeated_headers == 1
    assert sum(t.physical_rows for t in tables) == sum(t.source_rows for t in tables) == 6


def test_document_without_tables_has_none() -> None:
    assert extract_tables(make_docx([], after=("没有表格",)), "empty.docx") == []


def test_nested_table_text_is_not_outer_cell_text() -> None:
    inner = table(row("内表头1", "内表头2"), row("内文字1", "内文字2"))
    outer = table(
        row("序号", "名称", "备注", header=True),
        row("1", cell("外文字", raw=table_xml(inner) + paragraph_xml("")), "备注一"),
        row("2", "乙", cell("备注二", raw=table_xml(table(row("更深", "")))
                                          + paragraph_xml("之后"))),
        row("3", "丙", "备注三"),
    )
    body = make_docx([outer, table(row("第二表", "列"), row("x", "y"))])
    tables = extract_tables(body, "nested.docx")
    assert len(tables) == 2
    t = tables[0]
    assert t.header == ["序号", "名称", "备注"]
    assert data(t) == [["1", "外文字\n", "备注一"], ["2", "乙", "备注二\n之后"],
                       ["3", "丙", "备注三"]]
    assert t.physical_rows == t.source_rows == 4
    assert "内" not in json.dumps(data(t), ensure_ascii=False)
    assert "更深" not in json.dumps(data(t), ensure_ascii=False)
    assert (tables[1].index, tables[1].header, data(tables[1])) == (1, ["第二表", "列"],
                                                                    [["x", "y"]])
    assert as_seen(tables) == read_with_python_docx(body)


def _with_text_box(prefix: str = "mc") -> bytes:
    xml = document_xml([table(row("序号", "名称", "备注", header=True),
                              row("1", "TEXTBOX", "备注一"),
                              row("2", "乙", "备注二"))])
    cell_xml = f"<w:t>前</w:t></w:r>{fallback_block('框内文字', prefix=prefix)}<w:r><w:t>后</w:t>"
    xml = xml.replace(b"<w:t>TEXTBOX</w:t>", cell_xml.encode())
    if prefix != "mc":
        xml = xml.replace(b'xmlns:mc="', f'xmlns:{prefix}="'.encode()).replace(
            b'mc:Ignorable="', f'{prefix}:Ignorable="'.encode())
    return package(xml)


@pytest.mark.parametrize("prefix", ["mc", "compat"])
def test_fallback_copy_of_a_drawing_is_not_duplicated(prefix: str) -> None:
    body = _with_text_box(prefix)
    assert read_docx_xml(body, "mc.docx").count("框内文字".encode()) == 2  # Choice + Fallback
    t = only_table(body, "mc.docx")
    assert t.header == ["序号", "名称", "备注"]
    assert [r.cells[0] for r in t.rows] == ["1", "2"]
    assert [r.cells[2] for r in t.rows] == ["备注一", "备注二"]
    assert t.rows[1].cells[1] == "乙"
    name = t.rows[0].cells[1]
    assert name.count("框内文字") <= 1
    assert "前" in name and "后" in name
    assert t.physical_rows == t.source_rows == 3


def test_text_after_a_drawing_stays_in_its_paragraph() -> None:
    """The text box's own paragraph must not swallow the rest of the cell paragraph: "前" and
    "后" are one paragraph (python-docx reads "前后"), whatever is done with the box text."""
    name = only_table(_with_text_box(), "mc.docx").rows[0].cells[1]
    assert any(re.search("前.*后", line) for line in name.split("\n")), name


def test_fallback_outside_tables_does_not_change_the_tables() -> None:
    tables = [table(row("序号", "名称", header=True), row("1", "甲"), row("2", cell("乙", "丙")))]
    plain = document_xml(tables)
    with_fallback = document_xml(tables, extra_body=f"<w:p>{fallback_block('图')}</w:p>")
    assert b":Fallback" in with_fallback
    assert scan_document_xml(with_fallback, "s") == scan_document_xml(plain, "s")


@pytest.mark.parametrize("prefix", ["ns0", "wx", ""])
def test_other_namespace_prefixes_read_the_same(prefix: str) -> None:
    tables = [
        table(row(*HEADER_B, header=True),
              row(cell(numbered=True), "算法", "服务提供者", "公司", "--",
                  cell("用途", grid_span=2), "网信算备1号", ""),
              row(cell(numbered=True), "算法二", "服务提供者", cell("公司", v_merge="restart"),
                  "--", cell("用途二", "第二段", grid_span=2), "网信算备2号", "已注销"),
              row(cell(numbered=True), "算法三", "服务提供者", cell(v_merge="continue"),
                  "--", "a\tb\nc", "网信算备3号", "")),
        table(row("甲", "乙"), row("丙", "丁")),
    ]
    expected = scan_document_xml(document_xml(tables), "w.xml")
    assert len(expected) == 2 and len(expected[0].rows) == 4  # the header and 3 rows
    xml = document_xml(tables, prefix=prefix)
    assert b"<w:tbl>" not in xml
    assert scan_document_xml(xml, "other.xml") == expected
    assert extract_tables(package(xml), "other.docx") == extract_tables(
        package(document_xml(tables)), "w.docx")


def test_strict_ooxml_namespace_reads_the_same() -> None:
    tables = [table(row("序号", "名称", header=True), row("1", "甲"))]
    xml = document_xml(tables)
    strict = xml.replace(W_NS.encode(), b"http://purl.oclc.org/ooxml/wordprocessingml/main")
    assert scan_document_xml(strict, "strict.xml") == scan_document_xml(xml, "w.xml")


def test_utf8_byte_order_mark_is_accepted() -> None:
    tables = [table(row("序号", "名称", header=True), row("1", "甲"))]
    body = package(b"\xef\xbb\xbf" + document_xml(tables))
    assert [s.rows for s in read_with_python_docx(body)] == [[["1", "甲"]]]
    assert data(only_table(body, "bom.docx")) == [["1", "甲"]]


def test_comments_in_the_xml_are_not_text() -> None:
    xml = document_xml([table(row("序号", "名称", header=True), row("1", "COMMENT"))])
    xml = xml.replace(b"<w:t>COMMENT</w:t>",
                      b"<w:t>\xe7\x94\xb2</w:t><!-- <w:t>x</w:t> --><w:t>\xe4\xb9\x99</w:t>")
    assert data(only_table(package(xml))) == [["1", "甲乙"]]


# ---------------------------------------------------------------- hostile and broken input


def _refused(body: bytes, source: str, *fragments: str) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        extract_tables(body, source)
    assert caught.value.source == source
    assert source in str(caught.value)
    for fragment in fragments:
        assert fragment in str(caught.value)
    return caught.value


LAUGHS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<!DOCTYPE w:document [\n<!ENTITY lol "lol">\n'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">\n'
              for i in range(1, 10))
    + "]>\n"
)


@pytest.mark.parametrize("prolog", [
    pytest.param(LAUGHS, id="billion-laughs"),
    pytest.param('<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY xxe SYSTEM '
                 '"file:///etc/passwd">]>', id="external-entity"),
    pytest.param('<?xml version="1.0"?>' + " " * 8000 + '<!DOCTYPE w:document [<!ENTITY e "x">]>',
                 id="entity-after-4k"),
    pytest.param('<?xml version="1.0"?><!DOCTYPE w:document>', id="bare-doctype"),
])
def test_documents_with_a_dtd_are_refused_without_expanding(prolog: str) -> None:
    xml = document_xml([table(row("序号", "名称", header=True), row("1", "ENTITY"))])
    xml = prolog.encode() + xml[xml.index(b"<w:document"):]
    xml = xml.replace(b"<w:t>ENTITY</w:t>", b"<w:t>&lol9;&xxe;&e;</w:t>")
    tracemalloc.start()
    try:
        _refused(package(xml), "附件-laughs.docx", "DTD")
        with pytest.raises(ExtractionError, match=r"laughs\.xml"):
            scan_document_xml(xml, "laughs.xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * len(xml) + 1_000_000  # nothing was expanded (10^9 "lol"s would be GBs)


def test_zip_that_is_not_a_docx_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a document")
    _refused(buffer.getvalue(), "archive.docx", "zip")
    with pytest.raises(ExtractionError, match=r"archive\.docx: not a readable docx"):
        extract_docx_tables(buffer.getvalue(), "archive.docx")


def _sample_docx(*, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    rows = [row(str(i), f"算法名称{i}" * 5, f"网信算备{i:021d}号") for i in range(1, 80)]
    xml = document_xml([table(row("序号", "算法名称", "备案编号", header=True), *rows)])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", xml)
    return buffer.getvalue()


def _member_data_offset(body: bytes, name: str) -> tuple[int, int]:
    info = zipfile.ZipFile(io.BytesIO(body)).getinfo(name)
    name_len = int.from_bytes(body[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(body[info.header_offset + 28:info.header_offset + 30], "little")
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def test_truncated_zip_is_refused() -> None:
    body = _sample_docx()
    assert len(extract_tables(body, "whole.docx")[0].rows) == 79
    _refused(body[: len(body) // 2], "truncated.docx")
    with pytest.raises(ExtractionError, match=r"truncated\.docx: not a readable docx"):
        extract_docx_tables(body[: len(body) // 2], "truncated.docx")


def test_member_failing_its_crc_is_refused() -> None:
    body = bytearray(_sample_docx(compression=zipfile.ZIP_STORED))
    start, size = _member_data_offset(bytes(body), "word/document.xml")
    position = bytes(body).index("算法名称40".encode(), start, start + size)
    body[position:position + 3] = "箅".encode()
    _refused(bytes(body), "crc.docx", "corrupt docx")


def test_corrupt_deflate_stream_is_refused() -> None:
    """document.xml whose deflate data is broken (the first block has the reserved block type
    3): inflating it fails inside zlib, before any CRC check."""
    body = bytearray(_sample_docx())
    start, _ = _member_data_offset(bytes(body), "word/document.xml")
    body[start] = 0b111  # BFINAL=1, BTYPE=11 (reserved)
    _refused(bytes(body), "deflate.docx")


def test_zip_bomb_is_refused_by_the_compression_ratio_cap() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            chunk = b"a" * (1 << 20)
            for _ in range(50):  # 50 MB of one byte, ~50 KB compressed
                member.write(chunk)
    body = buffer.getvalue()
    info = zipfile.ZipFile(io.BytesIO(body)).getinfo("word/document.xml")
    assert info.file_size / info.compress_size > 5 * MAX_COMPRESSION_RATIO
    tracemalloc.start()
    try:
        _refused(body, "bomb.docx", "compression ratio")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # refused before inflating anything


def test_the_download_check_refuses_a_zip_bomb_without_inflating_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cac_filings import formats

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        archive.writestr("word/media/blank.bin", b"\0" * (20 << 20))  # 20 MB → ~20 KB
    body = buffer.getvalue()
    with monkeypatch.context() as patched:
        def inflate(_: zipfile.ZipFile) -> None:
            raise AssertionError("inflated a member of a refused container")

        patched.setattr(zipfile.ZipFile, "testzip", inflate)
        problem = formats.integrity_problem(body, "docx")
    assert problem is not None and "word/media/blank.bin has a compression ratio" in problem
    # Members within the ratio cap still add up against the total cap.
    monkeypatch.setattr(formats, "MAX_COMPRESSION_RATIO", 10**6)
    monkeypatch.setattr(formats, "MAX_UNZIPPED_BYTES", 10 << 20)
    assert formats.zip_size_problem(body) == (
        f"zip members add up to {(20 << 20) + 13} bytes uncompressed (cap {10 << 20})")
    monkeypatch.setattr(formats, "MAX_UNZIPPED_BYTES", 100 << 20)
    assert formats.integrity_problem(body, "docx") is None


@pytest.mark.parametrize("cut", ["mid-row", "after-row", "second-table"])
def test_document_cut_inside_a_table_is_refused(cut: str) -> None:
    first = table(row("序号", "名称", header=True), row("1", "甲"), row("2", "乙"))
    second = table(row("序号", "名称", header=True), row("1", "丙"), row("2", "丁"))
    xml = document_xml([first, second])
    first_end = xml.index(b"</w:tbl>")
    if cut == "mid-row":
        xml = xml[: xml.index("乙".encode(), 0, first_end)]
    elif cut == "after-row":
        xml = xml[: first_end]
    else:
        xml = xml[: xml.index("丁".encode()) + 3]
    _refused(package(xml), "cut.docx", "ends inside a table")
    with pytest.raises(ExtractionError, match=r"cut\.xml: .*ends inside a table"):
        scan_document_xml(xml, "cut.xml")


@pytest.mark.parametrize(("body", "kind"), [
    (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "pdf"),
    (b"<!DOCTYPE html><html><head><title>\xe7\xbd\x91\xe4\xbf\xa1</title></head></html>", "html"),
    (b"", "empty"),
    (b"\x00\x01\x02 random bytes", "unknown"),
])
def test_other_formats_are_refused(body: bytes, kind: str) -> None:
    _refused(body, "附件1.docx", kind)


def test_xml_without_the_wordprocessingml_namespace_is_refused() -> None:
    xml = document_xml([table(row("a", "b"))]).replace(W_NS.encode(), b"urn:example:other")
    _refused(package(xml), "foreign.docx", "namespace")


# ---------------------------------------------------------------- differential tests


def _four_column_table() -> Table:
    return table(row("序号", "名称", "主体", "备注", header=True),
                 row("1", "甲", "公司A", ""), row("2", cell("乙", "第二段"), "公司B", "x&y"))


FIXTURES: dict[str, list[Table]] = {
    "plain": [_four_column_table()],
    "deep-synthesis-2024-06": [table(
        Row(tuple(cell(t, grid_span=2 if i == 5 else 1) for i, t in enumerate(HEADER_B)),
            header=True),
        *(Row((cell(numbered=True), cell(f"算法{i}"), cell("服务提供者"), cell(f"公司{i}"),
               cell("--"), cell(f"用途{i}", "续", grid_span=2), cell(f"网信算备{i}号", ""),
               cell(""))) for i in range(1, 5)),
    )],
    "repeats-and-blanks": [table(
        row(*HEADER_A, header=True),
        *(row(str(i), f"算法{i}", "排序精选类", "公司", "产品", "用途", f"号{i}", "")
          for i in range(1, 4)),
        row(*HEADER_A), row(*[""] * 8), row("序  号", *HEADER_A[1:]),
        row("4", "算法4", "排序精选类", "公司", "产品", "用途", "号4", "已注销"),
    )],
    "vmerge": [table(
        row("序号", "主体", "算法", header=True),
        row("1", cell("甲公司", v_merge="restart"), "一"),
        row("2", cell(v_merge="continue"), "二"),
        row("3", "乙公司", "三"),
    )],
    "runs-breaks-tabs-entities": [table(
        row("序号", "内容", header=True),
        row("1", cell("  a & b < c > d  ", "第二\t段\n换行", run_size=2, tab_stops=True)),
        row("2", cell("（APP）、(APP)等", "", "&lt;")),
    )],
    "several-tables-unmarked": [
        table(row("甲", "乙"), row("1", "2")),
        table(row("丙", "丁", "戊"), row("3", "4", "5")),
        _four_column_table(),
    ],
    "nested": [table(
        row("序号", "名称", header=True),
        row("1", cell("外", raw=table_xml(table(row("内", "内"))) + paragraph_xml(""))),
    )],
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixtures_read_as_python_docx_reads_them(name: str) -> None:
    body = make_docx(FIXTURES[name])
    assert as_seen(extract_tables(body, f"{name}.docx")) == read_with_python_docx(body)


# Random tables: cell texts with CJK, spaces, &, <, >, quotes, line breaks and tabs.
TEXT = st.text(alphabet="网信算备号甲乙（）、 ab1&<>;#'\"\n\t", max_size=10)
NONBLANK = st.text(alphabet="网信算备号甲乙（）、ab1&<>;", min_size=1, max_size=6)


@st.composite
def random_tables(draw: st.DrawFn) -> Table:
    spans = draw(st.lists(st.sampled_from([1, 1, 1, 2]), min_size=1, max_size=5))
    numbered = draw(st.booleans())
    n_marked = draw(st.integers(0, 2))
    header_cells = [tuple(cell(draw(NONBLANK), grid_span=s) for s in spans)
                    for _ in range(max(1, n_marked))]
    rows = [Row(cells, header=bool(n_marked)) for cells in header_cells]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind == 0:  # a repeated header
            rows.append(Row(header_cells[-1]))
            continue
        if kind == 1:  # a blank row
            rows.append(Row(tuple(cell(draw(st.sampled_from(["", " ", "\t", "\n"])),
                                       grid_span=s) for s in spans)))
            continue
        cells: list[Cell] = []
        for i, span in enumerate(spans):
            previous_is_data = len(rows) > len(header_cells)
            if i == 0 and numbered:
                cells.append(cell(numbered=True, grid_span=span))
            elif previous_is_data and draw(st.integers(0, 5)) == 0:
                cells.append(cell(grid_span=span, v_merge="continue"))
            else:
                paragraphs = tuple(draw(st.lists(TEXT, min_size=1, max_size=3)))
                cells.append(cell(*paragraphs, grid_span=span,
                                  run_size=draw(st.none() | st.integers(1, 4)),
                                  tab_stops=draw(st.integers(0, 4)) == 0,
                                  v_merge="restart" if draw(st.integers(0, 4)) == 0 else None))
        rows.append(Row(tuple(cells)))
    return Table(tuple(rows))


DOCUMENTS = st.tuples(st.lists(random_tables(), min_size=1, max_size=3),
                      st.lists(TEXT, max_size=2))
FAST = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(DOCUMENTS)
def test_drawings_outside_tables_change_nothing_and_every_row_is_counted(
        document: tuple[list[Table], list[str]]) -> None:
    tables, outside = document
    xml = document_xml(tables, before=outside, between="".join(outside), after=outside)
    fragments = scan_document_xml(xml, "plain.xml")
    assert len(fragments) == len(tables)
    assert [f.source_rows for f in fragments] == [len(t.rows) for t in tables]
    read = extract_docx_tables(package(xml), "plain.docx")
    assert [t.source_rows for t in read] == [len(t.rows) for t in tables]
    assert all(t.physical_rows == t.source_rows for t in read)
    with_fallback = document_xml(tables, before=outside, after=outside,
                                 between="".join(outside),
                                 extra_body=f"<w:p>{fallback_block('图')}</w:p>")
    assert scan_document_xml(with_fallback, "fallback.xml") == fragments


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(random_tables(), min_size=1, max_size=2))
def test_random_tables_read_as_python_docx_reads_them(tables: list[Table]) -> None:
    body = make_docx(tables)
    assert as_seen(extract_tables(body, "random.docx")) == read_with_python_docx(body)


@pytest.mark.replica
def test_replica_docx_files_read_as_python_docx_reads_them() -> None:
    catalog_path = REPLICA_DATA / "catalog.json"
    if not catalog_path.is_file():
        pytest.skip(f"the CAC replica data is not available at {REPLICA_DATA}")
    catalog = json.loads(catalog_path.read_text(encoding="utf-8"))
    checked = 0
    mismatches: list[str] = []
    for name in sorted(catalog["files"]):
        path = REPLICA_DATA / "files" / name
        body = path.read_bytes()
        if not body.startswith(b"PK"):
            continue
        assert sniff_format(body) == "docx", name
        ours = as_seen(extract_tables(body, str(path)))
        theirs = read_with_python_docx(body)
        checked += 1
        if ours != theirs:
            note = catalog["files"][name].get("note", "")
            mismatches.append(f"{name} ({note})")
        assert all(t.rows for t in ours), name
    assert checked > 0
    assert not mismatches, mismatches
