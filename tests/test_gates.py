"""Release gates: a release that breaks one is refused with a message a maintainer can act
on, the previous release stays published, and --accept publishes it after review, on the
record."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_e2e_tiny_site import run, table
from tests.tinysite import DS_D, TinySite, serve_site


@pytest.fixture
def published_site(tmp_path: Path) -> Iterator[tuple[TinySite, Path]]:
    with serve_site() as site:
        assert run(site, tmp_path).returncode == 0
        yield site, tmp_path


def manifest(data: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((data / "published" / "manifest.json").read_text())
    return loaded


def test_a_list_that_shrinks_too_much_is_refused(published_site: tuple[TinySite, Path]
                                                 ) -> None:
    site, data = published_site
    before = os.readlink(data / "published")
    site.options.shrink = True  # deep synthesis: 4 filings → 3, a 25% drop
    refused = run(site, data, "--refresh-attachments")
    assert refused.returncode == 3
    assert "no_large_drop: deep_synthesis: 4 → 3 filings" in refused.stderr
    assert "--accept no_large_drop" in refused.stderr  # what to do about it
    assert os.readlink(data / "published") == before
    rejected = [p for p in (data / "releases").iterdir() if p.name.startswith(".rejected-")]
    assert len(rejected) == 1 and (rejected[0] / "manifest.json").is_file()

    lenient = run(site, data, "--max-shrink", "0.3")
    assert lenient.returncode == 0, lenient.stderr  # a looser threshold lets it through
    assert os.readlink(data / "published") != before
    latest = sorted(p.name for p in (data / "releases").iterdir()
                    if not p.name.startswith("."))[-1]
    removed = [c for c in table(data, "changes") if c["release_id"] == latest]
    assert [(c["filing_number"], c["change"]) for c in removed] == [(DS_D, "removed")]


def test_accepting_a_failed_gate_is_recorded(published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    site.options.shrink = True
    assert run(site, data, "--refresh-attachments").returncode == 3
    without_reason = run(site, data, "--accept", "no_large_drop")
    assert without_reason.returncode == 2 and "--accept-reason" in without_reason.stderr
    done = run(site, data, "--accept", "no_large_drop", "--accept-reason",
               "CAC removed 视频生成算法 from the 2023年8月 list on purpose")
    assert done.returncode == 0, done.stderr
    assert "gate no_large_drop failed and was accepted" in done.stderr
    record = manifest(data)
    assert record["acceptance"] == {
        "gates": ["no_large_drop"],
        "reason": "CAC removed 视频生成算法 from the 2023年8月 list on purpose"}
    gate = next(a for a in record["assertions"]  # type: ignore[attr-defined]
                if a["name"] == "no_large_drop")
    assert gate["ok"] is False and gate["accepted"] is True


def test_an_unknown_category_is_refused_until_added_or_accepted(
        published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    before = os.readlink(data / "published")
    site.options.new_category = True
    refused = run(site, data, "--refresh-attachments")
    assert refused.returncode == 3
    assert "known_categories: 算法类别 not in the source's vocabulary: algorithm: 智能体调度类" \
        in refused.stderr
    assert os.readlink(data / "published") == before
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
    assert "acceptance" not in record or not record["acceptance"]
    gate = next(a for a in record["assertions"]  # type: ignore[attr-defined]
                if a["name"] == "known_categories")
    assert gate["ok"] is True and "1 file version(s) new since the last release" in gate["detail"]
    assert any(f["name"] == "微信搜一搜算法" for f in table(data, "filings"))


def test_only_gates_can_be_accepted(published_site: tuple[TinySite, Path]) -> None:
    site, data = published_site
    done = run(site, data, "--accept", "every_row_in_listings", "--accept-reason", "no")
    assert done.returncode == 3
    assert "not a gate that can be accepted" in done.stderr
