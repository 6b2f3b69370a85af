"""Progress for people and log lines for cron.

On a terminal: a rich progress bar and coloured messages. Anywhere else (cron, CI, a pipe):
one plain, timestamped line per event, so a run log can be grepped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cac_filings.config import utc_now
from cac_filings.normalize import printable

# Messages quote the site (titles, cells, errors): control and bidi characters are escaped
# and very long ones cut, so that nothing from a file can rewrite the terminal.
MAX_MESSAGE = 2000


class Reporter:
    def __init__(self, *, interactive: bool | None = None, stream: TextIO | None = None,
                 quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.quiet = quiet
        self.console = Console(file=self.stream, highlight=False,
                               force_terminal=self.interactive or None)
        self.warnings: list[str] = []

    def _line(self, level: str, message: str) -> None:
        stamp = utc_now()
        print(f"{stamp} {level:<5} {message}", file=self.stream, flush=True)

    def info(self, message: str) -> None:
        if self.quiet:
            return
        message = printable(message, MAX_MESSAGE)
        if self.interactive:
            self.console.print(message, markup=False)
        else:
            self._line("INFO", message)

    def warn(self, message: str) -> None:
        message = printable(message, MAX_MESSAGE)
        self.warnings.append(message)
        if self.interactive:
            # Messages quote the site (titles, cells, errors): never read them as markup.
            self.console.print(f"[yellow]warning:[/yellow] {escape(message)}")
        else:
            self._line("WARN", message)

    def error(self, message: str) -> None:
        message = printable(message, MAX_MESSAGE)
        if self.interactive:
            self.console.print(f"[bold red]error:[/bold red] {escape(message)}")
        else:
            self._line("ERROR", message)

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[str], None]]:
        """Yields advance(label): one call per finished item."""
        if self.interactive and not self.quiet:
            with Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(),
                          TextColumn("{task.fields[label]}", markup=False),
                          console=self.console, transient=True) as bar:
                task = bar.add_task(description, total=total, label="")

                def advance_bar(label: str) -> None:
                    bar.update(task, advance=1, label=label[:40])

                yield advance_bar
            self.info(f"{description}: done")
            return
        done = 0

        def advance_line(label: str) -> None:
            nonlocal done
            done += 1
            of = f"/{total}" if total is not None else ""
            self.info(f"{description} {done}{of} {label}")

        yield advance_line
