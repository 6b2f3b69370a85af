"""The data folder's lock and the processes a run forks: a dead run's lock is taken over by
one run only, children never keep the lock and notice their run's death by its PID, a full
disk in the SQLite child reaches the run as an OSError, a stage of a file starts once the stage
before it is done (and not at all when it did not finish), a dying parse worker is one line."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing import popen_fork
from pathlib import Path
from typing import Any, cast

import apsw
import pyarrow.parquet as pq
import pytest

import cac_filings.build as build
from cac_filings import lock
from cac_filings.build import ParseTask
from cac_filings.children import Child, detach_from_run, parent_died, signals_held
from cac_filings.lock import BusyError, data_dir_lock
from tests.test_crash import alive

# Above Linux's largest pid_max (2**22): no process ever has it.
DEAD_PID = 2**22 + 1

LEFTOVER = ("import fcntl, os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\nsys.stdin.read()")


@pytest.fixture
def stale_lock(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """DATA_DIR/.lock written by a run that is dead, and still held by a leftover of it (a
    worker of an older version that inherited the descriptor)."""
    (tmp_path / ".lock").write_text(json.dumps({"pid": DEAD_PID, "command": "run"}))
    leftover = subprocess.Popen([sys.executable, "-c", LEFTOVER, str(tmp_path / ".lock"),
                                 "cac_filings-worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert leftover.stdout is not None and leftover.stdout.readline() == "held\n"
        yield leftover
    finally:
        leftover.kill()
        leftover.wait()


def open_on(path: Path) -> list[str]:
    """This process's descriptors open on `path`."""
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        try:
            if os.readlink(fd) == str(path.resolve()):
                found.append(fd.name)
        except OSError:
            continue
    return found


# ---------------------------------------------------------------- taking over a dead run's lock


def test_two_runs_finding_the_same_dead_holder_take_over_one_at_a_time(
        tmp_path: Path, stale_lock: subprocess.Popen[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first run has read the dead holder's PID and is about to stop the leftovers; a
    second run arriving then is refused (it does not take over as well), and the first one
    gets the lock."""
    entered, go, held, release = (threading.Event() for _ in range(4))
    real_holders = lock._holders
    calls: list[Path] = []

    def holders_pausing_first(path: Path) -> list[int]:
        calls.append(path)
        if len(calls) == 1:  # the first takeover stops here until the second run has tried
            entered.set()
            assert go.wait(10)
        return real_holders(path)

    monkeypatch.setattr(lock, "_holders", holders_pausing_first)
    outcome: dict[str, object] = {}

    def first_run() -> None:
        try:
            with data_dir_lock(tmp_path, "run") as stopped:
                outcome["stopped"] = stopped
                held.set()
                release.wait(10)
        except BaseException as exc:
            outcome["error"] = exc
            held.set()

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert entered.wait(10)
        with pytest.raises(BusyError, match=f"PID {os.getpid()}, `cac-filings run`, since "), \
                data_dir_lock(tmp_path, "build"):
            pass
        assert len(calls) == 1  # the refused run never looked for leftovers to stop
        assert len(open_on(tmp_path / ".lock")) == 1  # the first run's: the second never opened it
        go.set()
        assert held.wait(10)
        assert outcome == {"stopped": [stale_lock.pid]}
        assert stale_lock.wait(timeout=5) == -signal.SIGKILL
        record = json.loads((tmp_path / ".lock").read_text())
        assert (record["pid"], record["command"]) == (os.getpid(), "run")
        # Held now by a live run: refused, naming it; nobody is stopped.
        with pytest.raises(BusyError, match=f"PID {os.getpid()}"), \
                data_dir_lock(tmp_path, "crawl"):
            pass
        assert len(calls) == 1
    finally:
        go.set()
        release.set()
        thread.join(10)
    assert not open_on(tmp_path / ".lock")
    with data_dir_lock(tmp_path, "run") as stopped:  # released: the next run just works
        assert stopped == []


def test_a_dead_holders_pid_given_to_another_process_does_not_keep_the_lock(
        tmp_path: Path, stale_lock: subprocess.Popen[str]) -> None:
    """The run that took the lock is dead, a leftover still holds it, and the dead run's PID
    has been given to a process that does not have the lock open: the next run takes over
    (it stops the leftover, not that process) instead of being refused on every run."""
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        (tmp_path / ".lock").write_text(json.dumps({"pid": other.pid, "command": "run"}))
        with data_dir_lock(tmp_path, "run") as stopped:
            assert stopped == [stale_lock.pid]
            assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
        assert stale_lock.wait(timeout=5) == -signal.SIGKILL
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


RACER = """
import json, sys
from pathlib import Path
from cac_filings.lock import BusyError, data_dir_lock
print("ready", flush=True)
sys.stdin.readline()
try:
    with data_dir_lock(Path(sys.argv[1]), "run") as stopped:
        print("won", json.dumps(stopped), flush=True)
        sys.stdin.readline()
except BusyError as exc:
    print("busy", exc, flush=True)
"""


def test_two_processes_racing_for_a_dead_runs_lock_one_wins_and_nobody_stops_it(
        tmp_path: Path, stale_lock: subprocess.Popen[str]) -> None:
    """Racers have the lock file open too and are cac-filings processes: a takeover must not
    take the other racer (or the winner) for a leftover and kill it."""
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
              for _ in range(2)]
    try:
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        lines = {racer.pid: racer.stdout.readline() for racer in racers
                 if racer.stdout is not None}
        (winner,) = [pid for pid, line in lines.items() if line.startswith("won")]
        (loser,) = [pid for pid, line in lines.items() if line.startswith("busy")]
        assert lines[winner] == f"won [{stale_lock.pid}]\n"
        assert "another cac-filings process is writing to" in lines[loser]
        assert set(re.findall(r'"pid": (\d+)', lines[loser])) <= {str(winner)}
        loser_process = next(r for r in racers if r.pid == loser)
        assert loser_process.wait(timeout=10) == 0
        winner_process = next(r for r in racers if r.pid == winner)
        assert winner_process.poll() is None  # not stopped by the loser
        assert stale_lock.wait(timeout=5) == -signal.SIGKILL
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == winner
        assert winner_process.stdin is not None
        winner_process.stdin.write("done\n")
        winner_process.stdin.flush()
        assert winner_process.wait(timeout=10) == 0
    finally:
        for racer in racers:
            racer.kill()
            racer.wait()


def test_the_gate_is_open_while_the_lock_is_held_and_children_get_neither(
        tmp_path: Path) -> None:
    import fcntl

    with data_dir_lock(tmp_path, "run"):
        gate = os.open(tmp_path / ".lock-gate", os.O_RDWR)
        try:
            fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)  # not held past the taking
        finally:
            os.close(gate)
        assert len(open_on(tmp_path / ".lock")) == 1

        def without_the_lock() -> None:
            if open_on(tmp_path / ".lock") or open_on(tmp_path / ".lock-gate"):
                raise AssertionError("the child holds the data folder's lock")

        Child(without_the_lock, "checking the descriptors").wait()
    assert not open_on(tmp_path / ".lock")


def test_a_refused_run_keeps_no_descriptor_of_the_lock(tmp_path: Path) -> None:
    import fcntl

    holder = os.open(tmp_path / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        os.pwrite(holder, json.dumps({"pid": os.getpid(), "command": "run"}).encode(), 0)
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(BusyError, match=f"PID {os.getpid()}"), \
                data_dir_lock(tmp_path, "build"):
            pass
        assert len(open_on(tmp_path / ".lock")) == 1  # the holder's own
    finally:
        os.close(holder)


# ---------------------------------------------------------------- a child notices its run died


def in_fork(body: Callable[[], None]) -> int:
    """body() in a forked process: its exit status (3 when body raised)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            body()
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_parent_died_compares_with_the_pid_taken_before_the_fork(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getppid", lambda: 1)
    assert not parent_died(1)  # the run is PID 1 (a container): its child is fine
    assert parent_died(4242)  # handed to init: the run is gone
    monkeypatch.setattr(os, "getppid", lambda: 777)
    assert parent_died(4242)  # handed to a subreaper (systemd --user, tini): gone too
    assert not parent_died(777)


@pytest.mark.parametrize(("getppid", "parent", "status"), [
    (1, 1, 0),  # the run is PID 1: the child works
    (1, 4242, 1),  # reparented to init: the child exits at once
    (777, 4242, 1),  # reparented to a subreaper that is not PID 1: exits too
])
def test_a_forked_child_exits_when_its_run_is_gone(getppid: int, parent: int,
                                                   status: int) -> None:
    def child() -> None:
        os.getppid = lambda: getppid  # this process only
        detach_from_run(parent)

    assert in_fork(child) == status


# ---------------------------------------------------------------- a full disk in the child


def fill_capped_database(path: Path) -> None:
    """SQLite's own "database or disk is full": a database allowed two pages."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA max_page_count = 2")
        connection.execute("CREATE TABLE filings (number TEXT)")
        connection.executemany("INSERT INTO filings VALUES (?)",
                               [("网信算备" + str(i) * 40,) for i in range(1000)])
        connection.commit()
    finally:
        connection.close()


def fill_capped_database_with_apsw(path: Path) -> None:
    """The same through apsw, which writes the release's file (apsw.FullError)."""
    connection = apsw.Connection(str(path))
    try:
        connection.execute("PRAGMA max_page_count = 2")
        connection.execute("CREATE TABLE filings (number TEXT)")
        connection.executemany("INSERT INTO filings VALUES (?)",
                               [("网信算备" + str(i) * 40,) for i in range(1000)])
    finally:
        connection.close()


def raise_(exc: BaseException) -> Callable[[], None]:
    def work() -> None:
        raise exc

    return work


@pytest.mark.parametrize("work", [
    fill_capped_database,
    fill_capped_database_with_apsw,
    lambda path: raise_(sqlite3.OperationalError("database or disk is full"))(),
], ids=["sqlite-full", "apsw-full", "operational-error"])
def test_sqlite_full_in_the_child_is_an_enospc_oserror_naming_the_file(
        tmp_path: Path, work: Callable[[Path], None]) -> None:
    path = tmp_path / "cac_filings.db"
    child = Child(lambda: work(path), f"writing {path}", path)
    with pytest.raises(OSError) as raised:
        child.wait()
    assert type(raised.value) is OSError
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(path)
    assert "database or disk is full" in str(raised.value.strerror)


def test_an_oserror_in_the_child_keeps_its_errno_and_file(tmp_path: Path) -> None:
    child = Child(raise_(OSError(errno.ENOSPC, "No space left on device", "/data/x.db-journal")),
                  "writing x", tmp_path / "x.db")
    with pytest.raises(OSError) as raised:
        child.wait()
    assert (raised.value.errno, raised.value.strerror, raised.value.filename) == (
        errno.ENOSPC, "No space left on device", "/data/x.db-journal")


def test_a_read_only_file_in_the_child_is_an_erofs_oserror_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "cac_filings.db"
    child = Child(raise_(apsw.ReadOnlyError("attempt to write a readonly database")),
                  f"writing {path}", path)
    with pytest.raises(OSError) as raised:
        child.wait()
    assert (raised.value.errno, raised.value.filename) == (errno.EROFS, str(path))


def test_other_failures_of_the_child_are_one_line_runtime_errors(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"^writing x failed: ValueError: a bad value$"):
        Child(raise_(ValueError("a bad value")), "writing x").wait()
    with pytest.raises(RuntimeError, match=r"^writing x failed: killed by SIGKILL$"):
        Child(lambda: os.kill(os.getpid(), signal.SIGKILL), "writing x").wait()
    # A SQLite error that is not the disk's stays what it is.
    with pytest.raises(RuntimeError, match="OperationalError: no such table: t"):
        Child(raise_(sqlite3.OperationalError("no such table: t")), "writing x").wait()


# ---------------------------------------------------------------- stages of one file


def test_a_stage_starts_once_the_stage_before_it_is_done(tmp_path: Path) -> None:
    path = tmp_path / "stages.txt"

    def first() -> None:
        time.sleep(0.3)
        path.write_text("first\n")

    def second() -> None:
        with path.open("a") as fh:  # the file exists only once the first stage is done
            fh.write("second\n" if path.read_text() == "first\n" else "too early\n")

    one = Child(first, "stage 1")
    two = Child(second, "stage 2", after=one)
    one.wait()
    two.wait()
    assert path.read_text() == "first\nsecond\n"
    # A stage forked after the one before it was waited for does not wait for it.
    def third() -> None:
        path.write_text(path.read_text() + "third\n")

    Child(third, "stage 3", after=two).wait()
    assert path.read_text() == "first\nsecond\nthird\n"


def test_what_the_work_returns_is_what_wait_returns() -> None:
    assert Child(lambda: {"sha256": "ab" * 32}, "hashing").wait() == {"sha256": "ab" * 32}
    assert Child(lambda: None, "nothing").wait() is None


@pytest.mark.parametrize("end", ["fails", "is killed"])
def test_a_stage_after_one_that_did_not_finish_does_nothing(tmp_path: Path, end: str) -> None:
    marker = tmp_path / "second-ran"

    def first() -> None:
        if end == "fails":
            raise ValueError("a bad value")
        time.sleep(30)

    one = Child(first, "stage 1")
    def second() -> None:
        marker.write_text("ran")

    two = Child(second, "stage 2", after=one)
    if end == "fails":
        with pytest.raises(RuntimeError, match=r"^stage 1 failed: ValueError: a bad value$"):
            one.wait()
    else:
        one.kill()
    with pytest.raises(RuntimeError, match=r"^stage 2 failed: .*not done: stage 1 did not "
                                           r"finish$"):
        two.wait()
    assert not marker.exists()


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_a_failed_fork_keeps_no_descriptor(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    before = _open_fds()
    monkeypatch.setattr(os, "fork", no_fork)
    with pytest.raises(OSError, match="temporarily unavailable"):
        Child(lambda: None, "forking")
    assert _open_fds() == before


def test_killing_a_child_whose_wait_was_interrupted_closes_no_other_file(
        monkeypatch: pytest.MonkeyPatch) -> None:
    child = Child(lambda: None, "quick")
    real = os.waitpid

    def interrupted(pid: int, options: int) -> tuple[int, int]:
        monkeypatch.setattr(os, "waitpid", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "waitpid", interrupted)
    with pytest.raises(KeyboardInterrupt):
        child.wait()
    reused = os.open(os.devnull, os.O_RDONLY)  # likely the number the report pipe had
    try:
        child.kill()
        os.fstat(reused)  # still open
    finally:
        os.close(reused)


# ---------------------------------------------------------------- a parse worker that dies


def parse_or_die(task: ParseTask) -> str:
    """A stand-in for build._parse: "always" kills its process, "once" the first time."""
    _, sha, _, _, _, root = task
    first_time = Path(root, f"died-{sha}")
    if sha == "always" or (sha == "once" and not first_time.exists()):
        first_time.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return f"parsed {sha}"


def tasks(root: Path, *shas: str) -> list[ParseTask]:
    spec, kinds = cast(Any, None), cast(Any, None)
    return [("algorithm", sha, f"file {sha} [algorithm/2024-01 v1]", spec, kinds, str(root))
            for sha in shas]


def test_a_worker_dying_by_chance_costs_time_only(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "_parse", parse_or_die)
    shas = ("a", "once", "b", "c", "d")
    results = build._run_tasks(tasks(tmp_path, *shas), [1] * len(shas), workers=2)
    assert results == [f"parsed {sha}" for sha in shas]
    assert (tmp_path / "died-once").exists()  # it did die, and was parsed again
    assert not multiprocessing.active_children()


def test_a_file_that_kills_its_parser_is_held_back_and_leaves_no_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "_parse", parse_or_die)
    with data_dir_lock(tmp_path, "build"):
        results = build._run_tasks(tasks(tmp_path, "a", "always", "b"), [3, 2, 1], workers=2)
    assert results[0] == "parsed a" and results[2] == "parsed b"  # the others are read
    message = results[1]
    assert isinstance(message, str) and "\n" not in message
    assert message.startswith(build.CRASHED + "file always [algorithm/2024-01 v1]: a parse "
                              "worker died (killed by SIGKILL), and the process parsing this "
                              "file alone died too (killed by SIGKILL)")
    assert not multiprocessing.active_children()
    assert not open_on(tmp_path / ".lock")
    with data_dir_lock(tmp_path, "build") as stopped:  # nobody holds it
        assert stopped == []


def deaf_to_sigterm(parent: int) -> None:
    """A pool worker that misses the pool's SIGTERM, as one forked the moment a worker died
    does (Python clears what a child caught before its first line): it ends on the
    shutdown's sentinel, with exit status 0."""
    detach_from_run(parent)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def test_a_worker_that_stopped_when_told_is_not_named_as_the_one_that_died(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "_parse", parse_or_die)
    monkeypatch.setattr(build, "detach_from_run", deaf_to_sigterm)
    for _ in range(3):  # either worker may take the file that kills it
        results = build._run_tasks(tasks(tmp_path, "a", "always", "b"), [3, 2, 1], workers=2)
        assert results[0] == "parsed a" and results[2] == "parsed b"
        assert isinstance(results[1], str)
        assert results[1].startswith(build.CRASHED + "file always [algorithm/2024-01 v1]: a "
                                     "parse worker died (killed by SIGKILL), and the process "
                                     "parsing this file alone died too (killed by SIGKILL)")
    assert not multiprocessing.active_children()


class Ended:
    """A worker the pool has reaped: its exit code, in multiprocessing's terms."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode

    def join(self, timeout: float | None = None) -> None:
        pass


@pytest.mark.parametrize(("codes", "said"), [
    ([0, -signal.SIGKILL], "killed by SIGKILL"),  # a survivor's sentinel exit listed first
    ([-signal.SIGTERM, 0, -signal.SIGSEGV], "killed by SIGSEGV"),
    ([-signal.SIGTERM, 3, -signal.SIGKILL], "exit status 3"),  # the first of the rest
    ([-signal.SIGTERM, 0], "exit status 0"),  # a library's os._exit(0), when nothing else
    ([-signal.SIGTERM, -signal.SIGTERM], "killed by SIGTERM"),
    ([None, -signal.SIGKILL], "killed by SIGKILL"),
    ([None], "no exit status known"),
])
def test_how_a_pool_broke_is_said_by_the_worker_most_likely_to_have_broken_it(
        codes: list[int | None], said: str) -> None:
    processes = cast(Any, [Ended(code) for code in codes])
    assert build._how_workers_died(cast(Any, object()), processes) == said


def always_dies(task: ParseTask) -> str:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def test_a_build_whose_parser_dies_on_every_file_keeps_what_was_published(
        tiny_release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from tests.conftest import invoke

    data = tmp_path / "data"
    shutil.copytree(tiny_release, data, symlinks=True)
    shutil.rmtree(data / "cache")  # every file is parsed again, on workers
    filings = pq.ParquetFile(data / "published" / "filings.parquet").read().to_pylist()
    monkeypatch.setattr(build, "_parse", always_dies)
    monkeypatch.setattr(build, "default_workers", lambda: 2)
    done = invoke("build", "--data-dir", str(data), "--quiet")
    # Every batch held back (each named once), each published version staying current.
    assert done.exit_code == 5, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    record = json.loads((data / "runs.jsonl").read_text().splitlines()[-1])
    assert record["exit_code"] == 5 and record["held_back"]
    assert all("(crash)" in h and "alone died too (killed by SIGKILL)" in h
               for h in record["held_back"])
    assert pq.ParquetFile(data / "published" / "filings.parquet").read().to_pylist() == filings
    assert not multiprocessing.active_children()
    with data_dir_lock(data, "build") as stopped:  # the failed build left the lock free
        assert stopped == []


def test_a_single_file_is_parsed_in_a_process_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The usual day: one new file, the rest cached. Its parser dying (a crash in a parsing
    # library) must not take the run with it.
    monkeypatch.setattr(build, "_parse", parse_or_die)
    for workers in (1, 2):
        (result,) = build._run_tasks(tasks(tmp_path, "always"), [1], workers=workers)
        assert isinstance(result, str) and result.startswith(build.CRASHED)
    assert build._run_tasks(tasks(tmp_path, "a"), [1], workers=1) == ["parsed a"]
    assert not multiprocessing.active_children()


# Pickled by name to the parse workers: a module-level function and switch.
DYING = {"on": False}
_REAL_PARSE = build._parse


def dies_in_deep_synthesis(task: ParseTask) -> Any:
    if DYING["on"] and "deep_synthesis" in task[0]:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    return _REAL_PARSE(task)


def test_a_batch_held_back_by_a_dying_parser_is_retried_by_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import invoke
    from tests.tinysite import serve_site

    monkeypatch.setitem(DYING, "on", True)
    monkeypatch.setattr(build, "_parse", dies_in_deep_synthesis)
    data = tmp_path / "data"

    def run() -> int:
        done = invoke("run", "--no-serve", "--quiet", "--data-dir", str(data), "--www-base",
                      site.url, "--beian-base", site.url, "--delay", "0")
        return done.exit_code

    with serve_site() as site:
        assert run() == 5
        record = json.loads((data / "runs.jsonl").read_text().splitlines()[-1])
        assert record["held_back"] and all("(crash)" in h for h in record["held_back"])
        DYING["on"] = False
        assert run() == 0  # not "nothing new": the crash is retried, and now read
        record = json.loads((data / "runs.jsonl").read_text().splitlines()[-1])
        assert record["held_back"] == [] and record["status"] == "published"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_a_signal_while_a_parse_worker_is_being_started_stops_the_run_as_a_signal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C or SIGTERM just after the pool forked a worker, before it noted the process
    (under load, the moment a test that waits for two workers sends it): the run stops as
    interrupted (status 130/143), not with an error of its clean-up (joining a process never
    marked started: status 70), and no worker outlives it."""
    monkeypatch.setattr(build, "_parse", parse_or_die)
    launch = popen_fork.Popen._launch  # type: ignore[attr-defined]
    forked: list[int] = []

    def launch_then_signal(self: Any, process_obj: Any) -> None:
        launch(self, process_obj)  # the parent's side: the child never returns from it
        forked.append(self.pid)
        if len(forked) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Python raises KeyboardInterrupt for it

    monkeypatch.setattr(popen_fork.Popen, "_launch", launch_then_signal)
    with pytest.raises(KeyboardInterrupt):
        build._run_tasks(tasks(tmp_path, "a", "b", "c"), [3, 2, 1], workers=2)
    monkeypatch.undo()
    assert len(forked) == 2
    assert not any(alive(pid) for pid in forked), forked
    assert not multiprocessing.active_children()


class Stop(Exception):
    pass


def _stop(signum: int, frame: object) -> None:
    raise Stop(signum)


def test_signals_held_act_once_the_block_ends_and_ignored_ones_stay_ignored() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a run started in the background by sh
        signal.signal(signal.SIGTERM, _stop)
        reached = []
        with pytest.raises(Stop) as stopped, signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            reached.append("the end of the block")
        assert reached and stopped.value.args == (signal.SIGTERM,)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is _stop
        with pytest.raises(Stop), signals_held():  # nested: acted on once, at the outer end
            with signals_held():
                os.kill(os.getpid(), signal.SIGTERM)
            reached.append("after the inner block")
        assert reached[-1] == "after the inner block"
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_a_child_forked_while_signals_are_held_dies_of_sigterm() -> None:
    """Before detach_from_run, a forked child has the holding handler: a SIGTERM (a broken
    pool terminating its workers) must still end it, not be held for a block it never ends."""
    with signals_held():
        pid = os.fork()
        if pid == 0:
            os.kill(os.getpid(), signal.SIGTERM)
            os._exit(0)  # only if the signal was lost
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
