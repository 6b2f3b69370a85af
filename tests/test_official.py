"""CAC's own totals as data, and this release reconciled with them, on the tiny site (whose
annual summary states its totals in Chinese numerals, and one of them wrongly)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cac_filings.build.official import reconcile
from cac_filings.status import tracker_status
from tests.test_e2e_tiny_site import table
from tests.test_no_wedge import run
from tests.tinysite import ANNUAL_PAGE, TinySite, serve_site


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TinySite, Path]]:
    data = tmp_path_factory.mktemp("official")
    with serve_site() as site:
        code, output = run(site, data)
        assert code == 0, output  # a difference is information, never a refusal
        yield site, data


def test_every_stated_figure_is_a_row(published: tuple[TinySite, Path]) -> None:
    _, data = published
    counts = {(r["counted"], r["measure"]): r for r in table(data, "official_counts")}
    assert {k: r["official"] for k, r in counts.items()} == {
        ("filed", "cumulative"): 4, ("filed", "new_in_year"): 3,
        ("registered", "new_in_year"): 3}
    filed = counts[("filed", "cumulative")]
    assert filed["statement_url"] == f"https://www.cac.gov.cn{ANNUAL_PAGE}"
    assert filed["statement_date"].isoformat() == "2025-01-08"
    assert filed["as_of"].isoformat() == "2024-12-31" and filed["list_kind"] == "genai_filing"
    assert "共有四款生成式人工智能服务在国家网信办完成备案" in filed["sentence"]
    assert counts[("registered", "new_in_year")]["year"] == 2024


def test_each_figure_is_reconciled_and_a_difference_is_exact(
        published: tuple[TinySite, Path]) -> None:
    _, data = published
    rows = {(r["counted"], r["measure"]): r for r in table(data, "reconciliation")}
    assert {k: (r["official"], r["ours"], r["difference"], r["status"])
            for k, r in rows.items()} == {
        ("filed", "cumulative"): (4, 4, 0, "agrees"),
        ("filed", "new_in_year"): (3, 3, 0, "agrees"),
        ("registered", "new_in_year"): (3, 2, -1, "differs")}
    assert json.loads(rows[("registered", "new_in_year")]["batches"]) == {"genai/2024-08": 2}
    assert "on or before 2024-12-31" in rows[("filed", "cumulative")]["method"]
    manifest = json.loads((data / "published" / "manifest.json").read_text())
    assert [r["status"] for r in manifest["reconciliation"]].count("differs") == 1


def test_the_difference_is_said_in_the_run(tmp_path: Path) -> None:
    with serve_site() as site:
        code, output = run(site, tmp_path)
    assert code == 0
    assert ("reconciliation: CAC states 3 (registered, new_in_year, 2024-12-31) where this "
            "release counts 2 (difference -1;") in output


def test_a_figure_without_a_day_or_year_is_not_compared() -> None:
    row = {"statement_url": "u", "statement_date": "2025-01-08", "as_of": None, "year": None,
           "list_kind": "genai_filing", "counted": "filed", "measure": "cumulative",
           "official": 9, "sentence": "共有9款"}
    (result,) = reconcile([row], [], [])
    assert (result["ours"], result["status"]) == (None, "not_comparable")


def test_the_status_says_what_was_checked_when(published: tuple[TinySite, Path]) -> None:
    _, data = published
    status = tracker_status(data, (data / "published").resolve())
    assert status["release"]["release_id"] == (data / "published").resolve().name
    by_source = {s["source"]: s for s in status["sources"]}
    assert set(by_source) == {"cn_cac_algorithm", "cn_cac_cancellations",
                              "cn_cac_deep_synthesis", "cn_cac_generative_ai"}
    algorithm = by_source["cn_cac_algorithm"]
    assert algorithm["last_successful_check"] and algorithm["batches"] == 2
    assert algorithm["rows"] == 4 and algorithm["held_back"] == []
    assert status["last_runs"][0]["exit_code"] == 0 and status["healthy"]
    assert status["reconciliation"][0]["statement_url"].endswith(ANNUAL_PAGE)
    # A difference from CAC's totals is said beside the health, not as ill health.
    assert status["totals_differing"] == 1


def test_a_statement_that_cannot_be_read_is_a_reported_problem(tmp_path: Path) -> None:
    with serve_site() as site:
        site.options.vague_statement = True
        code, output = run(site, tmp_path)
    assert code == 5, output  # published, with something for a maintainer to look at
    (problem,) = table(tmp_path, "problems")
    assert (problem["stage"], problem["severity"]) == ("statement", "warning")
    assert problem["batch_id"] == f"statement https://www.cac.gov.cn{ANNUAL_PAGE}"
    assert "超过300款" in problem["reason"]
    assert len(table(tmp_path, "official_counts")) == 3  # the readable figures are kept
