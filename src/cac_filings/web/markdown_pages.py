"""The release's Markdown documents (CHANGES.md, DATA-DICTIONARY.md) as pages. Scraped text
in them (names holding <script> or formulas) stays text: raw HTML is escaped, and link
targets such as javascript: are refused (markdown-it's own link check)."""

from __future__ import annotations

import asyncio

from markdown_it import MarkdownIt

from cac_filings.web.downloads import resolve
from cac_filings.web.release import Release

DOCUMENTS = ("CHANGES.md", "DATA-DICTIONARY.md")


def render_markdown(text: str) -> str:
    return str(MarkdownIt("commonmark", {"html": False}).enable("table").render(text))


async def document_html(release: Release, name: str) -> str | None:
    """The document rendered (once per release: CHANGES.md of a first release is half a
    megabyte), or None when the release has no such document."""
    if name not in DOCUMENTS:
        return None
    path = resolve(release.path, name)
    if path is None:
        return None

    async def compute() -> str:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        return await asyncio.to_thread(render_markdown, text)
    return await release.cached(f"document:{name}", compute)
