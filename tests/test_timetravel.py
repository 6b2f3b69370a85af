"""Releases over time, against the replica: step its simulated date half-year by half-year from
2023-06-30 to its last date, run with attachment refresh after each step, and check every
release's `changes` against what the replica published in that step — computed here, from the
replica's own catalog and files read with python-docx (conftest.docx_cells), not from
cac-filings' code.

Expected, per step: a filing number new to its list is `added`; a number whose row in the
latest file listing it now says something else (a re-edited attachment, or a number listed
again with new products) is `modified`; nothing else; and no release when nothing was
published. Then a run with nothing new must send only conditional page requests.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from tests.conftest import DocxCells, Replica, invoke, read_docx_cells, run_cli, start_replica

pytestmark = pytest.mark.replica

LISTS = {"互联网信息服务算法备案清单": "algorithm", "深度合成服务算法备案清单": "deep_synthesis"}
# The two lists whose history this checks (the generative-AI and cancellation sources have
# their own tests).
SOURCES = ("--source", "cn_cac_algorithm", "--source", "cn_cac_deep_synthesis")
Key = tuple[str, str]  # (list_kind, filing number)


# The end of the month in which CAC re-uploaded the edited 2023-06 deep-synthesis list.
REEDITED = dt.date(2024, 1, 31)


def steps_between(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """first, then the end of every following half-year (and of the month of the re-edit),
    then `last` (the replica's last date) twice: the second run has nothing new."""
    day = first
    while day < last:
        if day.month % 6 == 0 or day in (first, REEDITED):
            yield day
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        day = dt.date(year, month, calendar.monthrange(year, month)[1])
    yield last
    yield last


def squeeze(text: str) -> str:
    return "".join(text.split())


def file_rows(tables: DocxCells) -> dict[str, tuple[str, ...]]:
    """number → the row's cells but 序号, whitespace removed, as python-docx reads them."""
    rows: dict[str, tuple[str, ...]] = {}
    for cells in tables:
        header = [squeeze(c) for c in cells[0]]
        number_at = header.index("备案编号")
        for row in cells[1:]:
            if [squeeze(c) for c in row] == header:
                continue
            rows[squeeze(row[number_at])] = tuple(
                dict.fromkeys(squeeze(c) for i, c in enumerate(row) if header[i] != "序号"))
    return rows


class Catalog:
    """The replica's timeline: which version of which list file exists on a date."""

    def __init__(self, data: Path, cells: Callable[[bytes], DocxCells] = read_docx_cells
                 ) -> None:
        self.cells = cells
        catalog = json.loads((data / "catalog.json").read_text(encoding="utf-8"))
        self.data = data
        self.files: list[tuple[str, str, str, list[dict[str, Any]]]] = []
        for token, attachment in catalog["attachments"].items():
            kind = next((k for marker, k in LISTS.items() if marker in attachment["fText"]),
                        None)
            if kind is None:
                continue
            match = re.search(r"(\d{4})年(\d{1,2})月", attachment["fText"])
            assert match, attachment["fText"]
            period = f"{match.group(1)}-{int(match.group(2)):02d}"
            self.files.append((token, kind, period, attachment["versions"]))
        self.default_as_of = dt.date.fromisoformat(catalog["default_as_of"])
        self._rows: dict[str, dict[str, tuple[str, ...]]] = {}

    def current(self, day: dt.date) -> dict[str, tuple[str, str, str]]:
        """token → (list kind, period, file) of the version served on `day`."""
        served = {}
        for token, kind, period, versions in self.files:
            live = [v for v in versions if dt.date.fromisoformat(v["from"]) <= day]
            if live:
                served[token] = (kind, period, live[-1]["file"])
        return served

    def rows(self, file: str) -> dict[str, tuple[str, ...]]:
        if file not in self._rows:
            self._rows[file] = file_rows(self.cells((self.data / file).read_bytes()))
        return self._rows[file]

    def state(self, day: dt.date) -> dict[Key, tuple[str, ...]]:
        """What the lists say on `day`: each number's row in the latest file listing it."""
        state: dict[Key, tuple[str, ...]] = {}
        for kind, _period, file in sorted(self.current(day).values(), key=lambda v: v[1]):
            for number, row in self.rows(file).items():
                state[(kind, number)] = row
        return state


def expected_changes(before: dict[Key, tuple[str, ...]],
                     after: dict[Key, tuple[str, ...]]) -> set[tuple[str, str, str]]:
    found = {(k[0], k[1], "added") for k in after.keys() - before.keys()}
    found |= {(k[0], k[1], "removed") for k in before.keys() - after.keys()}
    found |= {(k[0], k[1], "modified") for k in after.keys() & before.keys()
              if after[k] != before[k]}
    return found


@pytest.fixture(scope="module")
def stepped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replica, Path, list[
        tuple[dt.date, dict[str, Any]]]]]:
    """The replica stepped half-year by half-year, with one `cac-filings run` after each
    step."""
    process, replica = start_replica(tmp_path_factory.mktemp("replica") / "requests.jsonl",
                                     "--as-of", "2023-06-30")
    data_dir = tmp_path_factory.mktemp("data")
    catalog = Catalog(replica.data)
    steps: list[tuple[dt.date, dict[str, Any]]] = []
    try:
        for day in steps_between(dt.date(2023, 6, 30), catalog.default_as_of):
            httpx.get(f"{replica.www}/__replica__/as-of", params={"date": day.isoformat()})
            done = invoke("run", "--no-serve", "--quiet", "--refresh-attachments",
                          *SOURCES, "--data-dir", str(data_dir), "--www-base", replica.www,
                          "--beian-base", replica.beian, "--delay", "0")
            assert done.exit_code == 0, f"{day}: {done.stderr}"
            last = json.loads((data_dir / "runs.jsonl").read_text().splitlines()[-1])
            steps.append((day, last))
        yield replica, data_dir, steps
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_every_release_holds_exactly_what_that_step_published(
        stepped: tuple[Replica, Path, list[tuple[dt.date, dict[str, Any]]]],
        docx_cells: Callable[[bytes], DocxCells]) -> None:
    replica, data_dir, steps = stepped
    catalog = Catalog(replica.data, docx_cells)
    changes = pq.read_table(data_dir / "published" / "changes.parquet").to_pylist()
    by_release: dict[str, set[tuple[str, str, str]]] = {}
    for change in changes:
        by_release.setdefault(change["release_id"], set()).add(
            (change["list_kind"], change["filing_number"], change["change"]))
    previous: dict[Key, tuple[str, ...]] = {}
    previous_files: dict[str, tuple[str, str, str]] = {}
    published = 0
    for day, run in steps:
        files = catalog.current(day)
        if files == previous_files:  # the replica published nothing in this step
            assert run["status"] == "nothing-new", day
            continue
        assert run["status"] == "published", day
        published += 1
        state = catalog.state(day)
        assert by_release.get(run["release_id"], set()) == expected_changes(previous, state), day
        previous, previous_files = state, files
    assert published >= 5 and len(by_release) == published
    assert any(run["status"] == "nothing-new" for _, run in steps)


def test_the_reedited_list_is_version_two_with_remarks_modified(
        stepped: tuple[Replica, Path, list[tuple[dt.date, dict[str, Any]]]],
        docx_cells: Callable[[bytes], DocxCells]) -> None:
    replica, data_dir, steps = stepped
    batches = pq.read_table(data_dir / "published" / "batches.parquet").to_pylist()
    june = [(b["version"], b["is_current"]) for b in batches
            if b["batch_id"] == "deep_synthesis/2023-06"]
    assert june == [(1, False), (2, True)]
    release = next(run["release_id"] for day, run in steps if day == REEDITED)
    changes = [c for c in pq.read_table(data_dir / "published" / "changes.parquet").to_pylist()
               if c["release_id"] == release and c["change"] == "modified"]
    catalog = Catalog(replica.data, docx_cells)
    (_, _, versions), = [(t, k, v) for t, k, p, v in catalog.files
                         if k == "deep_synthesis" and p == "2023-06"]
    old, new = (catalog.rows(v["file"]) for v in versions)
    edited = {n for n in new if new[n] != old.get(n)}
    assert edited and {c["filing_number"] for c in changes} == edited
    assert all(json.loads(c["fields"]) == ["remarks"] for c in changes)
    assert all(json.loads(c["before"]) == {"remarks": None} for c in changes)


def test_a_run_with_nothing_new_sends_only_conditional_requests(
        stepped: tuple[Replica, Path, list[tuple[dt.date, dict[str, Any]]]]) -> None:
    replica, data_dir, _ = stepped
    releases = sorted((data_dir / "releases").iterdir())
    seen = len(replica.requests())
    done = run_cli("run", "--no-serve", "--quiet", *SOURCES, "--data-dir", str(data_dir),
                   "--www-base", replica.www, "--beian-base", replica.beian, "--delay", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nothing new:")
    assert sorted((data_dir / "releases").iterdir()) == releases
    requests = replica.requests()[seen:]
    assert requests, "the run asked nothing"
    assert not [r for r in requests if "downloadfile.jsp" in str(r["path"])]
    pages = [r for r in requests if str(r["path"]).endswith(".htm")]
    assert all(r["cond"] and r["status"] == 304 for r in pages), pages
    # The notice board's JSON API sends no validators; it is asked once.
    assert [r["path"] for r in requests if r not in pages] == ["/api/notice/list"]
    announcements = len([1 for _, kind, _, _ in Catalog(replica.data).files
                         if kind == "deep_synthesis"])
    # the algorithm page, the first column page, one page per deep-synthesis announcement
    assert len(pages) == 2 + announcements
    assert json.loads((data_dir / "runs.jsonl").read_text().splitlines()[-1])["requests"] == \
        len(requests)
