"""The published tables, defined once.

Everything users see is generated from the definitions below: the pyarrow schema of each
Parquet file, the SQLite DDL, the Datasette metadata and the data dictionary in the README.
Column names are the public API described in DATA-CONTRACT.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import orjson

ColumnType = Literal["text", "int", "bool", "date", "json"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    en: str
    zh: str
    nullable: bool = True
    # Part of what a filing says (compared by diffs), as opposed to where and when it was
    # listed (first/last batch, source URL), which changes whenever a number is re-listed.
    tracked: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    en: str
    zh: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()  # columns, each "name" or "name desc"
    # Columns copied, segmented for Chinese, into the <name>_fts full-text table; a name that
    # is not a column is index-only text the build computes (pinyin: of the company, and for
    # filings of the name too).
    fts: tuple[str, ...] = ()
    facets: tuple[str, ...] = ()
    sort: str | None = None
    sort_desc: bool = False
    label_column: str | None = None
    # Empty is normal (no cancellation notice was published before 2025-07); a table that had
    # rows and became empty still fails a release.
    may_be_empty: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @cached_property
    def column_types(self) -> dict[str, ColumnType]:
        return {c.name: c.type for c in self.columns}

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


# The SQLite file of a release, and its name (and URL route) in Datasette.
DB_FILE = "cac_filings.db"
DATABASE = "cac_filings"


def json_text(value: Any) -> str:
    """A `json` column's value: compact JSON, non-ASCII kept, keys in insertion order."""
    return orjson.dumps(value).decode()


def _c(name: str, type_: ColumnType, en: str, zh: str, nullable: bool = True,
       tracked: bool = True) -> Column:
    return Column(name, type_, en, zh, nullable, tracked)


# Columns shared by `listings` (per row of a file) and `filings` (current state per number).
_FILING_FIELDS: tuple[Column, ...] = (
    _c("filing_number", "text",
       "Filing number, canonical form (网信算备 + 21 digits + 号); anomalies kept as published",
       "备案编号（规范化；异常编号按原样保留）", nullable=False),
    _c("list_kind", "text",
       "Which list (see the list_kinds table): algorithm, deep_synthesis, genai_filing, "
       "genai_registration, genai_on_device, … (in listings also cancellation: the rows of a "
       "cancellation notice)",
       "清单类型（见 list_kinds 表）：algorithm 算法备案、deep_synthesis 深度合成、genai_filing "
       "生成式人工智能已备案、genai_registration 已登记、genai_on_device 端侧大模型……"
       "（清单行中另有 cancellation 注销公告）", nullable=False),
    _c("name", "text", "Algorithm / model / service name as published",
       "算法名称 / 模型名称 / 应用或功能名称"),
    _c("role", "text",
       "Role of the filer: service_provider (服务提供者) or technical_supporter (服务技术支持者); "
       "null where the list has no role",
       "角色：service_provider 服务提供者，technical_supporter 服务技术支持者"),
    _c("category", "text", "Algorithm category as published (e.g. 个性化推送类); null where none",
       "算法类别（按原文）"),
    _c("company", "text",
       "Filing company, normalised (NFKC, no whitespace or zero-width characters, full-width "
       "parentheses)", "主体名称（规范化）"),
    _c("products", "json", "Products using the algorithm: JSON list of {name, type}",
       "应用产品：JSON 列表 {name 名称, type 类型}"),
    _c("purpose", "text", "Main purpose (主要用途) as published", "主要用途"),
    _c("province", "text",
       "Province of the filer: 属地 as published where the list has it (国资委 for central "
       "state-owned enterprises), else from the number's region code or province token",
       "所属省份（属地；或由行政区划代码、编号省份标识得出）"),
    _c("region_code", "text", "Digits 1-6 of a 网信算备 number: administrative division code",
       "行政区划代码（备案编号第1-6位）"),
    _c("entity_code", "text", "Digits 1-13 of a 网信算备 number: identifies the filing company",
       "主体代码（备案编号第1-13位）"),
    _c("category_code", "text",
       "Digits 14-15 of a 网信算备 number (01 生成合成类, 02 个性化推送类, 03 排序精选类, "
       "04 检索过滤类, 05 内容过滤类, 06 调度决策类)", "类别代码（备案编号第14-15位）"),
    _c("filing_year", "int", "Year of filing, from digits 16-17 of a 网信算备 number; for a "
       "generative-AI number, the year of the date in it (which may differ from filed_on's)",
       "备案年份（备案编号第16-17位；生成式人工智能编号：编号中日期的年份）"),
    _c("number_parts", "json",
       "The filing number's parts: for generative-AI numbers {kind (filing or registration), "
       "province_token, name_token, date, sequence}; null for 网信算备 numbers (see "
       "region_code, entity_code, category_code, filing_year)",
       "编号组成（生成式人工智能编号：类型、省份标识、名称标识、日期、序号）"),
    _c("filed_on", "date", "Day of filing or registration where the list states one "
                           "(备案时间 / 登记时间)", "备案时间 / 登记时间"),
    _c("number_valid", "bool",
       "True when the number has the canonical format and its check digit holds",
       "编号格式与校验位是否正确", nullable=False),
    _c("scenario", "text", "Scenario (适用场景) as published, where the list has one (the "
                           "on-device models)", "适用场景"),
    _c("remarks", "text", "Remarks (备注) as published, trimmed", "备注"),
    _c("quality_flags", "json",
       "JSON list of problems detected in the source row (see the README's list of quality "
       "flags), e.g. number_malformed, check_digit_failed, name_company_swapped",
       "数据质量标记（JSON 列表）", nullable=False),
)

BATCHES = Table(
    name="batches",
    en="One row per published attachment version (an edited re-upload is a new version)",
    zh="批次：每个附件版本一行（重新上传的修改版为新版本）",
    columns=(
        _c("batch_id", "text", "Stable key of the batch, e.g. deep_synthesis/2024-04",
           "批次标识", nullable=False),
        _c("version", "int", "1, 2, … per batch_id, in the order cac-filings saw the file's bytes",
           "版本号", nullable=False),
        _c("list_kind", "text", "Which list the batch belongs to (a generative-AI batch "
           "also holds the 登记 rows of its file: listings of list kind genai_registration; "
           "row_count counts both)", "清单类型（生成式人工智能批次也含登记表的行）",
           nullable=False),
        _c("period", "text", "YYYY-MM from the attachment title (the data cut-off month)",
           "清单所属月份（附件标题）", nullable=False),
        _c("batch_no", "int", "第N批 where the announcement states it, else null", "批次序号"),
        _c("title", "text", "Attachment title", "附件标题", nullable=False),
        _c("announcement_url", "text", "Page that links the attachment (live site URL)",
           "公告页面网址", nullable=False),
        _c("announcement_title", "text", "Title of that page", "公告标题"),
        _c("published_on", "date", "Publication date, see published_on_precision", "发布日期"),
        _c("published_on_precision", "text",
           "day: date of the announcement page; observed: first seen by cac-filings (the file "
           "appeared on an in-place page between two checks); period: estimated from the "
           "list's period, as the first day of the month after it (a file already on an "
           "in-place page when cac-filings first looked)",
           "发布日期精度"),
        _c("attachment_url", "text", "Download URL on the live site", "附件下载网址",
           nullable=False),
        _c("file_sha256", "text", "SHA-256 of the file's bytes", "文件 SHA-256", nullable=False),
        _c("file_format", "text", "Format sniffed from the bytes: docx, pdf, xlsx, html",
           "文件格式（按内容识别）", nullable=False),
        _c("file_size", "int", "Size of the file in bytes", "文件大小（字节）", nullable=False),
        _c("fetched_at", "text", "UTC time the file's bytes were first fetched",
           "首次抓取时间（UTC）", nullable=False),
        _c("is_current", "bool",
           "True for the version the filings come from: the one the site serves now, or, while "
           "that one is held back (see problems), the one published before it",
           "是否为当前版本", nullable=False),
        _c("is_linked", "bool",
           "False when the site no longer links the batch: it stays published from the archive "
           "(see problems)", "是否仍有链接", nullable=False),
        _c("row_count", "int", "Data rows in the file (repeated header rows excluded)",
           "数据行数", nullable=False),
    ),
    primary_key=("batch_id", "version"),
    indexes=(("list_kind",), ("period",)),
    facets=("list_kind", "is_current"),
    sort="period",
    sort_desc=True,
    label_column="title",
)

LISTINGS = Table(
    name="listings",
    en="One row per data row of a batch file, in file order: the provenance layer",
    zh="清单行：每个附件文件的每一数据行（原始出处）",
    columns=(
        _c("batch_id", "text", "Batch the row comes from", "批次标识", nullable=False),
        _c("version", "int", "Version of the batch file", "版本号", nullable=False),
        _c("row_number", "int", "Physical position of the row in the file, 1..n",
           "文件中的行序", nullable=False),
        _c("serial", "text", "序号 as printed; null when the file numbers rows automatically",
           "序号（原文；自动编号时为空）"),
        *_FILING_FIELDS,
        _c("raw", "json", "The row as published: JSON object of original header → cell text",
           "原始行：表头 → 单元格原文", nullable=False),
    ),
    primary_key=("batch_id", "version", "row_number"),
    indexes=(("list_kind", "filing_number"), ("company",)),
    facets=("list_kind", "batch_id", "province", "role", "category"),
    sort="row_number",
    label_column="name",
)

FILINGS = Table(
    name="filings",
    en="One row per (list_kind, filing_number): the current state of each filing (a listed "
       "row without a number, flagged number_missing, is only in listings)",
    zh="备案：每个清单类型中每个备案编号一行（当前状态；无编号的行只在 listings 中）",
    columns=(
        *_FILING_FIELDS,
        _c("status", "text",
           "active, or cancelled (named in a cancellation notice, or 备注 says 已注销)",
           "状态", nullable=False),
        _c("cancelled_on", "date", "Date of the first cancellation notice naming the number",
           "注销公告日期"),
        _c("first_batch_id", "text", "First batch listing the number", "首次列入批次",
           nullable=False, tracked=False),
        _c("last_batch_id", "text", "Latest batch listing the number", "最近列入批次",
           nullable=False, tracked=False),
        _c("first_published_on", "date", "Publication date of the first batch", "首次公布日期",
           tracked=False),
        _c("source_url", "text", "Attachment URL of the latest batch (live site)", "来源网址",
           nullable=False, tracked=False),
    ),
    primary_key=("list_kind", "filing_number"),
    # Newest first, with the key in Datasette's order for ties (its next-page condition
    # assumes list_kind, filing_number ascending within one date); the same within one value
    # of each faceted column (a facet selected on the table page), and by number.
    indexes=(("company",), ("entity_code",),
             ("first_published_on desc", "list_kind", "filing_number"),
             ("list_kind", "first_published_on desc", "filing_number"),
             *((column, "first_published_on desc", "list_kind", "filing_number")
               for column in ("province", "role", "category", "status", "last_batch_id")),
             ("filing_number", "list_kind")),
    fts=("name", "company", "products", "purpose", "filing_number", "pinyin"),
    facets=("list_kind", "province", "role", "category", "status", "last_batch_id"),
    sort="filing_number",
    label_column="name",
)

PRODUCTS = Table(
    name="products",
    en="One row per product of a filing",
    zh="应用产品：每个备案的每个产品一行",
    columns=(
        _c("filing_number", "text", "Filing number", "备案编号", nullable=False),
        _c("list_kind", "text", "Which list", "清单类型", nullable=False),
        _c("product_name", "text", "Product name as published", "产品名称", nullable=False),
        _c("product_type", "text",
           "APP, 网站, 小程序, 公众账号, 其他, … as published; null when none is given",
           "产品类型"),
    ),
    indexes=(("list_kind", "filing_number"), ("product_name",)),
    facets=("list_kind", "product_type"),
    label_column="product_name",
)

COMPANIES = Table(
    name="companies",
    en="One row per normalised company name",
    zh="主体：每个规范化主体名称一行",
    columns=(
        _c("company", "text", "Company name, normalised", "主体名称", nullable=False),
        _c("province", "text", "Most common province of its filings", "所属省份"),
        _c("entity_codes", "json", "JSON list of the entity codes in its filing numbers",
           "主体代码列表"),
        _c("n_filings", "int", "Number of filings (all list kinds)", "备案数量", nullable=False),
        _c("list_kinds", "json", "JSON list of the lists it appears in", "所在清单类型",
           nullable=False),
        _c("first_published_on", "date", "Earliest publication date of its batches",
           "首次公布日期"),
        _c("last_published_on", "date", "Latest publication date of its batches",
           "最近公布日期"),
        _c("former_names", "json",
           "JSON list of former names, from 备注 such as 原主体名称“X”变更为“Y”, "
           "主体名称由X变更为Y", "曾用名",
           nullable=False),
        _c("pinyin", "text", "Pinyin of the name, syllables separated by spaces", "名称拼音"),
    ),
    primary_key=("company",),
    indexes=(("province",),),
    fts=("company", "former_names", "pinyin"),
    facets=("province",),
    sort="n_filings",
    sort_desc=True,
    label_column="company",
)

CANCELLATIONS = Table(
    name="cancellations",
    en="One row per number named in a cancellation notice (注销公告) on beian.cac.gov.cn",
    zh="注销：注销公告中的每个备案编号一行",
    columns=(
        _c("notice_id", "text", "Id of the notice on beian.cac.gov.cn", "公告编号",
           nullable=False),
        _c("notice_title", "text", "Title of the notice", "公告标题", nullable=False),
        _c("notice_date", "date", "Date the notice was published", "公告日期"),
        _c("filing_number", "text", "The cancelled filing number (canonical)", "备案编号",
           nullable=False),
        _c("name", "text", "Algorithm name as the notice prints it", "算法名称"),
        _c("company", "text", "Company, normalised", "主体名称"),
        _c("cancelled_month", "text", "YYYY-MM from 注销时间", "注销时间"),
        _c("list_kinds", "json", "JSON list of the lists in which the number is a filing "
                                 "(empty: not found in any list)", "所在清单类型",
           nullable=False),
        _c("source_url", "text", "Download URL of the notice's PDF (live site)", "来源网址",
           nullable=False),
    ),
    primary_key=("notice_id", "filing_number"),
    indexes=(("filing_number",), ("company",)),
    fts=("name", "company", "pinyin"),
    facets=("notice_title", "cancelled_month"),
    sort="notice_date",
    sort_desc=True,
    label_column="name",
    may_be_empty=True,
)

CHANGES = Table(
    name="changes",
    en="What each release changed in filings relative to the release before it",
    zh="变更：每次发布相对上一次发布的备案变化",
    columns=(
        _c("release_id", "text", "The release that saw the change", "发布版本", nullable=False),
        _c("list_kind", "text", "Which list", "清单类型", nullable=False),
        _c("filing_number", "text", "Filing number", "备案编号", nullable=False),
        _c("change", "text",
           "added (new number), removed (no longer listed), modified (a listed field changed), "
           "cancelled (status became cancelled)",
           "变化类型：added 新增、removed 移除、modified 修改、cancelled 注销", nullable=False),
        _c("fields", "json", "JSON list of the changed columns (modified, cancelled)",
           "变化字段（JSON 列表）", nullable=False),
        _c("before", "json", "JSON object of the changed columns before (null when added)",
           "变化前"),
        _c("after", "json", "JSON object of the changed columns after (null when removed)",
           "变化后"),
        _c("name", "text", "Name of the filing (after, or before when removed)", "名称"),
        _c("company", "text", "Company of the filing (after, or before when removed)", "主体名称"),
    ),
    primary_key=("release_id", "list_kind", "filing_number"),
    indexes=(("release_id", "change"), ("filing_number",), ("company",)),
    facets=("release_id", "change", "list_kind"),
    sort="release_id",
    sort_desc=True,
    label_column="filing_number",
)

RELEASES = Table(
    name="releases",
    en="Every published release, newest last, each linked to the one before it",
    zh="发布：每次发布的版本记录",
    columns=(
        _c("release_id", "text", "Sortable UTC timestamp of the release", "发布版本",
           nullable=False),
        _c("created_at", "text", "UTC time the release was built", "构建时间", nullable=False),
        _c("code_version", "text", "cac-filings version that built it", "程序版本",
           nullable=False),
        _c("code_fingerprint", "text",
           "Fingerprint of the code (package and scrapers) that built it", "程序指纹"),
        _c("previous_release_id", "text", "The release it was compared with", "上一发布版本"),
        _c("n_batches", "int", "Rows in batches", "批次行数", nullable=False),
        _c("n_listings", "int", "Rows in listings", "清单行数", nullable=False),
        _c("n_filings", "int", "Rows in filings", "备案行数", nullable=False),
        _c("n_products", "int", "Rows in products", "产品行数", nullable=False),
        _c("n_companies", "int", "Rows in companies", "主体行数", nullable=False),
        _c("n_cancellations", "int", "Rows in cancellations", "注销行数", nullable=False),
        _c("n_added", "int", "Filings added", "新增备案数", nullable=False),
        _c("n_modified", "int", "Filings modified", "修改备案数", nullable=False),
        _c("n_removed", "int", "Filings removed", "移除备案数", nullable=False),
        _c("n_cancelled", "int", "Filings cancelled", "注销备案数", nullable=False),
    ),
    primary_key=("release_id",),
    sort="release_id",
    sort_desc=True,
    label_column="release_id",
)

LIST_KINDS = Table(
    name="list_kinds",
    en="The lists CAC publishes, as the sources declare them (labels for list_kind)",
    zh="清单类型：各来源声明的清单（list_kind 的名称）",
    columns=(
        _c("list_kind", "text", "Key of the list, as in list_kind columns", "清单类型",
           nullable=False),
        _c("source", "text", "The source (scrapers/<source>/) that reads it", "来源",
           nullable=False),
        _c("title_zh", "text", "Title in Chinese, as CAC names the list", "中文名称",
           nullable=False),
        _c("title_en", "text", "Title in English", "英文名称", nullable=False),
        _c("label_zh", "text", "Short label in Chinese", "中文简称", nullable=False),
        _c("label_en", "text", "Short label in English", "英文简称", nullable=False),
        _c("lists", "text",
           "approvals (its rows are filings) or cancellations (its rows cancel filings)",
           "清单性质：approvals 备案、cancellations 注销", nullable=False),
        _c("rules", "text", "The row rules it follows: suanbei (网信算备 numbers) or genai "
                            "(generative-AI numbers)", "编号规则", nullable=False),
        _c("color", "text", "Colour of the list in charts", "图表颜色", nullable=False),
        _c("sort_order", "int", "Position in listings of the lists", "排序", nullable=False),
    ),
    primary_key=("list_kind",),
    sort="sort_order",
    label_column="title_en",
)

PROBLEMS = Table(
    name="problems",
    en="What this release could not publish or had to report: held-back file versions, "
       "batches the site no longer links, downloads that failed, unknown columns",
    zh="问题：本次发布暂缓发布的批次版本、不再有链接的批次、下载失败、未知列等",
    columns=(
        _c("batch_id", "text", "Batch concerned", "批次标识", nullable=False),
        _c("version", "int", "Version of the batch file (null: no file)", "版本号"),
        _c("file_sha256", "text", "SHA-256 of the file concerned", "文件 SHA-256"),
        _c("stage", "text",
           "Where it happened: fetch (download), archive (stored bytes), extract (reading the "
           "file), crash (the process reading the file died), check (a gate), link (the "
           "site's page), statement (CAC's stated totals)",
           "环节", nullable=False),
        _c("severity", "text",
           "held_back (this version is not published; the previous one stays current) or "
           "warning (published, but reported)", "严重程度：held_back 暂缓发布、warning 警告",
           nullable=False),
        _c("reason", "text", "What went wrong, naming the file, table, row or header",
           "原因", nullable=False),
        _c("gate", "text", "The gate that refused it; --accept GATE:BATCH_ID publishes it "
                           "after review where the gate can be accepted", "检查项"),
        _c("list_kind", "text", "Which list", "清单类型"),
        _c("first_seen", "text", "UTC time the problem was first reported", "首次发现时间"),
        _c("last_tried", "text", "UTC time of the build that last tried", "最近尝试时间"),
    ),
    primary_key=(),
    facets=("stage", "severity", "list_kind"),
    sort="batch_id",
    label_column="reason",
    may_be_empty=True,
)

_SQL_TYPES: dict[ColumnType, str] = {
    "text": "TEXT", "int": "INTEGER", "bool": "INTEGER", "date": "TEXT", "json": "TEXT",
}


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_ddl(table: Table) -> list[str]:
    """CREATE statements for a table, its indexes and its full-text table."""
    cols = []
    for c in table.columns:
        decl = f"{quote_identifier(c.name)} {_SQL_TYPES[c.type]}"
        if not c.nullable:
            decl += " NOT NULL"
        cols.append(decl)
    if table.primary_key:
        cols.append("PRIMARY KEY (" + ", ".join(map(quote_identifier, table.primary_key)) + ")")
    stmts = [f"CREATE TABLE {quote_identifier(table.name)} (\n  " + ",\n  ".join(cols) + "\n)"]
    for idx in table.indexes:
        # A column may be "name desc": the index keeps it in descending order.
        parts = [c.split() for c in idx]
        name = f"idx_{table.name}_" + "_".join("_".join(p) for p in parts)
        stmts.append(
            f"CREATE INDEX {quote_identifier(name)} ON {quote_identifier(table.name)} ("
            + ", ".join(quote_identifier(p[0]) + (" DESC" if p[1:] == ["desc"] else "")
                        for p in parts) + ")"
        )
    if table.fts:
        # Text is indexed pre-segmented (see search.segment_text): every CJK character is a
        # token, so one- and two-character queries such as 抖音 match. Contentless: the text
        # lives in the table itself; the index only maps tokens to rowids.
        stmts.append(
            f"CREATE VIRTUAL TABLE {quote_identifier(table.name + '_fts')} USING fts5("
            + ", ".join(map(quote_identifier, table.fts))
            + ", tokenize = 'unicode61 remove_diacritics 2', content = '')"
        )
    return stmts


def data_dictionary_markdown() -> str:
    """The data dictionary section of the README, generated from the tables above."""
    out: list[str] = []
    for t in TABLES:
        out.append(f"### `{t.name}` — {t.zh.split('：')[0]}\n")
        out.append(f"{t.en}. Key: " + (", ".join(f"`{k}`" for k in t.primary_key) or "none")
                   + ".\n")
        out.append("| column | type | description | 说明 |")
        out.append("|---|---|---|---|")
        for c in t.columns:
            typ = c.type + ("" if c.nullable else ", not null")
            out.append(f"| `{c.name}` | {typ} | {c.en} | {c.zh} |")
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- labels for codes

# Problems detected in a source row, named in quality_flags: (English, 中文). The README's
# list of quality flags and the `labels` table are generated from this.
QUALITY_FLAGS: dict[str, tuple[str, str]] = {
    "number_malformed": ("the number does not have its list's format (e.g. a 22-digit 网信算备 "
                         "number)", "编号格式不符"),
    "number_missing": ("the row has no number (it is in listings, not in filings)", "无编号"),
    "check_digit_failed": ("a 网信算备 number whose check digit does not hold", "校验位不符"),
    "region_unknown": ("a 网信算备 number whose region code is not a province",
                       "行政区划代码未知"),
    "truncated_number": ("a generative-AI number cut short (Jiangsu-SiWeiXiangLiangZhiSuanYun-)",
                         "编号被截断"),
    "number_date_invalid": ("the date in a generative-AI number is not a date",
                            "编号中的日期无效"),
    "province_token_unknown": ("the number's province token is not a province (Shinghai-…)",
                               "编号省份标识未知"),
    "province_token_mismatch": ("the number's province token disagrees with 属地 (属地 is used)",
                                "编号省份标识与属地不符"),
    "name_company_swapped": ("大模型名称 and 备案单位 were swapped in the list; corrected",
                             "名称与单位互换（已更正）"),
    "registration_in_filing_table": ("a 上线编号 (…S0001) in the 备案 table; moved to "
                                     "genai_registration", "登记编号出现在备案表中（已移至登记）"),
    "filing_number_in_registration_table": ("a 备案 number in the 登记 table; kept where it is",
                                            "备案编号出现在登记表中"),
    "registration_in_on_device_table": ("a 上线编号 (…S0001) in the on-device table; kept where "
                                        "it is", "登记编号出现在端侧表中"),
    "filed_on_unparsed": ("备案时间/登记时间 is not a date", "备案/登记时间无法识别"),
    "unknown_category": ("算法类别 outside the source's known vocabulary", "算法类别未知"),
    "company_missing": ("no company", "无主体名称"),
    "duplicate_in_batch": ("a number listed twice in one file", "同一文件中编号重复"),
    "company_changed": ("the number is listed under another company than before, and no 备注 "
                        "names a rename", "编号对应的主体名称变化（备注未说明更名）"),
    "role_truncated": ("a notice's 角色 cut short (服务提供)", "角色被截断"),
    "category_truncated": ("a notice's 算法类别 cut short", "算法类别被截断"),
    "role_unknown": ("a 角色 that is neither 服务提供者 nor 服务技术支持者 (kept in raw)",
                     "角色未知"),
    "cancellation_not_in_notices": ("the list's 备注 says 已注销 but no cancellation notice "
                                    "names the number", "备注称已注销但无注销公告"),
    "cancellation_not_in_list": ("a notice cancels the number but its latest list row does not "
                                 "say 已注销", "注销公告已注销但清单未注明"),
    "unknown_column": ("the row has a cell in a column no table spec names (kept in raw)",
                       "含未知列（保留在原始行中）"),
    "control_characters": ("a cell held control or bidi-override characters: dropped from the "
                           "fields, kept in raw", "含控制字符（已从字段中去除，原始行保留）"),
}

# Codes of the other columns that hold codes: column → code → (English, 中文). List kinds are
# data (each source's source.yml) and come from the registry.
CODE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "role": {"service_provider": ("service provider", "服务提供者"),
             "technical_supporter": ("technical supporter", "服务技术支持者")},
    "status": {"active": ("active", "有效"), "cancelled": ("cancelled", "已注销"),
               "agrees": ("agrees", "一致"), "differs": ("differs", "不一致"),
               "not_comparable": ("not comparable", "无法比较")},
    "change": {"added": ("added", "新增"), "modified": ("modified", "修改"),
               "cancelled": ("cancelled", "注销"), "removed": ("removed", "移除")},
    "published_on_precision": {
        "day": ("the announcement's date", "公告日期"),
        "observed": ("first seen by cac-filings", "首次发现日期"),
        "period": ("estimated from the list's period", "按清单月份估计")},
    "lists": {"approvals": ("approvals", "备案清单"),
              "cancellations": ("cancellations", "注销公告")},
    "severity": {"held_back": ("held back", "暂缓发布"), "warning": ("warning", "警告")},
    "stage": {"fetch": ("download", "下载"), "archive": ("archive", "存档"),
              "extract": ("reading the file", "读取文件"),
              "crash": ("the reader died", "读取进程崩溃"), "check": ("check", "检查"),
              "link": ("the site's page", "网站页面"), "statement": ("statement", "官方数据")},
    "measure": {"cumulative": ("cumulative", "累计"),
                "new_in_year": ("new in the year", "当年新增")},
    "counted": {"filed": ("filed", "备案"), "registered": ("registered", "登记")},
    "category_code": {"01": ("generative or synthetic (生成合成类; every deep-synthesis filing)",
                             "生成合成类"),
                      "02": ("personalised push", "个性化推送类"),
                      "03": ("ranking and selection", "排序精选类"),
                      "04": ("search and filtering", "检索过滤类 / 信息检索类"),
                      "05": ("content filtering (content safety)", "检索过滤类 / 内容过滤类"),
                      "06": ("scheduling and decision", "调度决策类")},
    "quality_flags": QUALITY_FLAGS,
}

LABELS = Table(
    name="labels",
    en="Labels of the codes the tables use (list kinds, roles, statuses, quality flags, …), in "
       "English and Chinese",
    zh="代码名称：各表所用代码（清单类型、角色、状态、数据质量标记等）的中英文名称",
    columns=(
        _c("column", "text", "The column that holds the code", "列", nullable=False),
        _c("code", "text", "The code as stored", "代码", nullable=False),
        _c("label_en", "text", "What it means, in English", "英文名称", nullable=False),
        _c("label_zh", "text", "What it means, in Chinese", "中文名称", nullable=False),
    ),
    primary_key=("column", "code"),
    sort="column",
    label_column="label_en",
)


def label_rows(kinds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The labels table: every code above, and each list kind (its short labels)."""
    rows = [{"column": "list_kind", "code": k["list_kind"], "label_en": k["label_en"],
             "label_zh": k["label_zh"]} for k in kinds]
    for column, codes in CODE_LABELS.items():
        rows += [{"column": column, "code": code, "label_en": en, "label_zh": zh}
                 for code, (en, zh) in codes.items()]
    return sorted(rows, key=lambda r: (r["column"], r["code"]))


def quality_flags_markdown() -> str:
    lines = ["| flag | meaning | 说明 |", "|---|---|---|"]
    lines += [f"| `{flag}` | {en} | {zh} |" for flag, (en, zh) in QUALITY_FLAGS.items()]
    return "\n".join(lines) + "\n"


OFFICIAL_COUNTS = Table(
    name="official_counts",
    en="Every total CAC states about its own lists (e.g. 截至2024年12月31日，共有302款…完成备案), "
       "one row per figure",
    zh="官方数据：网信办公告中关于备案数量的每一个数字",
    columns=(
        _c("statement_url", "text", "The page that states it (live site URL)", "公告网址",
           nullable=False),
        _c("statement_title", "text", "Title of that page", "公告标题"),
        _c("statement_date", "date", "Date of the page", "公告日期"),
        _c("as_of", "date", "The day the figure counts up to (截至…)", "截至日期"),
        _c("year", "int", "The year counted, for figures new in a year (2024年新增…)", "年份"),
        _c("list_kind", "text", "The list the figure counts", "清单类型"),
        _c("counted", "text", "What is counted: filed (完成备案) or registered (完成登记)",
           "统计对象：filed 备案、registered 登记", nullable=False),
        _c("measure", "text", "cumulative (截至…共有/累计) or new_in_year (…年新增)",
           "统计口径：cumulative 累计、new_in_year 当年新增", nullable=False),
        _c("subject", "text", "What the sentence counts, as written (生成式人工智能服务 …)",
           "统计事项（原文）"),
        _c("official", "int", "The figure CAC states", "官方数字", nullable=False),
        _c("sentence", "text", "The clause the figure comes from, as written", "原文",
           nullable=False),
    ),
    primary_key=("statement_url", "counted", "measure", "as_of", "year"),
    facets=("list_kind", "measure", "counted"),
    sort="statement_date",
    sort_desc=True,
    label_column="sentence",
    may_be_empty=True,
)

RECONCILIATION = Table(
    name="reconciliation",
    en="Each figure CAC states beside the same figure computed from this release, and the "
       "difference",
    zh="数据核对：官方数字与本数据集按同一口径计算的数字及差异",
    columns=(
        _c("statement_url", "text", "The page that states the figure", "公告网址",
           nullable=False),
        _c("statement_date", "date", "Date of the page", "公告日期"),
        _c("as_of", "date", "The day the figure counts up to", "截至日期"),
        _c("year", "int", "The year counted (figures new in a year)", "年份"),
        _c("list_kind", "text", "The list counted", "清单类型"),
        _c("counted", "text", "filed or registered", "统计对象", nullable=False),
        _c("measure", "text", "cumulative or new_in_year", "统计口径", nullable=False),
        _c("official", "int", "The figure CAC states", "官方数字", nullable=False),
        _c("ours", "int", "The same figure from this release (see method)", "本数据集数字"),
        _c("difference", "int", "ours − official (0: they agree; negative: rows missing here)",
           "差异（本数据集 − 官方）"),
        _c("status", "text", "agrees, differs, or not_comparable (the list is not in this "
                             "release)", "核对结果", nullable=False),
        _c("method", "text", "How ours is counted", "计算方法", nullable=False),
        _c("batches", "json", "The batches ours comes from: JSON object batch_id → filings "
                              "counted", "所涉批次"),
        _c("sentence", "text", "The clause the figure comes from", "原文", nullable=False),
    ),
    primary_key=("statement_url", "counted", "measure", "as_of", "year"),
    facets=("status", "list_kind"),
    sort="statement_date",
    sort_desc=True,
    label_column="sentence",
    may_be_empty=True,
)


# The data tables are a pure function of the raw archive (byte-identical when rebuilt);
# changes and releases also depend on the chain of earlier releases; problems on when the
# build ran.
DATA_TABLES: tuple[Table, ...] = (BATCHES, LISTINGS, FILINGS, PRODUCTS, COMPANIES,
                                  CANCELLATIONS, LIST_KINDS, LABELS, OFFICIAL_COUNTS,
                                  RECONCILIATION)
HISTORY_TABLES: tuple[Table, ...] = (CHANGES, RELEASES)
RUN_TABLES: tuple[Table, ...] = (PROBLEMS,)
TABLES: tuple[Table, ...] = DATA_TABLES + HISTORY_TABLES + RUN_TABLES


# ---------------------------------------------------------------- summaries for serving

# Tables only the release's SQLite file carries, filled by summaries.py from the tables above
# once the file is written: what the pages would otherwise count on every request (facets,
# headline figures, charts) and the orders the feeds are read in. Each equals a query of the
# tables above (tested); none is published as Parquet or CSV.
SUMMARY_TABLE_COUNTS = Table(
    name="summary_table_counts",
    en="Rows in each table of this SQLite file (what Datasette would count at start-up)",
    zh="汇总：本数据库每个表的行数",
    columns=(
        _c("table_name", "text", "A table of this file", "表名", nullable=False),
        _c("row_count", "int", "Its rows", "行数", nullable=False),
    ),
    primary_key=("table_name",),
)

SUMMARY_FACET_COUNTS = Table(
    name="summary_facet_counts",
    en="Rows per value of each faceted text column of each table, overall and within each "
       "value of another faceted column (the table pages' facets)",
    zh="汇总：各表分面列每个取值的行数（全部，及另一分面列取某值时）",
    columns=(
        _c("table_name", "text", "The table", "表名", nullable=False),
        _c("filter_column", "text", "The column the rows are narrowed by; empty: all rows",
           "筛选列（空：全部行）", nullable=False),
        _c("filter_value", "text", "Its value (empty when filter_column is)", "筛选值",
           nullable=False),
        _c("column_name", "text", "The faceted column", "分面列", nullable=False),
        _c("value", "text", "One of its values (never null)", "取值", nullable=False),
        _c("n", "int", "Rows with that value", "行数", nullable=False),
    ),
    primary_key=("table_name", "filter_column", "filter_value", "column_name", "value"),
)

SUMMARY_FILING_COUNTS = Table(
    name="summary_filing_counts",
    en="Filings per list, first publication date, province and status (headline figures "
       "and charts)",
    zh="汇总：按清单类型、首次公布日期、省份、状态统计的备案数",
    columns=(
        _c("list_kind", "text", "Which list", "清单类型", nullable=False),
        _c("first_published_on", "date", "First publication date", "首次公布日期"),
        _c("province", "text", "Province", "所属省份"),
        _c("status", "text", "active or cancelled", "状态", nullable=False),
        _c("n", "int", "Filings", "备案数", nullable=False),
    ),
)

SUMMARY_FORMER_NAMES = Table(
    name="summary_former_names",
    en="Each former name of a company (companies.former_names), one row per name",
    zh="汇总：主体曾用名，每个曾用名一行",
    columns=(
        _c("former_name", "text", "The former name", "曾用名", nullable=False),
        _c("company", "text", "The company's name now", "现主体名称", nullable=False),
    ),
    primary_key=("former_name", "company"),
)

SUMMARY_BATCH_LISTS = Table(
    name="summary_batch_lists",
    en="What each batch version holds, per list kind of its rows: rows, numbers new to the "
       "registry, re-listed ones, re-listed ones whose cells changed, rows marked 已注销",
    zh="汇总：每个批次版本各清单类型的行数、新增、再次列入、内容变化、注明已注销的行",
    columns=(
        _c("batch_id", "text", "Batch", "批次标识", nullable=False),
        _c("version", "int", "Version of the batch file", "版本号", nullable=False),
        _c("list_kind", "text", "List kind of the rows", "清单类型", nullable=False),
        _c("rows", "int", "Rows", "行数", nullable=False),
        _c("new", "int", "Rows whose number this batch listed first (null: rows of a "
                         "cancellation notice)", "新增"),
        _c("relisted", "int", "Rows whose number an earlier batch listed", "再次列入"),
        _c("changed", "int", "Re-listed rows whose published cells differ from the listing "
                             "before", "内容变化"),
        _c("marked_cancelled", "int", "Rows whose 备注 says 已注销", "注明已注销"),
    ),
    primary_key=("batch_id", "version", "list_kind"),
)

SUMMARY_NEW_FILINGS = Table(
    name="summary_new_filings",
    en="Filings in the order the new-approvals feed lists them: newest current batch first, "
       "each batch's new numbers in file order",
    zh="汇总：新增备案订阅的顺序（最新批次在前，批次内按文件顺序）",
    columns=(
        _c("position", "int", "Place in the feed, 1..n", "顺序", nullable=False),
        _c("list_kind", "text", "Which list", "清单类型", nullable=False),
        _c("filing_number", "text", "Filing number", "备案编号", nullable=False),
        _c("province", "text", "Province", "所属省份"),
    ),
    primary_key=("position",),
    indexes=(("province", "position"),),
)

SUMMARY_FILING_ORDER = Table(
    name="summary_filing_order",
    en="Each filing's place newest first (by first publication date, then list and number: "
       "the filings table's default order), keyed by its rowid, with its province",
    zh="汇总：每个备案按最新优先排序的位置（按行号）及其省份",
    columns=(
        _c("filing_rowid", "int", "The filing's rowid in the filings table", "备案行号",
           nullable=False),
        _c("position", "int", "Place newest first, 1..n", "顺序", nullable=False),
        _c("province", "text", "Province", "所属省份"),
    ),
    primary_key=("filing_rowid",),
)

SUMMARY_RELEASE_CHANGES = Table(
    name="summary_release_changes",
    en="What the latest release changed, in the order its feed lists it (newest CAC "
       "publication first)",
    zh="汇总：最新数据版本的变化，按订阅顺序",
    columns=(
        _c("position", "int", "Place in the feed, 1..n", "顺序", nullable=False),
        _c("list_kind", "text", "Which list", "清单类型", nullable=False),
        _c("filing_number", "text", "Filing number", "备案编号", nullable=False),
    ),
    primary_key=("position",),
)

# In the order summaries.py writes them: the table counts last, to count the others.
SUMMARY_TABLES: tuple[Table, ...] = (SUMMARY_FACET_COUNTS, SUMMARY_FILING_COUNTS,
                                     SUMMARY_FORMER_NAMES, SUMMARY_BATCH_LISTS,
                                     SUMMARY_NEW_FILINGS, SUMMARY_FILING_ORDER,
                                     SUMMARY_RELEASE_CHANGES, SUMMARY_TABLE_COUNTS)
