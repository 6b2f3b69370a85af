"""Hostile and broken input end to end: each is refused with a clear message, or handled
safely, and none of them changes what is published. A clean release is published first; then
the site serves the bad file in place of a list, and a run with refresh downloads it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasette.app import Datasette

from cac_filings.normalize import normalize_company
from cac_filings.release import content_fingerprint
from tests.test_e2e_tiny_site import run, table
from tests.tinysite import INJECTION_COMPANY, INJECTION_PRODUCT, TinySite


def snapshot(data_dir: Path) -> dict[str, str]:
    """What is published and archived: the symlink target and a hash of every file."""
    files = {"published": os.readlink(data_dir / "published")}
    for path in sorted((data_dir / "releases").rglob("*")) + sorted(
            (data_dir / "raw" / "objects").rglob("*")):
        if path.is_file() and not path.parent.name.startswith("."):
            files[str(path.relative_to(data_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


@pytest.mark.parametrize(("kind", "stage", "severity", "message"), [
    # Refused as they are downloaded: the archived version stays published.
    ("truncated", "fetch", "warning", "truncated or corrupt file"),
    ("html", "fetch", "warning", "file does not exist or was deleted"),
    ("huge", "fetch", "warning", "over the 1000000-byte cap"),
    ("foreign", "fetch", "warning", "host files.evil.example is not one of the CAC hosts"),
    ("zipbomb", "fetch", "warning", "zip bomb"),  # before any inflating
    # Downloaded, but unreadable: that version is held back, the previous one stays current.
    ("dtd", "extract", "held_back", "declares a DTD or entities"),
])
def test_a_bad_file_holds_back_only_its_batch(published_site: tuple[TinySite, Path],
                                               kind: str, stage: str, severity: str,
                                               message: str) -> None:
    site, data = published_site
    before = snapshot(data)
    data_before = content_fingerprint((data / "published").resolve())
    site.options.hostile = kind
    os.environ["CAC_FILINGS_MAX_BYTES"] = "1000000"
    try:
        done = run(site, data, "--refresh-attachments")
    finally:
        del os.environ["CAC_FILINGS_MAX_BYTES"]
    assert done.returncode == 5, done.stderr  # published, but something is held back
    assert message in done.stderr
    assert "境内深度合成服务算法备案清单（2023年8月）" in done.stderr or \
        "downloadfile.jsp" in done.stderr  # the error names the file
    after = snapshot(data)
    assert {k: v for k, v in after.items() if k in before and k != "published"} == {
        k: v for k, v in before.items() if k != "published"}  # nothing rewritten
    # The data published is what it was; the release says what was refused.
    assert content_fingerprint((data / "published").resolve()) == data_before
    (problem,) = table(data, "problems")
    assert (problem["batch_id"], problem["stage"], problem["severity"]) == (
        "deep_synthesis/2023-08", stage, severity)
    assert message in problem["reason"]
    last = json.loads((data / "runs.jsonl").read_text().splitlines()[-1])
    assert last["status"] == "published" and last["exit_code"] == 5
    assert any(message in line for line in last["problems"])
    # The cause goes away: the next run publishes clean data without any clean-up.
    site.options.hostile = None
    clean = run(site, data, "--refresh-attachments")
    assert clean.returncode == 0, clean.stderr
    assert table(data, "problems") == []
    assert content_fingerprint((data / "published").resolve()) == data_before


def test_script_and_formula_text_is_kept_escaped_and_neutralised(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.hostile = "injection"
    done = run(site, data, "--refresh-attachments")
    assert done.returncode == 0, done.stderr
    filing = next(f for f in table(data, "filings") if f["name"] == "+SUM(A1:A9)算法")
    # Stored as published (the company normalised like any other: full-width parentheses).
    assert filing["company"] == normalize_company(INJECTION_COMPANY)
    assert filing["company"].startswith("=HYPERLINK（")
    products = json.loads(filing["products"])
    assert products == [{"name": "<script>alert('x')</script>", "type": "APP"}]
    assert filing["purpose"] == "@应用于生成场景。" and filing["remarks"] == "-注意"

    release = (data / "published").resolve()
    csv_text = (release / "csv" / "filings.csv").read_text(encoding="utf-8-sig")
    assert "'+SUM(A1:A9)算法" in csv_text and "'=HYPERLINK" in csv_text
    assert "'@应用于生成场景。" in csv_text and "'-注意" in csv_text
    assert ",+SUM" not in csv_text and ',"+SUM' not in csv_text
    parquet = pq.read_table(release / "filings.parquet").to_pylist()
    assert any(r["name"] == "+SUM(A1:A9)算法" for r in parquet)  # Parquet keeps it

    async def page() -> str:
        ds = Datasette([str(release / "cac_filings.db")], immutables=[],
                       metadata=json.loads((release / "metadata.json").read_text()))
        response = await ds.client.get("/cac_filings/filings", params={"_search": "SUM"})
        assert response.status_code == 200
        text: str = response.text
        return text

    html = asyncio.run(page())
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in html or "&lt;script&gt;" in html
    assert INJECTION_PRODUCT not in html


def test_a_second_run_at_once_is_refused(published_site: tuple[TinySite, Path]) -> None:
    import fcntl

    site, data = published_site
    holder = os.open(data / ".lock", os.O_RDWR)
    os.pwrite(holder, b'{"pid": 4242, "command": "run"}', 0)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        done = run(site, data)
    finally:
        os.close(holder)
    assert done.returncode == 4
    assert "another cac-filings process is writing to" in done.stderr
    assert "(PID 4242, `cac-filings run`)" in done.stderr
    assert run(site, data).returncode == 0  # and once it is gone, runs work again
