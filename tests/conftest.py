"""Shared fixtures. The replica of the CAC sites lives outside the project, in ../shared;
tests that need it are skipped cleanly when it is absent."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run, so the suite passes or fails alike
# from run to run; HYPOTHESIS_PROFILE=explore draws new ones (as a fuzzing session would).
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPLICA = Path(__file__).resolve().parents[2] / "shared" / "cac-replica"

# The test files that take longest on four workers (wall time, 2026-12-04: 15-35 s each),
# handed out first, so that no worker is left with one of them while the others are done
# (24 s of one run's 100 were three workers waiting for the fourth). The others follow,
# most tests first, as pytest-xdist would order them all (`make test` passes
# --no-loadscope-reorder, so that it keeps this order). Order only: every file still runs
# whole on one worker.
SLOW_FILES = ("test_browser.py", "test_pdf_grid.py", "test_timetravel.py", "test_faults.py",
              "test_crash.py", "test_e2e_replica.py", "test_e2e_tiny_site.py",
              "test_documents.py", "test_search_facets.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    counts: dict[Path, int] = {}
    for item in items:
        counts[item.path] = counts.get(item.path, 0) + 1
    slow = {name: rank for rank, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: (slow.get(item.path.name, len(slow)), -counts[item.path],
                                 str(item.path)))  # stable: a file's own order is kept


@dataclass(frozen=True)
class Replica:
    www: str
    beian: str
    log: Path
    data: Path

    def requests(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]


def start_replica(log: Path, *extra: str) -> tuple[subprocess.Popen[str], Replica]:
    if not (REPLICA / "serve.py").is_file():
        pytest.skip(f"the CAC replica is not available at {REPLICA}")
    process = subprocess.Popen(
        [sys.executable, str(REPLICA / "serve.py"), "--data", str(REPLICA / "data"),
         "--www-port", "0", "--beian-port", "0", "--log", str(log), *extra],
        stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    urls = json.loads(process.stdout.readline())
    return process, Replica(urls["www"], urls["beian"], log, REPLICA / "data")


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    """The replica at its default date, on free loopback ports, logging every request."""
    process, server = start_replica(tmp_path_factory.mktemp("replica") / "requests.jsonl")
    yield server
    process.terminate()
    process.wait(timeout=10)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
            process: bool = False) -> subprocess.CompletedProcess[str] | Invoked:
    """`cac-filings ARGS` as a user would run it: in a subprocess with `process` (the true
    end-to-end runs, one per command at least), else in this process (the same command,
    without the cost of a new interpreter)."""
    if not process:
        return invoke(*args, env=env)
    return subprocess.run([sys.executable, "-m", "cac_filings.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


@contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    """`cac-filings serve` on a free port until the block ends; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "cac_filings.cli", "serve", "--data-dir", str(data_dir),
         "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/-/versions.json").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "cac-filings serve exited"
            assert time.monotonic() < deadline, "cac-filings serve did not start"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@dataclass(frozen=True)
class Invoked:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def returncode(self) -> int:  # as a CompletedProcess names it
        return self.exit_code


def invoke(*args: str, env: dict[str, str] | None = None) -> Invoked:
    """`cac-filings ARGS` in this process (typer's runner): the same command, without the
    cost of a new interpreter. Tests of what only a process shows (signals, exit on kill)
    use run_cli."""
    from typer.testing import CliRunner

    from cac_filings.cli import app

    result = CliRunner(env=env).invoke(app, list(args), catch_exceptions=False)
    return Invoked(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def tiny_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder after one clean `cac-filings run` against the tiny site, made once per
    test process; tests that change it work on a copy (`published_site`)."""
    from tests.test_e2e_tiny_site import run
    from tests.tinysite import serve_site

    data = tmp_path_factory.mktemp("tiny-release")
    with serve_site() as site:
        done = run(site, data)
        assert done.returncode == 0, done.stderr
    return data


@pytest.fixture
def published_site(tiny_release: Path, tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """(a fresh tiny site, a copy of the clean data folder it was published into)."""
    from tests.tinysite import serve_site

    data = tmp_path / "data"
    shutil.copytree(tiny_release, data, symlinks=True)
    with serve_site() as site:
        yield site, data


FAST = {"CAC_FILINGS_TIMEOUT": "1.5", "CAC_FILINGS_RETRY_BASE": "0.05"}


def run_against(replica: Replica, data: Path, *extra: str, timeout: float | None = None,
                quiet: bool = True) -> subprocess.CompletedProcess[str] | Invoked:
    """`cac-filings run` against a replica, with quick retries (and its summary printed
    unless `quiet`)."""
    env = {**os.environ, **FAST, **({"CAC_FILINGS_TIMEOUT": str(timeout)} if timeout else {})}
    return run_cli("run", "--no-serve", *(["--quiet"] if quiet else []), "--data-dir",
                   str(data), "--www-base", replica.www, "--beian-base", replica.beian,
                   "--delay", "0", *extra, env=env)


def session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this test session, shared by its xdist workers."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base folder is inside the session's own folder.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


# A .docx as python-docx reads it: per table, per row, each cell's text (`row.cells`: a cell
# spanning columns once per column).
DocxCells = list[list[list[str]]]


def read_docx_cells(body: bytes) -> DocxCells:
    import docx

    return [[[cell.text for cell in row.cells] for row in table.rows]
            for table in docx.Document(io.BytesIO(body)).tables]


@pytest.fixture(scope="session")
def docx_cells(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bytes], DocxCells]:
    """read_docx_cells, each file read once per session whichever worker asks (python-docx
    takes 3 s over the replica's files, which several modules check against)."""
    folder = session_folder(tmp_path_factory) / "python-docx-cells"
    folder.mkdir(exist_ok=True)

    def read(body: bytes) -> DocxCells:
        path = folder / f"{hashlib.sha256(body).hexdigest()}.json"
        if path.is_file():
            cells: DocxCells = json.loads(path.read_text(encoding="utf-8"))
            return cells
        cells = read_docx_cells(body)
        part = path.with_name(f"{path.name}.{os.getpid()}.part")
        part.write_text(json.dumps(cells, ensure_ascii=False), encoding="utf-8")
        os.replace(part, path)
        return cells

    return read


@dataclass(frozen=True)
class CleanRun:
    """The session's one clean `cac-filings run` against the replica (a copy of its data
    folder for each module), with what it printed and the requests the replica logged."""
    data: Path
    stdout: str
    requests: list[dict[str, object]]


@pytest.fixture(scope="module")
def clean_run(replica: Replica, tmp_path_factory: pytest.TempPathFactory) -> CleanRun:
    """The run is made once per test session (shared by the xdist workers, under a lock):
    by the first module that asks, against its replica; each module gets a copy."""
    session = session_folder(tmp_path_factory)
    shared = session / "clean-replica-run"
    printed = session / "clean-replica-run.stdout"
    logged = session / "clean-replica-run.requests.json"
    failed = session / "clean-replica-run.failed"
    with (session / "clean-replica-run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # A run that failed fails every module that asks for it, with its own words.
        assert not failed.exists(), failed.read_text(encoding="utf-8")
        if not logged.exists():  # written last: the run is whole
            shutil.rmtree(shared, ignore_errors=True)
            before = len(replica.requests())
            done = run_against(replica, shared, quiet=False)  # its summary is checked too
            if done.returncode != 0:
                failed.write_text(f"the clean replica run exited {done.returncode}: "
                                  f"{done.stderr}", encoding="utf-8")
            assert done.returncode == 0, done.stderr
            printed.write_text(done.stdout, encoding="utf-8")
            logged.write_text(json.dumps(replica.requests()[before:]), encoding="utf-8")
    data = tmp_path_factory.mktemp("clean")
    shutil.copytree(shared, data, symlinks=True, dirs_exist_ok=True)
    return CleanRun(data, printed.read_text(encoding="utf-8"),
                    json.loads(logged.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def clean(clean_run: CleanRun) -> Path:
    """A data folder after one clean run against the replica (clean_run), this module's
    copy."""
    return clean_run.data
