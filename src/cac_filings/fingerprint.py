"""A fingerprint of the code that builds a release: the package (but the code that only serves
it) and the scrapers folder.

A run builds nothing when the inputs and this fingerprint equal the published release's. A
version string would not do: it stays the same from commit to commit, so a parser fix would
never reach a deployment's published data until CAC published a new file.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import metadata
from pathlib import Path

from cac_filings.sources import scrapers_dir

_SUFFIXES = {".py", ".yml", ".yaml", ".html", ".json", ".md", ".txt"}
# Code that only serves a release (the pages, the status) builds nothing: a change to it does
# not make the next run rebuild.
_SERVING = {"web", "datasette_plugin", "serve.py", "status.py"}
# The libraries whose output the build's tables depend on: a new pypdfium2 may read a PDF's
# characters differently, a new pypinyin romanise a name differently, a new apsw (its own
# SQLite) write the SQLite file otherwise, so an upgrade rebuilds (and re-parses: the parse
# cache is keyed by this fingerprint).
_LIBRARIES = ("pypdfium2", "python-calamine", "lxml", "pypinyin", "pyarrow", "orjson", "apsw")


def _files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.suffix in _SUFFIXES and "__pycache__" not in p.parts
                  and p.relative_to(root).parts[0] not in _SERVING)


def code_fingerprint() -> str:
    """sha256 (first 16 hex digits) of every source file of the package and the scrapers, and
    of the versions of the libraries that read the files."""
    return _fingerprint(str(scrapers_dir().resolve()))


@cache
def _fingerprint(scrapers_folder: str) -> str:
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    scrapers = Path(scrapers_folder)
    roots = [package] + ([] if scrapers.is_relative_to(package) else [scrapers])
    for root in roots:
        for path in _files(root):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    for library in _LIBRARIES:
        digest.update(f"{library}=={_version(library)}".encode() + b"\0")
    return digest.hexdigest()[:16]


def _version(library: str) -> str:
    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        return "absent"
