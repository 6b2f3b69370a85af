"""How fast is a rebuild, compared with the least work that reads the same files?

Over the raw archive of a full replica run (every source: Word, PDF and any Excel files), the
steps timed in the same run are:

  floor     the least work that reads the files (as issue 13 defines it): for a docx or
            xlsx, unzip and parse every XML part with lxml; for a PDF, open it with
            pypdfium2 and read every page's characters (the text and each character's box)
            and every page object's type and bounds
  build     what `cac-filings build` does, cold (nothing cached): extract, normalise, derive,
            the official totals, Parquet + CSV, SQLite with its full-text indexes, history,
            notes, checks and manifest, into a scratch data dir
  one-new   the same build when one batch is new: every other file's parse is in the cache
            (what a scheduled run that finds one new list costs)
  cli       the whole `cac-filings build --no-publish` command, with interpreter start-up and
            imports, for reference

Each measurement runs in a fresh Python process and times only the work, after imports;
steps are interleaved and repeated. This machine's speed drifts within seconds, so the ratios
are medians of the ratios within each repetition (each step's run next to the floor's).

Target (issue 13): build ≤ 1.5 × floor.

Usage:
  python benchmarks/rebuild.py                 # crawls ../shared/cac-replica into a temp dir
  python benchmarks/rebuild.py --data-dir DIR  # uses DIR/raw from an earlier full crawl
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
STEPS = ("floor", "build", "one-new")


def crawl_replica(data_dir: Path) -> None:
    """Run `cac-filings crawl` (every source) against a freshly started replica."""
    server = subprocess.Popen(
        [sys.executable, str(REPLICA / "serve.py"), "--data", str(REPLICA / "data"),
         "--www-port", "0", "--beian-port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        subprocess.run(
            [sys.executable, "-m", "cac_filings.cli", "crawl", "--data-dir", str(data_dir),
             "--www-base", urls["www"], "--beian-base", urls["beian"], "--delay", "0",
             "--quiet"], check=True, stdout=subprocess.DEVNULL)
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


def read_floor(files: list[bytes]) -> None:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]
    from lxml import etree

    for body in files:
        if body.startswith(b"PK"):
            archive = zipfile.ZipFile(io.BytesIO(body))
            for name in archive.namelist():
                if name.endswith((".xml", ".rels")):
                    etree.fromstring(archive.read(name))
        elif body.startswith(b"%PDF"):
            pdf = pdfium.PdfDocument(body)
            for page in pdf:
                text = page.get_textpage()
                count = text.count_chars()
                text.get_text_range(0, count)
                for i in range(count):
                    text.get_charbox(i)
                for obj in page.get_objects():
                    _ = obj.type, obj.get_bounds()
                text.close()
                page.close()
            pdf.close()


def run_step(step: str, data_dir: Path, scratch: Path) -> dict[str, float]:
    """One measurement (in this fresh process): seconds of work and CPU, after imports."""
    phases: dict[str, float] = {}
    if step in ("build", "one-new"):
        from cac_filings.config import Settings
        from cac_filings.release import build_release
        from cac_filings.sources import load_sources

        sources = load_sources()

        def work() -> None:
            result, _ = build_release(Settings(data_dir=scratch), sources, publish=False)
            phases.update(result.timings)
    else:
        files = archived_files(data_dir)
        import pypdfium2  # noqa: F401 - imported before the clock starts

        def work() -> None:
            read_floor(files)

    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    work()
    return {"wall": time.perf_counter() - wall0, "cpu": _cpu_seconds() - cpu0, **phases}


def _cpu_seconds() -> float:
    """CPU of this process and of its finished children (build worker processes)."""
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


def prepare(step: str, data_dir: Path, scratch: Path) -> None:
    """A scratch data dir over the same raw archive: empty for a cold build; for one-new,
    with the parse cache of every file but one (the largest)."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    os.symlink(data_dir.resolve() / "raw", scratch / "raw")
    if step == "one-new":
        cache = data_dir / "bench-cache"
        if not cache.is_dir():
            _cli_build(scratch)
            shutil.move(str(scratch / "cache"), cache)
            shutil.rmtree(scratch / "releases", ignore_errors=True)
        shutil.copytree(cache, scratch / "cache")
        entries = sorted((scratch / "cache").rglob("*.pickle"), key=lambda p: p.stat().st_size)
        entries[-1].unlink()


def _cli_build(scratch: Path) -> None:
    """`cac-filings build --no-publish` on `scratch`; its warnings (the replica's own, the
    same every time) are shown only when it fails."""
    done = subprocess.run([sys.executable, "-m", "cac_filings.cli", "build", "--data-dir",
                           str(scratch), "--no-publish", "--quiet"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"cac-filings build failed (exit {done.returncode})")


def measure(step: str, data_dir: Path, scratch: Path) -> dict[str, float]:
    prepare(step, data_dir, scratch)
    if step == "cli":
        started = time.perf_counter()
        _cli_build(scratch)
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
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
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
        kinds = {"docx": sum(1 for f in files if f.startswith(b"PK")),
                 "pdf": sum(1 for f in files if f.startswith(b"%PDF"))}
        print(f"{len(files)} files ({kinds['docx']} zip: docx/xlsx, {kinds['pdf']} PDF), "
              f"{sum(map(len, files)) / 1e6:.1f} MB, {os.cpu_count()} CPUs; "
              f"{args.repeat} repetitions, each step in a fresh process")
        load_before = os.getloadavg()

        steps = (*STEPS, "cli")
        results: dict[str, list[dict[str, float]]] = {s: [] for s in steps}
        for step in steps:  # warm-up: page cache, .pyc files, the one-new cache
            measure(step, args.data_dir, work / "scratch")
        for _ in range(args.repeat):
            for step in steps:
                results[step].append(measure(step, args.data_dir, work / "scratch"))
        shutil.rmtree(args.data_dir / "bench-cache", ignore_errors=True)

    def med(step: str, key: str = "wall") -> float:
        return statistics.median(r[key] for r in results[step])

    def ratio(step: str) -> float:
        return statistics.median(b["wall"] / f["wall"]
                                 for b, f in zip(results[step], results["floor"], strict=True))

    print(f"\n{'step':<12} {'median s':>9} {'min s':>7} {'cpu s':>7}")
    for step in steps:
        cpu = f"{med(step, 'cpu'):7.3f}" if step != "cli" else "      -"
        print(f"{step:<12} {med(step):9.3f} {min(r['wall'] for r in results[step]):7.3f} {cpu}")
    phases = [k for k in results["build"][0] if k not in ("wall", "cpu")]
    print("\nbuild phases, median s: " + ", ".join(f"{p} {med('build', p):.3f}" for p in phases))
    build_vs_floor = ratio("build")
    print(f"\nbuild / floor           {build_vs_floor:5.2f}×   (target ≤ 1.5)")
    print(f"one-new / floor         {ratio('one-new'):5.2f}×   (one batch new, the rest cached)")
    print(f"one-new / build         {med('one-new') / med('build'):5.2f}×")
    print(f"build cpu / floor cpu   {med('build', 'cpu') / med('floor', 'cpu'):5.2f}×   "
          "(CPU of all build processes)")
    print(f"cli / floor             {ratio('cli'):5.2f}×   "
          "(with interpreter start-up and imports)")
    # The build uses both cores (parse workers, the SQLite child), the floor one: other work
    # on the machine takes the second core from the build and raises its ratio.
    print("load average (1, 5, 15 min) before "
          + ", ".join(f"{x:.2f}" for x in load_before) + "; after "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0 if build_vs_floor <= 1.5 or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
