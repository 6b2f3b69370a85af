"""Sources: one folder per source under scrapers/, with a source.yml and a scraper.py.

The core never imports a particular source; it finds them here. A scraper knows only its own
pages: it gets a CrawlContext (fetching, page parsing, logging all belong to the core) and
returns the batches it found as BatchRefs.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import yaml

from cac_filings.errors import CacFilingsError, PageLayoutError
from cac_filings.headers import TableSpec, header_text
from cac_filings.kinds import _KIND_KEYS, ListKind, ListKindError, Registry, parse_list_kinds
from cac_filings.site import (
    Article,
    ColumnItem,
    Link,
    download_title,
    period_from_title,
    strip_attachment_label,
)


class SourceConfigError(CacFilingsError):
    """A source.yml or scraper.py that does not follow the source contract."""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title: str
    description: str
    list_kinds: tuple[ListKind, ...]
    publisher: str
    urls: dict[str, str]
    schedule: str
    tables: tuple[TableSpec, ...]
    categories: tuple[str, ...]
    match: dict[str, str]
    folder: Path
    may_be_empty: bool = False  # a crawl that finds no batch is not an error
    # What the totals CAC states count (statements.py's counted → a list kind of this source).
    statements: dict[str, str] = field(default_factory=dict)
    # Keys of its source.yml this version does not know, ignored (each said in one line).
    warnings: tuple[str, ...] = ()

    @property
    def list_kind(self) -> str:
        """The source's first list kind: its batches' list_kind and default batch ids."""
        return self.list_kinds[0].key

    def url(self, key: str) -> str:
        try:
            return self.urls[key]
        except KeyError:
            raise SourceConfigError(
                f"{self.folder / 'source.yml'}: urls.{key} is missing") from None

    def pattern(self, key: str) -> re.Pattern[str]:
        try:
            return re.compile(self.match[key])
        except KeyError:
            raise SourceConfigError(
                f"{self.folder / 'source.yml'}: match.{key} is missing") from None


@dataclass(frozen=True)
class BatchRef:
    """One attachment a scraper found: what it is and where it was linked from."""

    source: str
    list_kind: str
    batch_id: str
    period: str
    batch_no: int | None
    title: str
    announcement_url: str
    announcement_title: str | None
    published_on: str | None
    published_on_precision: str | None
    attachment_url: str


class CrawlContext(Protocol):
    """What a scraper may use. Implemented by the core's crawl stage."""

    spec: SourceSpec

    def fetch_article(self, url: str, referer: str | None = None) -> Article: ...

    def article_batches(self, url: str, read: Callable[[Article], list[BatchRef]],
                        referer: str | None = None) -> list[BatchRef]:
        """The batches `read` finds on the article at `url` (one announcement of many).

        When that article cannot be fetched or read (an HTTP error, a WAF page, a changed
        layout — from the fetch or from `read`), the failure is the article's, not the
        source's: it is recorded and reported, the batches an earlier crawl found on it keep
        their archived files, and the source's other articles are read all the same. A
        source's own entry pages (its in-place page, its column) are read with
        fetch_article / walk_column: their failure is the source's."""
        ...

    def walk_column(self, first_page_url: str) -> Iterator[ColumnItem]: ...

    def fetch_json(self, url: str, referer: str | None = None) -> Any: ...

    def log(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def batch(self, **fields: Any) -> BatchRef: ...

    def known(self, attachment_url: str) -> dict[str, Any] | None:
        """What an earlier crawl of this source recorded for this attachment URL."""
        ...

    def statement(self, article: Article) -> None:
        """Record a page that may state CAC's own totals (read by the build, see
        statements.py); the page was fetched, so its bytes are archived."""
        ...


def beian_notices(ctx: CrawlContext) -> list[dict[str, Any]]:
    """The beian notice board's entries (urls.notices), checked: errno 0 and a list of
    notices with ids. `GET /api/notice/list` returns every notice; paging is ignored."""
    url = ctx.spec.url("notices")
    answer = ctx.fetch_json(url)
    if not isinstance(answer, dict) or answer.get("errno") != 0:
        raise PageLayoutError(url, f"the notice list answered {str(answer)[:200]!r}")
    datas = answer.get("datas")
    if not isinstance(datas, list) or not all(isinstance(n, dict) and n.get("noticeId")
                                              for n in datas):
        raise PageLayoutError(url, "the notice list has no 'datas' list of notices with ids")
    return datas


def matching_attachments(ctx: CrawlContext, article: Article, what: str
                         ) -> list[tuple[int, Link, str, str]]:
    """(position, link, title, period) of each attachment of `article` that is the source's
    list, with its period (YYYY-MM).

    An attachment is identified by what identifies it, not by its link text alone (CAC has
    changed link texts to 点击下载 and shortened them): the first of its link text and its
    download title (the fText parameter) that matches match.attachment_title and names a
    month; else, an attachment URL an earlier crawl knew, with the title it had then.
    Attachments that are none of these are reported (a warning) and skipped; a list title
    without a month is a PageLayoutError."""
    wanted = ctx.spec.pattern("attachment_title")
    found = []
    for position, link in enumerate(article.attachments):
        titles = [strip_attachment_label(t) for t in (link.text, download_title(link.url))
                  if t and t.strip()]
        matching = [t for t in titles if wanted.search(t)]
        dated = [(t, p) for t in matching if (p := period_from_title(t)) is not None]
        if dated:
            found.append((position, link, *dated[0]))
            continue
        known = ctx.known(link.url)
        if known is not None:
            ctx.warn(f"attachment {titles[0] if titles else link.url!r} on {article.url} no "
                     f"longer reads as {what}; it is the file of {known['batch_id']} (matched "
                     "by its URL)")
            found.append((position, link, str(known["title"]), str(known["period"])))
            continue
        if matching:
            raise PageLayoutError(article.url,
                                  f"attachment title {matching[0]!r} names no month (YYYY年M月)")
        ctx.warn(f"ignoring attachment {(titles or [link.url])[0]!r} on {article.url}: not "
                 f"{what}")
    return found


def in_place_page_batches(ctx: CrawlContext, *, what: str,
                          batch_prefix: str | None = None) -> list[BatchRef]:
    """The batches of an announcement page that CAC edits in place (urls.announcement): every
    attachment whose title matches match.attachment_title, with its period from the title.

    The page keeps its original date while attachments are appended, so only the first
    attachment (附件1, published with the page) has a known publication day; the build dates
    the others by when cac-filings first saw them. `what` names the list in messages.
    """
    page_url = ctx.spec.url("announcement")
    article = ctx.fetch_article(page_url)
    refs: list[BatchRef] = []
    for position, link, title, period in matching_attachments(ctx, article, what):
        first = position == 0
        fields: dict[str, Any] = {"batch_id": f"{batch_prefix}/{period}"} if batch_prefix else {}
        refs.append(ctx.batch(
            **fields,
            period=period,
            title=title,
            announcement_url=page_url,
            announcement_title=article.title,
            published_on=article.published_on if first else None,
            published_on_precision="day" if first else None,
            attachment_url=link.url,
        ))
    if not refs:
        raise PageLayoutError(page_url, f"no attachment link titled like {what}")
    return refs


@dataclass
class Source:
    spec: SourceSpec
    discover: Callable[[CrawlContext], list[BatchRef]]
    module: ModuleType = field(repr=False)


_REQUIRED_KEYS = {"name", "title", "list_kinds", "urls", "tables"}
_SPEC_KEYS = _REQUIRED_KEYS | {"description", "publisher", "schedule", "categories", "match",
                               "may_be_empty", "statements"}
_TABLE_KEYS = {"list_kind", "columns", "required"}


def _unknown_keys(raw: dict[Any, Any], known: set[str], where: str) -> list[str]:
    """One warning per key this version does not know: a newer source.yml (a field added
    since) still loads on older code. A near miss of a known key that is absent is named as
    the likely typo."""
    warnings = []
    for key in sorted(str(k) for k in set(raw) - known):
        near = difflib.get_close_matches(key, sorted(known - set(raw)), n=1)
        hint = f" (a typo of {near[0]!r}?)" if near else " (a field of a newer version?)"
        warnings.append(f"{where}: unknown key {key!r} ignored{hint}")
    return warnings


def _typos_of(raw: dict[Any, Any], missing: set[str], known: set[str]) -> str:
    """' (misspelt? …)' naming the unknown keys of `raw` that nearly spell a missing one."""
    unknown = sorted(str(k) for k in set(raw) - known)
    found = [f"{near[0]!r} for {key!r}" for key in sorted(missing)
             if (near := difflib.get_close_matches(key, unknown, n=1))]
    return f" (misspelt? {', '.join(found)})" if found else ""


def _load_spec(folder: Path, start: int = 0) -> SourceSpec:
    path = folder / "source.yml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourceConfigError(f"{path}: cannot read ({exc})") from None
    if not isinstance(raw, dict):
        raise SourceConfigError(f"{path}: expected a mapping at the top level")
    missing = _REQUIRED_KEYS - set(raw)
    if missing:
        raise SourceConfigError(f"{path}: missing keys {sorted(missing)}"
                                + _typos_of(raw, missing, _SPEC_KEYS))
    warnings = _unknown_keys(raw, _SPEC_KEYS, str(path))
    if raw["name"] != folder.name:
        raise SourceConfigError(f"{path}: name {raw['name']!r} differs from its folder")
    list_kinds = raw["list_kinds"]
    kind_warnings: list[str] = []
    if isinstance(list_kinds, list):
        # parse_list_kinds refuses keys it does not know: a newer field is said and dropped.
        known = set(_KIND_KEYS)
        for i, entry in enumerate(list_kinds):
            if isinstance(entry, dict) and set(entry) - known:
                kind_warnings += _unknown_keys(entry, known, f"list_kinds[{i}]")
                list_kinds[i] = {k: v for k, v in entry.items() if k in known}
    try:
        kinds = parse_list_kinds(list_kinds, str(raw["name"]), start)
    except ListKindError as exc:
        raise SourceConfigError(f"{path}: {exc}" + (
            f" ({'; '.join(kind_warnings)})" if kind_warnings else "")) from None
    warnings += [f"{path}: {w}" for w in kind_warnings]
    own = {k.key for k in kinds}
    tables = []
    for i, t in enumerate(raw["tables"]):
        if not isinstance(t, dict) or not isinstance(t.get("columns"), dict):
            raise SourceConfigError(f"{path}: tables[{i}] needs columns" + (
                _typos_of(t, {"columns"}, _TABLE_KEYS) if isinstance(t, dict) else ""))
        warnings += _unknown_keys(t, _TABLE_KEYS, f"{path}: tables[{i}]")
        kind = str(t.get("list_kind", kinds[0].key))
        if kind not in own:
            raise SourceConfigError(f"{path}: tables[{i}] is for list kind {kind!r}, which "
                                    f"list_kinds does not declare ({', '.join(sorted(own))})")
        columns: dict[str, str] = {}
        for header, name in t["columns"].items():
            text = header_text(str(header))
            if text in columns and columns[text] != str(name):
                raise SourceConfigError(f"{path}: tables[{i}] maps {header!r} twice")
            columns[text] = str(name)
        required = tuple(str(r) for r in t.get("required", ()))
        absent = [r for r in required if r not in columns.values()]
        if absent:
            raise SourceConfigError(f"{path}: tables[{i}] requires {absent}, which no column "
                                    "maps to")
        tables.append(TableSpec(list_kind=kind, columns=columns, required=required))
    statements = {str(k): str(v) for k, v in (raw.get("statements") or {}).items()}
    strange = sorted(set(statements.values()) - own)
    if strange:
        raise SourceConfigError(f"{path}: statements count {strange}, which list_kinds does "
                                "not declare")
    publisher = raw.get("publisher", "")
    if isinstance(publisher, dict):
        publisher = publisher.get("name", "")
    return SourceSpec(
        name=str(raw["name"]),
        title=str(raw["title"]),
        description=str(raw.get("description", "")).strip(),
        list_kinds=kinds,
        publisher=str(publisher),
        urls={str(k): str(v) for k, v in raw["urls"].items()},
        schedule=str(raw.get("schedule", "daily")),
        tables=tuple(tables),
        categories=tuple(str(c) for c in raw.get("categories", ()) or ()),
        match={str(k): str(v) for k, v in (raw.get("match") or {}).items()},
        folder=folder,
        may_be_empty=bool(raw.get("may_be_empty", False)),
        statements=statements,
        warnings=tuple(warnings),
    )


def _load_module(folder: Path, name: str) -> ModuleType:
    path = folder / "scraper.py"
    spec = importlib.util.spec_from_file_location(f"cac_filings_sources.{name}", path)
    if spec is None or spec.loader is None:
        raise SourceConfigError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scrapers_dir() -> Path:
    """CAC_FILINGS_SCRAPERS, else the copy inside an installed wheel, else the checkout's."""
    env = os.environ.get("CAC_FILINGS_SCRAPERS")
    if env:
        return Path(env)
    bundled = Path(__file__).parent / "_scrapers"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[2] / "scrapers"


_SAID: set[str] = set()


def _warn_once(message: str) -> None:
    """A source.yml warning on stderr, once per process (the CLI loads the sources more than
    once in one run)."""
    if message not in _SAID:
        _SAID.add(message)
        print(f"cac-filings: warning: {message}", file=sys.stderr, flush=True)


def load_sources(folder: Path | None = None, names: list[str] | None = None, *,
                 warn: Callable[[str], None] | None = None) -> list[Source]:
    """The sources of `folder` (default scrapers_dir()), all or those `names`d. Keys of a
    source.yml this version does not know are each said to `warn` (default: stderr, once)
    and ignored; the crawl record keeps them too."""
    warn = warn or _warn_once
    root = folder or scrapers_dir()
    if not root.is_dir():
        raise SourceConfigError(f"no scrapers folder at {root}")
    sources = []
    order = 0
    for sub in sorted(p for p in root.iterdir() if (p / "source.yml").is_file()):
        spec = _load_spec(sub, order)
        order += len(spec.list_kinds)
        if names and spec.name not in names:
            continue
        for message in spec.warnings:
            warn(message)
        module = _load_module(sub, spec.name)
        discover = getattr(module, "discover", None)
        if not callable(discover):
            raise SourceConfigError(f"{sub / 'scraper.py'}: has no discover(ctx) function")
        sources.append(Source(spec=spec, discover=discover, module=module))
    if names:
        unknown = set(names) - {s.spec.name for s in sources}
        if unknown:
            raise SourceConfigError(f"unknown source(s): {', '.join(sorted(unknown))}")
    return sources


def registry_of(sources: list[Source]) -> Registry:
    """The list kinds the sources declare, in declaration order."""
    try:
        return Registry(tuple(k for s in sources for k in s.spec.list_kinds))
    except ListKindError as exc:
        raise SourceConfigError(str(exc)) from None
