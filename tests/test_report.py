"""The reporter prints what the site says literally: titles, cells and error messages may hold
square brackets, which rich would otherwise read as markup (and fail on a stray closing tag)."""

from __future__ import annotations

import io

import pytest

from cac_filings.report import Reporter

QUOTED = "[/red] 附件[1]：[bold]清单[/bold] (https://www.cac.gov.cn/a.htm?x=[1])"


@pytest.mark.parametrize("interactive", [True, False])
def test_messages_are_printed_literally(interactive: bool) -> None:
    stream = io.StringIO()
    reporter = Reporter(interactive=interactive, stream=stream)
    reporter.info(QUOTED)
    reporter.warn(QUOTED)
    reporter.error(QUOTED)
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    assert len(lines) == 3
    assert all(QUOTED in line for line in lines), lines
    assert reporter.warnings == [QUOTED]


def test_progress_labels_are_printed_literally() -> None:
    stream = io.StringIO()
    reporter = Reporter(interactive=True, stream=stream)
    with reporter.progress("[/b] attachments", total=1) as advance:
        advance(QUOTED[:40])
    assert "[/b] attachments: done" in stream.getvalue()
