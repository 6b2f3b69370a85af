"""/-/search: one search box over filings, companies and cancellations (search.parse_search
reads it: Chinese of any length, pinyin, numbers, words), ranked, each result with its list,
its date and the part that matched highlighted; a way forward when nothing matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cac_filings.search import SearchQuery, highlight, parse_search, suggest_shorter
from cac_filings.web.db import Reader, Row, json_list, read

LIMIT = 50
Parts = list[tuple[str, bool]]


@dataclass(frozen=True)
class Section:
    table: str
    title: str
    sql: str


# Ranking: the typed text inside the name first, then inside the company, then FTS5's bm25
# (name and company weigh most; then the number, pinyin, products, purpose). bm25 alone would
# put short rows first: it normalises by the length of the whole row, purposes included.
SECTIONS = (
    Section("filings", "备案 Filings", """
        select f.list_kind, f.filing_number, f.name, f.company, f.province, f.status,
               f.category, f.role, f.products, f.purpose, f.scenario, f.first_published_on,
               f.cancelled_on, c.pinyin as company_pinyin,
               bm25(filings_fts, 10.0, 8.0, 3.0, 1.0, 5.0, 4.0) as score
        from filings_fts join filings f on f.rowid = filings_fts.rowid
        left join companies c on c.company = f.company
        where filings_fts match :query
        order by instr(coalesce(f.name, ''), :text) = 0,
                 instr(coalesce(f.company, ''), :text) = 0, score, f.filing_number
        limit :limit"""),
    Section("companies", "主体 Companies", """
        select c.company, c.province, c.n_filings, c.list_kinds, c.former_names, c.pinyin,
               c.first_published_on, c.last_published_on,
               bm25(companies_fts, 10.0, 5.0, 2.0) as score
        from companies_fts join companies c on c.rowid = companies_fts.rowid
        where companies_fts match :query
        order by c.company != :text, instr(c.company, :text) = 0, score, c.n_filings desc
        limit :limit"""),
    Section("cancellations", "注销 Cancellations", """
        select x.notice_id, x.notice_title, x.notice_date, x.filing_number, x.name, x.company,
               x.cancelled_month, x.list_kinds, x.source_url, bm25(cancellations_fts) as score
        from cancellations_fts join cancellations x on x.rowid = cancellations_fts.rowid
        where cancellations_fts match :query order by score, x.notice_date desc
        limit :limit"""),
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
    return sum(reader.rows(f"select count(*) as n from (select 1 from {s.table}_fts where "
                           f"{s.table}_fts match ? limit ?)", [match, cap])[0]["n"]
               for s in SECTIONS)


def _any_token(query: SearchQuery) -> str | None:
    """An FTS5 expression matching any single token of the query: companies that share
    characters or words with it rank by how many they share (bm25)."""
    tokens = dict.fromkeys(t for term in query.terms for t in term.tokens)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in tokens) or None


def similar_companies(reader: Reader, query: SearchQuery, limit: int = 5) -> list[Row]:
    expression = _any_token(query)
    if expression is None:
        return []
    return reader.rows(
        "select c.company, c.n_filings, c.province from companies_fts join companies c on "
        "c.rowid = companies_fts.rowid where companies_fts match ? "
        "order by bm25(companies_fts, 10.0, 5.0, 2.0), c.n_filings desc limit ?",
        [expression, limit])


def run_search(reader: Reader, text: str, limit: int = LIMIT) -> Row:
    query = parse_search(text)
    sections: list[Row] = []
    total = 0
    for section in SECTIONS:
        rows: list[Row] = []
        if not query.matches_nothing:
            first = query.terms[0].text if query.terms else ""
            rows = [EXPLAIN[section.table](r, query) for r in reader.rows(
                section.sql, {"query": query.match, "limit": limit, "text": first})]
        sections.append({"table": section.table, "title": section.title, "rows": rows,
                         "more": len(rows) == limit})
        total += len(rows)
    suggestions: list[Row] = []
    similar: list[Row] = []
    if total == 0 and query.terms:
        for candidate in suggest_shorter(query):
            found = _hits(reader, parse_search(candidate).match)
            if found:
                suggestions.append({"query": candidate, "hits": found})
        similar = similar_companies(reader, query)
    return {"query": query.text, "match": query.match, "too_long": query.too_long,
            "searched": query.truncated_to if query.too_long else query.text,
            "sections": sections, "total": total, "suggestions": suggestions,
            "similar_companies": similar}


async def search(datasette: Any, text: str, limit: int = LIMIT) -> Row:
    """Ranked results for the search box's `text` in every searchable table."""
    return await read(datasette, lambda reader: run_search(reader, text, limit))


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
        sections.append({"table": section["table"], "title": section["title"], "rows": rows})
    return {**{k: results[k] for k in ("query", "match", "too_long", "searched", "total",
                                       "suggestions", "similar_companies")},
            "sections": sections}
