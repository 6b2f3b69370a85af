"""Human-readable outputs of a release: CHANGES.md and an Atom feed of new approvals."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from cac_filings.diff import Change, count_changes

LIST_TITLES = {
    "algorithm": "境内互联网信息服务算法备案清单 · algorithm-recommendation filings",
    "deep_synthesis": "境内深度合成服务算法备案清单 · deep-synthesis filings",
    "genai_filing": "生成式人工智能服务已备案信息 · generative-AI filings",
    "genai_registration": "生成式人工智能服务已登记信息 · generative-AI registrations",
}
HEADINGS = {"added": "Added 新增", "modified": "Modified 修改", "cancelled": "Cancelled 注销",
            "removed": "Removed 移除"}
FEED_ID = "tag:cac-filings,2026:new-approvals"


def escape(text: str) -> str:
    """Text for XML content and attribute values."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def changes_markdown(release_id: str, previous_id: str | None, created_at: str,
                     changes: list[Change]) -> str:
    """CHANGES.md: counts, then every change grouped by list and company."""
    counts = count_changes(changes)
    lines = [f"# cac-filings release {release_id}", "",
             f"Built {created_at}; compared with "
             + (f"release {previous_id}." if previous_id else "nothing (first release)."), "",
             " · ".join(f"{n} {kind}" for kind, n in counts.items()), ""]
    if not changes:
        lines.append("No filing changed.")
    by_list: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        by_list[change.list_kind].append(change)
    for list_kind in sorted(by_list):
        lines += [f"## {LIST_TITLES.get(list_kind, list_kind)}", ""]
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


def atom_feed(release_id: str, created_at: str, changes: list[Change],
              sources: dict[tuple[str, str], str]) -> str:
    """An Atom feed of the filings added in this release. `sources` maps (list_kind,
    number) to the attachment URL that lists it."""
    entries = []
    for change in changes:
        if change.change != "added":
            continue
        after = change.after or {}
        key = (change.list_kind, change.filing_number)
        summary = "; ".join(f"{label}: {after[field]}" for field, label in (
            ("category", "类别"), ("role", "角色"), ("purpose", "主要用途"),
            ("province", "省份")) if after.get(field))
        link = sources.get(key, "https://www.cac.gov.cn/")
        entries.append(
            "  <entry>\n"
            f"    <id>urn:cac-filings:filing:{escape(change.list_kind)}:"
            f"{escape(change.filing_number)}</id>\n"
            f"    <title>{escape(change.name or change.filing_number)} — "
            f"{escape(change.company or '')}</title>\n"
            f"    <updated>{created_at}</updated>\n"
            f'    <link rel="alternate" href="{escape(link)}"/>\n'
            f'    <category term="{escape(change.list_kind)}"/>\n'
            f"    <summary>{escape(change.filing_number + ('; ' + summary if summary else ''))}"
            "</summary>\n"
            "  </entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"  <id>{FEED_ID}</id>\n"
        "  <title>cac-filings: new algorithm filings approved by the CAC 新增算法备案</title>\n"
        f"  <updated>{created_at}</updated>\n"
        "  <author><name>cac-filings</name></author>\n"
        f'  <link rel="alternate" href="https://www.cac.gov.cn/"/>\n'
        f"  <subtitle>Release {escape(release_id)}</subtitle>\n"
        + "\n".join(entries) + ("\n" if entries else "")
        + "</feed>\n")
