"""The tolerant reader: what CAC changes in its files is read, the same way for Word, PDF and
Excel, and only a table whose required columns cannot be found is refused. Each kind of drift
named in the never-stale issue has a fixture here, made by the tests."""

from __future__ import annotations

import json

import pytest

from cac_filings.build.rows import SourceMatcher, parse_file
from cac_filings.documents import RawTable, extract_tables
from cac_filings.errors import ExtractionError
from cac_filings.headers import header_text
from cac_filings.sources import Source, SourceSpec, load_sources, registry_of
from tests.docx_fixtures import Table, cell, make_docx, package, row
from tests.pdf_fixtures import PdfTable, make_pdf
from tests.tinysite import (
    ALGO_HEADER,
    BAIDU,
    DOUYIN,
    GENAI_FILING_HEADER,
    GENAI_REGISTRATION_HEADER,
    KUAISHOU,
)
from tests.xlsx_fixtures import SheetSpec, make_xlsx

ON_DEVICE_HEADER = ("序号", "属地", "大模型名称", "备案单位", "备案编号", "备案时间", "适用场景")


@pytest.fixture(scope="module")
def sources() -> dict[str, Source]:
    return {s.spec.name: s for s in load_sources()}


def spec(sources: dict[str, Source], name: str) -> SourceSpec:
    return sources[name].spec


def algorithm_rows() -> list[tuple[str, ...]]:
    return [
        ("1", "抖音推荐算法", "个性化推送类", "北京抖音信息服务有限公司", "抖音（APP）",
         "应用于信息推荐场景。", DOUYIN, ""),
        ("2", "百度搜索算法", "检索过滤类", "北京百度网讯科技有限公司", "百度（APP、网站）",
         "应用于搜索场景。", BAIDU, ""),
    ]


def tables_of(body: bytes, source_spec: SourceSpec) -> list[RawTable]:
    return [t for t in extract_tables(body, "drift", SourceMatcher(source_spec.tables))
            if t.header]


# ---------------------------------------------------------------- headers by meaning


@pytest.mark.parametrize(("written", "meant"), [
    ("算法类别:", "算法类别"), ("序号：", "序号"), ("序\n号", "序号"), ("应⽤产品", "应用产品"),
    (" 主体 名称 ", "主体名称"), ("备案编号\u3000", "备案编号"), ("*算法名称", "算法名称"),
    ("应用/功能名称", "应用/功能名称"), ("适用场\n景", "适用场景"), ("（备注）", "备注"),
    ("ＡＰＰ名称", "APP名称"),
])
def test_header_text_is_what_the_header_means(written: str, meant: str) -> None:
    assert header_text(written) == meant


def test_headers_written_differently_read_the_same(sources: dict[str, Source]) -> None:
    drifted = ("序号：", "算法\n名称", "算法类别:", "主体 名称", "应⽤产品", "主要用途：",
               "备案编号", "备注")
    plain = tables_of(make_docx([Table((row(*ALGO_HEADER, header=True),
                                        *(row(*r) for r in algorithm_rows())))]),
                      spec(sources, "cn_cac_algorithm"))
    (table,) = tables_of(make_docx([Table((row(*drifted, header=True),
                                           *(row(*r) for r in algorithm_rows())))]),
                         spec(sources, "cn_cac_algorithm"))
    assert table.match is not None and plain[0].match is not None
    assert table.match.fields == plain[0].match.fields
    assert [r.cells for r in table.rows] == [r.cells for r in plain[0].rows]
    assert table.header == list(drifted)  # raw keeps the headers as published


def test_columns_in_any_order(sources: dict[str, Source]) -> None:
    order = [6, 1, 3, 0, 2, 5, 4, 7]
    header = tuple(ALGO_HEADER[i] for i in order)
    rows = [tuple(r[i] for i in order) for r in algorithm_rows()]
    result = parse_file(make_docx([Table((row(*header, header=True), *(row(*r) for r in rows)))]),
                        "shuffled", spec(sources, "cn_cac_algorithm"),
                        registry_of(list(sources.values())))
    assert [(r["filing_number"], r["company"], r["category"]) for r in result.rows] == [
        (DOUYIN, "北京抖音信息服务有限公司", "个性化推送类"),
        (BAIDU, "北京百度网讯科技有限公司", "检索过滤类")]
    assert json.loads(result.rows[0]["raw"])["备案编号"] == DOUYIN


def test_a_title_and_blank_rows_above_the_header_and_trailing_empty_rows(
        sources: dict[str, Source]) -> None:
    body = make_docx([Table((
        row(cell("境内互联网信息服务算法备案清单（2026年8月）", grid_span=8)),
        row(*[""] * 8),
        row(*ALGO_HEADER),  # not marked as a header row: found by what it says
        *(row(*r) for r in algorithm_rows()),
        row(*[""] * 8), row(*[""] * 8),
    ), grid_cols=8)])
    (table,) = tables_of(body, spec(sources, "cn_cac_algorithm"))
    assert [r.cells[6] for r in table.rows] == [DOUYIN, BAIDU]
    assert (table.header_rows, table.blank_rows) == (3, 2)  # title + blank + header
    assert table.physical_rows == table.source_rows == 7


@pytest.mark.parametrize("repeated_header", [True, False])
def test_a_table_split_in_two(sources: dict[str, Source], repeated_header: bool) -> None:
    first, second = algorithm_rows()
    body = make_docx([
        Table((row(*ALGO_HEADER, header=True), row(*first))),
        Table(((row(*ALGO_HEADER, header=True),) if repeated_header else ()) + (row(*second),)),
    ])
    (table,) = tables_of(body, spec(sources, "cn_cac_algorithm"))
    assert [r.cells[6] for r in table.rows] == [DOUYIN, BAIDU]
    assert [r.row_number for r in table.rows] == [1, 2]
    assert table.repeated_headers == int(repeated_header)
    assert table.physical_rows == table.source_rows


def test_a_headerless_part_with_another_width_is_refused(sources: dict[str, Source]) -> None:
    body = make_docx([Table((row(*ALGO_HEADER, header=True), row(*algorithm_rows()[0]))),
                      Table((row("1", "甲", "乙"),))])
    with pytest.raises(ExtractionError, match=r"table 2 has 3 columns, the table it continues "
                                              r"\(table 1\) has 8"):
        tables_of(body, spec(sources, "cn_cac_algorithm"))


@pytest.mark.parametrize(("printed", "serial"), [("1.", "1"), ("（1）", "1"), ("(1)", "1"),
                                                 ("1、", "1"), ("", None), ("一", "一")])
def test_serial_numbers_as_cac_writes_them(sources: dict[str, Source], printed: str,
                                           serial: str | None) -> None:
    first = (printed, *algorithm_rows()[0][1:])
    result = parse_file(make_docx([Table((row(*ALGO_HEADER, header=True), row(*first)))]),
                        "serials", spec(sources, "cn_cac_algorithm"),
                        registry_of(list(sources.values())))
    assert result.rows[0]["serial"] == serial


def test_two_columns_meaning_one_field_are_refused(sources: dict[str, Source]) -> None:
    header = (*ALGO_HEADER, "备注")  # which 备注 is the remark? Not guessed.
    body = make_docx([Table((row(*header, header=True), row(*algorithm_rows()[0], "x")))])
    with pytest.raises(ExtractionError, match="two columns map to 'remarks'"):
        parse_file(body, "twice.docx", spec(sources, "cn_cac_algorithm"),
                   registry_of(list(sources.values())))


def test_a_table_whose_required_columns_are_missing_is_refused_naming_them(
        sources: dict[str, Source]) -> None:
    header = tuple("备案号码" if h == "备案编号" else h for h in ALGO_HEADER)
    body = make_docx([Table((row(*header, header=True), row(*algorithm_rows()[0])))])
    with pytest.raises(ExtractionError) as info:
        parse_file(body, "missing.docx", spec(sources, "cn_cac_algorithm"),
                   registry_of(list(sources.values())))
    message = str(info.value)
    assert message.startswith("missing.docx: table 1 has no header row")
    assert "no column for required field 'filing_number'" in message
    assert "备案号码" in message


def test_an_unknown_column_is_kept_flagged_and_reported(sources: dict[str, Source]) -> None:
    header = (*ALGO_HEADER, "上线日期")
    rows = [(*r, "2026-08-01") for r in algorithm_rows()]
    result = parse_file(make_docx([Table((row(*header, header=True),
                                          *(row(*r) for r in rows)))]), "extra",
                        spec(sources, "cn_cac_algorithm"), registry_of(list(sources.values())))
    assert [json.loads(r["raw"])["上线日期"] for r in result.rows] == ["2026-08-01"] * 2
    assert all("unknown_column" in json.loads(r["quality_flags"]) for r in result.rows)
    assert result.check.unknown_columns == ["table 1 (algorithm): unknown column '上线日期'"]


def test_cells_under_an_empty_or_repeated_header_keep_their_own_raw_key(
        sources: dict[str, Source]) -> None:
    header = (*ALGO_HEADER, "", "说明", "说明")
    rows = [(*algorithm_rows()[0], "x", "y", "z")]
    result = parse_file(make_docx([Table((row(*header, header=True), *(row(*r) for r in rows)))]),
                        "keys", spec(sources, "cn_cac_algorithm"),
                        registry_of(list(sources.values())))
    raw = json.loads(result.rows[0]["raw"])
    assert (raw["(column 9)"], raw["说明"], raw["说明 (column 11)"]) == ("x", "y", "z")


# ---------------------------------------------------------------- Word markup


def document(cells_xml: str) -> bytes:
    """A one-table docx whose second data cell is given as raw paragraph XML."""
    from tests.docx_fixtures import W_NS

    head = "".join(f"<w:tc><w:p><w:r><w:t>{h}</w:t></w:r></w:p></w:tc>" for h in ("序号",
                                                                                 "算法名称"))
    rows = (f"<w:tr>{head}</w:tr><w:tr><w:tc><w:p><w:r><w:t>1</w:t></w:r></w:p></w:tc>"
            f"<w:tc><w:p><w:r>{cells_xml}</w:r></w:p></w:tc></w:tr>")
    xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           f'<w:document xmlns:w="{W_NS}"><w:body><w:tbl>{rows}</w:tbl></w:body></w:document>')
    return package(xml.encode())


def test_cdata_in_a_text_run_is_read() -> None:
    (table,) = extract_tables(document("<w:t><![CDATA[抖音<推荐>&算法]]></w:t>"), "cdata")
    assert table.rows[0].cells == ["1", "抖音<推荐>&算法"]


def test_a_processing_instruction_in_a_text_run_is_not_text() -> None:
    (table,) = extract_tables(document("<w:t>抖音<?cac note?>推荐算法</w:t>"), "pi")
    assert table.rows[0].cells == ["1", "抖音推荐算法"]


def test_other_markup_inside_a_text_run_is_refused_not_half_read() -> None:
    with pytest.raises(ExtractionError, match="markup inside a text run"):
        extract_tables(document("<w:t>抖音<w:foo/>推荐算法</w:t>"), "nested.docx")


def test_an_unterminated_cdata_section_is_refused() -> None:
    with pytest.raises(ExtractionError, match="CDATA section that never ends"):
        extract_tables(document("<w:t><![CDATA[抖音</w:t>"), "cdata.docx")


# ---------------------------------------------------------------- PDF: the on-device table

GENAI_WEIGHTS = [5, 8, 16, 22, 30, 11]
ON_DEVICE_WEIGHTS = [3, 6, 14, 20, 28, 10, 5]  # narrow 序号 and 适用场景: their headers wrap


def filing_rows(count: int) -> list[list[str]]:
    return [[str(n), "北京市", f"心影{n}", "北京心影随形科技有限公司",
             f"Beijing-XinYing-20250318{n:04d}", "2025/4/10"] for n in range(1, count + 1)]


def on_device_rows(count: int, extra: bool = False) -> list[list[str]]:
    return [[str(n), "广东省", f"端侧模型{n}", "广东某某智能科技有限公司",
             f"Guangdong-DuanCe-20260801{n:04d}", "2026/8/1", "手机、平板电脑等智能终端"]
            + (["无"] if extra else []) for n in range(1, count + 1)]


def registration_rows(count: int) -> list[list[str]]:
    return [[str(n), "上海市", f"派生万物助手{n}", "上海派生万物智能科技有限公司",
             f"Shanghai-PaiSheng-20250512S{n:04d}", "2025/5/12"] for n in range(1, count + 1)]


@pytest.mark.parametrize("extra", [False, True])
def test_a_pdf_with_a_third_table_of_on_device_models(sources: dict[str, Source],
                                                      extra: bool) -> None:
    """The 2026年8月 list: the 备案 table, the on-device table (7 columns, header cells
    wrapped onto two lines, here also with a column nobody knows), then the 登记 table."""
    header = (*ON_DEVICE_HEADER, "备注说明") if extra else ON_DEVICE_HEADER
    weights = [*ON_DEVICE_WEIGHTS, 6] if extra else ON_DEVICE_WEIGHTS
    body = make_pdf([
        PdfTable(GENAI_FILING_HEADER, filing_rows(30), GENAI_WEIGHTS),
        PdfTable(header, on_device_rows(12, extra), weights),
        PdfTable(GENAI_REGISTRATION_HEADER, registration_rows(9), GENAI_WEIGHTS),
    ], title="生成式人工智能服务已备案和已登记信息（2026年8月）")
    result = parse_file(body, "2026-08.pdf", spec(sources, "cn_cac_generative_ai"),
                        registry_of(list(sources.values())))
    assert result.check.kinds == {"genai_filing": 30, "genai_on_device": 12,
                                  "genai_registration": 9}
    assert result.check.rows_accounted
    on_device = [r for r in result.rows if r["list_kind"] == "genai_on_device"]
    assert [r["scenario"] for r in on_device] == ["手机、平板电脑等智能终端"] * 12
    assert on_device[0]["filing_number"] == "Guangdong-DuanCe-202608010001"
    assert on_device[0]["filed_on"] == "2026-08-01"
    raw = json.loads(on_device[0]["raw"])
    assert raw["适用场景"] == "手机、平板电脑等智能终端"  # the header as published, unwrapped
    assert result.check.unknown_columns == (
        ["table on page 1 (genai_on_device): unknown column '备注说明'"] if extra else [])
    assert all(("unknown_column" in json.loads(r["quality_flags"])) == extra
               for r in on_device)


# ---------------------------------------------------------------- Excel


def test_an_xlsx_attachment_is_read_like_the_others(sources: dict[str, Source]) -> None:
    title = "境内互联网信息服务算法备案清单（2026年8月）"
    rows: list[list[object]] = [[title] + [None] * 7, list(ALGO_HEADER)]
    rows += [[int(r[0]), *r[1:]] for r in algorithm_rows()]
    rows += [[3, "快手推荐算法", "个性化推送类", "北京快手科技有限公司", "快手（APP）",
              "应用于信息推荐场景。", KUAISHOU, ""], [None] * 8]
    body = make_xlsx([SheetSpec("Sheet1", rows, merges=["A1:H1"])])  # type: ignore[arg-type]
    result = parse_file(body, "2026-08.xlsx", spec(sources, "cn_cac_algorithm"),
                        registry_of(list(sources.values())))
    assert [(r["serial"], r["filing_number"]) for r in result.rows] == [
        ("1", DOUYIN), ("2", BAIDU), ("3", KUAISHOU)]
    assert result.check.rows_accounted and result.check.data_rows == 3
    assert json.loads(result.rows[0]["products"]) == [{"name": "抖音", "type": "APP"}]


def test_control_characters_are_flagged_kept_in_raw_and_dropped_from_fields(
        sources: dict[str, Source]) -> None:
    nasty = "北京抖音\x00信息\x1b[31m服务\u202e有限公司"
    first = list(algorithm_rows()[0])
    first[3] = nasty
    result = parse_file(make_docx([Table((row(*ALGO_HEADER, header=True), row(*first)))]),
                        "control", spec(sources, "cn_cac_algorithm"),
                        registry_of(list(sources.values())))
    (listing,) = result.rows
    assert listing["company"] == "北京抖音信息[31m服务有限公司"
    assert "control_characters" in json.loads(listing["quality_flags"])
    assert json.loads(listing["raw"])["主体名称"] == nasty
