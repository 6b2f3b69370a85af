"""Datasette metadata, generated from schema.py: titles, descriptions (English · 中文),
licence, source, facets, sort orders and the full-text tables."""

from __future__ import annotations

from typing import Any

from cac_filings.schema import DATABASE, SUMMARY_TABLES, TABLES
from cac_filings.summaries import TIER_FTS

TITLE = "cac-filings · 中国算法备案数据"
DESCRIPTION = (
    "Every algorithm China's Cyberspace Administration (国家互联网信息办公室) has approved and "
    "published on its filing lists — 境内互联网信息服务算法备案清单, "
    "境内深度合成服务算法备案清单, 生成式人工智能服务已备案和已登记信息 — and the numbers it "
    "cancelled (注销公告), extracted from "
    "CAC's own attachments, normalised and versioned. Search works in Chinese (try 抖音 or "
    "百度). 每一条记录都可追溯到原始附件。"
)
SOURCE = "国家互联网信息办公室 Cyberspace Administration of China"
SOURCE_URL = "https://www.cac.gov.cn/2022-08/12/c_1661927474338504.htm"
LICENSE = "CC BY 4.0 (compilation); source documents are official CAC publications"
LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"


# Canned queries: short titles and descriptions in both languages. None names a particular
# list: list kinds come from the list_kinds table (lists approvals/cancellations, rules
# suanbei/genai), and the pages show each code's label (the labels table).
QUERIES: dict[str, dict[str, Any]] = {
    "new_in_latest_release": {
        "title": "最新数据版本的变化 · What the latest release changed",
        "description": "本数据集最新版本相对上一版本新增、修改、注销、移除的备案（前 1000 条；"
                       "全部见 changes 表）。What the latest release of this dataset added, "
                       "modified, cancelled or removed (the first 1,000; the changes table "
                       "has them all). This is not what CAC published lately: see /-/latest.",
        "sql": "select c.change, c.list_kind, c.filing_number, c.name, c.company, c.fields "
               "from changes c where c.release_id = (select max(release_id) from releases) "
               "order by c.change, c.list_kind, c.company, c.filing_number limit 1000",
    },
    "company_filings": {
        "title": "某一主体的全部备案 · A company's filings",
        "description": "输入主体全称（含曾用名）。Every filing of one company in every list, "
                       "under its former names too; enter the full name (or open "
                       "/-/company/<name>).",
        "sql": "select f.list_kind, f.name, f.filing_number, f.category, f.role, f.status, "
               "f.first_published_on, f.cancelled_on, f.company from filings f "
               "where f.company = :company or f.company in (select value from companies, "
               "json_each(companies.former_names) where companies.company = :company) "
               "or f.company in (select c.company from companies c, json_each(c.former_names) "
               "j where j.value = :company union select j2.value from companies c, "
               "json_each(c.former_names) j, json_each(c.former_names) j2 "
               "where j.value = :company) "
               "order by f.first_published_on desc, f.list_kind, f.filing_number",
    },
    "genai_by_province": {
        "title": "生成式人工智能（按省份） · Generative AI by province",
        "description": "生成式人工智能各清单（备案、登记、端侧……）按属地统计；"
                       "填写省份可列出服务名称。"
                       "Generative-AI filings, registrations and every other list under the "
                       "generative-AI rules, per province (属地; 国资委 for central "
                       "state-owned enterprises). Enter a province to list its services.",
        "sql": "with per_list as (select f.province, k.label_zh || ' ' || k.label_en as list, "
               "count(*) as n from filings f join list_kinds k on k.list_kind = f.list_kind "
               "where k.rules = 'genai' and k.lists = 'approvals' and (:province = '' or "
               "f.province = :province) group by f.province, k.list_kind order by "
               "k.sort_order) select province, sum(n) as total, group_concat(list || ': ' || "
               "n, '; ') as by_list, case when :province != '' then (select "
               "group_concat(f.name, '、') from filings f join list_kinds k on "
               "k.list_kind = f.list_kind where k.rules = 'genai' and k.lists = 'approvals' "
               "and f.province = per_list.province) end as services from per_list "
               "group by province order by total desc, province",
    },
    "cancelled_filings": {
        "title": "已注销的备案 · Cancelled filings",
        "description": "注销公告列出的、或清单备注为“已注销”的备案，附注销公告。Filings a "
                       "cancellation notice names or whose list says 已注销, with the notice "
                       "where there is one.",
        "sql": "select f.list_kind, f.name, f.company, f.filing_number, f.cancelled_on, "
               "x.notice_title, x.cancelled_month, f.remarks from filings f left join "
               "cancellations x on x.filing_number = f.filing_number where f.status = "
               "'cancelled' order by f.cancelled_on desc, f.company",
    },
    "batches_over_time": {
        "title": "历次批次 · Every batch",
        "description": "网信办公布的每一批清单（当前版本），最新在前，附公布日期及其精度。Every "
                       "batch CAC published (its current version), newest first, with its "
                       "publication date and how that date is known.",
        "sql": "select published_on, published_on_precision, list_kind, batch_id, batch_no, "
               "title, row_count, file_format, attachment_url from batches where is_current "
               "order by published_on desc, batch_id desc",
    },
    "registry_growth": {
        "title": "备案数量增长 · How the registry grew",
        "description": "各清单按首次公布日期的新增与累计备案数。New and cumulative filings "
                       "per list, by the date CAC first published them (the growth chart's "
                       "numbers).",
        "sql": "select f.first_published_on, f.list_kind, count(*) as new, sum(count(*)) over "
               "(partition by f.list_kind order by f.first_published_on) as cumulative "
               "from filings f join list_kinds k on k.list_kind = f.list_kind "
               "where k.lists = 'approvals' and f.first_published_on is not null "
               "group by f.first_published_on, f.list_kind "
               "order by f.first_published_on desc, k.sort_order",
    },
}

# The Chinese names of the canned queries' own columns (the tables' columns have theirs in
# schema.py): the pages head each column with both; the JSON and CSV keep the names.
QUERY_COLUMNS = {"total": "合计", "by_list": "各清单数量", "services": "服务名称",
                 "new": "新增", "cumulative": "累计"}

# The table pages' default order where it is not the schema's: the newest filings first.
NEWEST_FIRST = {"filings": "first_published_on"}

# Values shown per facet on the big tables' pages (Datasette's default is 30): with 30
# provinces and 30 batches listed, the filings page's first row was three screens down. The
# rest are one click away (the facet's "…", ?_facet_size=max); each count stays exact.
FACET_SIZE = 5
BIG_TABLES = frozenset({"filings", "listings", "products", "companies", "cancellations",
                        "changes"})


def datasette_metadata(release_id: str, created_at: str) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for table in TABLES:
        entry: dict[str, Any] = {
            "description": f"{table.en} · {table.zh}",
            "columns": {c.name: f"{c.en} · {c.zh}" for c in table.columns},
            "facets": list(table.facets),
        }
        if table.name in BIG_TABLES and table.facets:
            entry["facet_size"] = FACET_SIZE
        if table.name in NEWEST_FIRST:
            entry["sort_desc"] = NEWEST_FIRST[table.name]
        elif table.sort:
            entry["sort_desc" if table.sort_desc else "sort"] = table.sort
        if table.label_column:
            entry["label_column"] = table.label_column
        if table.fts:
            entry["fts_table"] = f"{table.name}_fts"
            entry["fts_pk"] = "rowid"
        tables[table.name] = entry
    for table in TABLES:
        if table.fts:
            tables[f"{table.name}_fts"] = {"hidden": True}
    # What the pages read instead of counting the registry (summaries.py): not for readers.
    for name in [t.name for t in SUMMARY_TABLES] + list(TIER_FTS.values()):
        tables[name] = {"hidden": True}
    return {
        "title": TITLE,
        "description": f"{DESCRIPTION} Release {release_id}, built {created_at}.",
        "license": LICENSE,
        "license_url": LICENSE_URL,
        "source": SOURCE,
        "source_url": SOURCE_URL,
        "databases": {
            DATABASE: {
                "title": "cac-filings 数据库 database",
                "description": f"数据版本 Release {release_id}（更新于 last updated "
                               f"{created_at}）",
                "tables": tables,
                "queries": QUERIES,
            }
        },
    }
