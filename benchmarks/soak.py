"""Fault soak: the whole pipeline against the replica under injected faults, for N seeds.

For every seed, the replica is started with `--faults PROFILE --seed N` and a full
`cac-filings run --no-serve` goes into a fresh data folder. The outcome is:

  identical      exit 0, and the published data equals that of a clean run (without faults);
                 fetch times aside (release.content_fingerprint)
  held back      exit 5 (a download kept failing: its batch is held back) or 1 (a source's
                 pages could not be read): what was published is the clean run's, batch for
                 batch, and every batch missing is named (a problems row, or its source in
                 the run's error)
  failed cleanly a non-zero exit with an error message naming what failed, and nothing
                 published
  BAD            anything else: data that differs from the clean run, a batch missing without
                 a word, an exit 0 without a release, an unexplained failure

BAD must be 0. Usage:
  python benchmarks/soak.py                       # 20 seeds of the issue's profile
  python benchmarks/soak.py --seeds 5 --profile "503=0.2,waf=0.1" --rate-limit 20
  make soak
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from cac_filings.release import content_fingerprint

REPLICA = Path(__file__).resolve().parents[1].parent / "shared" / "cac-replica"
PROFILE = "503=0.1,429=0.05,timeout=0.02,reset=0.03,truncate=0.03,waf=0.03,empty=0.03"


@dataclass
class Outcome:
    seed: int | None
    outcome: str
    exit_code: int
    retries: int
    requests: int
    faults: int
    seconds: float
    detail: str


def _by_batch(release: Path) -> dict[str, list[dict[str, object]]]:
    """Each current batch's listing rows, as published."""
    current = {(b["batch_id"], b["version"]) for b in
               pq.ParquetFile(release / "batches.parquet").read().to_pylist() if b["is_current"]}
    rows: dict[str, list[dict[str, object]]] = {b: [] for b, _ in current}
    for row in pq.ParquetFile(release / "listings.parquet").read().to_pylist():
        if (row["batch_id"], row["version"]) in current:
            rows[str(row["batch_id"])].append(row)
    return rows


def judge(exit_code: int, published: Path | None, clean: Path, error: str
          ) -> tuple[str, str]:
    """The outcome of a run under faults, against the clean run's release: (outcome,
    detail), outcome one of identical, held back, failed cleanly, BAD."""
    if published is None:
        if exit_code != 0 and error:
            return "failed cleanly", error[:160]
        return "BAD", f"exit {exit_code} and nothing published, error={error!s:.120}"
    if exit_code == 0:
        if content_fingerprint(published) == content_fingerprint(clean):
            return "identical", ""
        return "BAD", "exit 0 but the data differs from the clean run's"
    if exit_code not in (1, 5):
        return "BAD", f"exit {exit_code}, yet published: {error!s:.120}"
    ours, theirs = _by_batch(published), _by_batch(clean)
    differ = [b for b in ours if ours[b] != theirs.get(b)]
    problems = {str(p["batch_id"]) for p in
                pq.ParquetFile(published / "problems.parquet").read().to_pylist()}
    source_of = {i["batch_id"]: i["source"] for i in json.loads(
        (clean / "manifest.json").read_text())["inputs"]}
    unexplained = [b for b in theirs.keys() - ours.keys()
                   if b not in problems and source_of.get(b, "?") not in error]
    if differ or unexplained:
        return "BAD", f"exit {exit_code}: batches differ {differ[:3]}, missing without a " \
                      f"word {unexplained[:3]}"
    missing = sorted(theirs.keys() - ours.keys())
    return "held back", f"{len(missing)} batch(es) held back: {', '.join(missing)[:120]}"


def one_run(seed: int | None, args: argparse.Namespace, work: Path,
            reference: Path | None) -> tuple[Outcome, Path | None]:
    data = work / f"data-{'clean' if seed is None else seed}"
    log = work / f"requests-{'clean' if seed is None else seed}.jsonl"
    command = [sys.executable, str(REPLICA / "serve.py"), "--data", str(REPLICA / "data"),
               "--www-port", "0", "--beian-port", "0", "--log", str(log),
               "--stall-seconds", str(args.stall_seconds)]
    if seed is not None:
        command += ["--faults", args.profile, "--seed", str(seed)]
        if args.rate_limit:
            command += ["--rate-limit", str(args.rate_limit)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        env = {**os.environ, "CAC_FILINGS_TIMEOUT": str(args.timeout),
               "CAC_FILINGS_RETRY_BASE": str(args.retry_base)}
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "cac_filings.cli", "run", "--no-serve", "--quiet",
             "--data-dir", str(data), "--www-base", urls["www"], "--beian-base", urls["beian"],
             "--delay", str(args.delay)], capture_output=True, text=True, env=env,
            timeout=args.run_timeout)
        seconds = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    runs = (data / "runs.jsonl").read_text().splitlines() if (data / "runs.jsonl").exists() \
        else []
    last = json.loads(runs[-1]) if runs else {}
    requests = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() \
        else []
    faults = sum(1 for r in requests if r.get("fault"))
    published = (data / "published").resolve() if (data / "published").exists() else None
    tail = done.stderr.strip().splitlines()
    error = str(last.get("error") or (tail[-1] if tail else ""))
    if reference is None:
        outcome, detail = ("identical", "") if done.returncode == 0 and published else (
            "BAD", f"the clean run: exit {done.returncode}, {error!s:.120}")
    else:
        outcome, detail = judge(done.returncode, published, reference, error)
    return (Outcome(seed, outcome, done.returncode, int(last.get("retries") or 0),
                    len(requests), faults, seconds, detail), published)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--profile", default=PROFILE)
    parser.add_argument("--rate-limit", type=float, default=None,
                        help="requests per second per client before 429/WAF answers")
    parser.add_argument("--delay", type=float, default=0.0, help="cac-filings --delay")
    parser.add_argument("--stall-seconds", type=float, default=3.0,
                        help="how long a `timeout` fault stalls (replica)")
    parser.add_argument("--timeout", type=float, default=1.5,
                        help="cac-filings read timeout (CAC_FILINGS_TIMEOUT)")
    parser.add_argument("--retry-base", type=float, default=0.05,
                        help="cac-filings first backoff (CAC_FILINGS_RETRY_BASE)")
    parser.add_argument("--run-timeout", type=float, default=900)
    args = parser.parse_args()
    if not REPLICA.is_dir():
        print(f"no replica at {REPLICA}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="cac-soak-") as tmp:
        work = Path(tmp)
        clean, reference = one_run(None, args, work, None)
        if clean.outcome != "identical" or reference is None:
            print(f"the clean run failed: {clean}", file=sys.stderr)
            return 2
        print(f"profile {args.profile}; rate limit {args.rate_limit or 'off'}; "
              f"timeout {args.timeout}s against stalls of {args.stall_seconds}s; "
              f"clean run {clean.requests} requests in {clean.seconds:.1f}s\n")
        print(f"{'seed':>4}  {'outcome':<15} {'exit':>4} {'retries':>7} {'requests':>8} "
              f"{'faults':>6} {'time s':>7}  detail")
        outcomes = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            result, _ = one_run(seed, args, work, reference)
            outcomes.append(result)
            print(f"{seed:>4}  {result.outcome:<15} {result.exit_code:>4} {result.retries:>7} "
                  f"{result.requests:>8} {result.faults:>6} {result.seconds:>7.1f}  "
                  f"{result.detail}", flush=True)
    counts = {kind: sum(1 for o in outcomes if o.outcome == kind)
              for kind in ("identical", "held back", "failed cleanly", "BAD")}
    print("\n" + ", ".join(f"{n} {kind}" for kind, n in counts.items())
          + f" of {len(outcomes)} seeds")
    return 1 if counts["BAD"] else 0


if __name__ == "__main__":
    sys.exit(main())
