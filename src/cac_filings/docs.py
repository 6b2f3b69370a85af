"""Generated parts of README.md: the sources (from scrapers/*/source.yml), the quality flags
and the data dictionary (from schema.py). `make docs` rewrites them; a test fails when they
are stale."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from cac_filings.schema import data_dictionary_markdown, quality_flags_markdown
from cac_filings.sources import load_sources

README = Path(__file__).resolve().parents[2] / "README.md"


def sources_markdown() -> str:
    lines = ["| source | list kinds | starts at | schedule | what it is |",
             "|---|---|---|---|---|"]
    for source in load_sources():
        spec = source.spec
        start = "<br>".join(f"{k}: {v}" for k, v in spec.urls.items())
        kinds = "<br>".join(f"`{k.key}` ({k.title_zh}; {k.lists})" for k in spec.list_kinds)
        lines.append(f"| `{spec.name}` | {kinds} | {start} | {spec.schedule} | "
                     f"{spec.title}. {spec.description} |")
    return "\n".join(lines) + "\n"


SECTIONS = {"sources": sources_markdown, "quality-flags": quality_flags_markdown,
            "data-dictionary": data_dictionary_markdown}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no <!-- BEGIN {name} --> … <!-- END {name} --> block")
        text = _replace_block(pattern, make().rstrip("\n") + "\n", text)
    return text


def _replace_block(pattern: re.Pattern[str], body: str, text: str) -> str:
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main() -> int:
    current = README.read_text(encoding="utf-8")
    updated = render(current)
    if updated != current:
        README.write_text(updated, encoding="utf-8")
        print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
