"""How fast are the reader pages when the registry is much larger?

A release is copied `--factor` times into one new release, every table through the project's
own writer (release.write_database: store.write_sqlite with its full-text indexes, then
summaries.write_summaries), served by `cac-filings serve` over loopback, and every reader
page is asked for in turn: the first answer after start, then p50 and p95 of `--repeat`
more. The same is done with the release copied once (1×, the same writers), and each page's
p95 is given as a ratio to its p95 at 1×.

The release copied is the published one of `--data-dir`; without it, a run against the
replica in ../shared/cac-replica when its server is there, else a run against the tests' tiny
CAC-like site (tests/tinysite.py: 22 filings, with a cancellation notice and the 2026 drift).

The copies keep the release's distributions: copy 0 is the release itself; copy k (k ≥ 1)
suffixes every filing number and notice id (`.c<k>`) and every company name (`（k）`, and
its pinyin ` k`), so keys stay unique, the companies table grows with the factor, and a
common word (北京, 算法) matches `factor` times as many rows. The batches are copied at most
`--batch-copies` times (copy k's rows go to batch copy k mod that, after the rows already
there): a registry of a million filings has thousands of batches of a few hundred rows,
not millions of a few rows, nor a few hundred of thousands. Names,
provinces, dates, purposes and products repeat as they are.

Target (issue 13): every page p95 < 100 ms at about 1 M filings (the default `--filings`).

Usage:
  python benchmarks/serve.py                      # about 1 M filings (`make bench-serve`)
  python benchmarks/serve.py --data-dir DIR       # the release DIR/published
  python benchmarks/serve.py --factor 20 --work /tmp/cac-serve   # keeps the copies there
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from cac_filings.fingerprint import code_fingerprint
from cac_filings.pinyin import to_pinyin
from cac_filings.release import write_database
from cac_filings.schema import DB_FILE, FILINGS, TABLES
from cac_filings.search import fts_texts, segment_text
from cac_filings.store import load_rows

ROOT = Path(__file__).resolve().parents[1]
REPLICA = ROOT.parent / "shared" / "cac-replica"
TARGET_MS = 100.0
Row = dict[str, Any]

# Tables copied `factor` times; the others (labels, list kinds, CAC's totals, the one
# release, its problems) are the release's own.
COPIED = ("batches", "listings", "filings", "products", "companies", "cancellations",
          "changes")


# ---------------------------------------------------------------- the release to copy

def _run(data_dir: Path, www: str, beian: str) -> None:
    """`cac-filings run --no-serve` (crawl, build, publish) against a site."""
    subprocess.run(
        [sys.executable, "-m", "cac_filings.cli", "run", "--no-serve", "--data-dir",
         str(data_dir), "--www-base", www, "--beian-base", beian, "--delay", "0", "--quiet"],
        check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "CAC_FILINGS_ATTEMPTS": "2", "CAC_FILINGS_RETRY_BASE": "0.01"})
    if not (data_dir / "published" / DB_FILE).is_file():
        raise SystemExit(f"the run published nothing in {data_dir}")


def crawl_replica(data_dir: Path) -> None:
    """A run against a freshly started replica."""
    server = subprocess.Popen(
        [sys.executable, str(REPLICA / "serve.py"), "--data", str(REPLICA / "data"),
         "--www-port", "0", "--beian-port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        _run(data_dir, urls["www"], urls["beian"])
    finally:
        server.terminate()
        server.wait(timeout=10)


def crawl_tiny_site(data_dir: Path) -> None:
    """A run against the tests' tiny CAC-like site, with its cancellation notice and the
    2026 drift (an on-device list, held-back batches): every page has something to show."""
    sys.path.insert(0, str(ROOT))
    from tests.tinysite import serve_site

    with serve_site() as site:
        site.options.cancellation = True
        site.options.drift = True
        _run(data_dir, site.url, site.url)


# ---------------------------------------------------------------- copies

def _plain(row: Row) -> Row:
    """A Parquet row as the build hands it to the writers (dates as ISO text)."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}


def _key(value: str | None, k: int) -> str | None:
    return value if value is None or k == 0 else f"{value}.c{k}"


def _company(value: str | None, k: int) -> str | None:
    return value if not value or k == 0 else f"{value}（{k}）"


def _names(text: str, k: int) -> str:
    """A JSON list of company names, each renamed as its copy."""
    return json.dumps([_company(n, k) for n in json.loads(text)], ensure_ascii=False,
                      separators=(",", ":"))


def scaled_tables(release: Path, factor: int, batch_copies: int) -> dict[str, list[Row]]:
    """Every table of `release`, the copied ones `factor` times over, the batches at most
    `batch_copies` times (copy k's rows in batch copy k mod that)."""
    base = {t.name: [_plain(r) for r in load_rows(release, t)] for t in TABLES}
    out: dict[str, list[Row]] = {name: rows for name, rows in base.items()
                                 if name not in COPIED}
    groups = max(1, min(factor, batch_copies))
    # Rows of a batch version: copy k's come after those of the copies before it there.
    width: dict[tuple[str, int], int] = {}
    for r in base["listings"]:
        key = (r["batch_id"], r["version"])
        width[key] = max(width.get(key, 0), r["row_number"])
    # The filings' search text, with the company's pinyin (index-only): segmented once, and
    # only the company and the number again per copy.
    fts = [fts_texts(FILINGS, {**f, "_pinyin": to_pinyin(f["company"]) if f["company"]
                               else None}) for f in base["filings"]]
    batches, listings, filings, products = [], [], [], []
    companies, cancellations, changes = [], [], []
    for g in range(groups):
        rounds = len(range(g, factor, groups))  # copies whose rows go to batch copy g
        for r in base["batches"]:
            batches.append({**r, "batch_id": _key(r["batch_id"], g),
                            "row_count": r["row_count"] * rounds})
    for k in range(factor):
        g, j = k % groups, k // groups
        for r in base["listings"]:
            listings.append({**r, "batch_id": _key(r["batch_id"], g),
                             "row_number": r["row_number"]
                             + j * width[(r["batch_id"], r["version"])],
                             "filing_number": _key(r["filing_number"], k),
                             "company": _company(r["company"], k)})
        for r, (name, _, product, purpose, _, pinyin) in zip(base["filings"], fts,
                                                               strict=True):
            number, company = _key(r["filing_number"], k), _company(r["company"], k)
            filings.append({
                **r, "filing_number": number, "company": company,
                "first_batch_id": _key(r["first_batch_id"], g),
                "last_batch_id": _key(r["last_batch_id"], g),
                "_fts": (name, segment_text(company), product, purpose, segment_text(number),
                         pinyin if k == 0 or not pinyin else f"{pinyin} {k}")})
        for r in base["products"]:
            products.append({**r, "filing_number": _key(r["filing_number"], k)})
        for r in base["companies"]:
            companies.append({**r, "company": _company(r["company"], k),
                              "former_names": _names(r["former_names"], k),
                              "pinyin": r["pinyin"] if k == 0 or not r["pinyin"]
                              else f"{r['pinyin']} {k}"})
        for r in base["cancellations"]:
            pinyin = to_pinyin(r["company"]) if r["company"] else None
            cancellations.append({**r, "notice_id": _key(r["notice_id"], k),
                                  "filing_number": _key(r["filing_number"], k),
                                  "company": _company(r["company"], k),
                                  "_pinyin": pinyin if k == 0 or not pinyin
                                  else f"{pinyin} {k}"})
        for r in base["changes"]:
            changes.append({**r, "filing_number": _key(r["filing_number"], k),
                            "company": _company(r["company"], k)})
    # Rows in the build's order: the writers number rowids in it.
    filings.sort(key=lambda r: (r["list_kind"], r["filing_number"]))
    out.update(batches=batches, listings=listings, filings=filings, products=products,
               companies=sorted(companies, key=lambda r: r["company"]),
               cancellations=sorted(cancellations,
                                    key=lambda r: (r["notice_id"], r["filing_number"])),
               changes=changes)
    out["releases"] = [{**r, **{f"n_{t}": len(out[t]) for t in COPIED if f"n_{t}" in r}}
                       for r in out["releases"]]
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_scaled(source: Path, factor: int, batch_copies: int, data_dir: Path) -> Path:
    """`source` (a release folder of a data dir) copied `factor` times as the published
    release of `data_dir`; reused when a copy by the same code is already there."""
    manifest: dict[str, Any] = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    release_id = str(manifest["release_id"])
    stamp = f"{release_id} ×{factor} /{batch_copies} {code_fingerprint()}"
    folder = data_dir / "releases" / release_id
    if (data_dir / "stamp").is_file() and (data_dir / "stamp").read_text() == stamp:
        return folder
    shutil.rmtree(data_dir, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in source.rglob("*"):  # the release's other files, as they are
        target = folder / path.relative_to(source)
        if path.is_dir():
            target.mkdir(exist_ok=True)
        elif path.name not in (DB_FILE, "manifest.json"):
            shutil.copy2(path, target)
    started = time.perf_counter()
    tables = scaled_tables(source, factor, batch_copies)
    print(f"  {factor}×: {len(tables['filings']):,} filings, {len(tables['listings']):,} "
          f"listings, {len(tables['companies']):,} companies "
          f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    write_database(tables, folder / DB_FILE)
    manifest["row_counts"] = {name: len(rows) for name, rows in tables.items()}
    manifest["filings_by_list_kind"] = {k: n * factor for k, n in
                                        manifest["filings_by_list_kind"].items()}
    manifest["files"][DB_FILE] = _sha256(folder / DB_FILE)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2),
                                          encoding="utf-8")
    del tables
    # The status page reads the crawl records and the runs of the data dir.
    raw = source.parent.parent / "raw"
    if raw.is_dir():
        os.symlink(raw.resolve(), data_dir / "raw")
    runs = source.parent.parent / "runs.jsonl"
    if runs.is_file():
        shutil.copy2(runs, data_dir / "runs.jsonl")
    os.symlink(Path("releases") / release_id, data_dir / "published")
    size = (folder / DB_FILE).stat().st_size
    print(f"  {factor}×: {size / 1e9:.2f} GB of SQLite in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    (data_dir / "stamp").write_text(stamp)
    return folder


# ---------------------------------------------------------------- serving and asking

@contextmanager
def serving(data_dir: Path) -> Iterator[tuple[str, float]]:
    """`cac-filings serve` on a free loopback port; yields its URL and the seconds until it
    answered its first request."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "cac_filings.cli", "serve", "--data-dir", str(data_dir),
         "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(url + "/-/versions.json", timeout=120).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                raise SystemExit("cac-filings serve exited")
            if time.perf_counter() - started > 300:
                raise SystemExit("cac-filings serve did not answer within 300 s")
            time.sleep(0.1)
        yield url, time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)


def reader_pages(release: Path) -> list[tuple[str, str]]:
    """(label, path) of every reader page, on rows that every copy has (copy 0's)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{release / DB_FILE}?immutable=1", uri=True)
    try:
        def one(sql: str) -> Any:
            row = conn.execute(sql).fetchone()
            if row is None:
                raise SystemExit(f"the release has no row for: {sql}")
            return row

        big = one("select company from companies where company not like '%）' "
                  "order by n_filings desc, company limit 1")[0]
        renamed = one("select company from companies where former_names != '[]' "
                      "order by n_filings desc, company limit 1")[0]
        filing = one("select list_kind, filing_number from filings where list_kind = "
                     "'algorithm' and filing_number not like '%.c%' order by rowid limit 1")
        newest = one("select batch_id from batches where is_current and batch_id not like "
                     "'%.c%' order by published_on desc, batch_id desc limit 1")[0]
        # A next page of the search for 北京: the page after copy 0's 50th match, newest first.
        from cac_filings.search import fts_query
        conn.create_function("escape_fts", 1, fts_query, deterministic=True)
        after = one("select first_published_on, list_kind, filing_number from filings where "
                    "rowid in (select rowid from filings_fts where filings_fts match "
                    "escape_fts('北京')) and filing_number not like '%.c%' "
                    "order by first_published_on desc, rowid limit 1 offset 49")
    finally:
        conn.close()

    def q(text: str) -> str:
        return quote(text, safe="")

    from datasette.utils import tilde_encode

    return [
        ("home", "/"),
        ("latest", "/-/latest"),
        ("latest.json", "/-/latest.json"),
        ("search 抖音", f"/-/search?q={q('抖音')}"),
        ("search 北京", f"/-/search?q={q('北京')}"),
        ("search 算法", f"/-/search?q={q('算法')}"),
        ("search 科技", f"/-/search?q={q('科技')}"),
        ("search 大模型", f"/-/search?q={q('大模型')}"),
        ("search.json 科技", f"/-/search.json?q={q('科技')}"),
        ("search.json 北京", f"/-/search.json?q={q('北京')}"),
        ("search 北京 算法", f"/-/search?q={q('北京 算法')}"),
        ("search baidu 文心", f"/-/search?q={q('baidu 文心')}"),
        ("search 抖音 推荐", f"/-/search?q={q('抖音 推荐')}"),
        ("search 1101088", f"/-/search?q={q('1101088')}"),
        ("search no match", f"/-/search?q={q('北京抖音不存在')}"),
        ("filings", "/cac_filings/filings"),
        ("filings _search=北京", f"/cac_filings/filings?_search={q('北京')}"),
        ("filings _search=算法", f"/cac_filings/filings?_search={q('算法')}"),
        ("filings _search=抖音", f"/cac_filings/filings?_search={q('抖音')}"),
        ("filings _search=北京 province", f"/cac_filings/filings?_search={q('北京')}"
                                          f"&province={q('北京市')}"),
        ("filings _search=北京 2 facets", f"/cac_filings/filings?_search={q('北京')}"
                                         f"&province={q('北京市')}&status=active"),
        ("filings _search=北京 next", f"/cac_filings/filings?_search={q('北京')}&_next="
                                     + q(",".join(tilde_encode(str(v)) for v in after))
                                     + "&_sort_desc=first_published_on"),
        ("filings province=北京市", f"/cac_filings/filings?province={q('北京市')}"),
        ("filings list_kind", "/cac_filings/filings?list_kind=deep_synthesis"),
        ("filings status", "/cac_filings/filings?status=cancelled"),
        ("filings _sort number", "/cac_filings/filings?_sort=filing_number"),
        ("filings.json", "/cac_filings/filings.json"),
        ("database", "/cac_filings"),
        ("company (most filings)", f"/-/company/{q(big)}"),
        ("company (renamed)", f"/-/company/{q(renamed)}"),
        ("filing", f"/-/filing/{q(filing[0])}/{q(filing[1])}"),
        ("filing.json", f"/-/filing/{q(filing[0])}/{q(filing[1])}.json"),
        ("batch", "/-/batch/" + quote(newest, safe="/")),
        ("charts", "/-/charts"),
        ("status", "/-/status"),
        ("status.json", "/-/status.json"),
        ("reconciliation", "/-/reconciliation"),
        ("downloads", "/-/downloads"),
        ("feed new", "/-/feeds/new.atom"),
        ("feed new province", f"/-/feeds/new.atom?province={q('北京市')}"),
        ("feed new rare province", f"/-/feeds/new.atom?province={q('西藏自治区')}"),
        ("feed new q=大模型", f"/-/feeds/new.atom?q={q('大模型')}"),
        ("feed new company", f"/-/feeds/new.atom?company={q(big)}"),
        ("feed cancellations", "/-/feeds/cancellations.atom"),
        ("feed release", "/-/feeds/release.atom"),
    ]


Timings = dict[str, list[float]]


def measure(url: str, pages: list[tuple[str, str]], repeat: int) -> tuple[Timings, list[str]]:
    """Seconds per page: the first answer after start, then `repeat` rounds over every page
    in turn, one request at a time. Also the pages that did not answer 200."""
    found: Timings = {label: [] for label, _ in pages}
    failed: list[str] = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(repeat + 1):
            for label, path in pages:
                started = time.perf_counter()
                response = client.get(path)
                found[label].append(time.perf_counter() - started)
                if response.status_code != 200 and label not in failed:
                    failed.append(f"{label} ({response.status_code})")
    return found, failed


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path,
                        help="a data dir whose published release is copied (default: a run "
                             "against the replica, or else against the tests' tiny site)")
    parser.add_argument("--filings", type=int, default=1_000_000,
                        help="about how many filings the copy has (default 1,000,000)")
    parser.add_argument("--factor", type=int,
                        help="copies of the release (default: enough for --filings)")
    parser.add_argument("--batch-copies", type=int, default=2000,
                        help="copies of the batches at most (default 2000)")
    parser.add_argument("--repeat", type=int, default=20, help="requests per page, after the "
                                                                "first")
    parser.add_argument("--work", type=Path, help="where the copies are written and kept "
                                                  "(default: a temporary folder)")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when a page's p95 at --factor is {TARGET_MS:.0f} ms or more")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cac-serve-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.data_dir is None:
            replica = (REPLICA / "serve.py").is_file()
            args.data_dir = work / ("replica" if replica else "tiny-site")
            if not (args.data_dir / "published" / DB_FILE).is_file():
                print(f"running against the {'replica' if replica else 'tiny site'} into "
                      f"{args.data_dir} …", file=sys.stderr)
                (crawl_replica if replica else crawl_tiny_site)(args.data_dir)
        source = (args.data_dir / "published").resolve()
        if args.factor is None:
            manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
            filings = sum(manifest["filings_by_list_kind"].values()) or 1
            args.factor = max(1, round(args.filings / filings))
        results: dict[int, Timings] = {}
        for factor in (1, args.factor):
            print(f"copying {source.name} ×{factor} …", file=sys.stderr)
            release = write_scaled(source, factor, args.batch_copies, work / f"x{factor}")
            pages = reader_pages(release)
            with serving(work / f"x{factor}") as (url, start_s):
                print(f"  served, first answer {start_s:.1f} s after start", file=sys.stderr)
                results[factor], failed = measure(url, pages, args.repeat)
            if failed:
                print(f"  not 200 at {factor}×: {', '.join(failed)}", file=sys.stderr)
        base, big = results[1], results[args.factor]

    print(f"\n{os.cpu_count()} CPUs; each page asked {args.repeat + 1} times at 1× and at "
          f"{args.factor}× (one request at a time), ms")
    print(f"{'page':<28} {'1× first':>9} {'p50':>7} {'p95':>7}   {f'{args.factor}× first':>10}"
          f" {'p50':>7} {'p95':>7} {'p95 ratio':>9}")
    missed = []
    for label in big:
        one, many = base[label], big[label]

        def ms(values: list[float], share: float) -> float:
            return 1000 * percentile(values[1:], share)

        p95 = ms(many, 0.95)
        if p95 >= TARGET_MS:
            missed.append(label)
        print(f"{label:<28} {1000 * one[0]:9.1f} {ms(one, 0.5):7.1f} {ms(one, 0.95):7.1f}   "
              f"{1000 * many[0]:10.1f} {ms(many, 0.5):7.1f} {p95:7.1f} "
              f"{p95 / ms(one, 0.95):8.1f}×" + ("  ✗" if p95 >= TARGET_MS else ""))
    print(f"\n{len(big) - len(missed)} of {len(big)} pages under {TARGET_MS:.0f} ms p95 at "
          f"{args.factor}×" + (f"; over: {', '.join(missed)}" if missed else ""))
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
