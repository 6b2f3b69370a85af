"""Releases that remember, on the tiny self-made site: the release chain, changes, the diff
command, CHANGES.md and the feed, a run that finds nothing new, and an edited re-upload."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli
from tests.test_e2e_tiny_site import run, table
from tests.tinysite import ALGO_PAGE, BAIDU, KUAISHOU, TinySite, serve_site


def releases(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "releases").iterdir() if not p.name.startswith("."))


def runs(data_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (data_dir / "runs.jsonl").read_text().splitlines()]


@pytest.fixture
def history(tmp_path: Path) -> Iterator[tuple[TinySite, Path]]:
    """Two releases: the first crawl, then one with a new attachment on the in-place page."""
    with serve_site() as site:
        assert run(site, tmp_path).returncode == 0
        site.options.third_attachment = True
        second = run(site, tmp_path)
        assert second.returncode == 0, second.stderr
        yield site, tmp_path


def test_each_release_links_to_the_one_before(history: tuple[TinySite, Path]) -> None:
    _, data = history
    first, second = releases(data)
    rows = table(data, "releases")
    assert [r["release_id"] for r in rows] == [first.name, second.name]
    assert [r["previous_release_id"] for r in rows] == [None, first.name]
    assert [(r["n_added"], r["n_modified"], r["n_removed"]) for r in rows] == [(14, 0, 0),
                                                                               (1, 0, 0)]
    assert rows[1]["n_filings"] == 15
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["previous_release_id"] == first.name
    assert manifest["changes"] == {"added": 1, "modified": 0, "cancelled": 0, "removed": 0}


def test_changes_hold_the_whole_history(history: tuple[TinySite, Path]) -> None:
    _, data = history
    first, second = releases(data)
    changes = table(data, "changes")
    assert [c["change"] for c in changes if c["release_id"] == first.name] == ["added"] * 14
    latest = [c for c in changes if c["release_id"] == second.name]
    assert [(c["filing_number"], c["change"], c["name"]) for c in latest] == [
        (KUAISHOU, "added", "快手推荐算法")]
    after = json.loads(latest[0]["after"])
    assert after["company"] == "北京快手科技有限公司" and after["category"] == "个性化推送类"
    assert [r["release_id"] for r in pq.read_table(first / "changes.parquet").to_pylist()] == [
        first.name] * 14  # an old release is never rewritten


def test_release_notes_and_feed(history: tuple[TinySite, Path]) -> None:
    _, data = history
    second = releases(data)[-1]
    notes = (second / "CHANGES.md").read_text()
    assert f"compared with release {releases(data)[0].name}" in notes
    assert "1 added · 0 modified · 0 cancelled · 0 removed" in notes
    assert "**北京快手科技有限公司**" in notes and KUAISHOU in notes
    feed = feedparser.parse((second / "feed.atom").read_bytes())
    assert not feed.bozo and feed.version == "atom10"
    (entry,) = feed.entries
    assert entry.title == "快手推荐算法 — 北京快手科技有限公司"
    assert entry.link.startswith("https://www.cac.gov.cn/cms/pub/interact/downloadfile.jsp")
    assert KUAISHOU in entry.id


def test_diff_command(history: tuple[TinySite, Path]) -> None:
    _, data = history
    first, second = releases(data)
    done = run_cli("diff", "--data-dir", str(data), process=True)
    assert done.returncode == 0, done.stderr
    assert f"{first.name} → {second.name}: 1 added, 0 modified, 0 cancelled, 0 removed" in \
        done.stdout
    assert KUAISHOU in done.stdout and "快手推荐算法" in done.stdout
    as_json = run_cli("diff", first.name, second.name, "--data-dir", str(data), "--json", "-")
    assert [c["filing_number"] for c in json.loads(as_json.stdout)] == [KUAISHOU]
    target = data / "changes.csv"
    assert run_cli("diff", "--data-dir", str(data), "--csv", str(target)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [(r["filing_number"], r["change"]) for r in rows] == [(KUAISHOU, "added")]
    unknown = run_cli("diff", "20990101T000000Z", "--data-dir", str(data))
    assert unknown.returncode == 2 and "no release 20990101T000000Z" in unknown.stderr
    # The first release is compared with nothing: all it holds was added.
    first_only = run_cli("diff", first.name, first.name, "--data-dir", str(data), "--json", "-")
    assert json.loads(first_only.stdout) == []
    counts = json.loads((first / "manifest.json").read_text())["row_counts"]["filings"]
    (data / "published").unlink()
    (data / "published").symlink_to(Path("releases") / first.name)
    alone = run_cli("diff", "--data-dir", str(data))
    assert alone.returncode == 0, alone.stderr
    assert (f"(no earlier release) → {first.name}: {counts} added, 0 modified, 0 cancelled, "
            "0 removed") in alone.stdout
    (data / "published").unlink()
    (data / "published").symlink_to(Path("releases") / second.name)


def test_nothing_new_makes_no_release(history: tuple[TinySite, Path]) -> None:
    site, data = history
    before = releases(data)
    seen = len(site.requests)
    done = run(site, data, "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        f"nothing new: 6 batches unchanged since release {before[-1].name}; no release made"]
    assert releases(data) == before
    assert runs(data)[-1]["status"] == "nothing-new"
    this_run = site.requests[seen:]
    # One source's page fails: the count is still the published release's batches.
    site.options.failing[ALGO_PAGE] = "500"
    try:
        failed = run(site, data, "--quiet")
    finally:
        del site.options.failing[ALGO_PAGE]
    assert failed.returncode == 1, failed.stderr
    assert failed.stdout.startswith(
        f"nothing new: 6 batches unchanged since release {before[-1].name}"), failed.stdout
    paths = [path for path, _ in this_run]
    assert not [p for p in paths if "downloadfile.jsp" in p]  # no attachment downloaded
    pages = [h for path, h in this_run if path.endswith(".htm")]
    assert pages and all(h.get("if-none-match") for h in pages)  # only conditional requests
    # The notice board's JSON API sends no validators: asked once per run, for two sources.
    assert [p for p in paths if not p.endswith(".htm")] == ["/api/notice/list"]
    # The first list page holds only known items: the walk stops there.
    assert "/wxzw/wxfb/A093702index_1.htm" in paths
    assert "/wxzw/wxfb/A093702index_2.htm" not in paths


def test_an_edited_reupload_is_found_by_a_refresh(history: tuple[TinySite, Path]) -> None:
    site, data = history
    site.options.edited = True
    quiet = run(site, data)
    assert "nothing new" in quiet.stdout  # no refresh: the edit goes unseen
    done = run(site, data, "--refresh-attachments")
    assert done.returncode == 0, done.stderr
    assert "/wxzw/wxfb/A093702index_2.htm" in site.paths()[-12:]  # a refresh walks it all
    batches = [(b["batch_id"], b["version"], b["is_current"]) for b in table(data, "batches")
               if b["batch_id"] == "algorithm/2022-08"]
    assert batches == [("algorithm/2022-08", 1, False), ("algorithm/2022-08", 2, True)]
    latest = releases(data)[-1].name
    changes = [c for c in table(data, "changes") if c["release_id"] == latest]
    assert [(c["filing_number"], c["change"], json.loads(c["fields"])) for c in changes] == [
        (BAIDU, "modified", ["remarks"])]
    assert json.loads(changes[0]["after"]) == {"remarks": "2023年8月更新应用产品"}
    listings = [r for r in table(data, "listings") if r["batch_id"] == "algorithm/2022-08"]
    assert [r["version"] for r in listings] == [1, 1, 2, 2]  # both versions stay listed


def test_the_feed_is_well_formed_xml_whatever_the_cells_hold() -> None:
    import xml.etree.ElementTree as ET

    from cac_filings.diff import Change
    from cac_filings.notes import atom_feed
    from cac_filings.sources import load_sources, registry_of

    nasty = "甲<b>&\"算法\"\x0b\x00</b>"
    change = Change("algorithm", "网信算备110108823483901230031号", "added", (),
                    None, {"category": nasty, "purpose": "a & b"}, nasty, "=HYPERLINK(\"x\")")
    # A plain entry from the same file: only its link has anything to escape.
    plain = Change("algorithm", "网信算备110108823483901230032号", "added", (),
                   None, {"category": "检索过滤类"}, "搜索算法", "北京某科技有限公司")
    url = "https://www.cac.gov.cn/a?x=1&y=<2>"
    feed = atom_feed("20260101T000000Z", "2026-01-01T00:00:00Z", [change, plain],
                     {("algorithm", c.filing_number): {
                         "source_url": url, "first_published_on": day}
                      for c, day in ((change, "2022-08-12"), (plain, "2022-08-11"))},
                     registry_of(load_sources()))
    root = ET.fromstring(feed)  # raises on a stray control character or unescaped markup
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entry, other = root.findall("a:entry", ns)
    assert other.findtext("a:title", namespaces=ns) == "搜索算法 — 北京某科技有限公司"
    other_link = other.find("a:link", ns)
    assert other_link is not None and other_link.get("href") == url
    label = registry_of(load_sources())["algorithm"].label
    assert other.findtext("a:summary", namespaces=ns) == (
        f"网信算备110108823483901230032号; {label}; 类别: 检索过滤类")
    assert entry.findtext("a:title", namespaces=ns) == '甲<b>&"算法"</b> — =HYPERLINK("x")'
    link = entry.find("a:link", ns)
    assert link is not None and link.get("href") == "https://www.cac.gov.cn/a?x=1&y=<2>"
    assert "类别: 甲<b>&\"算法\"</b>" in (entry.findtext("a:summary", namespaces=ns) or "")
    assert root.findtext("a:subtitle", namespaces=ns) == "Release 20260101T000000Z"
    # Dated by CAC's publication of the batch, not by the build.
    assert entry.findtext("a:updated", namespaces=ns) == "2022-08-12T00:00:00Z"
