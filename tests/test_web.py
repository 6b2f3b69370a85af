"""Small pieces of the Datasette pages that need no server."""

from __future__ import annotations

import pytest

from cac_filings.web import _size


@pytest.mark.parametrize(("n", "shown"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"),
    (int(19.76 * 1024 * 1024), "19.8 MB"), (3 * 1024**3, "3.0 GB"), (5000 * 1024**3, "5000.0 GB"),
])
def test_download_sizes_keep_their_fraction(n: int, shown: str) -> None:
    assert _size(n) == shown
