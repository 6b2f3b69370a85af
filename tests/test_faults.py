"""A bad night loses nothing: runs under the replica's injected faults (503, stalls, resets,
truncated bodies, WAF pages, empty bodies) and its rate limit (429 and WAF answers).
benchmarks/soak.py runs the full fault profile for many seeds; here, one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks.soak import judge

from cac_filings.archive import RawArchive
from cac_filings.release import content_fingerprint
from tests.conftest import Replica, run_against, start_replica

pytestmark = pytest.mark.replica

# The soak's kinds of fault but 429 (its Retry-After of 2 s is waited for,
# and the rate-limit test meets it), with stalls cut short by a short read timeout. The soak
# (make soak) runs the whole profile for 20 seeds.
QUICK_PROFILE = "503=0.12,timeout=0.03,reset=0.04,truncate=0.04,waf=0.04,empty=0.04"


@pytest.fixture(params=[12])  # make soak runs 20 seeds
def faulty(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Replica]:
    process, replica = start_replica(
        tmp_path_factory.mktemp("faulty") / "requests.jsonl", "--faults", QUICK_PROFILE,
        "--seed", str(request.param), "--stall-seconds", "3")
    yield replica
    process.terminate()
    process.wait(timeout=10)


def test_a_run_under_faults_ends_as_a_clean_run_or_holds_back_or_fails_cleanly(
        faulty: Replica, clean: Path, tmp_path: Path) -> None:
    done = run_against(faulty, tmp_path, timeout=0.5)
    faults = [r for r in faulty.requests() if r["fault"]]
    assert faults, "the replica injected no fault"
    published = tmp_path / "published"
    outcome, detail = judge(done.returncode, published.resolve() if published.exists()
                            else None, (clean / "published").resolve(), done.stderr)
    assert outcome in ("identical", "held back", "failed cleanly"), detail
    if outcome == "identical":
        retries = json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[-1])["retries"]
        assert retries >= len([f for f in faults if f["fault"] != "timeout"]) // 2
    elif outcome == "failed cleanly":
        assert "giving up" in done.stderr or "cap" in done.stderr


def test_rate_limiting_is_survived(tmp_path_factory: pytest.TempPathFactory,
                                   clean: Path) -> None:
    process, replica = start_replica(tmp_path_factory.mktemp("limited") / "requests.jsonl",
                                     "--rate-limit", "20")
    try:
        data = tmp_path_factory.mktemp("rate")
        # The limit's window is kept full until the run has met the limit: on a loaded
        # machine a crawl alone may never reach 20 requests a second, and a run may take
        # more than the window's second to start. (These requests carry no Referer; every
        # one of the run's does.)
        met = threading.Event()
        burst = threading.Thread(target=fill_the_window, args=(replica, met), daemon=True)
        burst.start()
        try:
            # A small --delay: a throttled host is asked more slowly from then on (fetch.py).
            done = run_against(replica, data, "--delay", "0.02")
        finally:
            met.set()
            burst.join(timeout=10)
        assert done.returncode == 0, done.stderr
        limited = [r for r in replica.requests()
                   if str(r["fault"]).startswith("rate-") and r["referer"]]
        assert limited, "the run never met the rate limit"
        slowed = [e["slowed_to_s"] for e in RawArchive(data / "raw").read_fetch_log()
                  if "slowed_to_s" in e]
        assert slowed and all(g >= 0.04 for g in slowed), slowed
        assert content_fingerprint((data / "published").resolve()) == \
            content_fingerprint((clean / "published").resolve())
    finally:
        process.terminate()
        process.wait(timeout=10)


def fill_the_window(replica: Replica, met: threading.Event) -> None:
    """About 50 requests a second to the replica until the run's own request (one with a
    Referer) has been answered as rate-limited, or `met` is set."""
    with httpx.Client() as client:
        while not met.is_set():
            try:
                client.get(replica.www + "/")
                if any(str(r["fault"]).startswith("rate-") and r["referer"]
                       for r in replica.requests()):
                    return
            except (httpx.HTTPError, ValueError):  # a refused request, a line half written
                pass
            met.wait(0.02)
