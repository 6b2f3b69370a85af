"""The raw archive: content-addressed objects, atomic writes, validators, crawl records."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from cac_filings.archive import RawArchive, Validators, dumps_stable, sha256_hex, write_atomic
from cac_filings.errors import ArchiveError

BODY = "<html><body>境内深度合成服务算法备案清单</body></html>".encode()


@pytest.fixture
def archive(tmp_path: Path) -> RawArchive:
    return RawArchive(tmp_path / "raw")


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# -- objects ----------------------------------------------------------------------------------


def test_put_get_round_trip(archive: RawArchive) -> None:
    digest = archive.put(BODY)
    assert digest == hashlib.sha256(BODY).hexdigest() == sha256_hex(BODY)
    assert archive.has(digest)
    assert archive.get(digest) == BODY
    path = archive.object_path(digest)
    assert path == archive.root / "objects" / digest[:2] / digest
    assert path.read_bytes() == BODY


def test_put_is_idempotent(archive: RawArchive) -> None:
    first = archive.put(BODY)
    path = archive.object_path(first)
    before = path.stat()
    second = archive.put(BODY)
    assert first == second
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert all_files(archive.root) == [path]


def test_put_empty_and_binary_bodies(archive: RawArchive) -> None:
    blobs = [b"", b"\x00\xff" * 1000, b"PK\x03\x04rest", b"%PDF-1.4\n%%EOF"]
    digests = [archive.put(blob) for blob in blobs]
    assert len(set(digests)) == len(blobs)
    for blob, digest in zip(blobs, digests, strict=True):
        assert archive.get(digest) == blob


def test_get_missing_object_raises(archive: RawArchive) -> None:
    missing = sha256_hex(b"never stored")
    assert not archive.has(missing)
    with pytest.raises(ArchiveError) as info:
        archive.get(missing)
    assert missing in str(info.value)


def test_corrupted_object_is_detected(archive: RawArchive) -> None:
    digest = archive.put(BODY)
    archive.object_path(digest).write_bytes(BODY[:-3])
    with pytest.raises(ArchiveError) as info:
        archive.get(digest)
    assert "corrupt" in str(info.value)
    assert digest in str(info.value)
    # the unchecked read still hands back what is on disk
    assert archive.get(digest, verify=False) == BODY[:-3]


# -- write_atomic -----------------------------------------------------------------------------


def test_write_atomic_creates_folders_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.json"
    write_atomic(target, b"one")
    assert target.read_bytes() == b"one"
    assert all_files(tmp_path) == [target]


def test_write_atomic_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "file.json"
    target.write_bytes(b"old contents that are longer")
    inode_before = target.stat().st_ino
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    # a rename, not an in-place rewrite: the old inode is gone
    assert target.stat().st_ino != inode_before
    assert all_files(tmp_path) == [target]


def test_write_atomic_failure_keeps_the_old_file(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "file.json"
    target.write_bytes(b"old")

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        assert Path(src).read_bytes() == b"new"  # the temp file was fully written first
        assert Path(src).parent == target.parent
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert all_files(tmp_path) == [target]


def test_dumps_stable_is_sorted_and_keeps_chinese() -> None:
    assert dumps_stable({"b": 1, "a": "网信"}) == '{"a":"网信","b":1}'


# -- validators -------------------------------------------------------------------------------

URL = "https://www.cac.gov.cn/2022-08/12/c_1661927474338504.htm"


def test_validators_persist_across_instances(tmp_path: Path) -> None:
    first = RawArchive(tmp_path / "raw")
    digest = first.put(BODY)
    stored = Validators('"abc"', "Fri, 12 Aug 2022 08:00:00 GMT", digest)
    first.set_validators(URL, stored)
    assert first.validators(URL) == stored

    second = RawArchive(tmp_path / "raw")
    assert second.validators(URL) == stored
    assert second.validators(URL + "?x=1") is None
    on_disk = json.loads(second.validators_path.read_text(encoding="utf-8"))
    assert on_disk == {URL: {"etag": '"abc"', "last_modified": stored.last_modified,
                             "sha256": digest}}


def test_validators_accumulate_and_overwrite(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path / "raw")
    a, b = archive.put(b"<html>a</html>"), archive.put(b"<html>b</html>")
    archive.set_validators(URL, Validators('"1"', None, a))
    archive.set_validators(URL + "x", Validators(None, "Mon, 01 Jan 2024 00:00:00 GMT", b))
    archive.set_validators(URL, Validators('"2"', None, b))
    reread = RawArchive(tmp_path / "raw")
    assert reread.validators(URL) == Validators('"2"', None, b)
    assert reread.validators(URL + "x") == Validators(None, "Mon, 01 Jan 2024 00:00:00 GMT", b)
    assert not list(reread.root.glob(".*.tmp"))


def test_validators_ignored_when_their_object_is_missing(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path / "raw")
    digest = archive.put(BODY)
    archive.set_validators(URL, Validators('"abc"', None, digest))
    archive.object_path(digest).unlink()
    assert archive.validators(URL) is None
    assert RawArchive(tmp_path / "raw").validators(URL) is None
    # never stored at all
    archive.set_validators(URL + "2", Validators('"x"', None, sha256_hex(b"absent")))
    assert archive.validators(URL + "2") is None


def test_no_validators_file(archive: RawArchive) -> None:
    assert archive.validators(URL) is None


# -- fetch log --------------------------------------------------------------------------------


def test_fetch_log_round_trip(archive: RawArchive) -> None:
    assert archive.read_fetch_log() == []
    entries: list[dict[str, Any]] = [{"url": URL, "status": 200, "outcome": "ok", "note": "网信"},
               {"url": URL, "status": None, "outcome": "retry"}]
    for entry in entries:
        archive.log_fetch(entry)
    assert archive.read_fetch_log() == entries
    assert len(archive.log_path.read_text(encoding="utf-8").splitlines()) == 2


# -- crawl records ----------------------------------------------------------------------------


def test_crawls_round_trip_in_id_order(archive: RawArchive) -> None:
    assert archive.crawls() == []
    records = [
        {"crawl_id": "20240105T120000000000Z", "started_at": "2024-01-05T12:00:00Z",
         "sources": {"a": {"batches": [{"batch_id": "algorithm/2024-01"}]}}},
        {"crawl_id": "20230620T080000000000Z", "sources": {"b": {"title": "第一批"}}},
        {"crawl_id": "20231101T000000123456Z", "sources": {}},
    ]
    for record in records:
        path = archive.save_crawl(record)
        assert path == archive.crawls_dir / f"{record['crawl_id']}.json"
    assert archive.crawls() == sorted(records, key=lambda r: str(r["crawl_id"]))
    assert "第一批" in (archive.crawls_dir / "20230620T080000000000Z.json").read_text(
        encoding="utf-8")
    assert all_files(archive.root) == sorted(
        archive.crawls_dir / f"{r['crawl_id']}.json" for r in records)


def test_save_crawl_overwrites_the_same_id(archive: RawArchive) -> None:
    archive.save_crawl({"crawl_id": "20240101T000000000000Z", "finished_at": None})
    archive.save_crawl({"crawl_id": "20240101T000000000000Z", "finished_at": "later"})
    assert archive.crawls() == [{"crawl_id": "20240101T000000000000Z", "finished_at": "later"}]


@pytest.mark.parametrize("text", [
    '{"crawl_id": "20240202T000000000000Z", ', "[1, 2]", '{"sources": {}}', "\udcff",
    # JSON, but not shaped as the crawl and the build read it
    '{"crawl_id": "20240202T000000000000Z", "sources": []}',
    '{"crawl_id": "20240202T000000000000Z", "sources": {"a": {"batches": [{"batch_id": 1}]}}}',
    '{"crawl_id": "20240202T000000000000Z", "sources": {"a": {"batches": [{"batch_id": "x"}]}}}',
    '{"crawl_id": "20240202T000000000000Z", "set_aside": ["not a note"]}',
])
def test_an_unreadable_crawl_record_is_skipped_named_and_set_aside_by_the_crawl(
        archive: RawArchive, text: str) -> None:
    archive.save_crawl({"crawl_id": "20240101T000000000000Z"})
    broken = archive.crawls_dir / "20240202T000000000000Z.json"
    body = text.encode("utf-8", "surrogateescape")
    broken.write_bytes(body)
    # A reader without the lock (the status page) skips it and leaves it where it is.
    assert [r["crawl_id"] for r in archive.crawls()] == ["20240101T000000000000Z"]
    assert broken.read_bytes() == body and not (archive.root / "corrupt").exists()
    (note,) = archive.set_aside
    assert note["reason"].startswith(f"crawl record {broken.name} could not be read (")
    assert "it is skipped" in note["reason"]
    assert (note["what"], note["file_sha256"]) == (f"raw archive: crawl record {broken.name}",
                                                   None)
    # The crawl (which holds the lock) moves it aside.
    crawl = RawArchive(archive.root)
    assert [r["crawl_id"] for r in crawl.crawls(set_aside=True)] == ["20240101T000000000000Z"]
    (moved,) = (archive.root / "corrupt").iterdir()
    assert moved.read_bytes() == body and not broken.exists()
    (note,) = crawl.set_aside
    assert f"it was moved to {moved}" in note["reason"]
    assert [r["crawl_id"] for r in RawArchive(archive.root).crawls()] == [
        "20240101T000000000000Z"]
