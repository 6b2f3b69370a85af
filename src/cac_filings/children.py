"""Processes a run forks for work on the other core (parse workers, the SQLite writer): they
never keep the data folder's lock and never outlive the run.

Fork, not spawn: a child starts in milliseconds with the run's tables already in memory (copy
on write), where a spawned one would import everything again and be sent the data by pickle.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import traceback
from collections.abc import Callable

from cac_filings.lock import held_lock_fds

_PR_SET_PDEATHSIG = 1


def detach_from_run() -> None:
    """First thing in a forked child: close the inherited lock, die with the run (a
    parent-death signal), leave Ctrl-C to the run itself."""
    for fd in held_lock_fds():
        with contextlib.suppress(OSError):
            os.close(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Not Linux: the run waits for or kills its children on every exit path all the same.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(1)  # the run died before this child was ready


class Child:
    """`work()` in a forked process; `wait()` returns when it is done, raising its error."""

    def __init__(self, work: Callable[[], None], what: str) -> None:
        self.what = what
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: do the work, report a failure through the pipe, exit
            os.close(read)
            code = 0
            try:
                detach_from_run()
                work()
            except BaseException as exc:
                failure: dict[str, object] = {"message": traceback.format_exc()[-4000:]}
                if isinstance(exc, OSError):  # a full disk is the parent's to report
                    failure.update(errno=exc.errno, strerror=exc.strerror,
                                   filename=str(exc.filename) if exc.filename else None)
                os.write(write, json.dumps(failure).encode())
                code = 1
            finally:
                os._exit(code)  # never the parent's exit handlers or buffers
        os.close(write)
        self.pid, self._pipe = pid, read
        self.done = False

    def wait(self) -> None:
        """Wait for the child; its OSError is raised again here, anything else as a
        RuntimeError naming what failed."""
        with os.fdopen(self._pipe, "rb") as pipe:
            report = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        self.done = True
        if status == 0:
            return
        try:
            failure = json.loads(report) if report else {}
        except ValueError:
            failure = {}
        if failure.get("errno") is not None:
            raise OSError(failure["errno"], failure.get("strerror"), failure.get("filename"))
        message = str(failure.get("message") or f"exit status {status}").strip()
        raise RuntimeError(f"{self.what} failed: {message.splitlines()[-1]}")

    def kill(self) -> None:
        if not self.done:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            self.done = True


def can_fork() -> bool:
    return hasattr(os, "fork")
