"""HTTP for every source: rebasing, Referer, pacing, retries, conditional GET, validation.

Scrapers never talk HTTP themselves. They ask for a page, a file or a JSON document by its
live-site URL (https://www.cac.gov.cn/…); this module maps it onto the configured base URL,
archives every response body and logs every attempt, and only returns content that passed
validation. WAF block pages and empty bodies arrive with status 200 on this site, so the status
code alone proves nothing.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx

from cac_filings.archive import RawArchive, Validators
from cac_filings.config import HOSTS, Settings, canonical_url, utc_now
from cac_filings.errors import BlockedError, FetchError
from cac_filings.formats import (
    FileFormat,
    integrity_problem,
    is_waf_page,
    sniff_format,
    zip_size_problem,
)

Expect = Literal["html", "file", "json"]
RETRY_STATUSES = {429, 500, 502, 503, 504, 520, 521, 522, 523, 524}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# Redirects are followed by hand, each target checked before it is requested.
MAX_REDIRECTS = 5
JSP_MISSING_FILE = "对不起，您要下载的文件不存在或已被删除"


def host_role(url: str, allowed: tuple[str, ...] = ()) -> str:
    """'www' or 'beian' for a live-site URL, the host itself for an allowed other host;
    anything else is refused."""
    host = (urlsplit(url).hostname or "").lower()
    for role, name in HOSTS.items():
        if host == name:
            return role
    if host and host in allowed:
        return host
    raise FetchError(url, f"host {host or '(none)'} is not one of the CAC hosts this project "
                          f"fetches from ({', '.join(HOSTS.values())}); link not followed "
                          "(allow it with CAC_FILINGS_ALLOWED_HOSTS)")


@dataclass(frozen=True)
class Fetched:
    """A validated response. `url` is always the live-site URL."""

    url: str
    final_url: str
    status: int
    body: bytes
    sha256: str
    fetched_at: str
    from_cache: bool
    file_format: FileFormat
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        # The site sends `Content-Type: text/html` without a charset; pages are UTF-8.
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FetchStats:
    requests: int = 0
    retries: int = 0
    not_modified: int = 0
    bytes: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class Fetcher:
    def __init__(
        self,
        settings: Settings,
        archive: RawArchive,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        retry_base: float | None = None,
        memo: bool = False,
    ) -> None:
        self.settings = settings
        self.archive = archive
        self.sleep = sleep
        self.clock = clock
        self.retry_base = settings.retry_base if retry_base is None else retry_base
        self.stats = FetchStats()
        self._last_request: dict[str, float] = {}
        self.deadline = clock() + settings.max_run_seconds
        # With memo, pages and JSON fetched once are not fetched again by this Fetcher: in one
        # crawl two sources may read the same page (the beian notice list).
        self.memo = memo
        self._memo: dict[tuple[str, str], Fetched] = {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": settings.user_agent, "Accept-Language": "zh-CN,zh;q=0.9"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- URL mapping
    def transport_url(self, url: str) -> str:
        """The URL actually requested: the live URL rebased onto the configured base."""
        role = host_role(url, self.settings.allowed_hosts)
        if role not in HOSTS:
            return url
        parts = urlsplit(url)
        base = self.settings.base_for(role)
        return base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _live_from_transport(self, transport: str, role: str) -> str:
        """The live URL of a requested URL; `role`'s base first (both may be the same)."""
        for candidate in (role, *(r for r in HOSTS if r != role)):
            if candidate not in HOSTS:
                continue
            base = self.settings.base_for(candidate)
            rest = transport[len(base):]
            if transport.startswith(base) and (not rest or rest[0] in "/?"):
                return f"https://{HOSTS[candidate]}" + rest
        return transport

    # -- politeness
    def _pace(self, role: str) -> None:
        last = self._last_request.get(role)
        if last is not None:
            wait = self.settings.delay - (self.clock() - last)
            if wait > 0:
                self.sleep(wait)
        self._last_request[role] = self.clock()

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay: float = self.retry_base * 2.0 ** (attempt - 1) + random.uniform(0, self.retry_base)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    # -- the one entry point
    def get(
        self,
        url: str,
        *,
        expect: Expect,
        referer: str | None = None,
        conditional: bool = True,
        allow_404: bool = False,
    ) -> Fetched | None:
        """Fetch `url` (a live-site URL) and return validated content.

        Returns None only for a 404 when `allow_404` is set (the end of a column's pages).
        Raises FetchError naming the URL when every attempt failed or the content is wrong.
        """
        role = host_role(url, self.settings.allowed_hosts)
        memo_key = (url, expect)
        if self.memo and expect != "file" and memo_key in self._memo:
            return self._memo[memo_key]
        request_url = self.transport_url(url)
        referer_live = referer or f"https://{HOSTS.get(role, role)}/"
        headers = {"Referer": self.transport_url(referer_live)}
        cached = self.archive.validators(url) if conditional else None
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified

        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            if self.clock() > self.deadline:
                raise FetchError(url, f"the run exceeded its time cap of "
                                      f"{self.settings.max_run_seconds:.0f}s")
            try:
                fetched = self._attempt(url, request_url, role, headers, expect, cached,
                                        allow_404, attempt, conditional)
                if self.memo and fetched is not None and expect != "file":
                    self._memo[memo_key] = fetched
                return fetched
            except FetchError as exc:
                error = exc
            if not error.retryable or attempt >= self.settings.max_attempts:
                raise self._give_up(error, f"{error.reason} (attempt {attempt}, giving up)")
            delay = self._backoff(attempt, error.retry_after)
            if (self.clock() - started + delay > self.settings.retry_cap
                    or self.clock() + delay > self.deadline):
                raise self._give_up(
                    error, f"{error.reason} (retries exceeded the {self.settings.retry_cap:.0f}s "
                           f"cap after {attempt} attempts)")
            self.stats.retries += 1
            self.sleep(delay)

    def _give_up(self, error: FetchError, reason: str) -> FetchError:
        """The final error, of the same class as the last attempt's. When that attempt was
        logged as a "retry", a "gave_up" line closes the URL's story in the fetch log."""
        if error.retryable:
            self.archive.log_fetch({"url": error.url, "fetched_at": utc_now(),
                                    "outcome": "gave_up", "error": reason})
        return type(error)(error.url, reason)

    def _attempt(
        self,
        url: str,
        request_url: str,
        role: str,
        headers: dict[str, str],
        expect: Expect,
        cached: Validators | None,
        allow_404: bool,
        attempt: int,
        conditional: bool,
    ) -> Fetched | None:
        live, transport = url, request_url
        hops = 0
        while True:
            self._pace(host_role(live, self.settings.allowed_hosts))  # every hop is a request
            fetched_at = utc_now()
            t0 = time.monotonic()
            entry: dict[str, Any] = {
                "url": url, "request_url": transport, "fetched_at": fetched_at,
                "attempt": attempt, "referer": headers.get("Referer"),
                "conditional": sorted(k for k in headers if k.startswith("If-")),
            }
            if hops:
                entry["redirect_hop"] = hops
            response, body = self._send(url, transport, headers, entry, t0)
            status = response.status_code
            sha = self.archive.put(body)
            final_url = live
            resp_headers = {k.lower(): v for k, v in response.headers.items()}
            entry.update(final_url=final_url, status=status, headers=resp_headers, sha256=sha,
                         size=len(body), elapsed_ms=round((time.monotonic() - t0) * 1000))
            self.stats.bytes += len(body)
            self.stats.by_status[str(status)] = self.stats.by_status.get(str(status), 0) + 1
            location = response.headers.get("location")
            if status not in REDIRECT_STATUSES or not location:
                break
            # Follow by hand: the target must be a CAC (or allowed) host, checked before it is
            # requested, and is requested through the configured base like any other URL.
            target = canonical_url(self._live_from_transport(urljoin(transport, location),
                                                             role), live)
            if hops >= MAX_REDIRECTS:
                reason = f"more than {MAX_REDIRECTS} redirects (the last to {target})"
            else:
                try:
                    host_role(target, self.settings.allowed_hosts)
                    reason = ""
                except FetchError:
                    reason = f"redirected off the site to {target}; not followed"
            if reason:
                entry.update(outcome="error", error=reason)
                self.archive.log_fetch(entry)
                raise FetchError(url, reason)
            entry.update(outcome="redirect", location=target)
            self.archive.log_fetch(entry)
            hops += 1
            live, transport = target, self.transport_url(target)

        def fail(reason: str, retryable: bool, cls: type[FetchError] = FetchError,
                 retry_after: float | None = None) -> FetchError:
            entry.update(outcome="retry" if retryable else "error", error=reason)
            self.archive.log_fetch(entry)
            return cls(url, reason, retryable=retryable, retry_after=retry_after)

        if status == 304 and cached is not None:
            entry.update(outcome="not_modified", sha256=cached.sha256)
            self.archive.log_fetch(entry)
            self.stats.not_modified += 1
            body = self.archive.get(cached.sha256)
            return Fetched(url, final_url, status, body, cached.sha256, fetched_at, True,
                           sniff_format(body), resp_headers)
        if status == 404 and allow_404:
            entry.update(outcome="not_found")
            self.archive.log_fetch(entry)
            return None
        if status in RETRY_STATUSES:
            raise fail(f"HTTP {status}", True,
                       retry_after=_parse_retry_after(response.headers.get("retry-after")))
        if status != 200:
            raise fail(f"HTTP {status}", False)

        fmt = sniff_format(body)
        if fmt == "empty":
            raise fail("empty body with status 200 (the site does this for a missing Referer or "
                       "when throttling)", True)
        if is_waf_page(body):
            raise fail("blocked by the site's WAF (知道创宇云防御 page with status 200)", True,
                       BlockedError)
        if expect == "html":
            if fmt != "html":
                raise fail(f"expected an HTML page, got {fmt} ({len(body)} bytes)", False)
        elif expect == "file":
            if fmt == "html":
                text = body.decode("utf-8", errors="replace")
                if JSP_MISSING_FILE in text:
                    raise fail("the site answered with its 'file does not exist or was deleted' "
                               "page instead of the file", False)
                raise fail("expected a file, got an HTML page", False)
            if fmt not in ("docx", "xlsx", "pdf", "zip"):
                raise fail(f"expected a docx, xlsx or pdf file, got {fmt} "
                           f"(first bytes {body[:8]!r})", False)
            problem = integrity_problem(body, fmt)
            if problem is not None:
                if fmt != "pdf" and zip_size_problem(body) is not None:
                    raise fail(f"refused: {problem}", False)  # hostile, not a glitch: no retry
                raise fail(f"truncated or corrupt file: {problem}", True)
        elif expect == "json":
            try:
                json.loads(body)
            except ValueError:
                raise fail(f"expected JSON, got {fmt} ({len(body)} bytes)", True) from None

        entry["outcome"] = "ok"
        self.archive.log_fetch(entry)
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        # Kept only for what is fetched conditionally (pages, not downloads).
        if conditional and (etag or last_modified):
            self.archive.set_validators(url, Validators(etag, last_modified, sha))
        return Fetched(url, final_url, status, body, sha, fetched_at, False, fmt, resp_headers)

    def _send(self, url: str, transport: str, headers: dict[str, str], entry: dict[str, Any],
              t0: float) -> tuple[httpx.Response, bytes]:
        """One request, its body read up to the size cap. Network failures and oversize
        bodies are logged and raised as FetchError naming `url` (the live URL asked for)."""
        self.stats.requests += 1
        cap = self.settings.max_bytes
        too_large: str | None = None
        try:
            with self._client.stream("GET", transport, headers=headers) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    too_large = f"{declared} bytes announced"
                chunks: list[bytes] = []
                size = 0
                if too_large is None:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > cap:
                            too_large = f"more than {cap} bytes sent"
                            break
                        chunks.append(chunk)
                body = b"".join(chunks)
        except httpx.TimeoutException as exc:
            self._log_failure(entry, t0, f"timeout ({type(exc).__name__})")
            raise FetchError(url, f"timed out ({type(exc).__name__})", retryable=True) from None
        except httpx.TransportError as exc:
            self._log_failure(entry, t0, f"{type(exc).__name__}: {exc}")
            raise FetchError(url, f"connection failed ({type(exc).__name__}: {exc})",
                             retryable=True) from None
        if too_large is not None:
            self._log_failure(entry, t0, f"too large: {too_large}")
            raise FetchError(url, f"refused: {too_large}, over the {cap}-byte cap for one file "
                                  "(CAC_FILINGS_MAX_BYTES)")
        return response, body

    def _log_failure(self, entry: dict[str, Any], t0: float, reason: str) -> None:
        entry.update(status=None, outcome="retry" if not reason.startswith("too large")
                     else "error", error=reason,
                     elapsed_ms=round((time.monotonic() - t0) * 1000))
        self.archive.log_fetch(entry)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
