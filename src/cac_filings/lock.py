"""One writer per data folder. A run, crawl or build holds DATA_DIR/.lock (an flock, released
by the kernel when the process ends, even after kill -9); a second one is refused at once with
a message naming the holder."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def data_dir_lock(data_dir: Path, command: str) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
            raise BusyError(f"another cac-filings process is writing to {data_dir} "
                            f"({holder or 'holder unknown'}); {path} is locked. Runs never "
                            "overlap: try again when it has finished") from None
        _HELD.add(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": command,
                                  "since": utc_now()
                                  }).encode(), 0)
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)  # releases the flock
