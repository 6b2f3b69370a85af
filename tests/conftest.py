"""Shared fixtures. The replica of the CAC sites lives outside the project, in ../shared;
tests that need it are skipped cleanly when it is absent."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPLICA = Path(__file__).resolve().parents[2] / "shared" / "cac-replica"


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


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`cac-filings ARGS` in a subprocess, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "cac_filings.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)
