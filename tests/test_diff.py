"""Diffs between filings (git-history style) and the refresh policy of scheduled crawls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cac_filings.crawl import Refresh
from cac_filings.diff import TRACKED, count_changes, diff_filings


def filing(number: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in TRACKED}
    row.update(list_kind="algorithm", filing_number=number, name="算法", company="公司",
               status="active", products="[]", quality_flags="[]", number_valid=True,
               first_batch_id="algorithm/2022-08", last_batch_id="algorithm/2022-08",
               first_published_on="2022-08-12", source_url="https://www.cac.gov.cn/a")
    row.update(fields)
    return row


def test_added_removed_and_unchanged() -> None:
    old = [filing("A"), filing("B")]
    new = [filing("B"), filing("C", name="新算法")]
    changes = diff_filings(old, new)
    assert [(c.filing_number, c.change) for c in changes] == [("A", "removed"), ("C", "added")]
    added = changes[1]
    assert added.before is None and added.after is not None and added.after["name"] == "新算法"
    assert added.fields == () and added.name == "新算法"
    removed = changes[0]
    assert removed.after is None and removed.before is not None
    assert count_changes(changes) == {"added": 1, "modified": 0, "cancelled": 0, "removed": 1}


def test_modified_names_exactly_the_changed_fields() -> None:
    old = [filing("A", remarks=None, products='[{"name":"抖音","type":"APP"}]')]
    new = [filing("A", remarks="2023年8月更新应用产品", products='[{"name":"抖音","type":"APP"}]')]
    (change,) = diff_filings(old, new)
    assert change.change == "modified" and change.fields == ("remarks",)
    assert change.before == {"remarks": None}
    assert change.after == {"remarks": "2023年8月更新应用产品"}
    row = change.as_row("20250101T000000Z")
    assert row["fields"] == '["remarks"]' and row["release_id"] == "20250101T000000Z"


def test_where_a_number_was_listed_is_not_a_change() -> None:
    old = [filing("A")]
    new = [filing("A", last_batch_id="algorithm/2025-07", source_url="https://www.cac.gov.cn/b",
                  first_published_on=dt.date(2022, 8, 12))]
    assert diff_filings(old, new) == []


def test_dates_from_parquet_equal_their_iso_text() -> None:
    old = [filing("A", cancelled_on=dt.date(2025, 7, 1))]
    new = [filing("A", cancelled_on="2025-07-01")]
    assert diff_filings(old, new) == []


def test_status_becoming_cancelled_is_a_cancellation() -> None:
    old = [filing("A")]
    new = [filing("A", status="cancelled", remarks="已注销")]
    (change,) = diff_filings(old, new)
    assert change.change == "cancelled" and set(change.fields) == {"status", "remarks"}


def test_same_number_in_two_lists_is_two_keys() -> None:
    new = [filing("A"), filing("A", list_kind="deep_synthesis")]
    assert [(c.list_kind, c.change) for c in diff_filings([], new)] == [
        ("algorithm", "added"), ("deep_synthesis", "added")]


def test_refresh_policy() -> None:
    now = dt.datetime(2025, 8, 10, 12, tzinfo=dt.UTC)
    assert Refresh(all=True).due(None, now)
    assert not Refresh().due("2020-01-01T00:00:00Z", now)
    weekly = Refresh(older_than_days=7)
    assert weekly.due("2025-08-01T00:00:00Z", now)
    assert not weekly.due("2025-08-05T00:00:00Z", now)
    assert not weekly.due(None, now)  # nothing to compare with: never downloaded by age alone


def test_a_column_an_older_release_lacks_is_null_there() -> None:
    """Rows read from a release made before a tracked column existed have no such key."""
    old = [{k: v for k, v in filing(n).items() if k != "scenario"} for n in ("A", "B")]
    new = [filing("A"), filing("B", scenario="用于推荐")]
    (change,) = diff_filings(old, new)
    assert (change.filing_number, change.change, change.fields) == ("B", "modified",
                                                                    ("scenario",))
    assert change.before == {"scenario": None} and change.after == {"scenario": "用于推荐"}
    (added,) = diff_filings([], old[:1])
    assert added.after is not None and added.after["scenario"] is None
