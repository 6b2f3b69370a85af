"""A table page's counts, from the counts the release was written with.

Datasette counts the rows of a table page (`select count(*) from T where "c" = :p0`) and
each of its facets (`select c as value, count(*) as count from (select … from T …) where c
is not null group by c …`) on every request: at a million filings each is a pass over the
whole table. A release never changes, so summaries.py counted every faceted text column once,
overall and within each value of every other (summary_facet_counts). `summarised` recognises
exactly those two queries, with no condition or one equality on a faceted column, and gives
the same query of the summary instead. A search's count and facets are web.search_facets'.
Anything else (two filters, another operator, a release written before the summaries) runs
as Datasette wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from cac_filings.schema import SUMMARY_FACET_COUNTS, TABLES, quote_identifier
from cac_filings.summaries import faceted_text_columns

# The columns summary_facet_counts holds, per table.
COUNTED = {t.name: frozenset(faceted_text_columns(t)) for t in TABLES
           if faceted_text_columns(t)}
_SUMMARY = quote_identifier(SUMMARY_FACET_COUNTS.name)

# Datasette 0.65's SQL, white space squeezed: datasette/facets.py ColumnFacet.facet_results
# and datasette/views/table.py (count_sql, sql_no_order_no_limit, Filters' "col" = :p0).
def facet_query(rows: str) -> re.Pattern[str]:
    """Datasette's facet query of a table page whose rows are `rows` (a pattern of their FROM
    and WHERE, naming the table): the column, the rows' select list, the limit."""
    return re.compile(
        r"select (?P<column>\w+) as value, count\(\*\) as count from \( select (?P<select>.+?) "
        + rows + r" \) where (?P=column) is not null group by (?P=column) order by count desc, "
        r"value limit (?P<limit>\d+)")


_FACET_RE = facet_query(r"from (?P<table>\w+)(?: where \"(?P<where>\w+)\" = :p0)?")
_COUNT_RE = re.compile(r"select count\(\*\) from (?P<table>\w+) where \"(?P<where>\w+)\" = :p0")
# A table page's search (`?_search=`) is counted and faceted from its matches
# (web.search_facets).
FTS_TABLES = frozenset(t.name for t in TABLES if t.fts)

Params = Mapping[str, object] | list[object] | tuple[object, ...] | None
_IDENTIFIER_RE = re.compile(r'\w+|"\w+"|\[\w+\]')
COLUMNS = {t.name: frozenset(t.column_names) for t in TABLES}


def plain_columns(select: str, table: str) -> bool:
    """`select` is a list of `table`'s own columns (optionally after rowid), nothing else: a
    query of the SQL page shaped like Datasette's (`select count(*) …`, `company as
    province`) is not one of its table page's."""
    known = COLUMNS.get(table, frozenset()) | {"rowid"}
    return all(_IDENTIFIER_RE.fullmatch(item.strip()) and
               item.strip().strip('"[]') in known for item in select.split(","))


def _value(params: Params, filtered: bool) -> tuple[bool, object]:
    """The filter's value when `params` are exactly what the query's condition needs."""
    if not filtered:
        return (not params, None)
    if isinstance(params, Mapping) and set(params) == {"p0"} and isinstance(params["p0"], str):
        return True, params["p0"]
    return False, None


def summarised(sql: str, params: Params, summaries: Collection[str]
               ) -> tuple[str, dict[str, object]] | None:
    """The summary query answering `sql` with `params` exactly, or None."""
    if SUMMARY_FACET_COUNTS.name not in summaries:
        return None
    text = " ".join(sql.split())
    found = _COUNT_RE.fullmatch(text)
    if found:
        table, where = found["table"], found["where"]
        ok, value = _value(params, True)
        if not ok or where not in COUNTED.get(table, ()):
            return None
        return (f"select coalesce((select n from {_SUMMARY} where table_name = :table and "
                "filter_column = '' and filter_value = '' and column_name = :column and "
                "value = :value), 0) as [count(*)]",
                {"table": table, "column": where, "value": value})
    found = _FACET_RE.fullmatch(text)
    if found is None:
        return None
    table, column, where = found["table"], found["column"], found["where"]
    columns = COUNTED.get(table, frozenset())
    selected = {c.strip().strip('"[]') for c in found["select"].split(",")}
    ok, value = _value(params, where is not None)
    if not ok or column not in columns or column not in selected or not plain_columns(
            found["select"], table) or (
            where is not None and where not in columns):
        return None
    chosen: dict[str, object] = {"table": table, "column": column,
                                 "limit": int(found["limit"])}
    if where is None:
        condition = "filter_column = '' and filter_value = ''"
    elif where == column:  # the facet of the column filtered on: the one value
        condition = "filter_column = '' and filter_value = '' and value = :value"
        chosen["value"] = value
    else:
        condition = "filter_column = :where and filter_value = :value"
        chosen.update(where=where, value=value)
    return (f"select value, n as count from {_SUMMARY} where table_name = :table and "
            f"{condition} and column_name = :column order by count desc, value limit :limit",
            chosen)
