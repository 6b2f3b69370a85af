"""The addresses of the project's pages. Datasette matches routes against the percent-encoded
path, so every value is quoted here and unquoted by its route."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from cac_filings.schema import DATABASE


def filing_url(list_kind: str, filing_number: str) -> str:
    return f"/-/filing/{quote(list_kind, safe='')}/{quote(filing_number, safe='')}"


def company_url(name: str) -> str:
    return "/-/company/" + quote(name, safe="")


def batch_url(batch_id: str, version: int | None = None) -> str:
    # Batch ids are list/period (deep_synthesis/2024-04): the slash is kept, for a readable
    # address.
    url = "/-/batch/" + quote(batch_id, safe="/")
    return url + (f"?version={version}" if version is not None else "")


def search_url(query: str) -> str:
    return "/-/search?" + urlencode({"q": query})


def table_url(table: str, **filters: object) -> str:
    """A Datasette table page, filtered by exact values (`_sort_desc=…` etc. pass through)."""
    query = urlencode({k: str(v) for k, v in filters.items() if v is not None})
    return f"/{DATABASE}/{table}" + (f"?{query}" if query else "")


def query_url(name: str) -> str:
    return f"/{DATABASE}/{name}"


def download_url(name: str) -> str:
    return "/-/downloads/" + quote(name, safe="/")
