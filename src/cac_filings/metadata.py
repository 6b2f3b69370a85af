"""Datasette metadata, generated from schema.py: titles, descriptions (English · 中文),
licence, source, facets, sort orders and the full-text tables."""

from __future__ import annotations

from typing import Any

from cac_filings.schema import TABLES

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
            "cac_filings": {
                "description": f"Release {release_id} (last updated {created_at})",
                "tables": tables,
            }
        },
    }
