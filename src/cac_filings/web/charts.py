"""/-/charts: how the registry grew (filings per list, cumulative, by the date CAC first
published each one: filings.first_published_on) and where its filers are (by province).

Charts are SVG drawn on a fixed grid (viewBox) and scaled to the page's width: the growth
chart twice, once for a wide screen and once on a narrower grid with fewer year labels for a
phone (the page's CSS shows one), so that its labels keep a readable size at 390 px. The legend
and the province bars are HTML, so they wrap and stay legible on a phone. Built once per
release, in a thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from cac_filings.notes import escape
from cac_filings.schema import SUMMARY_FILING_COUNTS
from cac_filings.web.db import Reader, Row, read
from cac_filings.web.release import Release


@dataclass(frozen=True)
class Layout:
    """A chart's grid (SVG user units: at the width it is shown at, one unit is one pixel
    when `width` is that width) and how its labels are set."""
    name: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    font: int
    stroke: float
    years_shown: int  # at most this many year labels; more years skip some


# Shown at 577 px and more (the font is 13.9 px at the narrowest, 21 px at 900 px) …
WIDE = Layout("wide", 720, 380, 64, 24, 16, 40, 17, 3, 12)
# … and below (a phone's page is 358 px wide at 390 px: the font is 13 px).
NARROW = Layout("narrow", 360, 260, 50, 12, 14, 30, 13, 2.5, 5)


def chart_rows(reader: Reader, release: Release) -> Row:
    """The charts' numbers, from the filings counted per list, date, province and status
    when the release was written (summary_filing_counts)."""
    counts = release.summary(SUMMARY_FILING_COUNTS)
    growth = reader.rows(
        f"select list_kind, first_published_on as day, sum(n) as n from {counts} c "
        "where first_published_on is not null group by list_kind, first_published_on "
        "order by first_published_on")
    provinces = reader.rows(
        f"select coalesce(province, '') as province, sum(n) as n from {counts} c "
        "group by 1 order by n desc, province")
    undated = reader.rows(f"select coalesce(sum(n), 0) as n from {counts} c "
                          "where first_published_on is null")
    return {"growth": growth, "provinces": provinces, "undated": undated[0]["n"]}


def growth_series(rows: list[Row], release: Release) -> list[Row]:
    """Per approvals list (in the release's order), its cumulative count at each date."""
    series = []
    for kind in release.approval_kinds:
        points: list[tuple[dt.date, int]] = []
        total = 0
        for r in rows:
            if r["list_kind"] == kind["list_kind"]:
                total += r["n"]
                points.append((dt.date.fromisoformat(str(r["day"])[:10]), total))
        if points:
            series.append({"list_kind": kind["list_kind"], "color": kind["color"],
                           "label": release.label_text("list_kind", kind["list_kind"]),
                           "points": points, "total": total})
    return series


def _nice_top(value: int) -> int:
    """A round number at or above value (1, 2 or 5 times a power of ten)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def growth_svg(series: list[Row], layout: Layout = WIDE) -> str:
    """Cumulative filings per list over time: one step line per list."""
    if not series:
        return ""
    start: dt.date = min(s["points"][0][0] for s in series)
    end: dt.date = max(s["points"][-1][0] for s in series)
    span = max(1, (end - start).days)
    # Gridlines at a round step (1, 2 or 5 times a power of ten), four or five of them.
    most = max(int(s["total"]) for s in series)
    step = _nice_top(-(-most // 4))
    top = step * -(-most // step)
    lay = layout
    plot_w, plot_h = lay.width - lay.left - lay.right, lay.height - lay.top - lay.bottom

    def x(day: dt.date) -> float:
        return lay.left + plot_w * (day - start).days / span

    def y(value: int) -> float:
        return lay.top + plot_h * (1 - value / top)

    title_id = "growth-title" if lay is WIDE else f"growth-title-{lay.name}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {lay.width} {lay.height}" '
             f'width="100%" role="img" aria-labelledby="{title_id}" '
             f'class="cac-chart cac-chart-{lay.name}" data-font="{lay.font}">'
             f'<title id="{title_id}">Filings per list, cumulative, by first publication '
             '各清单累计备案数量（按首次公布日期）</title>']
    for value in range(0, top + 1, step):
        parts.append(f'<line x1="{lay.left}" x2="{lay.width - lay.right}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#ddd"/><text x="{lay.left - 6}" '
                     f'y="{y(value) + lay.font * 0.3:.1f}" font-size="{lay.font}" '
                     f'text-anchor="end">{value:,}</text>')
    years = list(range(start.year + 1, end.year + 1))
    every = -(-len(years) // lay.years_shown) if years else 1
    for year in years:
        tick = x(dt.date(year, 1, 1))
        parts.append(f'<line x1="{tick:.1f}" x2="{tick:.1f}" y1="{lay.top}" '
                     f'y2="{lay.height - lay.bottom}" stroke="#eee"/>')
        if (year - years[0]) % every == 0:
            parts.append(f'<text x="{tick:.1f}" y="{lay.height - lay.bottom + lay.font * 1.4:.1f}"'
                         f' font-size="{lay.font}" text-anchor="middle">{year}</text>')
    for s in series:
        path = [f"M{x(s['points'][0][0]):.1f},{y(0):.1f}"]
        previous = 0
        for day, total in s["points"]:
            path.append(f"L{x(day):.1f},{y(previous):.1f}L{x(day):.1f},{y(total):.1f}")
            previous = total
        path.append(f"L{x(end):.1f},{y(previous):.1f}")
        parts.append(f'<path d="{"".join(path)}" fill="none" stroke="{escape(s["color"])}" '
                     f'stroke-width="{lay.stroke}" data-list-kind="{escape(s["list_kind"])}">'
                     f'<title>{escape(s["label"])}: {s["total"]:,}</title></path>')
    parts.append(f'<line x1="{lay.left}" x2="{lay.width - lay.right}" y1="{y(0):.1f}" '
                 f'y2="{y(0):.1f}" stroke="#333"/></svg>')
    return "".join(parts)


def province_bars(rows: list[Row]) -> list[Row]:
    top = max((r["n"] for r in rows), default=1) or 1
    return [{**r, "percent": round(100 * r["n"] / top, 1)} for r in rows]


def build_charts(rows: Row, release: Release) -> Row:
    series = growth_series(rows["growth"], release)
    return {"growth_svg": growth_svg(series, WIDE) + growth_svg(series, NARROW),
            "series": series,
            "provinces": province_bars(rows["provinces"]), "undated": rows["undated"]}


async def charts(datasette: Any, release: Release) -> Row:
    async def compute() -> Row:
        rows = await read(datasette, lambda reader: chart_rows(reader, release))
        return await asyncio.to_thread(build_charts, rows, release)
    return await release.cached("charts", compute)
