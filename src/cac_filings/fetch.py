"""HTTP for every source: rebasing, Referer, pacing, retries, conditional GET, validation.

Scrapers never talk HTTP themselves. They ask for a page, a file or a JSON document by its
live-site URL (https://www.cac.gov.cn/…); this module maps it onto the configured base URL,
archives every response body and logs every attempt, and only returns content that passed
validation. WAF block pages and empty bodies arrive with status 200 on this site, so the status
code alone proves nothing.

Nothing the network does is unbounded: a body is read raw and its Content-Encoding (gzip,
deflate, br when a bounded brotli decoder is installed; at most two layers) decoded here, a
step at a time, never past CAC_FILINGS_MAX_BYTES; every socket operation is held to the
request's deadline (CAC_FILINGS_REQUEST_SECONDS) or the run's, whichever comes first; and
every failure (DNS, refused, TLS, reset, a malformed or cut-short response) ends as one line
naming the URL, retried only when a retry can help.
"""

from __future__ import annotations

import email.utils
import functools
import importlib
import json
import os
import random
import re
import socket
import ssl
import time
import urllib.request
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import urljoin, urlsplit

import httpcore
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
# A host that says it is overloaded or throttling (HTTP 429, a 503 with Retry-After, its WAF
# page, the empty 200 it gives when throttling) is asked more slowly for the rest of the run:
# the gap between two requests to it doubles (from twice --delay, up to SLOWEST_GAP seconds)
# and halves again after every RECOVER_AFTER answers in a row that were not throttled, never
# below --delay. With --delay 0 (no pacing asked for) nothing is slowed.
SLOWEST_GAP = 60.0
RECOVER_AFTER = 10
JSP_MISSING_FILE = "对不起，您要下载的文件不存在或已被删除"

# Response headers: Python's http.client refuses more than 100 header lines; h11 (under httpx)
# refuses a header block over 100 KB but accepts any number of lines and any line under that.
MAX_HEADERS = 100
MAX_HEADER_LINE = 64 * 1024
# Content-Encoding is decoded here, not by httpx, in steps of at most this many bytes, never
# past the size cap (httpx would inflate a whole "gzip, gzip" bomb before the cap is looked at).
MAX_ENCODING_LAYERS = 2
_DECODE_STEP = 64 * 1024
_CONTENT_LENGTH = re.compile(r"[0-9]+")


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
        self._gap: dict[str, float] = {}  # per host role, while slowed (see SLOWEST_GAP)
        self._unthrottled: dict[str, int] = {}  # answers in a row since it was slowed
        self.deadline = clock() + settings.max_run_seconds
        # With memo, pages and JSON fetched once are not fetched again by this Fetcher: in one
        # crawl two sources may read the same page (the beian notice list).
        self.memo = memo
        self._memo: dict[tuple[str, str], Fetched] = {}
        # The deadline of the request in flight, which every socket read and write of the
        # default transport is held to (see _DeadlineTransport).
        self._watch = _Watch(clock)
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            follow_redirects=False,
            transport=transport if transport is not None else _default_transport(self._watch),
            headers={"User-Agent": settings.user_agent, "Accept-Language": "zh-CN,zh;q=0.9",
                     "Accept-Encoding": ACCEPT_ENCODING},
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
            # Never past the run's deadline: the request after it would be refused anyway.
            wait = min(self.gap(role) - (self.clock() - last), self.deadline - self.clock())
            if wait > 0:
                self.sleep(wait)
        self._last_request[role] = self.clock()

    def gap(self, role: str) -> float:
        """Seconds between two requests to the host: --delay, or more while it is slowed."""
        return self._gap.get(role, self.settings.delay)

    def _throttled(self, role: str) -> float:
        """The host said to slow down: the gap doubles. Returns the new gap."""
        if self.settings.delay > 0:
            gap = self.gap(role)
            ceiling = max(SLOWEST_GAP, self.settings.delay)  # never below --delay
            self._gap[role] = min(ceiling, max(2 * gap, 2 * self.settings.delay))
            self._unthrottled[role] = 0
        return self.gap(role)

    def _answered(self, role: str) -> None:
        """An answer that was not throttled: a slowed host's gap halves every RECOVER_AFTER."""
        if role not in self._gap:
            return
        self._unthrottled[role] = self._unthrottled.get(role, 0) + 1
        if self._unthrottled[role] >= RECOVER_AFTER:
            self._unthrottled[role] = 0
            gap = self._gap[role] / 2
            if gap <= self.settings.delay:
                del self._gap[role]
            else:
                self._gap[role] = gap

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay: float = self.retry_base * 2.0 ** (attempt - 1) + random.uniform(0, self.retry_base)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def _run_cap(self) -> str:
        return (f"the run exceeded its time cap of {self.settings.max_run_seconds:g}s "
                "(CAC_FILINGS_MAX_RUN_SECONDS)")

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
                raise FetchError(url, self._run_cap())
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
            if self.clock() - started + delay > self.settings.retry_cap:
                raise self._give_up(
                    error, f"{error.reason} (retries exceeded the {self.settings.retry_cap:.0f}s "
                           f"cap after {attempt} attempts)")
            if self.clock() + delay > self.deadline:
                raise self._give_up(
                    error, f"{error.reason} (no time left for a retry within the run's time cap "
                           f"of {self.settings.max_run_seconds:g}s, CAC_FILINGS_MAX_RUN_SECONDS, "
                           f"after {attempt} attempts)")
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
        request_deadline: float | None = None
        while True:
            self._pace(host_role(live, self.settings.allowed_hosts))  # every hop is a request
            if request_deadline is None:  # one deadline for the attempt, its redirects included
                request_deadline = self.clock() + self.settings.request_seconds
            fetched_at = utc_now()
            t0 = time.monotonic()
            entry: dict[str, Any] = {
                "url": url, "request_url": transport, "fetched_at": fetched_at,
                "attempt": attempt, "referer": headers.get("Referer"),
                "conditional": sorted(k for k in headers if k.startswith("If-")),
            }
            if hops:
                entry["redirect_hop"] = hops
            response, body = self._send(url, transport, headers, entry, t0, request_deadline)
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

        answered_by = host_role(live, self.settings.allowed_hosts)

        def fail(reason: str, retryable: bool, cls: type[FetchError] = FetchError,
                 retry_after: float | None = None, throttled: bool = False) -> FetchError:
            entry.update(outcome="retry" if retryable else "error", error=reason)
            if throttled and self.settings.delay > 0:  # nothing is slowed with --delay 0
                entry["slowed_to_s"] = self._throttled(answered_by)
            else:
                self._answered(answered_by)
            self.archive.log_fetch(entry)
            return cls(url, reason, retryable=retryable, retry_after=retry_after)

        if status == 304 and cached is not None:
            self._answered(answered_by)
            entry.update(outcome="not_modified", sha256=cached.sha256)
            self.archive.log_fetch(entry)
            self.stats.not_modified += 1
            body = self.archive.get(cached.sha256)
            return Fetched(url, final_url, status, body, cached.sha256, fetched_at, True,
                           sniff_format(body), resp_headers)
        if status == 404 and allow_404:
            self._answered(answered_by)
            entry.update(outcome="not_found")
            self.archive.log_fetch(entry)
            return None
        if status in RETRY_STATUSES:
            retry_after = _parse_retry_after(response.headers.get("retry-after"))
            raise fail(f"HTTP {status}", True, retry_after=retry_after,
                       throttled=status == 429 or (status == 503 and retry_after is not None))
        if status != 200:
            raise fail(f"HTTP {status}", False)

        fmt = sniff_format(body)
        if fmt == "empty":
            raise fail("empty body with status 200 (the site does this for a missing Referer or "
                       "when throttling)", True, throttled=True)
        if is_waf_page(body):
            raise fail("blocked by the site's WAF (知道创宇云防御 page with status 200)", True,
                       BlockedError, throttled=True)
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
        self._answered(answered_by)
        self.archive.log_fetch(entry)
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        # Kept only for what is fetched conditionally (pages, not downloads).
        if conditional and (etag or last_modified):
            self.archive.set_validators(url, Validators(etag, last_modified, sha))
        return Fetched(url, final_url, status, body, sha, fetched_at, False, fmt, resp_headers)

    def _send(self, url: str, transport: str, headers: dict[str, str], entry: dict[str, Any],
              t0: float, request_deadline: float) -> tuple[httpx.Response, bytes]:
        """One request, its body read and decoded up to the size cap before the deadline.

        The deadline is the request's own or the run's, whichever comes first. Network
        failures, malformed responses, refused encodings, oversize and overdue bodies are
        logged and raised as FetchError naming `url` (the live URL asked for)."""
        run_bound = self.deadline <= request_deadline
        deadline = min(self.deadline, request_deadline)
        left = deadline - self.clock()
        if left <= 0:  # a redirect hop (or a paced request) after the deadline
            reason, retryable = self._overdue(run_bound, None, transport)
            self._log_failure(entry, t0, reason, retryable)
            raise FetchError(url, reason, retryable=retryable)
        self.stats.requests += 1
        cap = self.settings.max_bytes
        # Each read, write and connect waits at most for the time left (httpx's timeouts are
        # per operation); the default transport also re-checks the deadline on every one.
        read_timeout = min(self.settings.read_timeout, left)
        connect_timeout = min(self.settings.connect_timeout, left)
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        response: httpx.Response | None = None
        body = _Body(cap)
        self._watch.start(deadline)
        try:
            with self._client.stream("GET", transport, headers=headers,
                                     timeout=timeout) as response:
                _check_headers(response, cap)
                body.decode_as(response.headers.get("content-encoding"))
                if response.is_stream_consumed:
                    # Built in-process from bytes (httpx.MockTransport): already read, and any
                    # Content-Encoding already undone by httpx. Only the cap is left to check.
                    body.take_decoded(response.content)
                else:
                    for chunk in response.iter_raw():  # the bytes as sent: httpx decodes nothing
                        body.feed(chunk)
                        if self.clock() > deadline:
                            raise _Refused(*self._overdue(run_bound, body.raw, transport))
                    body.finish()
        except _Refused as exc:
            status = response.status_code if response is not None else None
            self._log_failure(entry, t0, exc.log or exc.reason, exc.retryable, status, body)
            raise FetchError(url, exc.reason, retryable=exc.retryable) from None
        except httpx.TimeoutException as exc:
            # The deadline's doing when it shortened the timeout that ran out (or refused the
            # operation outright); the settings' own timeout otherwise.
            if isinstance(exc, httpx.ConnectTimeout):
                shortened = connect_timeout < self.settings.connect_timeout
            else:
                shortened = read_timeout < self.settings.read_timeout
            if shortened or self._watch.hit or self.clock() >= deadline:
                reason, retryable = self._overdue(run_bound, body.raw, transport)
            else:
                reason, retryable = f"timed out ({type(exc).__name__})", True
            status = response.status_code if response is not None else None
            self._log_failure(entry, t0, reason, retryable, status, body)
            raise FetchError(url, reason, retryable=retryable) from None
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            reason, retryable = _describe_network_error(exc, transport)
            status = response.status_code if response is not None else None
            self._log_failure(entry, t0, reason, retryable, status, body)
            raise FetchError(url, reason, retryable=retryable) from None
        finally:
            self._watch.stop()
        entry.update(raw_size=body.raw)
        if body.encoding:
            entry.update(content_encoding=body.encoding)
        return response, body.value()

    def _overdue(self, run_bound: bool, received: int | None,
                 transport: str) -> tuple[str, bool]:
        """Why a request that ran out of time failed, and whether to try it again: past the
        run's deadline nothing is retried; past its own, it is (the site may be faster).
        `received` is None when the request was not even sent."""
        when = (f"before {transport} was requested" if received is None
                else f"{received} bytes received")
        if run_bound:
            return f"{self._run_cap()}; {when}", False
        return (f"too slow: the response was not complete within the "
                f"{self.settings.request_seconds:g}s cap for one request "
                f"(CAC_FILINGS_REQUEST_SECONDS; {when})", True)

    def _log_failure(self, entry: dict[str, Any], t0: float, reason: str, retryable: bool,
                     status: int | None = None, body: _Body | None = None) -> None:
        entry.update(status=status, outcome="retry" if retryable else "error", error=reason,
                     elapsed_ms=round((time.monotonic() - t0) * 1000))
        if body is not None and body.encoding is not None:
            entry.update(content_encoding=body.encoding)
        if body is not None and body.raw:
            entry.update(raw_size=body.raw, size=body.size)
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


# -- failures that name their cause -----------------------------------------------------------


class _Refused(Exception):
    """A response (or its body) that is not taken: why, whether a retry can help, and the
    shorter text for the fetch log when it differs."""

    def __init__(self, reason: str, retryable: bool = False, log: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.log = log


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it was raised from: httpx wraps httpcore, which wraps the socket's or
    h11's own error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


# h11's messages (lower-cased) for a response it cannot parse, from a hostile or broken
# server: not retried. And for one that stopped half way: retried.
_MALFORMED = ("illegal status line", "illegal header line", "illegal request line",
              "no response line received", "continuation line at start of headers",
              "illegal chunk header", "malformed chunk footer", "bad content-length",
              "conflicting content-length", "only transfer-encoding",
              "multiple transfer-encoding", "malformed data")
_CUT_SHORT = ("peer closed connection without sending complete message body",
              "peer unexpectedly closed connection")


def _describe_network_error(exc: httpx.HTTPError | httpx.InvalidURL,
                            request_url: str) -> tuple[str, bool]:
    """A one-line reason for a failed request, and whether a retry can help."""
    detail = _one_line(f"{type(exc).__name__}: {exc}")
    host = urlsplit(request_url).hostname or request_url
    causes = list(_causes(exc))

    def find(kind: type[BaseException]) -> BaseException | None:
        return next((c for c in causes if isinstance(c, kind)), None)

    gai = find(socket.gaierror)
    if gai is not None:
        # The name does not exist: a typo in the base URL, which no retry mends. Anything else
        # (EAI_AGAIN, no resolver reachable) usually passes.
        gone = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
        if isinstance(gai, socket.gaierror) and gai.errno in gone:
            return f"DNS: no such host {host} ({detail})", False
        return f"DNS lookup of {host} failed ({detail})", True
    if find(ConnectionRefusedError) is not None:
        return f"connection refused by {host} ({detail})", True
    if find(ssl.SSLCertVerificationError) is not None:
        return f"TLS certificate of {host} rejected ({detail})", False
    if find(ssl.SSLError) is not None:
        return f"TLS error with {host} ({detail})", True
    if find(ConnectionResetError) is not None or find(BrokenPipeError) is not None:
        return f"connection reset by {host} ({detail})", True
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"cannot request this URL ({detail})", False
    if isinstance(exc, httpx.ProtocolError):
        message = str(exc).lower()
        if message.startswith(_CUT_SHORT):
            return f"body cut short: the connection closed early ({detail})", True
        if "receive buffer too long" in message:
            return ("malformed response: its header block is over h11's 100 KB limit "
                    f"({detail})"), False
        if message.startswith(_MALFORMED):
            return f"malformed response ({detail})", False
        if "server disconnected" in message:
            return f"the server closed the connection without answering ({detail})", True
        return f"protocol error ({detail})", True
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed ({detail})", True
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.CloseError):
        return f"connection broken ({detail})", True
    return f"connection failed ({detail})", True


def _check_headers(response: httpx.Response, cap: int) -> None:
    """Refuse what no real server sends (too many or too long header lines, a Content-Length
    that is not a number) and a body announced over the cap, before any of it is read."""
    raw = response.headers.raw
    if len(raw) > MAX_HEADERS:
        raise _Refused(f"malformed response: {len(raw)} header lines (at most {MAX_HEADERS} "
                       "are accepted)")
    longest = max((len(name) + len(value) + 4 for name, value in raw), default=0)  # ": ", CRLF
    if longest > MAX_HEADER_LINE:
        raise _Refused(f"malformed response: a header line of {longest} bytes (at most "
                       f"{MAX_HEADER_LINE} are accepted)")
    declared = response.headers.get("content-length")  # repeated headers joined by ", "
    if declared is None:
        return
    values = {v.strip() for v in declared.split(",")}
    if len(values) != 1 or not _CONTENT_LENGTH.fullmatch(length := values.pop()):
        raise _Refused(f"malformed response: Content-Length {_one_line(declared, 40)!r} is not "
                       "one number")
    if int(length) > cap:
        raise _Refused(f"refused: {int(length)} bytes announced, over the {cap}-byte cap for "
                       "one file (CAC_FILINGS_MAX_BYTES)",
                       log=f"too large: {int(length)} bytes announced")


# -- deadlines on every socket operation ------------------------------------------------------


class _Watch:
    """The deadline of the request in flight (None between requests), on the Fetcher's clock.
    `hit` records that a socket operation was refused or cut short because of it."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.deadline: float | None = None
        self.hit = False

    def start(self, deadline: float) -> None:
        self.deadline, self.hit = deadline, False

    def stop(self) -> None:
        self.deadline = None

    def bound(self, timeout: float | None,
              expired: type[httpcore.TimeoutException]) -> tuple[float | None, bool]:
        """The timeout for one socket operation, and whether the deadline shortened it."""
        if self.deadline is None:
            return timeout, False
        left = self.deadline - self.clock()
        if left <= 0:
            self.hit = True
            raise expired("the request's deadline passed")
        if timeout is None or left < timeout:
            return left, True
        return timeout, False


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, watch: _Watch) -> None:
        self._inner = inner
        self._watch = watch

    def _call(self, timeout: float | None, expired: type[httpcore.TimeoutException],
              operation: Callable[[float | None], Any]) -> Any:
        bounded, shortened = self._watch.bound(timeout, expired)
        try:
            return operation(bounded)
        except httpcore.TimeoutException:
            if shortened:
                self._watch.hit = True
            raise

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._call(timeout, httpcore.ReadTimeout,
                                 lambda t: self._inner.read(max_bytes, t))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._call(timeout, httpcore.WriteTimeout, lambda t: self._inner.write(buffer, t))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner: httpcore.NetworkStream = self._call(
            timeout, httpcore.ConnectTimeout,
            lambda t: self._inner.start_tls(ssl_context, server_hostname, t))
        return _DeadlineStream(inner, self._watch)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, each operation bounded by the Fetcher's current deadline: a
    server dripping its status line or headers a byte at a time is cut off as surely as one
    dripping its body."""

    def __init__(self, watch: _Watch) -> None:
        self._inner = httpcore.SyncBackend()
        self._watch = watch

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        bounded, _ = self._watch.bound(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return _DeadlineStream(stream, self._watch)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None,
                            ) -> httpcore.NetworkStream:
        bounded, _ = self._watch.bound(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options),
                               self._watch)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _ssl_context() -> ssl.SSLContext:
    """httpx's defaults (verify=True, trust_env=True): the CA bundle, loaded (25 ms) once for
    the transport and its pool, and once per process for as long as SSL_CERT_FILE and
    SSL_CERT_DIR, which httpx reads, stay what they were."""
    return _ssl_context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _ssl_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """One context per pair of values: they are the cache's key (httpx reads them itself)."""
    return httpx.create_ssl_context()


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's default transport on the deadline-bound backend. httpx 0.28 (pinned below 0.29)
    has no parameter for httpcore's network backend, so the pool is made again with one and
    httpx's default limits."""

    def __init__(self, watch: _Watch) -> None:
        ssl_context = _ssl_context()
        super().__init__(verify=ssl_context)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(watch),
        )


def _default_transport(watch: _Watch) -> httpx.BaseTransport | None:
    """The deadline-bound transport, unless the environment names a proxy: httpx honours
    HTTP(S)_PROXY only with its own transport (the per-chunk deadline checks still apply)."""
    proxies = urllib.request.getproxies()
    if any(proxies.get(scheme) for scheme in ("http", "https", "all")):
        return None
    return _DeadlineTransport(watch)


# -- Content-Encoding, decoded here with a running cap ----------------------------------------


def _brotli_module() -> Any:
    """A brotli decoder that can bound its output (brotli ≥ 1.2 or brotlicffi of that API), or
    None: without one, `br` is neither asked for nor accepted."""
    for name in ("brotli", "brotlicffi"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(getattr(module, "Decompressor", None), "can_accept_more_data"):
            return module
    return None


_BROTLI: Any = _brotli_module()
ACCEPT_ENCODING = "gzip, deflate" + (", br" if _BROTLI is not None else "")
_GZIP_MAGIC = b"\x1f\x8b"


class _Oversize(Exception):
    """A decoded body (or an intermediate layer of it) went past the cap."""


class _Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _Layer:
    """What every decoder shares: the running cap on its output."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.produced = 0
        self.seen = False  # any input at all (an empty body stays empty)

    def room(self) -> int:
        """The most one step may produce: never past the cap (plus one byte, to tell a body
        of exactly the cap from a larger one)."""
        return max(1, min(_DECODE_STEP, self.cap + 1 - self.produced))

    def count(self, out: bytes) -> None:
        self.produced += len(out)
        if self.produced > self.cap:
            raise _Oversize


class _ZlibLayer(_Layer):
    """gzip (several members allowed, trailing bytes after the last ignored) or deflate (the
    zlib format of RFC 9110, or raw deflate as some servers send and browsers accept)."""

    def __init__(self, name: str, cap: int) -> None:
        super().__init__(cap)
        self.gzip = name in ("gzip", "x-gzip")
        self.label = "gzip" if self.gzip else "deflate"
        self._obj: Any = None  # the zlib stream in progress
        self._head = b""  # first bytes, until the next stream's format is known
        self._ended = False  # one stream reached its end marker
        self._ignoring = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            self.seen = True
        rest: bytes | None = data
        while rest is not None and not self._ignoring:
            if self._obj is None:
                self._head += rest
                if len(self._head) < 2:
                    return
                rest, self._head = self._head, b""
                if self._ended and not (self.gzip and rest.startswith(_GZIP_MAGIC)):
                    self._ignoring = True  # bytes after the end, like `gzip -d` and browsers
                    return
                if self.gzip:
                    wbits = 16 + zlib.MAX_WBITS
                else:
                    zlib_header = rest[0] & 0x0F == 8 and ((rest[0] << 8) | rest[1]) % 31 == 0
                    wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
                self._obj = zlib.decompressobj(wbits)
            rest = yield from self._inflate(rest)

    def _inflate(self, data: bytes) -> Generator[bytes, None, bytes | None]:
        """Output of the stream in progress, a step at a time. Returns the input left after
        its end marker (the next gzip member, or trailing bytes), or None when all of `data`
        was taken and the stream goes on."""
        obj = self._obj
        while True:
            room = self.room()
            try:
                out = obj.decompress(data, room)
            except zlib.error as exc:
                raise _Refused(f"corrupt {self.label} body ({exc})", True) from None
            self.count(out)
            if out:
                yield out
            if obj.eof:
                self._obj, self._ended = None, True
                return obj.unused_data or None
            data = obj.unconsumed_tail
            if not data and len(out) < room:
                return None

    def finish(self) -> Iterator[bytes]:
        if not self.seen or self._ignoring:
            return
        if self._obj is not None:
            yield from self._inflate(b"")  # what zlib still holds
        if self._obj is not None or (self._head and not self._ended):
            raise _Refused(f"corrupt {self.label} body (truncated: it ends before the end of "
                           "its compressed stream)", True)


class _BrotliLayer(_Layer):
    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self._obj: Any = _BROTLI.Decompressor()
        self._error: type[BaseException] = getattr(_BROTLI, "error", Exception)

    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            self.seen = True
        while True:
            if data and self._obj.can_accept_more_data():
                feed, data = data, b""
            elif not self._obj.can_accept_more_data():
                feed = b""  # output it holds must come out before more input goes in
            else:
                return
            try:
                out: bytes = self._obj.process(feed, output_buffer_limit=self.room())
            except self._error as exc:
                raise _Refused(f"corrupt br body ({_one_line(str(exc), 80)})", True) from None
            self.count(out)
            if out:
                yield out

    def finish(self) -> Iterator[bytes]:
        if not self.seen:
            return
        yield from self.decode(b"")
        if not self._obj.is_finished():
            raise _Refused("corrupt br body (truncated: it ends before the end of its "
                           "compressed stream)", True)


def _decoders(header: str | None, cap: int) -> list[_Decoder]:
    """The decoders for a Content-Encoding header, in the order they are applied to the body
    (the reverse of the header's). Refused: an encoding not known here, `br` without a
    bounded brotli decoder, more than MAX_ENCODING_LAYERS layers."""
    names = [n.strip().lower() for n in (header or "").split(",")]
    names = [n for n in names if n and n != "identity"]
    if len(names) > MAX_ENCODING_LAYERS:
        raise _Refused(f"refused: Content-Encoding {_one_line(header or '', 60)!r} stacks "
                       f"{len(names)} encodings (at most {MAX_ENCODING_LAYERS} are decoded)")
    decoders: list[_Decoder] = []
    for name in reversed(names):
        if name in ("gzip", "x-gzip", "deflate"):
            decoders.append(_ZlibLayer(name, cap))
        elif name == "br" and _BROTLI is not None:
            decoders.append(_BrotliLayer(cap))
        elif name == "br":
            raise _Refused("refused: Content-Encoding 'br', and no brotli decoder that bounds "
                           "its output is installed (it was not asked for)")
        else:
            raise _Refused(f"refused: unknown Content-Encoding {_one_line(name, 40)!r}")
    return decoders


def _through(decoders: list[_Decoder], i: int, data: bytes, final: bool) -> Iterator[bytes]:
    """`data` through decoders[i:], one bounded piece at a time; with `final`, each decoder
    is finished once its input has ended."""
    if i == len(decoders):
        if data:
            yield data
        return
    for piece in decoders[i].decode(data):
        yield from _through(decoders, i + 1, piece, False)
    if final:
        for piece in decoders[i].finish():
            yield from _through(decoders, i + 1, piece, False)
        yield from _through(decoders, i + 1, b"", True)


class _Body:
    """A response body as it arrives: raw bytes counted, decoded a step at a time, kept up to
    the cap and never beyond."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.raw = 0
        self.size = 0
        self.encoding: str | None = None
        self._decoders: list[_Decoder] = []
        self._chunks: list[bytes] = []

    def decode_as(self, encoding: str | None) -> None:
        self.encoding = encoding
        self._decoders = _decoders(encoding, self.cap)

    def feed(self, chunk: bytes) -> None:
        self.raw += len(chunk)
        if self.raw > self.cap:
            self._over(f"more than {self.cap} bytes sent")
        self._run(chunk, final=False)

    def finish(self) -> None:
        if self.raw and self._decoders:
            self._run(b"", final=True)

    def take_decoded(self, body: bytes) -> None:
        self.raw = len(body)
        if len(body) > self.cap:
            self._over(f"more than {self.cap} bytes sent")
        self._chunks, self.size = [body], len(body)

    def value(self) -> bytes:
        return b"".join(self._chunks)

    def _run(self, data: bytes, final: bool) -> None:
        try:
            for piece in _through(self._decoders, 0, data, final):
                if self.size + len(piece) > self.cap:
                    raise _Oversize
                self.size += len(piece)
                self._chunks.append(piece)
        except _Oversize:
            self._chunks = []
            self._over(f"more than {self.cap} bytes after decoding Content-Encoding "
                       f"{_one_line(self.encoding or '', 60)!r} ({self.raw} bytes received)")

    def _over(self, what: str) -> None:
        self._chunks = []
        raise _Refused(f"refused: {what}, over the {self.cap}-byte cap for one file "
                       "(CAC_FILINGS_MAX_BYTES)", log=f"too large: {what}")
