"""Gates: a batch version that fails a check of its own is held back (exit 5) while the rest
is published; a release that breaks a release-wide gate is refused (exit 3) with a message a
maintainer can act on, the previous release stays published; --accept publishes either after
review, on the record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_e2e_tiny_site import run, table
from tests.tinysite import DS_C, DS_D, TinySite


def manifest(data: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((data / "published" / "manifest.json").read_text())
    return loaded


def current_numbers(data: Path, batch_id: str) -> set[str]:
    batches = {(b["batch_id"], b["version"]) for b in table(data, "batches") if b["is_current"]}
    return {r["filing_number"] for r in table(data, "listings")
            if r["batch_id"] == batch_id and (r["batch_id"], r["version"]) in batches}


def test_a_batch_that_loses_rows_is_held_back_then_accepted(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.shrink = True  # the 2nd deep-synthesis list re-uploaded with 1 of its 2 rows
    held = run(site, data, "--refresh-attachments")
    assert held.returncode == 5, held.stderr
    assert ("deep_synthesis/2023-08 v2 held back (check, gate batch_shrink): the new version "
            "has 1 rows where the published one has 2") in held.stdout
    assert "--accept batch_shrink:deep_synthesis/2023-08" in held.stdout
    # The previous version stays current: nothing was lost.
    assert current_numbers(data, "deep_synthesis/2023-08") == {DS_C, DS_D}
    (problem,) = table(data, "problems")
    assert (problem["gate"], problem["severity"]) == ("batch_shrink", "held_back")
    assert "Held back 暂缓发布 (1)" in (data / "published" / "CHANGES.md").read_text()
    # Retried on every run: still held back, still exit 5.
    assert run(site, data).returncode == 5

    # Accepted for that batch, the list-wide gate still guards against a large drop ...
    reason = "CAC removed 视频生成算法 from the 2023年8月 list on purpose"
    before = os.readlink(data / "published")
    refused = run(site, data, "--accept", "batch_shrink:deep_synthesis/2023-08",
                  "--accept-reason", reason)
    assert refused.returncode == 3
    assert "no_large_drop: deep_synthesis: 4 → 3 filings" in refused.stderr
    assert os.readlink(data / "published") == before
    rejected = [p for p in (data / "releases").iterdir() if p.name.startswith(".rejected-")]
    assert len(rejected) == 1 and (rejected[0] / "manifest.json").is_file()
    # ... until it is accepted too.
    done = run(site, data, "--accept", "batch_shrink:deep_synthesis/2023-08", "--accept",
               "no_large_drop", "--accept-reason", reason)
    assert done.returncode == 0, done.stderr
    assert "gate no_large_drop failed and was accepted" in done.stderr
    record = manifest(data)
    acceptance = record["acceptance"]
    assert isinstance(acceptance, dict) and acceptance["reason"] == reason
    assert [a["gate"] for a in acceptance["accepted"]] == ["batch_shrink"]
    assert current_numbers(data, "deep_synthesis/2023-08") == {DS_C}
    latest = sorted(p.name for p in (data / "releases").iterdir()
                    if not p.name.startswith("."))[-1]
    removed = [c for c in table(data, "changes") if c["release_id"] == latest]
    assert [(c["filing_number"], c["change"]) for c in removed] == [(DS_D, "removed")]
    assert table(data, "problems") == []


def test_a_looser_batch_threshold_lets_a_shrink_through(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.shrink = True
    done = run(site, data, "--refresh-attachments", "--max-batch-shrink", "0.6",
               "--max-shrink", "0.3")
    assert done.returncode == 0, done.stderr
    assert current_numbers(data, "deep_synthesis/2023-08") == {DS_C}
    without_reason = run(site, data, "--accept", "no_large_drop")
    assert without_reason.returncode == 2 and "--accept-reason" in without_reason.stderr


def test_an_unknown_category_is_held_back_until_added_or_accepted(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.new_category = True
    held = run(site, data, "--refresh-attachments")
    assert held.returncode == 5
    assert ("known_categories" in held.stdout
            and "算法类别 not in the source's vocabulary: algorithm: 智能体调度类" in held.stdout)
    # The re-upload is held back; the version published before stays current.
    wechat = next(f for f in table(data, "filings") if f["name"] == "微信搜一搜算法")
    assert wechat["category"] == "检索过滤类"
    assert run(site, data, "--accept", "known_categories", "--accept-reason",
               "new category announced by CAC").returncode == 0
    wechat = next(f for f in table(data, "filings") if f["name"] == "微信搜一搜算法")
    assert wechat["category"] == "智能体调度类"
    assert "unknown_category" in json.loads(wechat["quality_flags"])
    # The next release, with a new file, is not held up by the file already accepted.
    site.options.third_attachment = True
    later = run(site, data, "--refresh-attachments")
    assert later.returncode == 0, later.stderr
    record = manifest(data)
    assert not record.get("acceptance") and record["held_back"] == []
    assert any(f["name"] == "微信搜一搜算法" for f in table(data, "filings"))


def test_only_gates_can_be_accepted(published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    done = run(site, data, "--accept", "every_row_in_listings", "--accept-reason", "no")
    assert done.returncode == 3
    assert "not a gate that can be accepted" in done.stderr


@pytest.mark.parametrize("gate", ["batch_shrink:deep_synthesis/2023-08", "no_large_drop"])
def test_acceptance_needs_a_reason(published_site: tuple[TinySite, Path], gate: str) -> None:
    site, data = published_site
    done = run(site, data, "--accept", gate)
    assert done.returncode == 2 and "--accept-reason" in done.stderr
