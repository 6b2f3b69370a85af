"""The published release's files, as a reader takes them away: grouped (the data tables, then
their history, then the whole release), each with a line saying what it is, its size and its
rows; and the whole release as one ZIP, streamed as it is read (stored entries: nothing is
written to disk, and the release does not double in size)."""

from __future__ import annotations

import asyncio
import re
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cac_filings.schema import DATA_TABLES, FILINGS, HISTORY_TABLES, RUN_TABLES, Table
from cac_filings.web.release import Label, Release
from cac_filings.web.urls import download_url, table_url

# Files of a release that can be downloaded from /-/downloads/…; nothing else is served.
DOWNLOADS = re.compile(r"(?:[a-z_]+\.parquet|csv/[a-z_]+\.csv|cac_filings\.db|DATA-DICTIONARY\.md"
                       r"|CHANGES\.md|manifest\.json|SHA256SUMS|feed\.atom|metadata\.json"
                       r"|datapackage\.json)")
MAX_NAME = 100  # longer than any release file's name: refused before the disk is asked

CONTENT_TYPES = {".parquet": "application/vnd.apache.parquet",
                 ".csv": "text/csv; charset=utf-8", ".db": "application/vnd.sqlite3",
                 ".md": "text/markdown; charset=utf-8", ".json": "application/json",
                 ".atom": "application/atom+xml; charset=utf-8"}

FILES: dict[str, Label] = {
    "cac_filings.db": Label("SQLite 数据库：全部表、索引与中文全文检索",
                            "SQLite: every table, with indexes and Chinese full-text search"),
    "datapackage.json": Label("Frictionless 数据包：每个文件的结构与说明，供数据工具读取",
                              "Frictionless Data Package: every file's schema, for data tools"),
    "DATA-DICTIONARY.md": Label("数据字典：每一列的中英文说明",
                                "Data dictionary: every column in English and Chinese"),
    "CHANGES.md": Label("本次数据版本的变化说明", "Release notes: what this release changed"),
    "manifest.json": Label("清单：输入文件的 SHA-256、行数、检查结果",
                           "Manifest: the input files' SHA-256, row counts, check results"),
    "SHA256SUMS": Label("每个文件的 SHA-256 校验值", "SHA-256 checksum of every file"),
    "metadata.json": Label("Datasette 元数据", "Datasette metadata"),
    "feed.atom": Label("本次数据版本新增备案的 Atom 订阅", "Atom feed of this release's additions"),
}
ZIP_LABEL = Label("整个数据版本打包为一个 ZIP 文件（不压缩）",
                  "The whole release in one ZIP file (stored, not compressed)")


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = float(n)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def resolve(folder: Path, name: str) -> Path | None:
    """The release file `name` names, or None: only the names above, never a directory, a
    path with .. or a NUL, or a name longer than any of them."""
    if len(name) > MAX_NAME or not DOWNLOADS.fullmatch(name):
        return None
    path = folder / name
    try:
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def release_files(release: Release) -> list[str]:
    """Every downloadable file of the release, by name."""
    found = []
    for path in sorted(release.path.rglob("*")):
        name = path.relative_to(release.path).as_posix()
        if DOWNLOADS.fullmatch(name) and path.is_file():
            found.append(name)
    return found


@dataclass(frozen=True)
class File:
    name: str
    url: str
    size: str
    bytes: int


def _file(release: Release, name: str) -> File | None:
    path = resolve(release.path, name)
    if path is None:
        return None
    size = path.stat().st_size
    return File(name, download_url(name), human_size(size), size)


def zip_name(release: Release) -> str:
    return f"cac-filings-{release.release_id}.zip"


def _table_entry(release: Release, table: Table) -> dict[str, Any] | None:
    parquet = _file(release, f"{table.name}.parquet")
    if parquet is None:
        return None
    return {"name": table.name, "label": Label(table.zh.split("：")[0], table.en),
            "description": Label(table.zh, table.en),
            "rows": (release.manifest.get("row_counts") or {}).get(table.name),
            "parquet": parquet, "csv": _file(release, f"csv/{table.name}.csv"),
            "table_url": table_url(table.name)}


def download_groups(release: Release) -> list[dict[str, Any]]:
    """The files, grouped: the data (the filings first: the registry itself), the history of
    releases and what they reported, then the release as a whole."""
    data = sorted(DATA_TABLES, key=lambda t: t is not FILINGS)
    groups = []
    for title, tables in ((Label("数据表", "The data"), data),
                          (Label("历史与问题", "History and problems"),
                           (*HISTORY_TABLES, *RUN_TABLES))):
        entries = [e for e in (_table_entry(release, t) for t in tables) if e]
        groups.append({"title": title, "tables": entries, "files": []})
    whole = []
    total = sum(p.stat().st_size for p in (release.path / n for n in release_files(release)))
    whole.append({"file": File(zip_name(release), download_url(zip_name(release)),
                               "≈ " + human_size(total), total), "description": ZIP_LABEL})
    for name, label in FILES.items():
        found = _file(release, name)
        if found is not None:
            whole.append({"file": found, "description": label,
                          "page": f"/-/docs/{name}" if name.endswith(".md") else None})
    groups.append({"title": Label("整个数据版本", "The whole release"), "tables": [],
                   "files": whole})
    return groups


# ---------------------------------------------------------------- the whole release, zipped

CHUNK = 1 << 20


class _Sink:
    """Where zipfile writes: bytes collected until they are sent. It cannot seek, so zipfile
    writes each entry's sizes after its data (a data descriptor)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data


def zip_chunks(release: Release) -> Iterator[bytes]:
    """The release as a ZIP archive, a megabyte at a time; entries dated by the release."""
    prefix = f"cac-filings-{release.release_id}/"
    created = release.created_at
    try:
        stamp = (int(created[0:4]), int(created[5:7]), int(created[8:10]), int(created[11:13]),
                 int(created[14:16]), int(created[17:19]))
    except ValueError:
        stamp = (1980, 1, 1, 0, 0, 0)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for name in release_files(release):
            path = release.path / name
            info = zipfile.ZipInfo(prefix + name, stamp)
            info.file_size = path.stat().st_size
            with path.open("rb") as source, archive.open(info, "w") as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if sink.size >= CHUNK:
                        yield sink.take()
    yield sink.take()


Send = Callable[[dict[str, Any]], Awaitable[None]]


class ZipResponse:
    """An ASGI response streaming zip_chunks, each chunk read in a thread."""

    def __init__(self, release: Release) -> None:
        self.release = release

    async def asgi_send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/zip"),
            (b"content-disposition",
             f'attachment; filename="{zip_name(self.release)}"'.encode())]})
        chunks = zip_chunks(self.release)
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
