"""Human-readable outputs of a release: CHANGES.md and an Atom feed of new approvals."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cac_filings.diff import Change, count_changes
from cac_filings.kinds import Registry

if TYPE_CHECKING:
    from cac_filings.build import Problem

Row = dict[str, Any]

HEADINGS = {"added": "Added 新增", "modified": "Modified 修改", "cancelled": "Cancelled 注销",
            "removed": "Removed 移除"}
FEED_ID = "tag:cac-filings,2026:new-approvals"


# Characters XML 1.0 does not allow at all (a cell may hold a stray vertical tab).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


_NEEDS_ESCAPE = re.compile('[&<>"\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')


def escape(text: str) -> str:
    """Text for XML content and attribute values."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text  # most names and numbers: nothing to replace
    return (_NOT_XML.sub("", text).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


@dataclass(frozen=True)
class AtomEntry:
    id: str
    title: str
    updated: str  # RFC 3339, UTC
    link: str
    category: str
    summary: str


def atom_document(feed_id: str, title: str, link: str, entries: Sequence[AtomEntry], *,
                  updated: str | None = None, subtitle: str | None = None,
                  self_link: str | None = None) -> str:
    """An Atom feed (RFC 4287); `updated` defaults to the first (newest) entry's; `link` is
    the page the feed follows, `self_link` the feed's own address where it is known."""
    if updated is None:
        updated = entries[0].updated if entries else "1970-01-01T00:00:00Z"
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n'
             '<feed xmlns="http://www.w3.org/2005/Atom">\n',
             f"  <id>{escape(feed_id)}</id>\n",
             f"  <title>{escape(title)}</title>\n",
             f"  <updated>{escape(updated)}</updated>\n",
             "  <author><name>cac-filings</name></author>\n",
             f'  <link rel="alternate" href="{escape(link)}"/>\n']
    if self_link:
        parts.append(f'  <link rel="self" type="application/atom+xml" '
                     f'href="{escape(self_link)}"/>\n')
    if subtitle:
        parts.append(f"  <subtitle>{escape(subtitle)}</subtitle>\n")
    escaped: dict[str, str] = {}  # links and categories: the same few in every entry
    for e in entries:
        href = escaped.get(e.link)
        if href is None:
            href = escaped[e.link] = escape(e.link)  # a CAC download link has an &
        category = escaped.get(e.category)
        if category is None:
            category = escaped[e.category] = escape(e.category)
        fields: tuple[str, ...] = (e.id, e.title, e.updated, e.summary)
        # One test of the rest (joined by a character never escaped): mostly nothing to do.
        if _NEEDS_ESCAPE.search("\n".join(fields)) is not None:
            fields = tuple(map(escape, fields))
        entry_id, entry_title, entry_updated, summary = fields
        parts.append("  <entry>\n"
                     f"    <id>{entry_id}</id>\n"
                     f"    <title>{entry_title}</title>\n"
                     f"    <updated>{entry_updated}</updated>\n"
                     f'    <link rel="alternate" href="{href}"/>\n'
                     f'    <category term="{category}"/>\n'
                     f"    <summary>{summary}</summary>\n"
                     "  </entry>\n")
    parts.append("</feed>\n")
    return "".join(parts)


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def changes_markdown(release_id: str, previous_id: str | None, created_at: str,
                     changes: list[Change], kinds: Registry,
                     problems: Sequence[Problem] = ()) -> str:
    """CHANGES.md: counts, what was held back, then every change grouped by list and
    company."""
    counts = count_changes(changes)
    lines = [f"# cac-filings release {release_id}", "",
             f"Built {created_at}; compared with "
             + (f"release {previous_id}." if previous_id else "nothing (first release)."), "",
             " · ".join(f"{n} {kind}" for kind, n in counts.items()), ""]
    held = [p for p in problems if p.severity == "held_back"]
    other = [p for p in problems if p.severity != "held_back"]
    if held:
        lines += [f"## Held back 暂缓发布 ({len(held)})", "",
                  "These file versions could not be read or failed a check of their own; they "
                  "are not in this release (where a batch was published before, its previous "
                  "version stays current). Every run tries them again.", ""]
        lines += [f"- {_value(p.line())}" for p in held] + [""]
    if other:
        lines += [f"## Reported 需要关注 ({len(other)})", ""]
        lines += [f"- {_value(p.line())}" for p in other] + [""]
    if not changes:
        lines.append("No filing changed.")
    by_list: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        by_list[change.list_kind].append(change)
    order = {k: i for i, k in enumerate(kinds.keys())}
    for list_kind in sorted(by_list, key=lambda k: (order.get(k, len(order)), k)):
        title = kinds[list_kind].title if list_kind in kinds else list_kind
        lines += [f"## {title}", ""]
        for kind, heading in HEADINGS.items():
            of_kind = [c for c in by_list[list_kind] if c.change == kind]
            if not of_kind:
                continue
            lines += [f"### {heading} ({len(of_kind)})", ""]
            by_company: dict[str, list[Change]] = defaultdict(list)
            for change in of_kind:
                by_company[change.company or "(no company)"].append(change)
            for company in sorted(by_company):
                lines.append(f"- **{company}**")
                for change in by_company[company]:
                    lines.append(f"  - {change.name or '(no name)'} — `{change.filing_number}`")
                    for field in change.fields:
                        before = (change.before or {}).get(field)
                        after = (change.after or {}).get(field)
                        lines.append(f"    - {field}: {_value(before)} → {_value(after)}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# The fields of a new filing that its entry's summary names, after its list's label.
_SUMMARY_FIELDS = (("category", "类别"), ("role", "角色"), ("scenario", "适用场景"),
                   ("purpose", "主要用途"), ("province", "省份"))


def atom_feed(release_id: str, created_at: str, changes: list[Change],
              filings: dict[tuple[str, str], Row], kinds: Registry) -> str:
    """An Atom feed of the filings added in this release, newest publication first, each
    dated by the day CAC published its batch (`filings` maps (list_kind, number) to the
    filing's row: its first_published_on and source_url)."""
    entries: list[tuple[str, AtomEntry]] = []
    labels: dict[str, list[str]] = {}  # list kind → its label, as the summary's first part
    for change in changes:
        if change.change != "added":
            continue
        after = change.after or {}
        filing = filings.get((change.list_kind, change.filing_number), {})
        published = filing.get("first_published_on")
        day = f"{published}T00:00:00Z" if published else created_at
        kind = labels.get(change.list_kind)
        if kind is None:
            label = kinds[change.list_kind].label if change.list_kind in kinds else None
            kind = labels[change.list_kind] = [label] if label else []
        summary = "; ".join(kind + [f"{label}: {value}" for field, label in _SUMMARY_FIELDS
                                    if (value := after.get(field))])
        entries.append((day, AtomEntry(
            f"urn:cac-filings:filing:{change.list_kind}:{change.filing_number}",
            f"{change.name or change.filing_number} — {change.company or ''}", day,
            str(filing.get("source_url") or "https://www.cac.gov.cn/"), change.list_kind,
            change.filing_number + ("; " + summary if summary else ""))))
    entries.sort(key=lambda e: e[0], reverse=True)
    return atom_document(FEED_ID, "cac-filings: new algorithm filings approved by the CAC "
                                  "新增算法备案", "https://www.cac.gov.cn/",
                         [e for _, e in entries], updated=created_at,
                         subtitle=f"Release {release_id}")
