"""Is the tracker healthy? One answer for people (/-/status) and monitors (/-/status.json),
built from the published release and the data folder, reading only.

Per source: when it was last checked and last crawled whole, when it last brought a new batch,
its batches and rows, what of it is held back or no longer linked and why. Then the last runs
(from runs.jsonl: time, exit status, requests, downloads, changes, duration) and the release
itself (id, when, code fingerprint, problems, reconciliation with CAC's own totals).
"""

from __future__ import annotations

import json
from collections import Counter, deque
from pathlib import Path
from typing import Any

from cac_filings.archive import RawArchive

LAST_RUNS = 20


def _last_lines(path: Path, n: int) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    lines: deque[str] = deque(maxlen=n)
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                lines.append(line)
    runs = []
    for line in lines:
        try:
            loaded = json.loads(line)
        except ValueError:
            continue  # a torn last line of a run that was killed while writing it
        if isinstance(loaded, dict):
            runs.append(loaded)
    return runs


def _crawl_history(raw: Path) -> dict[str, dict[str, Any]]:
    """Per source: the last check, the last good one, the last error, and the newest batch
    of the last crawl that found any new (by period: a first crawl finds them all)."""
    found: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    try:
        records = RawArchive(raw).crawls()
    except Exception:  # a broken record must not take the status page down
        records = []
    for record in records:
        for name, source in record.get("sources", {}).items():
            info = found.setdefault(name, {"last_checked": None, "last_ok": None,
                                           "last_new_batch": None, "last_error": None})
            info["last_checked"] = record.get("started_at")
            if source.get("status") == "ok":
                info["last_ok"] = record.get("started_at")
                info["last_error"] = None
            else:
                info["last_error"] = source.get("error")
            new = [e for e in source.get("batches", ()) if e.get("batch_id") not in seen]
            seen.update(e["batch_id"] for e in new)
            if new:
                newest = max(new, key=lambda e: (str(e.get("period")), str(e["batch_id"])))
                info["last_new_batch"] = {"batch_id": newest["batch_id"],
                                          "period": newest.get("period"),
                                          "seen": record.get("started_at")}
    return found


def tracker_status(data_dir: Path, release: Path | None) -> dict[str, Any]:
    """The whole status, as JSON-ready data. `release` is the published release's folder."""
    manifest: dict[str, Any] = {}
    if release is not None and (release / "manifest.json").is_file():
        manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    inputs = [i for i in manifest.get("inputs", ()) if i.get("is_current")]
    source_of = {i["batch_id"]: i["source"] for i in manifest.get("inputs", ())}
    # A batch never published (held back from its first version) is the source's by its
    # list kind.
    kind_source = {k["list_kind"]: k["source"] for k in manifest.get("list_kinds", ())}
    for p in manifest.get("problems", ()):
        if p["batch_id"] not in source_of and p.get("list_kind") in kind_source:
            source_of[p["batch_id"]] = kind_source[p["list_kind"]]
    crawls = _crawl_history(data_dir / "raw")
    rows = Counter[str]()
    batches = Counter[str]()
    for item in inputs:
        batches[item["source"]] += 1
        rows[item["source"]] += item.get("row_count") or 0
    problems = manifest.get("problems", [])
    sources = []
    for name in sorted(set(crawls) | set(batches)):
        own = [p for p in problems if source_of.get(p["batch_id"]) == name]
        crawl = crawls.get(name, {})
        sources.append({
            "source": name,
            "last_checked": crawl.get("last_checked"),
            "last_successful_check": crawl.get("last_ok"),
            "last_error": crawl.get("last_error"),
            "last_new_batch": crawl.get("last_new_batch"),
            "batches": batches.get(name, 0),
            "rows": rows.get(name, 0),
            "held_back": [p for p in own if p["severity"] == "held_back"],
            "no_longer_linked": [p for p in own if p["stage"] == "link"],
            "other_problems": [p for p in own if p["severity"] != "held_back"
                               and p["stage"] != "link"],
        })
    unattached = [p for p in problems if p["batch_id"] not in source_of]
    runs = _last_lines(data_dir / "runs.jsonl", LAST_RUNS)
    last = runs[-1] if runs else None
    healthy = bool(manifest) and not problems and (last is None or last.get("exit_code") == 0)
    return {
        "healthy": healthy,
        "release": {k: manifest.get(k) for k in ("release_id", "created_at", "code_version",
                                                 "code_fingerprint", "previous_release_id",
                                                 "changes", "row_counts",
                                                 "filings_by_list_kind")} if manifest else None,
        "problems": len(problems),
        "held_back": manifest.get("held_back", []),
        "sources": sources,
        "other_problems": unattached,
        "reconciliation": manifest.get("reconciliation", []),
        # Information about the data, not the tracker's health: our counts that differ from
        # CAC's stated totals (the reconciliation page says by how much and why).
        "totals_differing": sum(1 for r in manifest.get("reconciliation", [])
                                if r.get("status") == "differs"),
        "last_runs": [{k: r.get(k) for k in ("command", "started_at", "finished_at",
                                            "duration_s", "status", "exit_code", "requests",
                                            "downloaded", "new_files", "changes", "release_id",
                                            "held_back", "error")} for r in reversed(runs)],
    }
