"""`datapackage.json`: the release as a Frictionless Data Package, generated from schema.py.

Data tools (frictionless-py, R's frictionless, data portals) load the release from it: one
resource per Parquet file (self-describing: its schema and these descriptions are in the file),
and one per CSV export (the files spreadsheets and R read) with a full table schema — types,
descriptions (English · 中文), required fields, keys — and its size and sha256.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cac_filings.metadata import DESCRIPTION, LICENSE_URL, SOURCE, SOURCE_URL, TITLE
from cac_filings.schema import TABLES, Column, Table

_TYPES = {"text": "string", "int": "integer", "bool": "boolean", "date": "date"}
# JSON columns hold a list or an object (Frictionless reads them as such from the CSV files).
_JSON_OBJECTS = {"raw", "number_parts", "before", "after", "batches"}


def _field(column: Column) -> dict[str, Any]:
    if column.type == "json":
        kind = "object" if column.name in _JSON_OBJECTS else "array"
    else:
        kind = _TYPES[column.type]
    field: dict[str, Any] = {"name": column.name, "type": kind,
                             "description": f"{column.en} · {column.zh}"}
    if not column.nullable:
        field["constraints"] = {"required": True}
    return field


def _schema(table: Table) -> dict[str, Any]:
    schema: dict[str, Any] = {"fields": [_field(c) for c in table.columns]}
    if table.primary_key and all(not table.column(k).nullable for k in table.primary_key):
        schema["primaryKey"] = list(table.primary_key)
    return schema


def _file(folder: Path, name: str) -> dict[str, Any]:
    data = (folder / name).read_bytes()
    return {"bytes": len(data), "hash": f"sha256:{hashlib.sha256(data).hexdigest()}"}


def datapackage(folder: Path, release_id: str, created_at: str,
                row_counts: dict[str, int]) -> dict[str, Any]:
    """The descriptor of the release in `folder` (its Parquet and CSV files written)."""
    resources = []
    for table in TABLES:
        described = {"title": table.zh.split("：")[0] + f" · {table.name}",
                     "description": f"{table.en} · {table.zh}", "schema": _schema(table)}
        if (folder / f"{table.name}.parquet").is_file():
            # A Parquet file carries its own schema too (types, and these descriptions as
            # field metadata), but a tool reading the package takes the resource's schema, and
            # without one guesses (a role column of codes as a year-month, say). Frictionless
            # reads Parquet through pandas, where a null in an integer column is NaN: "nan" is
            # a missing value here. Its size and sha256 are in SHA256SUMS (frictionless
            # counts the bytes of what pandas gives it, not of the file).
            schema = {**_schema(table), "missingValues": ["", "nan"]}
            resources.append({"name": table.name, "path": f"{table.name}.parquet",
                              "profile": "tabular-data-resource", "format": "parquet",
                              "mediatype": "application/vnd.apache.parquet",
                              "rows": row_counts.get(table.name), **described,
                              "schema": schema})
        if (folder / "csv" / f"{table.name}.csv").is_file():
            resources.append({"name": f"{table.name}-csv", "path": f"csv/{table.name}.csv",
                              "profile": "tabular-data-resource", "format": "csv",
                              "mediatype": "text/csv", "encoding": "utf-8-sig",
                              "rows": row_counts.get(table.name),
                              **_file(folder, f"csv/{table.name}.csv"), **described})
    return {
        "profile": "data-package",
        "name": "cac-filings",
        "title": TITLE,
        "description": DESCRIPTION,
        "version": release_id,
        "created": created_at,
        "homepage": SOURCE_URL,
        "licenses": [{"name": "CC-BY-4.0", "path": LICENSE_URL,
                      "title": "Creative Commons Attribution 4.0 (the compilation)"}],
        "sources": [{"title": SOURCE, "path": SOURCE_URL}],
        "resources": resources,
    }
