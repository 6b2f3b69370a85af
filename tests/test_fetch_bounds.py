"""The HTTP layer against a real loopback server that misbehaves: bounded decoding of
Content-Encoding, deadlines that hold while a body is read, and one-line errors for what the
network can do.

Every server here is a socketserver thread on 127.0.0.1 writing raw bytes, so a response can
be anything (a status line no server sends, a byte every 50 ms, a reset). Backoff sleeps are
injected and recorded, never slept; the deadlines are fractions of a second.
"""

from __future__ import annotations

import gzip
import socket
import socketserver
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cac_filings import fetch
from cac_filings.archive import RawArchive
from cac_filings.config import Settings
from cac_filings.errors import FetchError
from cac_filings.fetch import Fetcher

LIVE = "https://www.cac.gov.cn"
PAGE_URL = LIVE + "/2023-06/20/c_1687994146439753.htm"
FILE_URL = LIVE + "/cms/pub/interact/downloadfile.jsp?filepath=x&fText=y"
HTML_PAGE = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>网信办公告</title>"
             "</head><body>" + "<p>关于发布境内深度合成服务算法备案信息的公告</p>" * 8000
             + "</body></html>").encode()
CAP = 1 << 20  # 1 MiB: every size cap in this file

Respond = Callable[[socket.socket, bytes], None]


# -- a raw loopback server ------------------------------------------------------------------


@dataclass
class RawServer:
    url: str
    requests: list[bytes] = field(default_factory=list)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5)
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
                if not head.startswith((b"GET", b"HEAD")):
                    break  # not HTTP (a TLS ClientHello): answer at once
            self.server.record.requests.append(head)
            self.server.respond(conn, head)
        except OSError:
            pass  # the client hung up, as it should on a refused or overdue body


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, respond: Respond) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.respond = respond
        self.record = RawServer(f"http://127.0.0.1:{self.server_address[1]}")


@contextmanager
def serve(respond: Respond) -> Iterator[RawServer]:
    server = _Server(respond)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    try:
        yield server.record
    finally:
        server.shutdown()
        server.server_close()


def reply(body: bytes, *headers: str, status: bytes = b"200 OK") -> Respond:
    """A whole response with a Content-Length (unless one is among `headers`)."""
    lines = [b"HTTP/1.1 " + status, b"Content-Type: text/html", b"Connection: close",
             *(h.encode("latin-1") for h in headers)]
    if not any(h.lower().startswith("content-length:") for h in headers):
        lines.append(b"Content-Length: %d" % len(body))
    data = b"\r\n".join(lines) + b"\r\n\r\n" + body

    def respond(conn: socket.socket, head: bytes) -> None:
        conn.sendall(data)

    return respond


def raw(data: bytes) -> Respond:
    """Exactly `data`, then the connection closes."""
    def respond(conn: socket.socket, head: bytes) -> None:
        conn.sendall(data)

    return respond


def drip(head: bytes, byte: bytes = b"x", every: float = 0.05, limit: float = 3.0) -> Respond:
    """`head` at once, then one byte per `every` seconds until the client hangs up."""
    def respond(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head)
        end = time.monotonic() + limit
        while time.monotonic() < end:
            time.sleep(every)  # the server's pace, not the test waiting
            conn.sendall(byte)

    return respond


# -- the fetcher under test -------------------------------------------------------------------


@dataclass
class Env:
    fetcher: Fetcher
    archive: RawArchive
    sleeps: list[float]

    def log(self) -> list[dict[str, Any]]:
        return self.archive.read_fetch_log()

    def outcomes(self) -> list[str]:
        return [e["outcome"] for e in self.log()]


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback only, and the Fetcher's own deadline-bound transport (not used with a proxy)."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[Callable[..., Env]]:
    made: list[Fetcher] = []

    def factory(base: str, transport: httpx.BaseTransport | None = None,
                clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] | None = None, **overrides: Any) -> Env:
        kwargs: dict[str, Any] = {"delay": 0.0, "max_attempts": 3, "retry_base": 0.0,
                                  "read_timeout": 2.0, "connect_timeout": 2.0,
                                  "max_bytes": CAP}
        kwargs.update(overrides)
        settings = Settings(data_dir=tmp_path, www_base=base, beian_base=base, **kwargs)
        archive = RawArchive(settings.raw_dir)
        sleeps: list[float] = []
        fetcher = Fetcher(settings, archive, transport=transport,
                          sleep=sleep or sleeps.append, clock=clock)
        made.append(fetcher)
        return Env(fetcher, archive, sleeps)

    yield factory
    for fetcher in made:
        fetcher.close()


def one_line(error: FetchError, url: str) -> str:
    """The error's text, checked to be one short line that names the URL."""
    text = str(error)
    assert text.startswith(url + ": "), text
    assert "\n" not in text and "Traceback" not in text, text
    assert len(text) < len(url) + 400, text
    return text


# -- Content-Encoding -------------------------------------------------------------------------


def gzip_gzip_bomb() -> tuple[bytes, int]:
    """About 5 KB that `gzip, gzip` inflates to 2 GiB of zeros: an inner gzip stream made of
    2048 identical fully-flushed 1 MiB blocks (1 KB each), gzipped again."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block == compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    inner = first + block * 2047
    return gzip.compress(inner, 9), 2048 << 20


def test_a_gzip_gzip_bomb_is_refused_under_the_cap_in_bounded_memory(
        make_env: Callable[..., Env]) -> None:
    bomb, inflated = gzip_gzip_bomb()
    assert len(bomb) < 6000 and inflated > 2000 * CAP
    with serve(reply(bomb, "Content-Type: application/octet-stream",
                     "Content-Encoding: gzip, gzip")) as server:
        env = make_env(server.url)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            with pytest.raises(FetchError) as info:
                env.fetcher.get(FILE_URL, expect="file")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    text = one_line(info.value, FILE_URL)
    assert f"over the {CAP}-byte cap" in text and "CAC_FILINGS_MAX_BYTES" in text
    assert "after decoding Content-Encoding 'gzip, gzip'" in text
    assert peak < 4 * CAP, f"peak allocation {peak} bytes for a {CAP}-byte cap"
    assert not info.value.retryable and len(server.requests) == 1
    (entry,) = env.log()
    assert entry["outcome"] == "error" and entry["status"] == 200
    assert entry["content_encoding"] == "gzip, gzip"
    assert entry["raw_size"] <= len(bomb) and entry["size"] <= CAP
    assert entry["error"].startswith("too large: more than")


def zlib_wrapped(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(("encoding", "encode"), [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib_wrapped),  # RFC 9110's deflate: the zlib format
    ("deflate", raw_deflate),  # raw deflate, as some servers send and browsers accept
    ("GZip", gzip.compress),
    ("identity", lambda data: data),
    ("deflate, gzip", lambda data: gzip.compress(zlib_wrapped(data))),  # two layers
    ("gzip", lambda data: gzip.compress(data[:1000]) + gzip.compress(data[1000:])),  # members
])
def test_encoded_bodies_are_decoded_once_by_the_fetcher(
        make_env: Callable[..., Env], encoding: str, encode: Callable[[bytes], bytes]) -> None:
    wire = encode(HTML_PAGE)
    assert len(HTML_PAGE) > 5 * 64 * 1024  # decoded in several bounded steps
    with serve(reply(wire, f"Content-Encoding: {encoding}")) as server:
        env = make_env(server.url)
        got = env.fetcher.get(PAGE_URL, expect="html")
    assert got is not None and got.body == HTML_PAGE  # decoded, and decoded only once
    (request,) = server.requests
    assert b"\r\naccept-encoding: gzip, deflate\r\n" in request.lower()
    (entry,) = env.log()
    assert entry["outcome"] == "ok"
    assert entry["content_encoding"] == encoding
    assert (entry["raw_size"], entry["size"]) == (len(wire), len(HTML_PAGE))


def test_a_gzip_body_in_chunks_and_an_empty_gzip_304(make_env: Callable[..., Env]) -> None:
    wire = gzip.compress(HTML_PAGE)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(wire[i:i + 777]), wire[i:i + 777])
                      for i in range(0, len(wire), 777)) + b"0\r\n\r\n"
    etag = '"v1"'
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Encoding: gzip\r\nETag: " + etag.encode() + b"\r\n\r\n")

    def respond(conn: socket.socket, request: bytes) -> None:
        if b"if-none-match" in request.lower():  # no body, though it says gzip
            conn.sendall(b"HTTP/1.1 304 Not Modified\r\nContent-Encoding: gzip\r\n"
                         b"ETag: " + etag.encode() + b"\r\n\r\n")
        else:
            conn.sendall(head + chunks)

    with serve(respond) as server:
        env = make_env(server.url)
        first = env.fetcher.get(PAGE_URL, expect="html")
        second = env.fetcher.get(PAGE_URL, expect="html")
    assert first is not None and first.body == HTML_PAGE
    assert second is not None and second.from_cache and second.body == HTML_PAGE
    assert env.outcomes() == ["ok", "not_modified"]


@pytest.mark.parametrize(("encoding", "message"), [
    ("compress", "unknown Content-Encoding 'compress'"),
    ("gzip, zstd", "unknown Content-Encoding 'zstd'"),
    ("gzip, gzip, gzip", "stacks 3 encodings (at most 2 are decoded)"),
    pytest.param("br", "no brotli decoder", marks=pytest.mark.skipif(
        fetch._BROTLI is not None, reason="a bounded brotli decoder is installed")),
])
def test_an_encoding_not_decoded_here_is_refused_not_retried(
        make_env: Callable[..., Env], encoding: str, message: str) -> None:
    with serve(reply(gzip.compress(HTML_PAGE), f"Content-Encoding: {encoding}")) as server:
        env = make_env(server.url)
        with pytest.raises(FetchError) as info:
            env.fetcher.get(PAGE_URL, expect="html")
    assert message in one_line(info.value, PAGE_URL)
    assert not info.value.retryable and len(server.requests) == 1
    assert env.outcomes() == ["error"] and env.log()[0]["content_encoding"] == encoding


GZ_PAGE = gzip.compress(HTML_PAGE)


@pytest.mark.parametrize(("wire", "message"), [
    (GZ_PAGE[: len(GZ_PAGE) // 2], "corrupt gzip body (truncated"),
    (GZ_PAGE[:20] + bytes(40) + GZ_PAGE[60:], "corrupt gzip body (Error -3"),
    (b"not gzip at all", "corrupt gzip body"),
])
def test_a_corrupt_gzip_body_is_retried_then_given_up(
        make_env: Callable[..., Env], wire: bytes, message: str) -> None:
    with serve(reply(wire, "Content-Encoding: gzip")) as server:
        env = make_env(server.url, max_attempts=3)
        with pytest.raises(FetchError) as info:
            env.fetcher.get(PAGE_URL, expect="html")
    text = one_line(info.value, PAGE_URL)
    assert message in text and "attempt 3, giving up" in text
    assert len(server.requests) == 3 and len(env.sleeps) == 2
    assert env.outcomes() == ["retry", "retry", "retry", "gave_up"]


class FakeBrotli:
    """The bounded API of brotli ≥ 1.2 (process with output_buffer_limit,
    can_accept_more_data, is_finished) over raw deflate: brotli itself is not installed."""

    error = zlib.error

    class Decompressor:
        def __init__(self) -> None:
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
            self._pending = b""
            self._full = False  # the last output filled its limit: more may be held

        def can_accept_more_data(self) -> bool:
            return not self._pending and not self._full

        def process(self, data: bytes, output_buffer_limit: int) -> bytes:
            assert not data or self.can_accept_more_data(), "input while output is held"
            out = self._obj.decompress(self._pending + data, output_buffer_limit)
            self._pending = self._obj.unconsumed_tail
            self._full = len(out) == output_buffer_limit
            return out

        def is_finished(self) -> bool:
            return bool(self._obj.eof)


def test_br_goes_through_a_bounded_decoder_when_one_is_installed(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "_BROTLI", FakeBrotli)
    bomb = raw_deflate(bytes(8 * CAP))
    with serve(reply(raw_deflate(HTML_PAGE), "Content-Encoding: br")) as server:
        got = make_env(server.url).fetcher.get(PAGE_URL, expect="html")
    assert got is not None and got.body == HTML_PAGE
    with (serve(reply(bomb, "Content-Encoding: br")) as server,
          pytest.raises(FetchError, match=f"over the {CAP}-byte cap")):
        make_env(server.url).fetcher.get(PAGE_URL, expect="html")


# -- deadlines --------------------------------------------------------------------------------

HEAD_100 = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n"
            b"<html>")


@pytest.mark.parametrize(("respond", "where"), [
    (drip(HEAD_100), "body"),  # a byte every 50 ms: no read ever times out
    (drip(b"HTTP/1.1 200 OK\r\nX-Slow: "), "headers"),  # the header block never ends
    (drip(HEAD_100, byte=b"", every=0.05), "silence"),  # nothing after the headers
])
def test_a_slow_drip_is_cut_off_at_the_request_deadline(
        make_env: Callable[..., Env], respond: Respond, where: str) -> None:
    with serve(respond) as server:
        env = make_env(server.url, request_seconds=0.25, read_timeout=5.0, max_attempts=2)
        started = time.monotonic()
        with pytest.raises(FetchError) as info:
            env.fetcher.get(PAGE_URL, expect="html")
        took = time.monotonic() - started
    text = one_line(info.value, PAGE_URL)
    assert "too slow" in text and "0.25s cap for one request" in text
    assert "CAC_FILINGS_REQUEST_SECONDS" in text
    assert len(server.requests) == 2  # retried: the site may be faster next time
    assert env.outcomes() == ["retry", "retry", "gave_up"]
    for entry in env.log()[:2]:
        # the deadline, plus scheduling slack: far from the 3 s the server would drip for
        assert entry["elapsed_ms"] < 250 + 500, entry
    assert took < 2 * 0.25 + 1.0


def test_a_slow_drip_is_cut_off_at_the_run_deadline_and_not_retried(
        make_env: Callable[..., Env]) -> None:
    with serve(drip(HEAD_100)) as server:
        # 1 s: time enough for the request to start on a loaded machine (with 0.3 s, the
        # run's time was sometimes up before it was sent).
        env = make_env(server.url, request_seconds=60.0, max_run_seconds=1.0,
                       read_timeout=5.0)
        with pytest.raises(FetchError) as info:
            env.fetcher.get(PAGE_URL, expect="html")
    text = one_line(info.value, PAGE_URL)
    assert "the run exceeded its time cap of 1s (CAC_FILINGS_MAX_RUN_SECONDS)" in text
    assert not info.value.retryable and len(server.requests) == 1
    (entry,) = env.log()
    assert entry["outcome"] == "error" and entry["status"] == 200
    assert entry["elapsed_ms"] < 1000 + 500


class StepClock:
    """Monotonic time that moves only when told to (or when something sleeps on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_run_deadline_cuts_backoff_pacing_and_redirects(
        make_env: Callable[..., Env]) -> None:
    clock = StepClock()
    seen: list[str] = []
    answer_takes = 6.0

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        clock.now += answer_takes
        if request.url.path == "/a.htm":
            return httpx.Response(302, headers={"Location": "/b.htm"})
        return httpx.Response(503, content=b"<html>busy</html>")

    # 6 s per answer, 10 s for the run: the 503 after the redirect is not retried
    env = make_env("http://127.0.0.1:9", transport=httpx.MockTransport(handler), clock=clock,
                   sleep=clock.sleep, max_run_seconds=10.0)
    with pytest.raises(FetchError) as info:
        env.fetcher.get(LIVE + "/a.htm", expect="html")
    text = one_line(info.value, LIVE + "/a.htm")
    assert "HTTP 503" in text
    assert "no time left for a retry within the run's time cap of 10s" in text
    assert seen == ["/a.htm", "/b.htm"]
    assert env.outcomes() == ["redirect", "retry", "gave_up"]
    assert clock.now == 1012.0  # no backoff slept

    # 2 s per answer, 5 s between requests to a host, 4 s for the run: the pause before the
    # hop stops at the deadline, and the hop is not requested
    clock.now, seen[:], answer_takes = 1000.0, [], 2.0
    env = make_env("http://127.0.0.1:9", transport=httpx.MockTransport(handler), clock=clock,
                   sleep=clock.sleep, max_run_seconds=4.0, delay=5.0)
    with pytest.raises(FetchError) as info:
        env.fetcher.get(LIVE + "/a.htm", expect="html")
    text = one_line(info.value, LIVE + "/a.htm")
    assert "the run exceeded its time cap of 4s" in text
    assert "before http://127.0.0.1:9/b.htm was requested" in text
    assert not info.value.retryable
    assert seen == ["/a.htm"] and clock.now == 1004.0
    assert env.outcomes()[-2:] == ["redirect", "error"]


# -- the network's failures, one line each ----------------------------------------------------


@pytest.mark.parametrize(("data", "message"), [
    (b"HTTP/1.1 OK\r\n\r\n", "malformed response (RemoteProtocolError: illegal status line"),
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "illegal status line"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "illegal header line"),
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (70 << 10) + b"\r\nContent-Length: 2\r\n\r\nhi",
     "a header line of 71689 bytes (at most 65536 are accepted)"),
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (200 << 10) + b"\r\n\r\n",
     "header block is over h11's 100 KB limit"),
    (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150))
     + b"Content-Length: 2\r\n\r\nhi", "151 header lines (at most 100 are accepted)"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhi", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhi", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi",
     "conflicting Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
     "illegal chunk header"),
])
def test_a_malformed_response_is_one_final_line(make_env: Callable[..., Env], data: bytes,
                                                message: str) -> None:
    with serve(raw(data)) as server:
        env = make_env(server.url)
        with pytest.raises(FetchError) as info:
            env.fetcher.get(PAGE_URL, expect="html")
    assert message in one_line(info.value, PAGE_URL)
    assert not info.value.retryable and len(server.requests) == 1
    (entry,) = env.log()
    assert entry["outcome"] == "error" and message in entry["error"]
    assert "\n" not in entry["error"] and len(entry["error"]) < 300


def test_a_content_length_that_is_not_a_number_is_refused_from_any_transport(
        make_env: Callable[..., Env]) -> None:
    """h11 refuses it on the wire; a transport without h11 is checked by the Fetcher."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "12ab"},
                              stream=httpx.ByteStream(b"<html></html>"))

    env = make_env("http://127.0.0.1:9", transport=httpx.MockTransport(handler))
    with pytest.raises(FetchError, match="Content-Length '12ab' is not one number"):
        env.fetcher.get(PAGE_URL, expect="html")


@pytest.mark.parametrize(("data", "message"), [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<html\r\n40\r\nabc",
     "body cut short"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<html>", "body cut short"),
    (b"", "closed the connection without answering"),
])
def test_a_body_that_ends_early_is_retried(make_env: Callable[..., Env], data: bytes,
                                           message: str) -> None:
    with serve(raw(data)) as server:
        env = make_env(server.url, max_attempts=2)
        with pytest.raises(FetchError) as info:
            env.fetcher.get(PAGE_URL, expect="html")
    assert message in one_line(info.value, PAGE_URL)
    assert len(server.requests) == 2
    assert env.outcomes() == ["retry", "retry", "gave_up"]


def reset(conn: socket.socket, head: bytes) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # an RST, not a FIN


def test_connection_refused_reset_and_tls_errors_are_retried(
        make_env: Callable[..., Env]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens here once it is closed
    cases: list[tuple[str, str, Respond | None]] = [
        (f"http://127.0.0.1:{closed_port}", "connection refused by 127.0.0.1", None),
        ("", "connection reset by 127.0.0.1", reset),
        ("", "TLS error with 127.0.0.1", raw(b"HTTP/1.1 200 OK\r\n\r\n")),
    ]
    for base, message, respond in cases:
        with serve(respond or raw(b"")) as server:
            url = base or server.url
            if "TLS" in message:
                url = url.replace("http://", "https://")
            env = make_env(url, max_attempts=2)
            with pytest.raises(FetchError) as info:
                env.fetcher.get(PAGE_URL, expect="html")
        assert message in one_line(info.value, PAGE_URL), message
        assert env.outcomes()[-3:] == ["retry", "retry", "gave_up"], message
        assert env.log()[-2]["status"] is None


@pytest.mark.parametrize(("errno", "message", "retryable"), [
    (socket.EAI_NONAME, "DNS: no such host www.example.invalid", False),
    (socket.EAI_AGAIN, "DNS lookup of www.example.invalid failed", True),
])
def test_dns_failures_name_the_host(make_env: Callable[..., Env], errno: int, message: str,
                                    retryable: bool) -> None:
    """As httpx raises them (ConnectError from socket.gaierror), without a resolver."""
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise socket.gaierror(errno, "Name or service not known")
        except socket.gaierror as exc:
            raise httpx.ConnectError(f"[Errno {errno}] {exc.strerror}",
                                     request=request) from exc

    env = make_env("http://www.example.invalid", transport=httpx.MockTransport(handler),
                   max_attempts=2)
    with pytest.raises(FetchError) as info:
        env.fetcher.get(PAGE_URL, expect="html")
    assert message in one_line(info.value, PAGE_URL)
    assert env.outcomes() == (["retry", "retry", "gave_up"] if retryable else ["error"])
