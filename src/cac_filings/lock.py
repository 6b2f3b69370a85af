"""One writer per data folder. A run, crawl or build holds DATA_DIR/.lock (an flock, released
by the kernel when every descriptor of it is closed, even after kill -9); a second one is
refused at once with a message naming the holder.

The descriptor is never left to outlive the run: forked parse workers close it first thing
(`held_lock_fds`). Should a lock still be held when the run that took it is gone — processes
of an older version that inherited it, say — the next run finds the holder's PID dead (or
given to a process that does not have the lock open: PIDs are reused), stops the leftover
cac-filings processes that keep the file open, and takes the lock over.

Taking the lock is one step for every contender: it passes a gate first (DATA_DIR/.lock-gate,
an flock held only while the lock is being taken, never while it is held). Behind the gate a
run opens the lock, reads its holder, finds it dead, stops the leftovers and takes the lock
with no other run in between: two runs that find the same dead holder cannot both take over,
and no contender (which has the lock file open too) is ever taken for a leftover and stopped.
A run that finds the gate taken is refused like one that finds the lock held.
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

LOCK_NAME = ".lock"
GATE_NAME = ".lock-gate"

# How long a takeover waits for the stopped leftovers to let go of the lock.
TAKEOVER_SECONDS = 5.0


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


def _opens(process: Path, path: Path) -> bool:
    """Whether the process at `process` (/proc/<pid>) has `path` open; OSError when its
    descriptors cannot be read (gone, or another user's)."""
    target = str(path.resolve())
    for fd in list((process / "fd").iterdir()):
        with suppress(OSError):  # a descriptor closed meanwhile
            if os.readlink(fd) == target:
                return True
    return False


def _has_open(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open; True when that cannot be read (it may have)."""
    try:
        return _opens(Path(f"/proc/{pid}"), path)
    except OSError:
        return True


def _holders(path: Path) -> list[int]:
    """PIDs of the cac-filings processes that have `path` open (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            if b"cac_filings" not in command and b"cac-filings" not in command:
                continue
            if _opens(entry, path):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _write_record(fd: int, command: str) -> None:
    """Who holds it: written over the old record, then cut to length, so that a reader never
    finds the file empty (it may find the old record's tail after the new one: `_read_record`
    reads the first JSON value only)."""
    record = json.dumps({"pid": os.getpid(), "command": command, "since": utc_now()}).encode()
    os.pwrite(fd, record, 0)
    os.ftruncate(fd, len(record))


def _read_record(fd: int) -> tuple[str, dict[str, object]]:
    """The holder's record as text (for messages) and as a dict ({} when unreadable)."""
    text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
    try:
        found, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return text, {}
    return text[:end], found if isinstance(found, dict) else {}


def _busy(data_dir: Path, path: Path, record: tuple[str, dict[str, object]]) -> BusyError:
    """`record`: the holder's, as _read_record gives it."""
    return BusyError(f"another cac-filings process is writing to {data_dir} "
                     f"({_holder(*record)}); {path} is locked. Runs never "
                     "overlap: try again when it has finished")


def _holder(text: str, found: dict[str, object]) -> str:
    """The holder's record as words ("PID 4242, `cac-filings run`, since …"); as found when
    it is not one of ours."""
    if not isinstance(found.get("pid"), int):
        return text or "holder unknown"
    words = [f"PID {found['pid']}"]
    if found.get("command"):
        words.append(f"`cac-filings {found['command']}`")
    if found.get("since"):
        words.append(f"since {found['since']}")
    return ", ".join(words)


def _take(fd: int, path: Path) -> list[int]:
    """Lock `fd`, taking the lock over when the process that took it is dead: stop the
    leftovers that still hold it and wait for the kernel to release it. Returns their PIDs.
    Raises BusyError when the holder is alive (or unknown). Called behind the gate only."""
    with suppress(BlockingIOError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return []
    record = _read_record(fd)
    pid = record[1].get("pid")
    # The run that took the lock keeps it open while it holds it: a live process that does
    # not is another one, given the dead holder's PID.
    if not isinstance(pid, int) or (_alive(pid) and _has_open(pid, path)):
        raise _busy(path.parent, path, record)
    stopped = _holders(path)
    if not stopped:
        raise _busy(path.parent, path, record)  # held by something that is not ours
    for leftover in stopped:
        with suppress(ProcessLookupError):
            os.kill(leftover, signal.SIGKILL)
    deadline = time.monotonic() + TAKEOVER_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return stopped
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise _busy(path.parent, path, record) from None
            time.sleep(0.05)  # a SIGKILLed process lets go of its files within milliseconds


def _acquire(data_dir: Path, command: str) -> tuple[int, list[int]]:
    """The lock's descriptor, locked, and the leftovers stopped to take it over."""
    gate = os.open(data_dir / GATE_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(data_dir, data_dir / GATE_NAME, _read_record(gate)) from None
        with suppress(OSError):  # only a message's detail: never a reason to fail
            _write_record(gate, command)  # named by whoever finds the gate taken
        fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            stopped = _take(fd, data_dir / LOCK_NAME)
            _HELD.add(fd)
            _write_record(fd, command)
        except BaseException:
            _HELD.discard(fd)
            os.close(fd)  # before the gate opens: a takeover never sees a refused run's file
            raise
        return fd, stopped
    finally:
        os.close(gate)  # releases the gate


@contextmanager
def data_dir_lock(data_dir: Path, command: str) -> Iterator[list[int]]:
    """Hold the data folder's lock; yields the PIDs of leftovers stopped to take it over."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, stopped = _acquire(data_dir, command)
    try:
        yield stopped
    finally:
        _HELD.discard(fd)
        os.close(fd)  # releases the flock
