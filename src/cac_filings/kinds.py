"""List kinds as data: each is declared once, in its source's source.yml (`list_kinds:`), and
everything else — the build's row rules, release notes, feeds, metadata, the web pages —
reads it from here or from the release's `list_kinds` table.

A list kind is one list CAC publishes (境内互联网信息服务算法备案清单 → `algorithm`), with its
titles in Chinese and English, the row rules its rows follow (`suanbei`: 网信算备 numbers;
`genai`: generative-AI numbers), and whether it lists approvals (rows become `filings`) or
cancellations (rows name numbers that other lists' filings lose).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Rules = Literal["suanbei", "genai"]
Lists = Literal["approvals", "cancellations"]
RULES: tuple[str, ...] = ("suanbei", "genai")
LISTS: tuple[str, ...] = ("approvals", "cancellations")


@dataclass(frozen=True)
class Misfiled:
    """A number of another kind found in this list's table (a 上线编号 …S0001 in the 备案
    table): flagged, and moved to `list_kind` when one is named."""

    flag: str
    list_kind: str | None = None


@dataclass(frozen=True)
class ListKind:
    key: str
    source: str  # the source folder that declares it
    title_zh: str
    title_en: str
    label_zh: str  # short labels, for facets, legends and feeds
    label_en: str
    rules: Rules
    lists: Lists = "approvals"
    # genai rules: which kind of number this list holds (filing or registration), and what a
    # number of another kind in its table means.
    number_kind: str | None = None
    misfiled: dict[str, Misfiled] = field(default_factory=dict)
    color: str = "#888888"
    order: int = 0  # position in listings of kinds (declaration order across sources)
    # Extra fields this list publishes beyond the common ones (适用场景 → scenario).
    fields: tuple[str, ...] = ()

    @property
    def approvals(self) -> bool:
        return self.lists == "approvals"

    @property
    def label(self) -> str:
        """'算法推荐 algorithm': both languages, Chinese first."""
        return f"{self.label_zh} {self.label_en}"

    @property
    def title(self) -> str:
        return f"{self.title_zh} · {self.title_en}"

    def as_row(self) -> dict[str, Any]:
        """The kind's row in the published `list_kinds` table."""
        return {"list_kind": self.key, "source": self.source, "title_zh": self.title_zh,
                "title_en": self.title_en, "label_zh": self.label_zh,
                "label_en": self.label_en, "lists": self.lists, "rules": self.rules,
                "color": self.color, "sort_order": self.order}


class ListKindError(ValueError):
    """A list_kinds entry of a source.yml that does not follow the contract."""


_KIND_KEYS = {"key", "title", "label", "rules", "lists", "number_kind", "misfiled", "color",
              "fields"}


def _pair(value: Any, what: str) -> tuple[str, str]:
    if not isinstance(value, dict) or not value.get("zh") or not value.get("en"):
        raise ListKindError(f"{what} needs zh and en")
    return str(value["zh"]), str(value["en"])


def parse_list_kinds(raw: Any, source: str, start: int = 0) -> tuple[ListKind, ...]:
    """The `list_kinds:` entries of one source.yml."""
    if not isinstance(raw, list) or not raw:
        raise ListKindError("list_kinds must be a non-empty list")
    found = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or "key" not in entry:
            raise ListKindError(f"list_kinds[{i}] needs a key")
        unknown = set(entry) - _KIND_KEYS
        if unknown:
            raise ListKindError(f"list_kinds[{i}]: unknown keys {sorted(unknown)}")
        key = str(entry["key"])
        title_zh, title_en = _pair(entry.get("title"), f"list_kinds[{i}] ({key}) title")
        label_zh, label_en = _pair(entry.get("label"), f"list_kinds[{i}] ({key}) label")
        rules = str(entry.get("rules", ""))
        if rules not in RULES:
            raise ListKindError(f"list_kinds[{i}] ({key}): rules must be one of {RULES}")
        lists = str(entry.get("lists", "approvals"))
        if lists not in LISTS:
            raise ListKindError(f"list_kinds[{i}] ({key}): lists must be one of {LISTS}")
        misfiled = {}
        for number_kind, what in (entry.get("misfiled") or {}).items():
            if not isinstance(what, dict) or "flag" not in what:
                raise ListKindError(f"list_kinds[{i}] ({key}): misfiled.{number_kind} needs "
                                    "a flag")
            misfiled[str(number_kind)] = Misfiled(str(what["flag"]),
                                                  str(what["list_kind"]) if what.get(
                                                      "list_kind") else None)
        found.append(ListKind(
            key=key, source=source, title_zh=title_zh, title_en=title_en, label_zh=label_zh,
            label_en=label_en, rules=rules,  # type: ignore[arg-type]
            lists=lists,  # type: ignore[arg-type]
            number_kind=str(entry["number_kind"]) if entry.get("number_kind") else None,
            misfiled=misfiled, color=str(entry.get("color", "#888888")), order=start + i,
            fields=tuple(str(f) for f in entry.get("fields", ()) or ())))
    return tuple(found)


class Registry:
    """Every list kind of the loaded sources, in declaration order."""

    def __init__(self, kinds: tuple[ListKind, ...]) -> None:
        self.kinds = kinds
        # Looked up for every row a build reads.
        self._by_key = {kind.key: kind for kind in kinds}
        seen: set[str] = set()
        for kind in self.kinds:
            if kind.key in seen:
                raise ListKindError(f"list kind {kind.key!r} is declared twice")
            seen.add(kind.key)
        for kind in self.kinds:
            for misfiled in kind.misfiled.values():
                if misfiled.list_kind and misfiled.list_kind not in seen:
                    raise ListKindError(f"{kind.key}: misfiled numbers go to "
                                        f"{misfiled.list_kind!r}, which is not a list kind")

    def __getitem__(self, key: str) -> ListKind:
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"unknown list kind {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __iter__(self) -> Iterator[ListKind]:
        return iter(self.kinds)

    @property
    def approvals(self) -> tuple[ListKind, ...]:
        return tuple(k for k in self.kinds if k.approvals)

    @property
    def cancellations(self) -> tuple[ListKind, ...]:
        return tuple(k for k in self.kinds if not k.approvals)

    def keys(self) -> list[str]:
        return [k.key for k in self.kinds]

    def is_approvals(self, key: str) -> bool:
        """Rows of this kind become filings; an unknown key (an old release) is not."""
        kind = self._by_key.get(key)
        return kind is not None and kind.approvals

    def rows(self) -> list[dict[str, Any]]:
        return [k.as_row() for k in self.kinds]
