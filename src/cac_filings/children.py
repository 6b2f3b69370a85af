"""Processes a run forks for work on the other core (parse workers, the SQLite writer): they
never keep the data folder's lock and never outlive the run.

Fork, not spawn: a child starts in milliseconds with the run's tables already in memory (copy
on write), where a spawned one would import everything again and be sent the data by pickle.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import signal
import sqlite3
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import apsw

from cac_filings.lock import held_lock_fds

_PR_SET_PDEATHSIG = 1

# SQLite's primary result codes for a file that cannot be written (SQLITE_PERM, SQLITE_READONLY,
# SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN; an extended code keeps the primary one in its low
# byte) and the messages it gives them.
SQLITE_ERRNO = {3: errno.EACCES, 8: errno.EROFS, 10: errno.EIO, 13: errno.ENOSPC,
                14: errno.EACCES}
SQLITE_MESSAGES = {"database or disk is full": errno.ENOSPC,
                   "attempt to write a readonly database": errno.EROFS,
                   "disk I/O error": errno.EIO, "unable to open database file": errno.EACCES}


def parent_died(parent: int) -> bool:
    """Whether the process that forked this one (PID `parent`, taken before the fork) is
    gone: this one was handed to another parent. Not "the parent is PID 1": the run itself is
    PID 1 in a container, and an orphan goes to the nearest subreaper, not always to init."""
    return os.getppid() != parent


# The signals that stop a run (cli._guarded: Ctrl-C, SIGTERM).
_STOPPING = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back while a child is forked and noted, and acted on as the
    block ends: one that arrived between the fork and the noting (the moment a test that
    waits for the children sends it) would stop the run with a child nobody knows of, and a
    clean-up that fails on it (a pool joining a process it never marked started). Python
    runs signal handlers in the main thread only; elsewhere this holds nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()
    caught: list[int] = []

    def hold(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # in a child forked meanwhile, before detach_from_run
            if signum == signal.SIGTERM:  # what the child does with it: dies of it
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
            return
        caught.append(signum)

    previous: dict[int, object] = {}
    try:
        for stopping in _STOPPING:
            current = signal.getsignal(stopping)
            if current != signal.SIG_IGN:  # an ignored one stays ignored
                previous[stopping] = current  # noted first: a signal may come in the swap
                signal.signal(stopping, hold)
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler not set from Python, which cannot be set again from here.
            restored: Any = signal.SIG_DFL if handler is None else handler
            signal.signal(signum, restored)
        if caught:
            _act_on(caught[0], previous[caught[0]])


def _act_on(signum: int, handler: object) -> None:
    """What the signal would have done had it not been held (an ignored one is not held)."""
    if callable(handler):
        handler(signum, None)  # cli's raises Interrupted; Python's SIGINT, KeyboardInterrupt
    else:
        os.kill(os.getpid(), signum)  # the default action: the process ends by the signal


def detach_from_run(parent: int) -> None:
    """First thing in a forked child (`parent`: the run's PID, taken before the fork): close
    the inherited lock, die with the run (a parent-death signal), leave Ctrl-C to the run
    itself."""
    for fd in held_lock_fds():
        with contextlib.suppress(OSError):
            os.close(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Not Linux: the run waits for or kills its children on every exit path all the same.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent_died(parent):
        os._exit(1)  # the run died before the parent-death signal was set


# The errors SQLite raises, through the standard library's sqlite3 or through apsw (which
# writes the release's file).
SQLITE_ERRORS = (sqlite3.Error, apsw.Error)


def sqlite_errno(exc: BaseException) -> int | None:
    """The errno of a SQLite error (sqlite3's or apsw's) saying a file cannot be written:
    from its result code, else its message; None for any other exception."""
    if not isinstance(exc, SQLITE_ERRORS):
        return None
    code = getattr(exc, "sqlite_errorcode" if isinstance(exc, sqlite3.Error) else "result",
                   None)
    if isinstance(code, int) and code >= 0 and code & 0xFF in SQLITE_ERRNO:
        return SQLITE_ERRNO[code & 0xFF]
    return SQLITE_MESSAGES.get(str(exc).strip())


def disk_errno(exc: BaseException) -> int | None:
    """The errno of a write the disk or the file system refused: an OSError's own, or a
    SQLite error's (sqlite_errno); None for any other failure."""
    if isinstance(exc, OSError):
        return exc.errno
    return sqlite_errno(exc)


def _failure_report(exc: BaseException, path: Path | None) -> dict[str, object]:
    """What the parent needs to raise the child's failure again: its errno when the disk
    refused a write (the run reports a full disk as such, naming the file), else its
    traceback's last line."""
    failure: dict[str, object] = {"message": traceback.format_exc()[-4000:]}
    code = disk_errno(exc)
    if code is not None:
        filename = getattr(exc, "filename", None) or path
        failure.update(errno=code, strerror=getattr(exc, "strerror", None) or str(exc)
                       or os.strerror(code), filename=str(filename) if filename else None)
    return failure


class Child:
    """`work()` in a forked process; `wait()` returns what it returned (a JSON value) when it
    is done, raising its error. `path` is the file the work writes: a full disk is reported
    as an OSError naming it.

    `after`: a child forked before this one whose work must be done first (stages of one
    file, each forked as soon as its data is ready): this one waits for it, and does nothing
    if it failed (its own error is the one `wait` raises). One child only may wait for a
    given one (it reads the word that says it is done).
    """

    pid: int
    done: bool
    _pipe: int
    _done: int

    def __init__(self, work: Callable[[], object], what: str, path: Path | None = None,
                 after: Child | None = None) -> None:
        self.what = what
        parent = os.getpid()
        # The report pipe; and one ended (at its exit, whatever the cause) by this child
        # alone, with _DONE written first when its work succeeded: what a later stage waits
        # on.
        fds: list[int] = []
        # The pipe of the child to wait for, and what it does.
        waits_on = (after._done, after.what) if after is not None and not after.done else None
        with signals_held():
            try:
                fds += os.pipe()
                fds += os.pipe()
                pid = os.fork()
            except OSError:  # no process (EAGAIN, ENOMEM) or no descriptors: none kept
                for fd in fds:
                    os.close(fd)
                raise
            read, write, done_read, done_write = fds
            if pid == 0:  # the child: do the work, report a failure through the pipe, exit
                os.close(read)
                os.close(done_read)
                code = 0
                try:
                    detach_from_run(parent)
                    if waits_on is not None:
                        _wait_for(*waits_on)
                    returned = work()
                    if returned is not None:
                        _write_all(write, json.dumps({"returned": returned}).encode())
                    os.write(done_write, _DONE)
                except BaseException as exc:
                    with contextlib.suppress(BaseException):
                        os.write(write, json.dumps(_failure_report(exc, path)).encode())
                    code = 1
                finally:
                    os._exit(code)  # never the parent's exit handlers or buffers
            os.close(write)
            os.close(done_write)
            self.pid, self._pipe, self._done = pid, read, done_read
            self.done = False

    def wait(self) -> Any:
        """Wait for the child, and return what its work returned (None once waited for); a
        write the disk refused is raised again here as an OSError (errno, message, file),
        anything else as a RuntimeError naming what failed."""
        if self.done:
            return None
        # The file object owns the descriptor from here: kill() after an interrupted wait
        # must not close it again (its number may be another file's by then).
        fd, self._pipe = self._pipe, -1
        with os.fdopen(fd, "rb") as pipe:
            report = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        self._close()
        if status == 0:
            return json.loads(report)["returned"] if report else None
        try:
            failure = json.loads(report) if report else {}
        except ValueError:
            failure = {}
        if not isinstance(failure, dict):
            failure = {}
        if isinstance(failure.get("errno"), int):
            raise OSError(failure["errno"], failure.get("strerror"), failure.get("filename"))
        message = str(failure.get("message") or exit_description(status)).strip()
        raise RuntimeError(f"{self.what} failed: {message.splitlines()[-1]}")

    def kill(self) -> None:
        if not self.done:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            if self._pipe >= 0:
                with contextlib.suppress(OSError):
                    os.close(self._pipe)
                self._pipe = -1
            self._close()

    def _close(self) -> None:
        """Done: a child forked after this is not made to wait for it."""
        self.done = True
        with contextlib.suppress(OSError):
            os.close(self._done)


_DONE = b"done"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _wait_for(pipe: int, what: str) -> None:
    """In a later stage's child: until the stage before it (`what`) has ended; an error
    when it failed or was killed (it ended without writing _DONE)."""
    with os.fdopen(pipe, "rb") as fh:
        said = fh.read()
    if said != _DONE:
        raise RuntimeError(f"not done: {what} did not finish")


def exit_description(status: int) -> str:
    """A wait status in words: "exit status 1", "killed by SIGKILL"."""
    code = os.waitstatus_to_exitcode(status)
    return describe_exitcode(code)


def describe_exitcode(code: int) -> str:
    """multiprocessing's exitcode (negative: the signal) in words."""
    if code >= 0:
        return f"exit status {code}"
    with contextlib.suppress(ValueError):
        return f"killed by {signal.Signals(-code).name}"
    return f"killed by signal {-code}"


def can_fork() -> bool:
    return hasattr(os, "fork")
