"""One company on one page: its filings in every list (under its former names too, from 备注
such as 原主体名称“X”变更为“Y”), the batches that listed them, its cancellations."""

from __future__ import annotations

from typing import Any

from cac_filings.schema import SUMMARY_FORMER_NAMES
from cac_filings.web.db import Reader, Row, json_list, read
from cac_filings.web.release import Release


def company_names(reader: Reader, release: Release, name: str
                  ) -> tuple[Row | None, list[str], list[str]]:
    """Every name the company goes by: its companies row (None for a name no company has
    now), the names to look for (`name` first, then its former names; for a former name, the
    companies now named otherwise and their own former names), and those current names."""
    row = reader.first("select * from companies where company = ?", [name])
    # The companies that name it among their former names (summary_former_names: one row
    # per name), in the companies table's order.
    renamed_to = [r["company"] for r in reader.rows(
        f"select n.company from {release.summary(SUMMARY_FORMER_NAMES)} n join companies c "
        "on c.company = n.company where n.former_name = ? order by c.rowid", [name])]
    names = [name, *(str(n) for n in json_list((row or {}).get("former_names")))]
    for current in renamed_to if row is None else ():
        now = reader.first("select former_names from companies where company = ?", [current])
        names += [current, *(str(n) for n in json_list((now or {}).get("former_names")))]
    return row, list(dict.fromkeys(names)), renamed_to


def company_details(reader: Reader, release: Release, name: str) -> Row | None:
    row, names, renamed_to = company_names(reader, release, name)
    if row is None and not renamed_to:
        return None
    info = row or {"company": name, "former_names": "[]", "list_kinds": "[]"}
    marks = ", ".join("?" for _ in names)
    filings = reader.rows(
        "select f.list_kind, f.filing_number, f.name, f.company, f.category, f.role, "
        "f.province, f.status, f.cancelled_on, f.first_batch_id, f.last_batch_id, "
        "f.first_published_on, f.products, b.published_on_precision from filings f "
        "left join batches b on b.batch_id = f.first_batch_id and b.is_current "
        f"where f.company in ({marks}) order by f.first_published_on is null, "
        "f.first_published_on desc, f.list_kind, f.filing_number", names)
    listings = reader.rows(
        "select l.batch_id, l.version, b.title, b.period, b.published_on, "
        "b.published_on_precision, b.is_current, count(*) as rows from listings l "
        "join batches b on b.batch_id = l.batch_id and b.version = l.version "
        f"where l.company in ({marks}) group by l.batch_id, l.version "
        "order by b.published_on is null, b.published_on desc, l.batch_id, l.version", names)
    cancellations = reader.rows(
        "select notice_date, notice_title, filing_number, name, cancelled_month, list_kinds, "
        f"source_url from cancellations where company in ({marks}) "
        "order by notice_date desc, filing_number", names)
    for x in cancellations:
        x["list_kinds"] = json_list(x["list_kinds"])
    former = [str(n) for n in json_list(info.get("former_names"))]
    return {"company": info, "current": row is not None, "names": names,
            "former_names": former, "renamed_to": renamed_to,
            "filings": filings,
            "list_kinds": [str(k) for k in json_list(info.get("list_kinds"))],
            "listings": listings, "cancellations": cancellations}


async def company(datasette: Any, release: Release, name: str) -> Row | None:
    return await read(datasette, lambda reader: company_details(reader, release, name))
