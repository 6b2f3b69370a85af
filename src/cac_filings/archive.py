"""The raw archive: every byte fetched, content-addressed, with a fetch log.

Layout under DATA_DIR/raw:
  objects/ab/abcdef…      response bodies named by their sha256 (never rewritten)
  fetch_log.jsonl         one line per HTTP attempt: url, final url, status, headers, time, sha256
  validators.json         ETag / Last-Modified and body sha256 per URL, for conditional requests
  crawls/<crawl_id>.json  what each crawl discovered: the batches and the sha256 of each file

Builds read only this directory, so any release can be rebuilt offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

from cac_filings.errors import ArchiveError


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write to a temporary file in the same folder, fsync (unless `durable` is off: a
    cache), then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_stable(obj: Any) -> str:
    """JSON with sorted keys and no ASCII escaping: stable bytes for the same content."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _check_crawl_record(record: object) -> None:
    """ValueError unless `record` has the shape the crawl and the build read."""
    if not isinstance(record, dict) or not isinstance(record.get("crawl_id"), str):
        raise ValueError("not a crawl record (no crawl_id)")
    sources = record.get("sources", {})
    if not isinstance(sources, dict) or not all(
            isinstance(source, dict) and isinstance(source.get("batches", []), list)
            and all(isinstance(b, dict) and isinstance(b.get("batch_id"), str)
                    for b in source.get("batches", [])) for source in sources.values()):
        raise ValueError("its sources are not shaped as a crawl record's")
    # What it found is dated by when it started (first seen, the last full walk).
    if any(s.get("batches") or s.get("full_walk") for s in sources.values()) and \
            not isinstance(record.get("started_at"), str):
        raise ValueError("it lists batches but has no started_at")
    notes = record.get("set_aside", [])
    if not isinstance(notes, list) or not all(
            isinstance(n, dict) and isinstance(n.get("reason"), str) for n in notes):
        raise ValueError("its set_aside is not a list of notes")


class SetAside(TypedDict):
    """Something the archive skipped or moved aside: what it is (a problem's batch_id), the
    object's sha256 when it is one, and the reason said."""

    what: str
    file_sha256: str | None
    reason: str


@dataclass(frozen=True)
class Validators:
    etag: str | None
    last_modified: str | None
    sha256: str


class RawArchive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.crawls_dir = root / "crawls"
        self.log_path = root / "fetch_log.jsonl"
        self.validators_path = root / "validators.json"
        self._validators: dict[str, Validators] | None = None
        # What was skipped or moved aside to raw/corrupt/: unreadable crawl records (crawls),
        # corrupt objects (intact), as {what, file_sha256, reason}. A crawl says each and keeps
        # it in its record; the next build reports it as a problem (what, sha256, reason).
        self.set_aside: list[SetAside] = []

    # -- objects
    def object_path(self, sha256: str) -> Path:
        return self.objects / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.object_path(sha256).is_file()

    def put(self, body: bytes) -> str:
        digest = sha256_hex(body)
        path = self.object_path(digest)
        if not path.is_file():
            write_atomic(path, body)
        return digest

    def verify(self, sha256: str) -> bool:
        """Whether the object is there with the bytes its name says (reads only)."""
        try:
            return sha256_hex(self.object_path(sha256).read_bytes()) == sha256
        except FileNotFoundError:
            return False

    def intact(self, sha256: str) -> bool:
        """Whether the object is there with the bytes its name says. A corrupt one (a flipped
        bit on disk) is moved aside to raw/corrupt/, so that the next download of those bytes
        stores them again."""
        path = self.object_path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return False
        if sha256_hex(data) == sha256:
            return True
        target = self.quarantine(sha256)
        self.set_aside.append({
            "what": "raw archive", "file_sha256": sha256,
            "reason": f"archived file {sha256} was corrupt (its bytes no longer match their "
                      f"sha256: disk damage?) and was moved to {target}; it is fetched again"})
        return False

    def quarantine(self, sha256: str) -> Path:
        """Move a corrupt object out of the way (kept for inspection, never read)."""
        path = self.object_path(sha256)
        target = self.root / "corrupt" / f"{sha256}.{os.getpid()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        return target

    def get(self, sha256: str, *, verify: bool = True) -> bytes:
        path = self.object_path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"raw archive has no object {sha256} ({path})") from None
        if verify and sha256_hex(data) != sha256:
            raise ArchiveError(f"raw archive object {path} is corrupt (sha256 mismatch); the "
                               "next `cac-filings run` downloads it again")
        return data

    def remove_debris(self) -> int:
        """Temporary files of writes a killed process left behind (never read: records and
        objects appear only by rename). Called with the data folder locked."""
        removed = 0
        for folder in (self.crawls_dir, self.root):
            for path in folder.glob(".*.tmp") if folder.is_dir() else ():
                path.unlink(missing_ok=True)
                removed += 1
        for path in self.objects.glob("*/.*.tmp") if self.objects.is_dir() else ():
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    # -- fetch log
    def log_fetch(self, entry: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(dumps_stable(entry) + "\n")

    def read_fetch_log(self) -> list[dict[str, Any]]:
        """Every logged attempt. A torn last line (a run killed mid-write) is skipped."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        entries = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                if number == len(lines):
                    break
                raise ArchiveError(f"{self.log_path} line {number} is not valid JSON") from None
        return entries

    # -- conditional-request validators
    def _load_validators(self) -> dict[str, Validators]:
        if self._validators is None:
            self._validators = {}
            if self.validators_path.exists():
                # A cache: when it is unreadable, requests are simply unconditional again.
                try:
                    raw = json.loads(self.validators_path.read_text(encoding="utf-8"))
                    self._validators = {url: Validators(**v) for url, v in raw.items()}
                except (ValueError, TypeError, AttributeError):
                    self._validators = {}
        return self._validators

    def validators(self, url: str) -> Validators | None:
        """Validators for a conditional request, only while the archived body they vouch
        for is intact (a 304 answer is served from it)."""
        found = self._load_validators().get(url)
        if found is not None and not self.intact(found.sha256):
            return None
        return found

    def set_validators(self, url: str, validators: Validators) -> None:
        table = self._load_validators()
        table[url] = validators
        self._save_validators(table)

    def forget_validators(self, url: str) -> None:
        """The next request for `url` is unconditional: its stored answer could not be read
        (a page whose layout changed), and the site may send a mended page under the same
        ETag."""
        table = self._load_validators()
        if table.pop(url, None) is not None:
            self._save_validators(table)

    def _save_validators(self, table: dict[str, Validators]) -> None:
        payload = {u: asdict(v) for u, v in sorted(table.items())}
        write_atomic(self.validators_path, (dumps_stable(payload) + "\n").encode())

    # -- crawl records
    def save_crawl(self, record: dict[str, Any]) -> Path:
        path = self.crawls_dir / f"{record['crawl_id']}.json"
        write_atomic(path, json.dumps(record, ensure_ascii=False, indent=1,
                                      sort_keys=True).encode())
        return path

    def crawls(self, set_aside: bool = False) -> list[dict[str, Any]]:
        """All crawl records, oldest first. One that cannot be read (damaged on disk, cut
        short by hand, not shaped as a crawl record) is skipped and said in `set_aside`: the
        others are read (it would otherwise stop every run). With `set_aside` (the crawl, which
        holds the data folder's lock) it is also moved to raw/corrupt/; the crawl says so and
        its record keeps the note for the next build. Readers without the lock (the status
        page) only skip it."""
        if not self.crawls_dir.is_dir():
            return []
        records = []
        for path in sorted(self.crawls_dir.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                _check_crawl_record(record)
            except FileNotFoundError:
                continue  # moved aside meanwhile by the crawl
            except ValueError as exc:  # JSON, UTF-8 and shape errors
                where = "it is skipped"
                if set_aside:
                    target = self.root / "corrupt" / f"crawl-{path.name}.{os.getpid()}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, target)
                    where = f"it was moved to {target}"
                self.set_aside.append({
                    "what": f"raw archive: crawl record {path.name}", "file_sha256": None,
                    "reason": f"crawl record {path.name} could not be read ({str(exc)[:120]}) "
                              f"and {where}; the batches first seen in it are dated by a "
                              "later crawl"})
                continue
            records.append(record)
        return records
