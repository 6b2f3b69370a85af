"""Small, valid .xlsx workbooks written from a description of sheets, for the xlsx reader tests.

The XML parts are built as strings and zipped with fixed dates, so the same description always
gives the same bytes, and a test controls every detail: shared or inline strings, rich-text
runs, phonetic guides, `xml:space`, dates as numbers in a date format (built-in, East Asian
built-in or custom) or as text, formulas with a cached value, error values, formatted empty
cells, merged ranges, hidden sheets, cells placed without references, and raw cell XML where a
test needs something the description cannot say.

    body = make_xlsx([SheetSpec("清单", [["序号", "名称"], [1, "甲"]], merges=["A1:B1"])])

`cac_workbook()` is a CAC-shaped list of two sheets and a hidden one; `CAC_EXPECTED` is what
the reader should make of it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
SML_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml"
REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Inline:
    """A string written inline in the cell (`t="inlineStr"`) instead of the shared table."""

    text: str
    preserve: bool = True  # xml:space="preserve" when the text has outer whitespace


@dataclass(frozen=True)
class Rich:
    """Rich text: runs of (text, bold); shared unless `inline`."""

    runs: tuple[tuple[str, bool], ...]
    inline: bool = False
    phonetic: str = ""  # a phonetic guide (`rPh`), which Excel does not show in the cell

    @property
    def text(self) -> str:
        return "".join(text for text, _bold in self.runs)


@dataclass(frozen=True)
class Shared:
    """A shared string written with or without xml:space="preserve"."""

    text: str
    preserve: bool = True


@dataclass(frozen=True)
class Formula:
    """A formula and the value Excel cached for it (None: no cached value)."""

    formula: str
    cached: str | int | float | bool | None


@dataclass(frozen=True)
class Error:
    """An error value (`t="e"`), e.g. "#N/A"."""

    code: str
    formula: str | None = None


@dataclass(frozen=True)
class Date:
    """A date or datetime written as a serial number in the number format `num_fmt`: 14
    (m/d/yyyy), 22 (m/d/yyyy h:mm), 31 or 57 (East Asian built-ins, no numFmt written) or
    176 (a custom yyyy"年"m"月"d"日")."""

    value: dt.date
    num_fmt: int = 14


@dataclass(frozen=True)
class Formatted:
    """A number written with a number format: 21 (h:mm:ss), 46 ([h]:mm:ss), 49 (@) or any of
    `Date`'s."""

    value: float
    num_fmt: int


@dataclass(frozen=True)
class Styled:
    """A formatted cell without a value (`<c r=… s=…/>`)."""


@dataclass(frozen=True)
class Raw:
    """A cell written exactly as given: the attributes after `r` and the XML inside `<c>`."""

    attrs: str
    inner: str


CellValue = (str | int | float | bool | dt.date | Inline | Rich | Shared | Formula | Error
             | Date | Formatted | Styled | Raw | None)

# cellXfs: index → numFmtId. The built-in 31 and 57 are used without a numFmt element, as
# Excel and WPS write them in Chinese locales.
_XF_FORMATS = (0, 14, 22, 176, 31, 57, 0, 21, 46, 49)
_STYLED_XF = 6
_CUSTOM_FORMATS = {176: 'yyyy"年"m"月"d"日"'}


@dataclass
class SheetSpec:
    name: str
    rows: Sequence[Sequence[CellValue]]  # rows[i][j] goes to row first_row+i, column first_column+j
    merges: Sequence[str] = ()  # "A1:H1"
    state: str = "visible"  # "hidden", "veryHidden"
    first_row: int = 1
    first_column: int = 1
    # Write cells and rows without `r` (placed by the ones before them) where possible.
    no_references: bool = False
    extra: str = ""  # raw XML after </sheetData> and the merges (before pageMargins)
    dimension: str | None = None  # the <dimension ref>, computed when None


@dataclass
class _Strings:
    inline: bool
    items: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    count: int = 0

    def add(self, si: str) -> int:
        self.count += 1
        if si not in self.index:
            self.index[si] = len(self.items)
            self.items.append(si)
        return self.index[si]


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\r]|_(?=x[0-9A-Fa-f]{4}_)")


def escape(text: str) -> str:
    """Text for a `<t>`: XML escapes, and the `_xHHHH_` escapes OOXML uses for characters XML
    cannot hold (a literal "_x0041_" is written "_x005F_x0041_", as Excel does)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _CONTROL_RE.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)


def _t(text: str, preserve: bool = True) -> str:
    space = ' xml:space="preserve"' if preserve and text != text.strip(" \t\n\r") else ""
    return f"<t{space}>{escape(text)}</t>"


def column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def serial(value: dt.date, *, date1904: bool = False) -> float:
    """Excel's serial number of a date (1900 system from 1900-03-01 on, or 1904 system)."""
    epoch = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    moment = value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month,
                                                                     value.day)
    delta = moment - epoch
    return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400


def _number(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def _rich_si(rich: Rich) -> str:
    runs = "".join(f"<r>{'<rPr><b/></rPr>' if bold else ''}{_t(text)}</r>"
                   for text, bold in rich.runs)
    if rich.phonetic:
        runs += (f'<rPh sb="0" eb="{len(rich.text)}">{_t(rich.phonetic)}</rPh>'
                 '<phoneticPr fontId="0" type="noConversion"/>')
    return runs


def _cell(ref: str, value: CellValue, strings: _Strings, date1904: bool) -> str:
    r = f' r="{ref}"' if ref else ""
    if value is None:
        return ""
    if isinstance(value, Raw):
        return f"<c{r}{value.attrs}>{value.inner}</c>"
    if isinstance(value, Styled):
        return f'<c{r} s="{_STYLED_XF}"/>'
    if isinstance(value, bool):
        return f'<c{r} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f"<c{r}><v>{_number(value)}</v></c>"
    if isinstance(value, dt.date):
        value = Date(value, 22 if isinstance(value, dt.datetime) else 14)
    if isinstance(value, Date):
        xf = _XF_FORMATS.index(value.num_fmt)
        return f'<c{r} s="{xf}"><v>{_number(serial(value.value, date1904=date1904))}</v></c>'
    if isinstance(value, Formatted):
        return f'<c{r} s="{_XF_FORMATS.index(value.num_fmt)}"><v>{_number(value.value)}</v></c>'
    if isinstance(value, Formula):
        f = f"<f>{escape(value.formula)}</f>"
        cached = value.cached
        if cached is None:
            return f"<c{r}>{f}</c>"
        if isinstance(cached, bool):
            return f'<c{r} t="b">{f}<v>{int(cached)}</v></c>'
        if isinstance(cached, str):
            return f'<c{r} t="str">{f}<v>{escape(cached)}</v></c>'
        return f"<c{r}>{f}<v>{_number(cached)}</v></c>"
    if isinstance(value, Error):
        f = f"<f>{escape(value.formula)}</f>" if value.formula else ""
        return f'<c{r} t="e">{f}<v>{escape(value.code)}</v></c>'
    if isinstance(value, Inline):
        return f'<c{r} t="inlineStr"><is>{_t(value.text, value.preserve)}</is></c>'
    if isinstance(value, Rich) and value.inline:
        return f'<c{r} t="inlineStr"><is>{_rich_si(value)}</is></c>'
    if isinstance(value, Rich):
        si = _rich_si(value)
    elif isinstance(value, Shared):
        si = _t(value.text, value.preserve)
    else:
        if strings.inline:
            return f'<c{r} t="inlineStr"><is>{_t(value)}</is></c>'
        si = _t(value)
    return f'<c{r} t="s"><v>{strings.add(si)}</v></c>'


def sheet_xml(spec: SheetSpec, strings: _Strings, *, date1904: bool = False) -> str:
    rows_xml = []
    last_row = last_col = 0
    previous_row = 0  # the row an `r`-less <row> would be: the one after the previous
    for i, cells in enumerate(spec.rows):
        number = spec.first_row + i
        written = []
        next_col = 1  # the column an `r`-less <c> would be in
        for j, value in enumerate(cells):
            if value is None:
                continue
            col = spec.first_column + j
            implicit = spec.no_references and col == next_col
            ref = "" if implicit else f"{column_letters(col)}{number}"
            written.append(_cell(ref, value, strings, date1904))
            next_col = col + 1
            if not isinstance(value, Styled):
                last_row, last_col = max(last_row, number), max(last_col, col)
        if written:
            implicit = spec.no_references and number == previous_row + 1
            r = "" if implicit else f' r="{number}"'
            rows_xml.append(f"<row{r}>{''.join(written)}</row>")
            previous_row = number
    dimension = spec.dimension
    if dimension is None:
        dimension = (f"{column_letters(spec.first_column)}{spec.first_row}:"
                     f"{column_letters(last_col)}{last_row}" if last_row else "A1")
    merges = ""
    if spec.merges:
        merges = (f'<mergeCells count="{len(spec.merges)}">'
                  + "".join(f'<mergeCell ref="{m}"/>' for m in spec.merges) + "</mergeCells>")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{R_NS}">'
            f'<dimension ref="{dimension}"/>'
            '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
            '<sheetFormatPr defaultRowHeight="15"/>'
            f"<sheetData>{''.join(rows_xml)}</sheetData>{merges}{spec.extra}"
            '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
            'footer="0.3"/></worksheet>')


def styles_xml() -> str:
    formats = "".join(f'<numFmt numFmtId="{i}" formatCode="{code.replace(chr(34), "&quot;")}"/>'
                      for i, code in _CUSTOM_FORMATS.items())
    xfs = "".join(
        f'<xf numFmtId="{n}" fontId="0" fillId="{1 if i == _STYLED_XF else 0}" borderId="0"'
        f'{" applyNumberFormat=" + chr(34) + "1" + chr(34) if n else ""}/>'
        for i, n in enumerate(_XF_FORMATS))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<styleSheet xmlns="{MAIN_NS}">'
            f'<numFmts count="{len(_CUSTOM_FORMATS)}">{formats}</numFmts>'
            '<fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="solid"><fgColor rgb="FFFFFF00"/></patternFill>'
            "</fill></fills>"
            '<borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            "</cellStyleXfs>"
            f'<cellXfs count="{len(_XF_FORMATS)}">{xfs}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
            "</cellStyles></styleSheet>")


def make_parts(sheets: Sequence[SheetSpec], *, inline_strings: bool = False,
               date1904: bool = False) -> dict[str, bytes]:
    """The parts of a workbook, by zip member name, in the order they are zipped."""
    strings = _Strings(inline=inline_strings)
    sheet_parts = {f"xl/worksheets/sheet{i + 1}.xml":
                   sheet_xml(spec, strings, date1904=date1904).encode("utf-8")
                   for i, spec in enumerate(sheets)}
    overrides = [("/xl/workbook.xml", f"{SML_MIME}.sheet.main+xml"),
                 ("/xl/styles.xml", f"{SML_MIME}.styles+xml")]
    overrides += [(f"/{name}", f"{SML_MIME}.worksheet+xml") for name in sheet_parts]
    rels = [(f"rId{i + 1}", "worksheet", f"worksheets/sheet{i + 1}.xml")
            for i in range(len(sheets))]
    rels.append((f"rId{len(sheets) + 1}", "styles", "styles.xml"))
    if strings.items:
        overrides.append(("/xl/sharedStrings.xml", f"{SML_MIME}.sharedStrings+xml"))
        rels.append((f"rId{len(sheets) + 2}", "sharedStrings", "sharedStrings.xml"))
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{CT_NS}">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides)
        + "</Types>")
    package_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
        f'Type="{REL_TYPE}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{PKG_REL_NS}">'
        + "".join(f'<Relationship Id="{i}" Type="{REL_TYPE}/{t}" Target="{target}"/>'
                  for i, t, target in rels)
        + "</Relationships>")
    sheet_entries = "".join(
        f'<sheet name="{escape(spec.name)}" sheetId="{i + 1}"'
        f'{"" if spec.state == "visible" else f" state={chr(34)}{spec.state}{chr(34)}"}'
        f' r:id="rId{i + 1}"/>' for i, spec in enumerate(sheets))
    workbook = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<workbook xmlns="{MAIN_NS}" xmlns:r="{R_NS}">'
                f'<workbookPr{" date1904=" + chr(34) + "1" + chr(34) if date1904 else ""}/>'
                '<bookViews><workbookView activeTab="0"/></bookViews>'
                f"<sheets>{sheet_entries}</sheets></workbook>")
    parts = {"[Content_Types].xml": content_types.encode(), "_rels/.rels": package_rels.encode(),
             "xl/workbook.xml": workbook.encode(), "xl/_rels/workbook.xml.rels":
             workbook_rels.encode(), "xl/styles.xml": styles_xml().encode()}
    parts.update(sheet_parts)
    if strings.items:
        parts["xl/sharedStrings.xml"] = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<sst xmlns="{MAIN_NS}" count="{strings.count}" uniqueCount="{len(strings.items)}">'
            + "".join(f"<si>{si}</si>" for si in strings.items) + "</sst>").encode()
    return parts


def package(parts: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Parts zipped with fixed dates and attributes: the same parts give the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in parts.items():
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = compression
            info.create_system = 0
            info.external_attr = 0
            archive.writestr(info, data, compresslevel=6 if compression else None)
    return out.getvalue()


def make_xlsx(sheets: Sequence[SheetSpec], *, inline_strings: bool = False,
              date1904: bool = False) -> bytes:
    return package(make_parts(sheets, inline_strings=inline_strings, date1904=date1904))


# ---------------------------------------------------------------- a CAC-shaped list

TITLE = "境内深度合成服务算法备案清单（2024年6月）"
HEADER = ["序号", "属地", "算法名称", "角色", "主体名称", "应用产品", "主要用途", "备案编号",
          "备案日期", "公示日期"]


def cac_workbook() -> bytes:
    """A CAC list the way an xlsx attachment holds one: a title merged across all columns, the
    header, data rows with 序号 as numbers, a 应用产品 cell spanning two columns (F:G) in every
    row, a 属地 merged down two rows, dates as real dates and as text, a formula, rich text,
    shared and inline strings, a blank row in the middle and formatted blank rows at the end;
    a second list, and a hidden sheet of notes."""
    f = "网信算备{}号".format
    data: list[list[CellValue]] = [
        [TITLE] + [None] * 10,
        ["序号", "属地", "算法名称", "角色", "主体名称", "应用产品", None, "主要用途",
         "备案编号", "备案日期", "公示日期"],
        [1, "北京市", Rich((("智能", False), ("对话", True), ("算法", False))), "服务技术支持者",
         "北京某某科技有限公司", "某某助手", None, "应用于文本生成场景，根据用户输入\n生成回答",
         f("110108823483901230031"), Date(dt.date(2023, 8, 31)), "2023/8/31"],
        [2, None, "图像生成算法", Inline("服务提供者"), Inline("北京某某网络技术有限公司"),
         "某某绘画", None, "应用于图像生成场景", f("110108823483901230048"),
         Date(dt.date(2023, 9, 1), 31), "2023/9/1"],
        [None] * 11,  # a blank row in the middle
        [Formula("A4+1", 3), "上海市", "语音合成算法", "服务提供者", "上海某某信息科技有限公司",
         "某某配音", None, "应用于语音合成场景", f("310115823483901230011"),
         Date(dt.date(2023, 10, 12), 176), "2023/10/12"],
        [Styled()] * 11,  # formatted, empty: not part of the used range
        [None, Styled(), None, Shared("")],
    ]
    merges = ["A1:K1", "B3:B4"] + [f"F{r}:G{r}" for r in (2, 3, 4, 5, 6)]
    second: list[list[CellValue]] = [
        ["已上线的生成式人工智能服务（2024年4月）", None, None],
        ["序号", "服务名称", "备案号"],
        [1, "某某大模型", Inline("Beijing-SomeModel-20240401")],
        [2, "某某文心", "Beijing-WenXin-20230831"],
    ]
    notes: list[list[CellValue]] = [["说明：本表由网信办公布，仅供参考。"]]
    return make_xlsx([
        SheetSpec("深度合成", data, merges=merges),
        SheetSpec("生成式人工智能", second, merges=["A1:C1"]),
        SheetSpec("说明", notes, state="hidden"),
    ])


CAC_EXPECTED: list[tuple[str, bool, list[list[str]]]] = [
    ("深度合成", False, [
        [TITLE],
        HEADER,
        ["1", "北京市", "智能对话算法", "服务技术支持者", "北京某某科技有限公司", "某某助手",
         "应用于文本生成场景，根据用户输入\n生成回答", "网信算备110108823483901230031号",
         "2023-08-31", "2023/8/31"],
        ["2", "北京市", "图像生成算法", "服务提供者", "北京某某网络技术有限公司", "某某绘画",
         "应用于图像生成场景", "网信算备110108823483901230048号", "2023-09-01", "2023/9/1"],
        [""] * 10,  # F5:G5 is merged too
        ["3", "上海市", "语音合成算法", "服务提供者", "上海某某信息科技有限公司", "某某配音",
         "应用于语音合成场景", "网信算备310115823483901230011号", "2023-10-12", "2023/10/12"],
    ]),
    ("生成式人工智能", False, [
        ["已上线的生成式人工智能服务（2024年4月）"],
        ["序号", "服务名称", "备案号"],
        ["1", "某某大模型", "Beijing-SomeModel-20240401"],
        ["2", "某某文心", "Beijing-WenXin-20230831"],
    ]),
    ("说明", True, [["说明：本表由网信办公布，仅供参考。"]]),
]
