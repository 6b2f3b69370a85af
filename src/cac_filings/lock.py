"""One writer per data folder. A run, crawl or build holds DATA_DIR/.lock (an flock, released
by the kernel when every descriptor of it is closed, even after kill -9); a second one is
refused at once with a message naming the holder.

The descriptor is never left to outlive the run: forked parse workers close it first thing
(`held_lock_fds`). Should a lock still be held when the run that took it is gone — processes
of an older version that inherited it, say — the next run finds the holder's PID dead, stops
the leftover cac-filings processes that keep the file open, and takes the lock over.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from cac_filings.config import utc_now
from cac_filings.errors import CacFilingsError


class BusyError(CacFilingsError):
    """Another cac-filings process is writing to the same data folder."""


# Descriptors of the locks this process holds: a forked worker closes them first thing, so
# that a worker outliving its run never keeps the data folder locked.
_HELD: set[int] = set()


def held_lock_fds() -> list[int]:
    return sorted(_HELD)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (dead, not yet reaped) holds nothing
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _holders(path: Path) -> list[int]:
    """PIDs of the cac-filings processes that have `path` open (Linux /proc)."""
    target = path.resolve()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            if b"cac_filings" not in command and b"cac-filings" not in command:
                continue
            if any(os.readlink(fd) == str(target) for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _take_over(fd: int, path: Path, holder: dict[str, object]) -> list[int]:
    """When the process that took the lock is dead, stop the leftovers that still hold it and
    take it; returns their PIDs. Raises BusyError when the holder is alive (or unknown)."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or _alive(pid):
        raise BlockingIOError
    stopped = _holders(path)
    if not stopped:
        raise BlockingIOError  # held by something that is not a leftover of ours
    for leftover in stopped:
        with suppress(ProcessLookupError):
            os.kill(leftover, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return stopped
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def data_dir_lock(data_dir: Path, command: str) -> Iterator[list[int]]:
    """Hold the data folder's lock; yields the PIDs of leftovers stopped to take it over."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    stopped: list[int] = []
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
            try:
                holder = json.loads(text) if text else {}
            except ValueError:
                holder = {}
            try:
                stopped = _take_over(fd, path, holder if isinstance(holder, dict) else {})
            except BlockingIOError:
                raise BusyError(f"another cac-filings process is writing to {data_dir} "
                                f"({text or 'holder unknown'}); {path} is locked. Runs never "
                                "overlap: try again when it has finished") from None
        _HELD.add(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": command,
                                  "since": utc_now()
                                  }).encode(), 0)
        yield stopped
    finally:
        _HELD.discard(fd)
        os.close(fd)  # releases the flock
