"""How fast is a cold rebuild, compared with reading the same Word files at all?

Over the raw archive of a full replica run, three steps are timed in the same run:

  floor        unzip each docx and parse word/document.xml with lxml (nothing else)
  python-docx  open each docx with python-docx and read every cell's text
  build        what `cac-filings build` does: extract, normalise, derive, write the Parquet
               files and the SQLite file with its full-text index, check the invariants and
               write the manifest (into a scratch data dir; nothing is cached)

Each measurement runs in a fresh Python process and times only the work, after imports, so
that one step's heap does not slow the next; steps are interleaved and repeated, and medians
are compared. `cli` is the whole `cac-filings build --no-publish` command for reference
(interpreter start-up and imports included).

Targets (issue 2): build ≤ 1.5 × floor, and python-docx ≥ 2.5 × build.

Usage:
  python benchmarks/rebuild.py                 # crawls ../shared/cac-replica into a temp dir
  python benchmarks/rebuild.py --data-dir DIR  # uses DIR/raw from an earlier crawl of the
                                               # Word-only lists (see WORD_SOURCES)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPLICA = Path(__file__).resolve().parents[1].parent / "shared" / "cac-replica"
STEPS = ("floor", "python-docx", "build")
# The baselines read Word files: the benchmark crawls the two Word-only lists (algorithm and
# deep synthesis), 25 files, so that all three steps read the same bytes.
WORD_SOURCES = ("--source", "cn_cac_algorithm", "--source", "cn_cac_deep_synthesis")


def crawl_replica(data_dir: Path) -> None:
    """Run `cac-filings crawl` against a freshly started replica."""
    server = subprocess.Popen(
        [sys.executable, str(REPLICA / "serve.py"), "--data", str(REPLICA / "data"),
         "--www-port", "0", "--beian-port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        subprocess.run(
            [sys.executable, "-m", "cac_filings.cli", "crawl", "--data-dir", str(data_dir),
             "--www-base", urls["www"], "--beian-base", urls["beian"], "--delay", "0",
             "--quiet", *WORD_SOURCES], check=True, stdout=subprocess.DEVNULL)
    finally:
        server.terminate()
        server.wait(timeout=10)


def archived_files(data_dir: Path) -> list[bytes]:
    """The files a build reads: every archived version of the batches currently listed."""
    from cac_filings.archive import RawArchive
    from cac_filings.build import select_batches
    from cac_filings.sources import load_sources

    archive = RawArchive(data_dir / "raw")
    selection = select_batches(archive, load_sources())
    return [archive.get(v.sha256) for b in selection.batches for v in b.versions]


def run_step(step: str, data_dir: Path, scratch: Path) -> dict[str, float]:
    """One measurement (in this fresh process): seconds of work and CPU, after imports."""
    phases: dict[str, float] = {}
    if step == "build":
        from cac_filings.config import Settings
        from cac_filings.release import build_release
        from cac_filings.sources import load_sources

        def work() -> None:
            result, _ = build_release(Settings(data_dir=scratch), load_sources(), publish=False)
            phases.update(result.timings)
    else:
        files = archived_files(data_dir)
        if step == "floor":
            from lxml import etree

            def work() -> None:
                for body in files:
                    etree.fromstring(zipfile.ZipFile(io.BytesIO(body)).read("word/document.xml"))
        else:
            import docx

            def work() -> None:
                for body in files:
                    for table in docx.Document(io.BytesIO(body)).tables:
                        for row in table.rows:
                            for cell in row.cells:
                                _ = cell.text

    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    work()
    return {"wall": time.perf_counter() - wall0, "cpu": _cpu_seconds() - cpu0, **phases}


def _cpu_seconds() -> float:
    """CPU of this process and of its finished children (build worker processes)."""
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


def measure(step: str, data_dir: Path, scratch: Path) -> dict[str, float]:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    os.symlink(data_dir.resolve() / "raw", scratch / "raw")
    if step == "cli":
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cac_filings.cli", "build", "--data-dir",
                        str(scratch), "--no-publish", "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
        return {"wall": time.perf_counter() - started}
    out = subprocess.run([sys.executable, __file__, "--one", step, "--data-dir", str(data_dir),
                          "--scratch", str(scratch)], check=True, capture_output=True,
                         text=True)
    measured: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="a data dir whose raw/ holds a full run")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--one", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        print(json.dumps(run_step(args.one, args.data_dir, args.scratch)))
        return 0

    with tempfile.TemporaryDirectory(prefix="cac-bench-") as tmp:
        work = Path(tmp)
        if args.data_dir is None:
            if not REPLICA.is_dir():
                print(f"no --data-dir and no replica at {REPLICA}", file=sys.stderr)
                return 2
            args.data_dir = work / "data"
            print(f"crawling the replica into {args.data_dir} …", file=sys.stderr)
            crawl_replica(args.data_dir)
        files = archived_files(args.data_dir)
        xml_bytes = sum(len(zipfile.ZipFile(io.BytesIO(f)).read("word/document.xml"))
                        for f in files)
        print(f"{len(files)} files, {sum(map(len, files)) / 1e6:.1f} MB docx, "
              f"{xml_bytes / 1e6:.1f} MB of document.xml, {os.cpu_count()} CPUs; "
              f"{args.repeat} repetitions, each step in a fresh process")

        steps = (*STEPS, "cli")
        results: dict[str, list[dict[str, float]]] = {s: [] for s in steps}
        for step in steps:  # warm-up: page cache, .pyc files
            measure(step, args.data_dir, work / "scratch")
        for _ in range(args.repeat):
            for step in steps:
                results[step].append(measure(step, args.data_dir, work / "scratch"))

    def med(step: str, key: str = "wall") -> float:
        return statistics.median(r[key] for r in results[step])

    print(f"\n{'step':<12} {'median s':>9} {'min s':>7} {'cpu s':>7}")
    for step in steps:
        cpu = f"{med(step, 'cpu'):7.3f}" if step != "cli" else "      -"
        print(f"{step:<12} {med(step):9.3f} {min(r['wall'] for r in results[step]):7.3f} {cpu}")
    phases = [k for k in results["build"][0] if k not in ("wall", "cpu")]
    print("\nbuild phases, median s: " + ", ".join(f"{p} {med('build', p):.3f}" for p in phases))
    build_vs_floor = med("build") / med("floor")
    docx_vs_build = med("python-docx") / med("build")
    print(f"\nbuild / floor           {build_vs_floor:5.2f}×   (target ≤ 1.5)")
    print(f"python-docx / build     {docx_vs_build:5.2f}×   (target ≥ 2.5)")
    print(f"build cpu / floor cpu   {med('build', 'cpu') / med('floor', 'cpu'):5.2f}×   "
          "(CPU of all build processes)")
    print(f"cli / floor             {med('cli') / med('floor'):5.2f}×   "
          "(with interpreter start-up and imports)")
    ok = build_vs_floor <= 1.5 and docx_vs_build >= 2.5
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
