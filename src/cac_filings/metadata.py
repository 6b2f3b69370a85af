"""Datasette metadata, generated from schema.py: titles, descriptions (English · 中文),
licence, source, facets, sort orders and the full-text tables."""

from __future__ import annotations

from typing import Any

from cac_filings.schema import DATABASE, TABLES

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


QUERIES: dict[str, dict[str, Any]] = {
    "new_in_latest_release": {
        "title": "New in the latest release 最新发布的变化",
        "description": "What the latest release added, modified, cancelled or removed, by list "
                       "and company. The release notes (CHANGES.md) say the same in prose.",
        "sql": "select c.change, c.list_kind, c.company, c.name, c.filing_number, c.fields, "
               "c.before, c.after from changes c where c.release_id = "
               "(select max(release_id) from releases) order by c.change, c.list_kind, "
               "c.company, c.filing_number",
    },
    "company_filings": {
        "title": "A company's filings 主体的全部备案",
        "description": "Every filing of one company in every list, with former names; enter "
                       "the company's name exactly (or use /-/company/<name>).",
        "sql": "select f.list_kind, f.name, f.filing_number, f.category, f.role, f.status, "
               "f.cancelled_on, f.first_batch_id, f.last_batch_id, f.company from filings f "
               "where f.company = :company or f.company in (select value from companies, "
               "json_each(companies.former_names) where companies.company = :company) "
               "order by f.list_kind, f.first_batch_id, f.filing_number",
    },
    "genai_by_province": {
        "title": "Generative-AI services by province 生成式人工智能服务（按省份）",
        "description": "Generative-AI filings (备案) and registrations (登记) per province "
                       "(属地; 国资委 for central state-owned enterprises). Choose a province "
                       "to list its services, or leave it empty for the counts.",
        "sql": "select province, sum(list_kind = 'genai_filing') as filings, "
               "sum(list_kind = 'genai_registration') as registrations, count(*) as total, "
               "group_concat(case when :province != '' then name end, '、') as services "
               "from filings where list_kind like 'genai%' and (:province = '' or province = "
               ":province) group by province order by total desc",
    },
    "cancelled_filings": {
        "title": "Cancelled filings 已注销的备案",
        "description": "Filings that a cancellation notice names or whose list says 已注销, "
                       "with the notice where there is one.",
        "sql": "select f.list_kind, f.name, f.company, f.filing_number, f.cancelled_on, "
               "x.notice_title, x.cancelled_month, f.remarks from filings f left join "
               "cancellations x on x.filing_number = f.filing_number where f.status = "
               "'cancelled' order by f.cancelled_on desc, f.company",
    },
    "batches_over_time": {
        "title": "Batches over time 历次批次",
        "description": "Every batch (current version) with its rows, per list and period: "
                       "the growth of the registry.",
        "sql": "select period, list_kind, batch_id, batch_no, published_on, row_count, "
               "sum(row_count) over (partition by list_kind order by period) as cumulative, "
               "title from batches where is_current order by period, list_kind",
    },
}


def datasette_metadata(release_id: str, created_at: str) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for table in TABLES:
        entry: dict[str, Any] = {
            "description": f"{table.en} · {table.zh}",
            "columns": {c.name: f"{c.en} · {c.zh}" for c in table.columns},
            "facets": list(table.facets),
        }
        if table.sort:
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
    return {
        "title": TITLE,
        "description": f"{DESCRIPTION} Release {release_id}, built {created_at}.",
        "license": LICENSE,
        "license_url": LICENSE_URL,
        "source": SOURCE,
        "source_url": SOURCE_URL,
        "databases": {
            DATABASE: {
                "description": f"Release {release_id} (last updated {created_at})",
                "tables": tables,
                "queries": QUERIES,
            }
        },
    }
