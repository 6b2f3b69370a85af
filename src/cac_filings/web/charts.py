"""/-/charts: how the registry grew (filings per list, cumulative, by the date CAC first
published each one: filings.first_published_on) and where its filers are (by province).

Charts are SVG drawn on a fixed grid (viewBox) and scaled to the page's width; the legend
and the province bars are HTML, so they wrap and stay legible on a phone. Built once per
release, in a thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from cac_filings.notes import escape
from cac_filings.schema import SUMMARY_FILING_COUNTS
from cac_filings.web.db import Reader, Row, read
from cac_filings.web.release import Release

WIDTH, HEIGHT = 720, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 16, 40


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


def growth_svg(series: list[Row]) -> str:
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
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: dt.date) -> float:
        return LEFT + plot_w * (day - start).days / span

    def y(value: int) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             'width="100%" role="img" aria-labelledby="growth-title" class="cac-chart">'
             '<title id="growth-title">Filings per list, cumulative, by first publication '
             '各清单累计备案数量（按首次公布日期）</title>']
    for value in range(0, top + 1, step):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#ddd"/><text x="{LEFT - 8}" '
                     f'y="{y(value) + 5:.1f}" font-size="17" text-anchor="end">'
                     f'{value:,}</text>')
    for year in range(start.year + 1, end.year + 1):
        tick = x(dt.date(year, 1, 1))
        parts.append(f'<line x1="{tick:.1f}" x2="{tick:.1f}" y1="{TOP}" '
                     f'y2="{HEIGHT - BOTTOM}" stroke="#eee"/><text x="{tick:.1f}" '
                     f'y="{HEIGHT - BOTTOM + 24}" font-size="17" text-anchor="middle">'
                     f'{year}</text>')
    for s in series:
        path = [f"M{x(s['points'][0][0]):.1f},{y(0):.1f}"]
        previous = 0
        for day, total in s["points"]:
            path.append(f"L{x(day):.1f},{y(previous):.1f}L{x(day):.1f},{y(total):.1f}")
            previous = total
        path.append(f"L{x(end):.1f},{y(previous):.1f}")
        parts.append(f'<path d="{"".join(path)}" fill="none" stroke="{escape(s["color"])}" '
                     f'stroke-width="3" data-list-kind="{escape(s["list_kind"])}">'
                     f'<title>{escape(s["label"])}: {s["total"]:,}</title></path>')
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
                 'stroke="#333"/></svg>')
    return "".join(parts)


def province_bars(rows: list[Row]) -> list[Row]:
    top = max((r["n"] for r in rows), default=1) or 1
    return [{**r, "percent": round(100 * r["n"] / top, 1)} for r in rows]


def build_charts(rows: Row, release: Release) -> Row:
    series = growth_series(rows["growth"], release)
    return {"growth_svg": growth_svg(series), "series": series,
            "provinces": province_bars(rows["provinces"]), "undated": rows["undated"]}


async def charts(datasette: Any, release: Release) -> Row:
    async def compute() -> Row:
        rows = await read(datasette, lambda reader: chart_rows(reader, release))
        return await asyncio.to_thread(build_charts, rows, release)
    return await release.cached("charts", compute)
