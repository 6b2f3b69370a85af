"""Never stale, end to end: on a site whose newest files carry every kind of drift CAC has
shown (an xlsx list with headers written differently, an extra column, a misnamed required
column, a corrupt download, a PDF with a third, on-device table, a list also announced on a
page of its own), a run publishes every readable batch with its real rows, holds back only
what it cannot read with the reason named, exits 5, and the next run after a fix publishes
it. Runs the real command in a subprocess, as cron would."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from cac_filings.sources import scrapers_dir
from tests.test_e2e_tiny_site import run, table
from tests.tinysite import DS_E, DS_F, KUAISHOU, XIAOHONGSHU, serve_site


def current(data: Path) -> dict[str, dict[str, Any]]:
    return {b["batch_id"]: b for b in table(data, "batches") if b["is_current"]}


def numbers(data: Path, batch_id: str) -> list[str]:
    versions = {(b["batch_id"], b["version"]) for b in current(data).values()}
    return [r["filing_number"] for r in table(data, "listings")
            if r["batch_id"] == batch_id and (r["batch_id"], r["version"]) in versions]


def test_a_drifted_site_publishes_what_can_be_read_and_holds_back_the_rest(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve_site() as site:
        assert run(site, data).returncode == 0
        site.options.drift = True
        done = run(site, data)
        assert done.returncode == 5, done.stderr

        batches = current(data)
        # Read, with their real rows, the day they appear:
        assert batches["algorithm/2026-08"]["file_format"] == "xlsx"
        assert numbers(data, "algorithm/2026-08") == [XIAOHONGSHU]
        assert numbers(data, "deep_synthesis/2026-08") == [DS_E]
        genai = [r for r in table(data, "listings") if r["batch_id"] == "genai/2026-08"]
        assert sorted({r["list_kind"] for r in genai}) == [
            "genai_filing", "genai_on_device", "genai_registration"]
        on_device = [f for f in table(data, "filings") if f["list_kind"] == "genai_on_device"]
        assert [f["scenario"] for f in on_device] == ["手机等智能终端"] * 2
        # The list linked from two pages is one batch version, dated by its own page.
        assert [b["version"] for b in table(data, "batches")
                if b["batch_id"] == "genai/2026-08"] == [1]
        assert batches["genai/2026-08"]["published_on"].isoformat() == "2026-09-05"
        # Held back, named, with the reason:
        assert "algorithm/2026-09" not in batches and "deep_synthesis/2026-09" not in batches
        problems = {(p["batch_id"], p["severity"], p["stage"]): p["reason"]
                    for p in table(data, "problems")}
        assert "truncated or corrupt file" in problems[("algorithm/2026-09", "held_back",
                                                        "fetch")]
        missing = problems[("deep_synthesis/2026-09", "held_back", "extract")]
        assert "no column for required field 'filing_number'" in missing and "备案号码" in missing
        assert "unknown column '上线日期'" in problems[("deep_synthesis/2026-08", "warning",
                                                       "extract")]
        assert "held back          2 batch version(s)" in done.stdout
        manifest = json.loads((data / "published" / "manifest.json").read_text())
        assert len(manifest["held_back"]) == 2
        assert "Held back 暂缓发布 (2)" in (data / "published" / "CHANGES.md").read_text()

        # A maintainer maps the two new headers in a copy of the scrapers (a deployment's
        # own source.yml). Nothing on the site changed, but the code that builds did: the
        # next run rebuilds, and publishes what the mapping can read.
        scrapers = tmp_path / "scrapers"
        shutil.copytree(scrapers_dir(), scrapers)
        yml = scrapers / "cn_cac_deep_synthesis" / "source.yml"
        yml.write_text(yml.read_text(encoding="utf-8").replace(
            "      备案编号: filing_number\n",
            "      备案编号: filing_number\n      备案号码: filing_number\n"
            "      上线日期: online_on\n"), encoding="utf-8")
        os.environ["CAC_FILINGS_SCRAPERS"] = str(scrapers)
        try:
            mapped = run(site, data)
            assert mapped.returncode == 5, mapped.stderr  # the corrupt file: still held back
            assert numbers(data, "deep_synthesis/2026-09") == [DS_F]
            assert [p["batch_id"] for p in table(data, "problems")] == ["algorithm/2026-09"]
            # CAC serves the file whole again: the next run publishes it, no clean-up needed.
            site.options.drift_fixed = True
            fixed = run(site, data)
        finally:
            del os.environ["CAC_FILINGS_SCRAPERS"]
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert numbers(data, "algorithm/2026-09") == [KUAISHOU]
        assert table(data, "problems") == []


def test_the_fingerprint_follows_the_code_that_builds(tmp_path: Path,
                                                      monkeypatch: Any) -> None:
    from cac_filings.fingerprint import code_fingerprint

    scrapers = tmp_path / "scrapers"
    shutil.copytree(scrapers_dir(), scrapers)
    monkeypatch.setenv("CAC_FILINGS_SCRAPERS", str(scrapers))
    before = code_fingerprint()
    yml = scrapers / "cn_cac_algorithm" / "source.yml"
    yml.write_text(yml.read_text(encoding="utf-8") + "\n# a mapping changed\n",
                   encoding="utf-8")
    monkeypatch.setenv("CAC_FILINGS_SCRAPERS", str(tmp_path / "other"))
    shutil.copytree(scrapers, tmp_path / "other")
    assert code_fingerprint() != before  # a source.yml edit: the next run rebuilds


def test_the_code_that_only_serves_is_not_in_the_fingerprint(tmp_path: Path) -> None:
    from cac_filings.fingerprint import _files

    for name in ("build/rows.py", "web/pages.py", "datasette_plugin/templates/index.html",
                 "serve.py", "schema.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in _files(tmp_path)] == [
        "build/rows.py", "schema.py"]


def test_a_new_version_of_a_reading_library_changes_the_fingerprint(monkeypatch: Any) -> None:
    from cac_filings import fingerprint

    monkeypatch.setattr(fingerprint, "_files", lambda root: [])  # the libraries alone
    real = fingerprint._version
    versions = {"pypdfium2": real("pypdfium2")}
    monkeypatch.setattr(fingerprint, "_version", lambda name: versions.get(name, real(name)))
    fingerprint._fingerprint.cache_clear()
    before = fingerprint.code_fingerprint()
    versions["pypdfium2"] = "99.0"
    fingerprint._fingerprint.cache_clear()
    try:
        assert fingerprint.code_fingerprint() != before  # an upgrade re-parses every file
    finally:
        fingerprint._fingerprint.cache_clear()
