"""/-/search: one search box over filings, companies and cancellations (search.parse_search
reads it: Chinese of any length, pinyin, numbers, words), ranked, each result with its list,
its date and the part that matched highlighted; a way forward when nothing matches.

A query that matches up to SCORED_AT_MOST rows of a table has every match scored and ranked
(SECTIONS): every query of a registry of CAC's size today. One that matches more (a common
word: 北京, 科技 match most of a registry of a million filings)
is read tier by tier in the full-text index's order, stopping when the page is full: the
filings whose name has the query's first term, then those whose company has it, then the
rest (companies: the name itself, then names that contain it, then the rest) — never scoring
every match. The tiers of filings are read from the release's name and company indexes
(summaries.TIER_FTS); a release without them scores every match, as before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from cac_filings.search import SearchQuery, SearchTerm, highlight, parse_search, suggest_shorter
from cac_filings.summaries import TIER_FTS
from cac_filings.web.db import Reader, Row, json_list, read
from cac_filings.web.urls import table_url

LIMIT = 50
# A table whose matches are more than this is read tier by tier (see above). Scoring costs
# about 1.5 µs a match at a million filings (10,000: 15 ms; 大模型's 200,000: 0.3 s).
SCORED_AT_MOST = 10_000
# Companies sharing a character with a query that found nothing are ranked by how many they
# share when at most this many do (an OR of many characters costs more a match to score).
SIMILAR_SCORED_AT_MOST = 1_000
# How many rows of a tier index are read to learn that few filings have the term in that
# column (a tier that few are in is read whole and checked row by row).
FEW_IN_TIER = 200
Parts = list[tuple[str, bool]]


@dataclass(frozen=True)
class Section:
    table: str
    title: str
    sql: str  # every match, scored and ranked
    rows_sql: str  # the same columns, of the rows whose rowids are given (:rowids, JSON)


# Ranking: the typed text inside the name first, then inside the company, then FTS5's bm25
# (name and company weigh most; then the number, pinyin, products, purpose). bm25 alone would
# put short rows first: it normalises by the length of the whole row, purposes included.
FILING_COLUMNS = """f.list_kind, f.filing_number, f.name, f.company, f.province, f.status,
               f.category, f.role, f.products, f.purpose, f.scenario, f.first_published_on,
               f.cancelled_on, c.pinyin as company_pinyin"""
COMPANY_COLUMNS = """c.company, c.province, c.n_filings, c.list_kinds, c.former_names, c.pinyin,
               c.first_published_on, c.last_published_on"""
CANCELLATION_COLUMNS = """x.notice_id, x.notice_title, x.notice_date, x.filing_number, x.name,
               x.company, x.cancelled_month, x.list_kinds, x.source_url"""
ROWIDS = "(select value from json_each(:rowids))"

SECTIONS = (
    Section("filings", "备案 Filings", f"""
        select {FILING_COLUMNS},
               bm25(filings_fts, 10.0, 8.0, 3.0, 1.0, 5.0, 4.0) as score
        from filings_fts join filings f on f.rowid = filings_fts.rowid
        left join companies c on c.company = f.company
        where filings_fts match :query
        order by instr(coalesce(f.name, ''), :text) = 0,
                 instr(coalesce(f.company, ''), :text) = 0, score, f.filing_number
        limit :limit""", f"""
        select f.rowid as _rowid, {FILING_COLUMNS} from filings f
        left join companies c on c.company = f.company where f.rowid in {ROWIDS}"""),
    Section("companies", "主体 Companies", f"""
        select {COMPANY_COLUMNS},
               bm25(companies_fts, 10.0, 5.0, 2.0) as score
        from companies_fts join companies c on c.rowid = companies_fts.rowid
        where companies_fts match :query
        order by c.company != :text, instr(c.company, :text) = 0, score, c.n_filings desc
        limit :limit""", f"""
        select c.rowid as _rowid, {COMPANY_COLUMNS} from companies c
        where c.rowid in {ROWIDS}"""),
    Section("cancellations", "注销 Cancellations", f"""
        select {CANCELLATION_COLUMNS}, bm25(cancellations_fts) as score
        from cancellations_fts join cancellations x on x.rowid = cancellations_fts.rowid
        where cancellations_fts match :query order by score, x.notice_date desc
        limit :limit""", f"""
        select x.rowid as _rowid, {CANCELLATION_COLUMNS} from cancellations x
        where x.rowid in {ROWIDS}"""),
)

# Where else a filing may have matched, in the order they are shown as its reason.
REASONS = (("products", "产品 products"), ("purpose", "用途 purpose"),
           ("filing_number", "编号 number"), ("scenario", "场景 scenario"),
           ("company_pinyin", "拼音 pinyin"))


def excerpt(parts: Parts, before: int = 24, after: int = 60) -> Parts:
    """The parts around the first match, cut with … (a purpose can be a paragraph)."""
    start = next((i for i, (_, hit) in enumerate(parts) if hit), None)
    if start is None:
        return []
    head = "".join(text for text, _ in parts[:start])
    out: Parts = [("…" + head[-before:], False)] if len(head) > before else (
        [(head, False)] if head else [])
    room = after
    for text, hit in parts[start:]:
        if room <= 0:
            out.append(("…", False))
            break
        out.append((text, hit) if hit or len(text) <= room else (text[:room] + "…", False))
        room -= len(text)
    return out


def _product_text(products: object) -> str:
    return "、".join(str(p.get("name")) for p in json_list(products)
                    if isinstance(p, dict) and p.get("name"))


def _explain_filing(row: Row, query: SearchQuery) -> Row:
    row["name_parts"] = highlight(row["name"], query)
    row["company_parts"] = highlight(row["company"], query)
    row["products_text"] = _product_text(row["products"])
    row["reason"] = None
    for column, label in REASONS:
        text = row["products_text"] if column == "products" else row.get(column)
        parts = excerpt(highlight(text, query)) if text else []
        if parts:
            row["reason"] = {"field": column, "label": label, "parts": parts}
            break
    return row


def _explain_company(row: Row, query: SearchQuery) -> Row:
    row["company_parts"] = highlight(row["company"], query)
    row["list_kinds"] = [str(k) for k in json_list(row["list_kinds"])]
    row["former_names"] = [str(n) for n in json_list(row["former_names"])]
    row["pinyin_parts"] = highlight(row["pinyin"], query)
    row["former_parts"] = [highlight(n, query) for n in row["former_names"]]
    return row


def _explain_cancellation(row: Row, query: SearchQuery) -> Row:
    row["name_parts"] = highlight(row["name"], query)
    row["company_parts"] = highlight(row["company"], query)
    row["list_kinds"] = [str(k) for k in json_list(row["list_kinds"])]
    return row


EXPLAIN = {"filings": _explain_filing, "companies": _explain_company,
           "cancellations": _explain_cancellation}


def _hits(reader: Reader, match: str, cap: int = 100) -> int:
    """How many filings, companies and cancellations `match` finds, counting up to `cap`."""
    return sum(_count(reader, s.table, match, cap) for s in SECTIONS)


def _count(reader: Reader, table: str, match: str, cap: int) -> int:
    """Rows of `table` matching `match`, counted up to `cap`."""
    found = reader.rows(f"select count(*) as n from (select 1 from {table}_fts where "
                        f"{table}_fts match ? limit ?)", [match, cap])
    return int(found[0]["n"])


def _rowids(reader: Reader, fts: str, match: str, limit: int) -> list[int]:
    """The rowids `match` finds in the full-text table `fts`, in its order, up to `limit`."""
    return [r["rowid"] for r in reader.rows(
        f"select rowid from {fts} where {fts} match ? order by rowid limit ?", [match, limit])]


def _in_column(column: str, term: SearchTerm) -> str:
    """An FTS5 expression: `term` inside `column`."""
    return f"{{{column}}} : ({term.match})"


def _tiers_of_filings(reader: Reader, query: SearchQuery, limit: int) -> list[int]:
    """The rowids of the filings shown for a query matching many: those whose name has the
    first term, then those whose company has it, then the rest, each tier in rowid order,
    stopping at `limit`. A tier few filings are in (at most FEW_IN_TIER have the term in
    that column) is read whole from its index (summaries.TIER_FTS) and each of its rows
    checked against the query; a larger one is read from the filings' index, where it is
    dense enough to fill the page quickly."""
    term, whole = query.terms[0], query.match
    single = len(query.terms) == 1  # every row having the term matches the query
    chosen: list[int] = []
    known: set[int] = set()  # rows of the few-row tiers read so far
    dense: list[str] = []  # the columns of the many-row tiers read so far

    def add(rowids: Iterable[int]) -> None:
        for rowid in rowids:
            if len(chosen) < limit and rowid not in chosen:
                chosen.append(rowid)

    def outside(columns: list[str]) -> str:
        return "".join(f" NOT {_in_column(c, term)}" for c in columns)

    for column in ("name", "company"):
        if len(chosen) >= limit:
            return chosen
        few = _rowids(reader, TIER_FTS[column], term.match, FEW_IN_TIER + 1)
        if len(few) <= FEW_IN_TIER:
            add(r for r in few if r not in known and (single or reader.first(
                "select 1 from filings_fts where filings_fts match ? and rowid = ?",
                [f"({whole}){outside(dense)}", r])))
            known.update(few)
        else:
            add(r for r in _rowids(
                reader, "filings_fts",
                f"({whole}) AND ({_in_column(column, term)}{outside(dense)})",
                limit + len(known)) if r not in known)
            dense.append(column)
    if len(chosen) < limit:
        add(r for r in _rowids(reader, "filings_fts", f"({whole}){outside(dense)}",
                               limit + len(known)) if r not in known)
    return chosen


def _tiers_of_companies(reader: Reader, query: SearchQuery, limit: int) -> list[int]:
    """The rowids of the companies shown for a query matching many: the company of that
    name, then those whose name has the first term, then the rest, each in rowid order."""
    term, whole = query.terms[0], query.match
    chosen = [r["rowid"] for r in reader.rows(
        "select c.rowid from companies c where c.company = ? and exists (select 1 from "
        "companies_fts where companies_fts match ? and companies_fts.rowid = c.rowid)",
        [term.text, whole])]
    for expression in (f"({whole}) AND {_in_column('company', term)}",
                       f"({whole}) NOT {_in_column('company', term)}"):
        if len(chosen) >= limit:
            break
        chosen += [r for r in _rowids(reader, "companies_fts", expression, limit + 1)
                   if r not in chosen][:limit - len(chosen)]
    return chosen


def _tiered(reader: Reader, section: Section, query: SearchQuery, limit: int) -> list[Row]:
    """The rows of a query matching many, in tier order (see above)."""
    if section.table == "filings":
        rowids = _tiers_of_filings(reader, query, limit)
    elif section.table == "companies":
        rowids = _tiers_of_companies(reader, query, limit)
    else:
        rowids = _rowids(reader, "cancellations_fts", query.match, limit)
    found = {r.pop("_rowid"): r for r in reader.rows(
        section.rows_sql, {"rowids": "[" + ",".join(map(str, rowids)) + "]"})}
    return [found[r] for r in rowids if r in found]


def section_rows(reader: Reader, section: Section, query: SearchQuery, limit: int,
                 summaries: Collection[str]) -> list[Row]:
    """The rows of one section for `query` (not matching nothing): every match scored when
    there are few (or the release has no tier indexes), else tier by tier."""
    tiers = section.table != "filings" or all(t in summaries for t in TIER_FTS.values())
    if tiers and _count(reader, section.table, query.match,
                        SCORED_AT_MOST + 1) > SCORED_AT_MOST:
        return _tiered(reader, section, query, limit)
    return reader.rows(section.sql, {"query": query.match, "limit": limit,
                                     "text": query.terms[0].text})


def _any_token(query: SearchQuery) -> str | None:
    """An FTS5 expression matching any single token of the query: companies that share
    characters or words with it rank by how many they share (bm25)."""
    tokens = dict.fromkeys(t for term in query.terms for t in term.tokens)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in tokens) or None


def similar_companies(reader: Reader, query: SearchQuery, limit: int = 5,
                      suggestions: list[Row] | None = None) -> list[Row]:
    """Companies sharing characters or words with a query that found nothing, those sharing
    most first (bm25); when very many share one, those matching the first shorter query that
    finds something (`suggestions`), in index order."""
    expression = _any_token(query)
    if expression is None:
        return []
    if _count(reader, "companies", expression,
              SIMILAR_SCORED_AT_MOST + 1) > SIMILAR_SCORED_AT_MOST:
        shorter = [parse_search(s["query"]).match for s in suggestions or ()]
        rowids = _rowids(reader, "companies_fts", (shorter or [expression])[0], limit)
        found = {r["rowid"]: r for r in reader.rows(
            f"select rowid, company, n_filings, province from companies where rowid in "
            f"{ROWIDS}", {"rowids": "[" + ",".join(map(str, rowids)) + "]"})}
        return [{k: v for k, v in found[r].items() if k != "rowid"} for r in rowids
                if r in found]
    return reader.rows(
        "select c.company, c.n_filings, c.province from companies_fts join companies c on "
        "c.rowid = companies_fts.rowid where companies_fts match ? "
        "order by bm25(companies_fts, 10.0, 5.0, 2.0), c.n_filings desc limit ?",
        [expression, limit])


def run_search(reader: Reader, text: str, limit: int = LIMIT,
               summaries: Collection[str] = ()) -> Row:
    query = parse_search(text)
    searched = query.truncated_to if query.too_long else query.text
    sections: list[Row] = []
    total = 0
    for section in SECTIONS:
        rows: list[Row] = []
        if not query.matches_nothing:
            rows = [EXPLAIN[section.table](r, query)
                    for r in section_rows(reader, section, query, limit, summaries)]
        # Only the first `limit` are listed: the table's own search (the same match) has
        # every one, with Datasette's count, facets and paging.
        sections.append({"table": section.table, "title": section.title, "rows": rows,
                         "more": len(rows) == limit,
                         "all_matches_url": table_url(section.table, _search=searched)})
        total += len(rows)
    suggestions: list[Row] = []
    similar: list[Row] = []
    if total == 0 and query.terms:
        for candidate in suggest_shorter(query):
            found = _hits(reader, parse_search(candidate).match)
            if found:
                suggestions.append({"query": candidate, "hits": found})
        similar = similar_companies(reader, query, suggestions=suggestions)
    return {"query": query.text, "match": query.match, "too_long": query.too_long,
            "searched": searched,
            "sections": sections, "total": total, "suggestions": suggestions,
            "similar_companies": similar}


async def search(datasette: Any, text: str, limit: int = LIMIT,
                 summaries: Collection[str] = ()) -> Row:
    """Ranked results for the search box's `text` in every searchable table (`summaries`:
    the summary tables of the release served)."""
    return await read(datasette, lambda reader: run_search(reader, text, limit, summaries))


_SHOWN = {"filings": ("list_kind", "filing_number", "name", "company", "province", "status",
                      "category", "role", "products", "purpose", "scenario",
                      "first_published_on", "cancelled_on"),
          "companies": ("company", "province", "n_filings", "list_kinds", "former_names",
                        "pinyin", "first_published_on", "last_published_on"),
          "cancellations": ("notice_id", "notice_title", "notice_date", "filing_number", "name",
                            "company", "cancelled_month", "list_kinds", "source_url")}


def as_json(results: Row) -> Row:
    """The results for /-/search.json: the columns, and which field matched a filing."""
    sections = []
    for section in results["sections"]:
        shown = _SHOWN[section["table"]]
        rows = []
        for row in section["rows"]:
            out = {k: row.get(k) for k in shown}
            if row.get("reason"):
                out["matched_in"] = row["reason"]["field"]
            rows.append(out)
        sections.append({"table": section["table"], "title": section["title"], "rows": rows,
                         "more": section["more"],
                         "all_matches_url": section["all_matches_url"]})
    return {**{k: results[k] for k in ("query", "match", "too_long", "searched", "total",
                                       "suggestions", "similar_companies")},
            "sections": sections}
