"""Errors that name their source. Every message says which URL, file, row or header failed."""

from __future__ import annotations


class CacFilingsError(Exception):
    """Base class: a failure the CLI reports in one line and exits non-zero for."""


class FetchError(CacFilingsError):
    """A URL could not be fetched as the expected kind of content."""

    def __init__(self, url: str, reason: str, *, retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_fetch_error, (type(self), self.url, self.reason, self.retryable,
                                       self.retry_after))


def _rebuild_fetch_error(cls: type[FetchError], url: str, reason: str, retryable: bool,
                         retry_after: float | None) -> FetchError:
    return cls(url, reason, retryable=retryable, retry_after=retry_after)


class BlockedError(FetchError):
    """The site's WAF (知道创宇云防御) answered instead of the page."""


class PageLayoutError(CacFilingsError):
    """A page does not have the structure a scraper relies on (the site changed its layout)."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"{url}: page layout changed: {detail}")
        self.url = url
        self.detail = detail

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.url, self.detail))


class ExtractionError(CacFilingsError):
    """A file could not be read into rows (corrupt, unexpected format, unknown header, …)."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")
        self.source = source
        self.detail = detail

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.source, self.detail))


class SettingsError(CacFilingsError):
    """A setting the command needs is malformed (a base URL, say): fix the setup."""


class InvariantError(CacFilingsError):
    """A release failed a check from the data contract and was not published."""


class ArchiveError(CacFilingsError):
    """The raw archive is missing something a build needs, or an object is corrupt."""
