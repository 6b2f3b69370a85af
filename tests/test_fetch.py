"""The HTTP layer: URL mapping, Referer, pacing, retries, validation, conditional GET, the log.

Everything runs against httpx.MockTransport with a fake clock: no network, no real sleeping.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cac_filings.archive import RawArchive
from cac_filings.config import USER_AGENT, Settings, canonical_url
from cac_filings.errors import BlockedError, FetchError
from cac_filings.fetch import Fetched, Fetcher, host_role

WWW = "http://127.0.0.1:9999"
BEIAN = "http://127.0.0.1:9998"
LIVE = "https://www.cac.gov.cn"
LIVE_BEIAN = "https://beian.cac.gov.cn"

PAGE_PATH = "/2023-06/20/c_1687994146439753.htm"
PAGE_URL = LIVE + PAGE_PATH
COLUMN_URL = LIVE + "/wxzw/wxfb/A093702index_1.htm"

FILEPATH = "Ab3~/xY9z" * 11 + "Q=="  # 101 chars over A-Z a-z 0-9 ~ / ending in '='
FTEXT = "%E5%A2%83%E5%86%85%E6%B7%B1%E5%BA%A6%E5%90%88%E6%88%90"  # 境内深度合成
DOWNLOAD_PATH = "/cms/pub/interact/downloadfile.jsp"
DOWNLOAD_QUERY = f"filepath={FILEPATH}&fText={FTEXT}"
DOWNLOAD_URL = f"{LIVE}{DOWNLOAD_PATH}?{DOWNLOAD_QUERY}"

NOTICE_URL = LIVE_BEIAN + "/api/notice/list"

HTML_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>网信办公告</title></head>'
    '<body><div class="main-title"><h1 class="title">'
    "关于发布第一批境内深度合成服务算法备案信息的公告</h1></div>"
    '<div id="BodyLabel">根据《互联网信息服务深度合成管理规定》，现公开发布……</div>'
    "</body></html>"
).encode()
WAF_PAGE = (
    "<!DOCTYPE html><html><head><title>访问被拦截</title></head><body>"
    "<p>您的访问被知道创宇云防御拦截，请稍后再试。</p></body></html>"
).encode()
JSP_MISSING_PAGE = (
    "<html><head><title>提示</title></head><body><script>"
    "alert('对不起，您要下载的文件不存在或已被删除！');history.back();</script></body></html>"
).encode()
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
NGINX_503 = b"<html><head><title>503 Service Temporarily Unavailable</title></head></html>"


def make_docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8"?><w:document><w:body><w:p><w:r>'
            "<w:t>境内深度合成服务算法备案清单</w:t></w:r></w:p></w:body></w:document>" * 20,
        )
    return buf.getvalue()


DOCX = make_docx()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- test doubles ---------------------------------------------------------------------------


class FakeClock:
    """Monotonic time that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"negative sleep {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    exc: type[httpx.TransportError] | None = None


def page(body: bytes = HTML_PAGE, /, **headers: str) -> Reply:
    return Reply(200, body, {"Content-Type": "text/html", **headers})


def octets(body: bytes, filename: str = "附件.docx") -> Reply:
    return Reply(200, body, {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote(filename),
    })


ReplySource = Reply | Callable[[httpx.Request], Reply]


class Server:
    """A MockTransport handler: scripted replies per transport URL, every request recorded."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self.routes: dict[str, list[ReplySource]] = {}

    def route(self, url: str, *replies: ReplySource) -> None:
        """Replies are served in order; the last one repeats."""
        self.routes[url] = list(replies)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(self.clock.now)
        key = str(request.url).split("?", 1)[0]
        queue = self.routes.get(key)
        if not queue:
            return httpx.Response(404, content=b"<html><title>404</title></html>",
                                  headers={"Content-Type": "text/html"})
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        reply = item(request) if callable(item) else item
        if reply.exc is not None:
            raise reply.exc("simulated transport failure", request=request)
        return httpx.Response(reply.status, content=reply.body, headers=reply.headers)


@dataclass
class Env:
    fetcher: Fetcher
    server: Server
    clock: FakeClock
    archive: RawArchive
    settings: Settings

    def log(self) -> list[dict[str, Any]]:
        return self.archive.read_fetch_log()

    def outcomes(self) -> list[str]:
        return [e["outcome"] for e in self.log()]


EnvFactory = Callable[..., Env]


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[EnvFactory]:
    made: list[Fetcher] = []

    def factory(retry_base: float = 0.01, **overrides: Any) -> Env:
        kwargs: dict[str, Any] = {"delay": 0.0, "max_attempts": 5, "retry_cap": 180.0}
        kwargs.update(overrides)
        settings_ = Settings(data_dir=tmp_path, www_base=WWW, beian_base=BEIAN, **kwargs)
        archive = RawArchive(settings_.raw_dir)
        clock = FakeClock()
        server = Server(clock)
        fetcher = Fetcher(settings_, archive, transport=httpx.MockTransport(server),
                          sleep=clock.sleep, clock=clock, retry_base=retry_base)
        made.append(fetcher)
        return Env(fetcher, server, clock, archive, settings_)

    yield factory
    for fetcher in made:
        fetcher.close()


# -- canonical_url / transport_url / host_role --------------------------------------------


@pytest.mark.parametrize("href", [
    PAGE_PATH,
    "//www.cac.gov.cn" + PAGE_PATH,
    "http://www.cac.gov.cn" + PAGE_PATH,
    "https://www.cac.gov.cn" + PAGE_PATH,
    "  https://www.cac.gov.cn" + PAGE_PATH + "  ",
    "HTTP://WWW.CAC.GOV.CN" + PAGE_PATH,
    "https://www.cac.gov.cn" + PAGE_PATH + "#BodyLabel",
    "../../2023-06/20/c_1687994146439753.htm",
])
def test_canonical_url_forces_the_live_https_origin(href: str) -> None:
    assert canonical_url(href, COLUMN_URL) == PAGE_URL


def test_canonical_url_relative_to_an_http_base_and_to_the_beian_host() -> None:
    assert canonical_url("c_2.htm", "http://www.cac.gov.cn/2023-06/20/c_1.htm") == (
        "https://www.cac.gov.cn/2023-06/20/c_2.htm")
    assert canonical_url("//beian.cac.gov.cn/api/notice/list", COLUMN_URL) == NOTICE_URL
    assert canonical_url("http://beian.cac.gov.cn/#/index", COLUMN_URL) == LIVE_BEIAN + "/"
    assert canonical_url("https://www.cac.gov.cn", COLUMN_URL) == LIVE + "/"


@pytest.mark.parametrize("query", [
    DOWNLOAD_QUERY,
    f"fText={FTEXT}&filepath={FILEPATH}",  # the parameter order varies on the site
    f"filepath={FILEPATH.replace('/', '%2F')}&fText={FTEXT}",  # already percent-encoded
])
@pytest.mark.parametrize("prefix", ["", "//www.cac.gov.cn", "http://www.cac.gov.cn", LIVE])
def test_canonical_url_keeps_the_query_byte_for_byte(query: str, prefix: str) -> None:
    href = f"{prefix}{DOWNLOAD_PATH}?{query}"
    assert canonical_url(href, PAGE_URL) == f"{LIVE}{DOWNLOAD_PATH}?{query}"


@settings(max_examples=200, deadline=None)
@given(
    filepath=st.text(alphabet="ABCXYZabcxyz0189~/", min_size=1, max_size=120),
    title=st.text(min_size=0, max_size=30),
    ftext_first=st.booleans(),
)
def test_canonical_url_query_property(filepath: str, title: str, ftext_first: bool) -> None:
    ftext = quote(title, safe="")
    params = [f"filepath={filepath}=", f"fText={ftext}"]
    if ftext_first:
        params.reverse()
    query = "&".join(params)
    assert canonical_url(f"{DOWNLOAD_PATH}?{query}", PAGE_URL) == (
        f"{LIVE}{DOWNLOAD_PATH}?{query}")


def test_transport_url_rebases_both_hosts(make_env: EnvFactory) -> None:
    fetcher = make_env().fetcher
    assert fetcher.transport_url(PAGE_URL) == WWW + PAGE_PATH
    assert fetcher.transport_url(DOWNLOAD_URL) == f"{WWW}{DOWNLOAD_PATH}?{DOWNLOAD_QUERY}"
    assert fetcher.transport_url(LIVE) == WWW + "/"
    assert fetcher.transport_url(NOTICE_URL) == BEIAN + "/api/notice/list"
    assert fetcher.transport_url(LIVE_BEIAN + "/api/file/fileDownLoad?noticeId=42") == (
        BEIAN + "/api/file/fileDownLoad?noticeId=42")


def test_host_role() -> None:
    assert host_role(PAGE_URL) == "www"
    assert host_role("http://WWW.cac.gov.cn/x") == "www"
    assert host_role(NOTICE_URL) == "beian"


@pytest.mark.parametrize("url,host", [
    ("https://www.miit.gov.cn/x.htm", "www.miit.gov.cn"),
    ("https://www.cac.gov.cn.evil.example/x", "www.cac.gov.cn.evil.example"),
    ("https://cac.gov.cn/x", "cac.gov.cn"),
])
def test_other_hosts_are_refused(make_env: EnvFactory, url: str, host: str) -> None:
    with pytest.raises(FetchError) as info:
        host_role(url)
    assert host in str(info.value)
    assert info.value.url == url
    env = make_env()
    with pytest.raises(FetchError, match=re.escape(host)):
        env.fetcher.transport_url(url)
    with pytest.raises(FetchError, match=re.escape(host)):
        env.fetcher.get(url, expect="html")
    assert env.server.requests == []


def test_canonical_url_leaves_other_hosts_alone() -> None:
    assert canonical_url("http://www.gov.cn/a.htm", PAGE_URL) == "http://www.gov.cn/a.htm"


# -- what every request carries -------------------------------------------------------------


def test_request_headers_and_live_urls_in_the_archive(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + DOWNLOAD_PATH, octets(DOCX))
    got = env.fetcher.get(DOWNLOAD_URL, expect="file", referer=PAGE_URL)
    assert got is not None

    (request,) = env.server.requests
    assert request.headers["Referer"] == WWW + PAGE_PATH
    assert request.headers["User-Agent"] == USER_AGENT
    assert "cac-filings" in USER_AGENT
    # the opaque filepath (raw / ~ =) and the encoded fText reach the server unchanged
    assert request.url.raw_path == f"{DOWNLOAD_PATH}?{DOWNLOAD_QUERY}".encode()

    assert got.url == DOWNLOAD_URL
    assert got.final_url == DOWNLOAD_URL
    (entry,) = env.log()
    assert entry["url"] == DOWNLOAD_URL
    assert entry["request_url"] == f"{WWW}{DOWNLOAD_PATH}?{DOWNLOAD_QUERY}"
    assert entry["final_url"] == DOWNLOAD_URL
    assert entry["referer"] == WWW + PAGE_PATH
    # validators are keyed by the live URL too (the download has none, the page below has)
    env.server.route(WWW + PAGE_PATH, page(ETag='"v1"'))
    env.fetcher.get(PAGE_URL, expect="html")
    assert env.archive.validators(PAGE_URL) is not None
    assert env.archive.validators(WWW + PAGE_PATH) is None


def test_default_referer_is_the_host_root_of_each_site(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, page())
    env.server.route(BEIAN + "/api/notice/list", Reply(200, b'{"errno":0,"datas":[]}',
                                                      {"Content-Type": "application/json"}))
    env.server.route(BEIAN + "/api/file/fileDownLoad", octets(PDF, "注销.pdf"))
    env.fetcher.get(PAGE_URL, expect="html")
    env.fetcher.get(NOTICE_URL, expect="json")
    env.fetcher.get(LIVE_BEIAN + "/api/file/fileDownLoad?noticeId=7", expect="file",
                    referer=LIVE_BEIAN + "/#/index")
    referers = [r.headers.get("Referer") for r in env.server.requests]
    assert referers == [WWW + "/", BEIAN + "/", BEIAN + "/"]
    assert all(r.headers["User-Agent"] == USER_AGENT for r in env.server.requests)


def test_in_site_redirect_reports_the_live_final_url(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + "/old.htm", Reply(301, b"", {"Location": WWW + PAGE_PATH}))
    env.server.route(WWW + PAGE_PATH, page())
    got = env.fetcher.get(LIVE + "/old.htm", expect="html")
    assert got is not None
    assert got.url == LIVE + "/old.htm"
    assert got.final_url == PAGE_URL
    assert env.log()[-1]["final_url"] == PAGE_URL
    hop = env.log()[-2]
    assert (hop["outcome"], hop["status"], hop["location"]) == ("redirect", 301, PAGE_URL)


def test_a_relative_redirect_is_followed_through_the_configured_base(
        make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + "/a.htm", Reply(302, b"", {"Location": "b.htm"}))
    env.server.route(WWW + "/b.htm", Reply(307, b"", {"Location": LIVE + PAGE_PATH}))
    env.server.route(WWW + PAGE_PATH, page())
    got = env.fetcher.get(LIVE + "/a.htm", expect="html")
    assert got is not None and got.final_url == PAGE_URL
    # a Location on the live host is requested from the configured base, not the internet
    assert [str(r.url) for r in env.server.requests] == [WWW + "/a.htm", WWW + "/b.htm",
                                                        WWW + PAGE_PATH]


def test_a_redirect_loop_is_cut_off(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + "/a.htm", Reply(302, b"", {"Location": WWW + "/b.htm"}))
    env.server.route(WWW + "/b.htm", Reply(302, b"", {"Location": WWW + "/a.htm"}))
    with pytest.raises(FetchError, match="more than 5 redirects"):
        env.fetcher.get(LIVE + "/a.htm", expect="html")
    assert len(env.server.requests) == 6  # the first request and five hops, no retry


def test_redirect_off_the_site_is_refused_and_logged(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + "/moved.htm", Reply(302, b"", {"Location": "http://example.org/x"}))
    env.server.route("http://example.org/x", page())
    with pytest.raises(FetchError) as info:
        env.fetcher.get(LIVE + "/moved.htm", expect="html")
    assert info.value.url == LIVE + "/moved.htm"
    assert "example.org" in str(info.value)
    # refused before the target is requested, and not retried
    assert [str(r.url) for r in env.server.requests] == [WWW + "/moved.htm"]
    # the brief: one fetch-log entry per attempt, whatever its outcome
    log = env.log()
    assert len(log) == 1, f"attempt was not logged: {log}"
    assert log[0]["outcome"] == "error"
    assert log[0]["status"] == 302 and "http://example.org/x" in log[0]["error"]


# -- pacing -----------------------------------------------------------------------------------


def test_pacing_per_host(make_env: EnvFactory) -> None:
    env = make_env(delay=1.0)
    env.server.route(WWW + PAGE_PATH, page())
    env.server.route(WWW + "/b.htm", page())
    env.server.route(BEIAN + "/api/notice/list", Reply(200, b"{}"))
    env.fetcher.get(PAGE_URL, expect="html")
    env.fetcher.get(NOTICE_URL, expect="json")  # other host: no wait
    env.fetcher.get(LIVE + "/b.htm", expect="html")  # same host: waits
    env.fetcher.get(NOTICE_URL, expect="json")  # beian's own last request was 1 s ago
    t = env.server.times
    assert t[1] == t[0]
    assert t[2] - t[0] >= 1.0
    assert t[3] - t[1] >= 1.0
    assert t[3] == t[2]
    assert sum(env.clock.sleeps) == pytest.approx(1.0)


def test_pacing_applies_to_every_redirect_hop(make_env: EnvFactory) -> None:
    env = make_env(delay=1.0)
    env.server.route(WWW + "/a.htm", Reply(302, b"", {"Location": WWW + "/b.htm"}))
    env.server.route(WWW + "/b.htm", Reply(302, b"", {"Location": WWW + PAGE_PATH}))
    env.server.route(WWW + PAGE_PATH, page())
    env.fetcher.get(LIVE + "/a.htm", expect="html")
    t = env.server.times
    assert len(t) == 3 and t[1] - t[0] >= 1.0 and t[2] - t[1] >= 1.0


def test_pacing_counts_time_already_elapsed(make_env: EnvFactory) -> None:
    env = make_env(delay=1.0)
    env.server.route(WWW + PAGE_PATH, page())
    env.fetcher.get(PAGE_URL, expect="html")
    env.clock.now += 0.4
    env.fetcher.get(PAGE_URL, expect="html", conditional=False)
    assert env.server.times[1] - env.server.times[0] == pytest.approx(1.0)
    assert env.clock.sleeps == [pytest.approx(0.6)]
    env.clock.now += 5.0
    env.fetcher.get(PAGE_URL, expect="html", conditional=False)
    assert len(env.clock.sleeps) == 1


def test_pacing_applies_between_retries(make_env: EnvFactory) -> None:
    env = make_env(delay=1.0, retry_base=0.01)
    env.server.route(WWW + PAGE_PATH, Reply(503, NGINX_503), page())
    assert env.fetcher.get(PAGE_URL, expect="html") is not None
    assert env.server.times[1] - env.server.times[0] >= 1.0


def test_zero_delay_never_sleeps(make_env: EnvFactory) -> None:
    env = make_env(delay=0.0)
    env.server.route(WWW + PAGE_PATH, page())
    env.server.route(BEIAN + "/api/notice/list", Reply(200, b"[]"))
    for _ in range(5):
        env.fetcher.get(PAGE_URL, expect="html", conditional=False)
        env.fetcher.get(NOTICE_URL, expect="json")
    assert len(env.server.requests) == 10
    assert env.clock.sleeps == []


def _gaps(env: Env) -> list[float]:
    t = env.server.times
    return [round(b - a, 6) for a, b in itertools.pairwise(t)]


@pytest.mark.parametrize("throttled", [
    Reply(429, b"slow down", {"Retry-After": "0"}),
    Reply(503, NGINX_503, {"Retry-After": "0", "Content-Type": "text/html"}),
    page(WAF_PAGE),
    Reply(200, b"", {"Content-Type": "text/html"}),
])
def test_a_host_that_throttles_is_asked_more_slowly_then_less_again(
        make_env: EnvFactory, throttled: Reply) -> None:
    env = make_env(delay=1.0, retry_base=0.0)
    env.server.route(WWW + PAGE_PATH, throttled, throttled, *[page()] * 30)
    env.server.route(BEIAN + "/api/notice/list", Reply(200, b"[]"))
    for _ in range(22):
        assert env.fetcher.get(PAGE_URL, expect="html", conditional=False) is not None
    gaps = _gaps(env)
    # Slowed to 2 s after the first throttled answer, 4 s after the second; after ten answers
    # in a row that were not throttled, 2 s; after ten more, the --delay of 1 s again.
    assert gaps[:2] == [2.0, 4.0]
    assert gaps[2:11] == [4.0] * 9 and gaps[11:21] == [2.0] * 10 and gaps[21:] == [1.0, 1.0]
    slowed = [e.get("slowed_to_s") for e in env.log() if e["outcome"] == "retry"]
    assert slowed == [2.0, 4.0]
    env.fetcher.get(NOTICE_URL, expect="json")  # the other host was never slowed
    assert env.server.times[-1] == env.server.times[-2]


def test_slowing_down_has_a_ceiling_and_zero_delay_never_sleeps(make_env: EnvFactory) -> None:
    env = make_env(delay=1.0, retry_base=0.0, max_attempts=12, retry_cap=10_000.0)
    env.server.route(WWW + PAGE_PATH, *[Reply(429, b"", {"Retry-After": "0"})] * 10, page())
    env.fetcher.get(PAGE_URL, expect="html")
    assert _gaps(env) == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0, 60.0]
    slow = make_env(delay=90.0, retry_base=0.0)  # a --delay above the ceiling stays
    slow.server.route(WWW + PAGE_PATH, Reply(429, b"", {"Retry-After": "0"}), page())
    slow.fetcher.get(PAGE_URL, expect="html")
    assert slow.fetcher.gap("www") == 90.0 and _gaps(slow) == [90.0]
    quick = make_env(delay=0.0, retry_base=0.0)
    quick.server.route(WWW + PAGE_PATH, Reply(429, b"", {"Retry-After": "0"}), page())
    quick.fetcher.get(PAGE_URL, expect="html")
    quick.fetcher.get(PAGE_URL, expect="html", conditional=False)
    assert quick.clock.sleeps == [0.0]  # the retry's backoff (retry_base 0), no pacing


def test_an_ordinary_503_does_not_slow_the_host(make_env: EnvFactory) -> None:
    env = make_env(delay=1.0, retry_base=0.0)
    env.server.route(WWW + PAGE_PATH, Reply(503, NGINX_503), page())
    env.fetcher.get(PAGE_URL, expect="html")
    env.fetcher.get(PAGE_URL, expect="html", conditional=False)
    assert _gaps(env) == [1.0, 1.0]


# -- retries ----------------------------------------------------------------------------------


def test_503_then_200_succeeds_after_one_retry(make_env: EnvFactory) -> None:
    env = make_env(retry_base=0.5)
    env.server.route(WWW + PAGE_PATH, Reply(503, NGINX_503), page())
    got = env.fetcher.get(PAGE_URL, expect="html")
    assert got is not None and got.status == 200 and got.body == HTML_PAGE
    assert len(env.server.requests) == 2
    assert env.outcomes() == ["retry", "ok"]
    assert env.fetcher.stats.retries == 1
    assert env.fetcher.stats.requests == 2
    assert env.fetcher.stats.by_status == {"503": 1, "200": 1}
    (backoff,) = env.clock.sleeps
    assert 0.5 <= backoff <= 1.0
    assert env.log()[0]["status"] == 503


def test_backoff_base_comes_from_settings_unless_given(tmp_path: Path) -> None:
    settings_ = Settings(data_dir=tmp_path, www_base=WWW, beian_base=BEIAN, delay=0.0,
                         retry_base=10.0)
    clock = FakeClock()
    server = Server(clock)
    server.route(WWW + PAGE_PATH, Reply(503, NGINX_503), page())
    with Fetcher(settings_, RawArchive(settings_.raw_dir), transport=httpx.MockTransport(server),
                 sleep=clock.sleep, clock=clock) as fetcher:
        assert fetcher.get(PAGE_URL, expect="html") is not None
    (backoff,) = clock.sleeps
    assert 10.0 <= backoff <= 20.0


def test_429_honours_retry_after(make_env: EnvFactory) -> None:
    env = make_env(retry_base=0.01)
    env.server.route(WWW + PAGE_PATH, Reply(429, b"", {"Retry-After": "2"}), page())
    assert env.fetcher.get(PAGE_URL, expect="html") is not None
    assert len(env.server.requests) == 2
    assert env.server.times[1] - env.server.times[0] >= 2.0
    assert max(env.clock.sleeps) >= 2.0
    assert env.outcomes() == ["retry", "ok"]


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_transport_failures_are_retried(make_env: EnvFactory,
                                        exc: type[httpx.TransportError]) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, Reply(exc=exc), page())
    got = env.fetcher.get(PAGE_URL, expect="html")
    assert got is not None and got.body == HTML_PAGE
    assert len(env.server.requests) == 2
    first, second = env.log()
    assert first["outcome"] == "retry"
    assert first["status"] is None
    assert first["url"] == PAGE_URL and first["request_url"] == WWW + PAGE_PATH
    assert exc.__name__ in first["error"]
    assert second["outcome"] == "ok"


def test_max_attempts_exhausted(make_env: EnvFactory) -> None:
    env = make_env(max_attempts=3)
    env.server.route(WWW + PAGE_PATH, Reply(503, NGINX_503))
    with pytest.raises(FetchError) as info:
        env.fetcher.get(PAGE_URL, expect="html")
    assert info.value.url == PAGE_URL
    assert PAGE_URL in str(info.value)
    assert "HTTP 503" in str(info.value)
    assert "attempt 3" in str(info.value)
    assert len(env.server.requests) == 3
    assert env.outcomes() == ["retry", "retry", "retry", "gave_up"]
    assert len(env.clock.sleeps) == 2  # between attempts only


def test_connection_errors_exhausted_name_the_reason(make_env: EnvFactory) -> None:
    env = make_env(max_attempts=2)
    env.server.route(WWW + PAGE_PATH, Reply(exc=httpx.ConnectError))
    with pytest.raises(FetchError) as info:
        env.fetcher.get(PAGE_URL, expect="html")
    assert PAGE_URL in str(info.value)
    assert "ConnectError" in str(info.value)
    assert len(env.server.requests) == 2


def test_retry_cap_stops_before_max_attempts(make_env: EnvFactory) -> None:
    # backoff: attempt 1 → 10..20 s (fits the 25 s cap), attempt 2 → 20..30 s (does not)
    env = make_env(retry_base=10.0, retry_cap=25.0, max_attempts=10)
    env.server.route(WWW + PAGE_PATH, Reply(503, NGINX_503))
    with pytest.raises(FetchError) as info:
        env.fetcher.get(PAGE_URL, expect="html")
    assert len(env.server.requests) == 2
    assert "cap" in str(info.value)
    assert PAGE_URL in str(info.value)
    assert sum(env.clock.sleeps) <= 25.0


def test_retry_after_beyond_the_cap_gives_up_at_once(make_env: EnvFactory) -> None:
    env = make_env(retry_cap=30.0)
    env.server.route(WWW + PAGE_PATH, Reply(429, b"", {"Retry-After": "120"}), page())
    with pytest.raises(FetchError, match="HTTP 429"):
        env.fetcher.get(PAGE_URL, expect="html")
    assert len(env.server.requests) == 1
    assert env.clock.sleeps == []


def test_404_is_not_retried(make_env: EnvFactory) -> None:
    env = make_env()
    url = LIVE + "/wxzw/A0937index_99.htm"
    assert env.fetcher.get(url, expect="html", allow_404=True) is None
    assert len(env.server.requests) == 1
    assert env.outcomes() == ["not_found"]

    with pytest.raises(FetchError) as info:
        env.fetcher.get(url, expect="html")
    assert "HTTP 404" in str(info.value) and url in str(info.value)
    assert not info.value.retryable
    assert len(env.server.requests) == 2
    assert env.outcomes() == ["not_found", "error"]
    assert env.clock.sleeps == []


def test_403_is_not_retried(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, Reply(403, b"<html>Forbidden</html>"), page())
    with pytest.raises(FetchError, match="HTTP 403"):
        env.fetcher.get(PAGE_URL, expect="html", allow_404=True)
    assert len(env.server.requests) == 1
    assert env.clock.sleeps == []
    assert env.outcomes() == ["error"]


# -- content validation -----------------------------------------------------------------------


def test_waf_page_with_status_200_is_retried(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, page(WAF_PAGE), page())
    got = env.fetcher.get(PAGE_URL, expect="html")
    assert got is not None and got.body == HTML_PAGE
    assert env.outcomes() == ["retry", "ok"]
    waf_entry = env.log()[0]
    assert waf_entry["status"] == 200
    assert "WAF" in waf_entry["error"]
    assert env.archive.get(waf_entry["sha256"]) == WAF_PAGE


def test_persistent_waf_page_raises_blocked_error(make_env: EnvFactory) -> None:
    env = make_env(max_attempts=3)
    env.server.route(WWW + PAGE_PATH, page(WAF_PAGE))
    with pytest.raises(FetchError) as info:
        env.fetcher.get(PAGE_URL, expect="html")
    assert len(env.server.requests) == 3
    assert PAGE_URL in str(info.value)
    assert "WAF" in str(info.value)
    assert isinstance(info.value, BlockedError), (
        f"giving up on a WAF page raised {type(info.value).__name__}, not BlockedError")


def test_empty_body_is_retried_then_fails(make_env: EnvFactory) -> None:
    env = make_env(max_attempts=3)
    env.server.route(WWW + DOWNLOAD_PATH, octets(b""))
    with pytest.raises(FetchError) as info:
        env.fetcher.get(DOWNLOAD_URL, expect="file", referer=PAGE_URL)
    assert DOWNLOAD_URL in str(info.value)
    assert "empty body" in str(info.value)
    assert len(env.server.requests) == 3
    assert env.archive.get(sha(b"")) == b""

    env.server.route(WWW + DOWNLOAD_PATH, octets(b""), octets(DOCX))
    got = env.fetcher.get(DOWNLOAD_URL, expect="file", referer=PAGE_URL)
    assert got is not None and got.body == DOCX


def test_html_instead_of_a_file_is_not_retried(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + DOWNLOAD_PATH, page())
    with pytest.raises(FetchError) as info:
        env.fetcher.get(DOWNLOAD_URL, expect="file", referer=PAGE_URL)
    assert "expected a file, got an HTML page" in str(info.value)
    assert DOWNLOAD_URL in str(info.value)
    assert len(env.server.requests) == 1
    assert env.outcomes() == ["error"]


def test_jsp_missing_file_page_has_its_own_message(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + DOWNLOAD_PATH, page(JSP_MISSING_PAGE))
    with pytest.raises(FetchError) as info:
        env.fetcher.get(DOWNLOAD_URL, expect="file", referer=PAGE_URL)
    message = str(info.value)
    assert "does not exist" in message
    assert "expected a file, got an HTML page" not in message
    assert DOWNLOAD_URL in message
    assert len(env.server.requests) == 1
    assert env.archive.get(env.log()[0]["sha256"]) == JSP_MISSING_PAGE


def test_truncated_docx_is_retried_and_the_whole_file_accepted(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + DOWNLOAD_PATH, octets(DOCX[: len(DOCX) // 2]), octets(DOCX))
    got = env.fetcher.get(DOWNLOAD_URL, expect="file", referer=PAGE_URL)
    assert got is not None
    assert got.body == DOCX
    assert got.file_format == "docx"
    assert got.sha256 == sha(DOCX)
    assert len(env.server.requests) == 2
    first, second = env.log()
    assert first["outcome"] == "retry" and "truncated" in first["error"]
    assert env.archive.get(first["sha256"]) == DOCX[: len(DOCX) // 2]
    assert second["outcome"] == "ok"


def test_truncated_pdf_keeps_failing(make_env: EnvFactory) -> None:
    env = make_env(max_attempts=2)
    env.server.route(WWW + DOWNLOAD_PATH, octets(PDF[:-8], "a.pdf"))
    with pytest.raises(FetchError, match="truncated"):
        env.fetcher.get(DOWNLOAD_URL, expect="file", referer=PAGE_URL)
    assert len(env.server.requests) == 2


def test_file_of_unknown_magic_is_an_error(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + DOWNLOAD_PATH, octets(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old .doc"))
    with pytest.raises(FetchError) as info:
        env.fetcher.get(DOWNLOAD_URL, expect="file", referer=PAGE_URL)
    assert "unknown" in str(info.value)
    assert DOWNLOAD_URL in str(info.value)
    assert len(env.server.requests) == 1


def test_file_where_a_page_was_expected_is_an_error(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, octets(PDF))
    with pytest.raises(FetchError, match="expected an HTML page, got pdf"):
        env.fetcher.get(PAGE_URL, expect="html")
    assert len(env.server.requests) == 1


def test_invalid_json_is_an_error(make_env: EnvFactory) -> None:
    env = make_env(max_attempts=2)
    env.server.route(BEIAN + "/api/notice/list", page(b"<html><body>nope</body></html>"))
    with pytest.raises(FetchError) as info:
        env.fetcher.get(NOTICE_URL, expect="json")
    assert "expected JSON" in str(info.value)
    assert NOTICE_URL in str(info.value)
    assert env.outcomes()[-1] == "gave_up"
    assert set(env.outcomes()[:-1]) == {"retry"}


def test_valid_json(make_env: EnvFactory) -> None:
    env = make_env()
    payload = {"errno": 0, "errmsg": "", "datas": [{"noticeId": 1, "title": "注销公告"}]}
    body = json.dumps(payload, ensure_ascii=False).encode()
    env.server.route(BEIAN + "/api/notice/list", Reply(200, body,
                                                      {"Content-Type": "application/json"}))
    got = env.fetcher.get(NOTICE_URL, expect="json")
    assert got is not None
    assert got.json() == payload


@pytest.mark.parametrize("body,name,fmt", [
    (PDF, "境内深度合成服务算法备案清单.docx", "pdf"),
    (DOCX, "境内深度合成服务算法备案清单.pdf", "docx"),
])
def test_format_is_sniffed_from_the_bytes(make_env: EnvFactory, body: bytes, name: str,
                                          fmt: str) -> None:
    env = make_env()
    path = "/files/" + ("x.docx" if fmt == "pdf" else "x.pdf")
    env.server.route(WWW + path, octets(body, name))
    got = env.fetcher.get(LIVE + path, expect="file", referer=PAGE_URL)
    assert got is not None
    assert got.file_format == fmt
    assert got.body == body


# -- conditional GET --------------------------------------------------------------------------

ETAG = '"64a1b2c3-5f1e"'
LAST_MODIFIED = "Tue, 20 Jun 2023 02:00:00 GMT"


def conditional_page(request: httpx.Request) -> Reply:
    if request.headers.get("If-None-Match") == ETAG:
        return Reply(304, b"", {"ETag": ETAG})
    return page(ETag=ETAG, **{"Last-Modified": LAST_MODIFIED})


def test_conditional_get_round_trip(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, conditional_page)
    first = env.fetcher.get(PAGE_URL, expect="html")
    assert first is not None and not first.from_cache and first.status == 200
    stored = env.archive.validators(PAGE_URL)
    assert stored is not None
    assert (stored.etag, stored.last_modified, stored.sha256) == (ETAG, LAST_MODIFIED,
                                                                  sha(HTML_PAGE))
    assert "If-None-Match" not in env.server.requests[0].headers

    second = env.fetcher.get(PAGE_URL, expect="html")
    request = env.server.requests[1]
    assert request.headers["If-None-Match"] == ETAG
    assert request.headers["If-Modified-Since"] == LAST_MODIFIED
    assert second is not None
    assert second.status == 304
    assert second.from_cache
    assert second.body == HTML_PAGE
    assert second.sha256 == first.sha256
    assert second.file_format == "html"
    assert "网信办" in second.text
    log = env.log()
    assert [e["outcome"] for e in log] == ["ok", "not_modified"]
    assert log[1]["sha256"] == first.sha256
    assert log[1]["conditional"] == ["If-Modified-Since", "If-None-Match"]
    assert env.fetcher.stats.not_modified == 1


def test_validators_survive_a_new_archive_instance(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, conditional_page)
    env.fetcher.get(PAGE_URL, expect="html")
    later = make_env()  # same data dir, fresh RawArchive and Fetcher
    later.server.route(WWW + PAGE_PATH, conditional_page)
    got = later.fetcher.get(PAGE_URL, expect="html")
    assert got is not None and got.from_cache
    assert later.server.requests[0].headers["If-None-Match"] == ETAG


def test_only_last_modified(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, page(**{"Last-Modified": LAST_MODIFIED}),
                     Reply(304, b""))
    env.fetcher.get(PAGE_URL, expect="html")
    got = env.fetcher.get(PAGE_URL, expect="html")
    assert got is not None and got.from_cache and got.body == HTML_PAGE
    request = env.server.requests[1]
    assert request.headers["If-Modified-Since"] == LAST_MODIFIED
    assert "If-None-Match" not in request.headers


def test_conditional_false_sends_no_validators(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, conditional_page)
    env.fetcher.get(PAGE_URL, expect="html")
    got = env.fetcher.get(PAGE_URL, expect="html", conditional=False)
    request = env.server.requests[1]
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers
    assert got is not None and got.status == 200 and not got.from_cache
    assert env.log()[1]["conditional"] == []


def test_an_unconditional_fetch_stores_no_validators(make_env: EnvFactory) -> None:
    # Downloads are always fetched in full: their validators would never be read.
    env = make_env()
    env.server.route(WWW + PAGE_PATH, conditional_page)
    env.fetcher.get(PAGE_URL, expect="html", conditional=False)
    assert env.archive.validators(PAGE_URL) is None
    env.fetcher.get(PAGE_URL, expect="html")
    assert env.archive.validators(PAGE_URL) is not None


def test_changed_page_replaces_validators(make_env: EnvFactory) -> None:
    env = make_env()
    new_body = HTML_PAGE.replace(b"</body>", "<p>附件2</p></body>".encode())
    env.server.route(WWW + PAGE_PATH, page(ETag='"v1"'), page(new_body, ETag='"v2"'))
    env.fetcher.get(PAGE_URL, expect="html")
    got = env.fetcher.get(PAGE_URL, expect="html")
    assert env.server.requests[1].headers["If-None-Match"] == '"v1"'
    assert got is not None and got.body == new_body and not got.from_cache
    stored = env.archive.validators(PAGE_URL)
    assert stored is not None and stored.etag == '"v2"' and stored.sha256 == sha(new_body)


def test_failed_fetch_stores_no_validators(make_env: EnvFactory) -> None:
    env = make_env(max_attempts=1)
    env.server.route(WWW + PAGE_PATH, page(WAF_PAGE, ETag='"waf"'))
    with pytest.raises(FetchError):
        env.fetcher.get(PAGE_URL, expect="html")
    assert env.archive.validators(PAGE_URL) is None


# -- the fetch log and the archive ------------------------------------------------------------


def test_fetch_log_has_one_full_entry_per_attempt(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, Reply(503, NGINX_503), page(WAF_PAGE),
                     page(ETag='"e"'))
    got = env.fetcher.get(PAGE_URL, expect="html", referer=COLUMN_URL)
    assert got is not None
    log = env.log()
    assert [e["outcome"] for e in log] == ["retry", "retry", "ok"]
    assert [e["attempt"] for e in log] == [1, 2, 3]
    assert [e["status"] for e in log] == [503, 200, 200]
    bodies = [NGINX_503, WAF_PAGE, HTML_PAGE]
    for entry, body in zip(log, bodies, strict=True):
        for key in ("url", "request_url", "final_url", "status", "headers", "fetched_at",
                    "sha256", "outcome"):
            assert key in entry, f"{key} missing from {entry}"
        assert entry["url"] == PAGE_URL
        assert entry["request_url"] == WWW + PAGE_PATH
        assert entry["final_url"] == PAGE_URL
        assert entry["referer"] == WWW + "/wxzw/wxfb/A093702index_1.htm"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["fetched_at"])
        assert entry["sha256"] == sha(body)
        assert entry["size"] == len(body)
        assert env.archive.get(entry["sha256"]) == body
    assert log[2]["headers"]["content-type"] == "text/html"
    assert log[2]["headers"]["etag"] == '"e"'
    assert got.sha256 == log[2]["sha256"]
    assert got.fetched_at == log[2]["fetched_at"]


def test_fetched_text_is_utf8_without_a_charset(make_env: EnvFactory) -> None:
    env = make_env()
    env.server.route(WWW + PAGE_PATH, page())
    got = env.fetcher.get(PAGE_URL, expect="html")
    assert got is not None
    assert got.headers["content-type"] == "text/html"  # no charset on the wire
    assert "关于发布第一批境内深度合成服务算法备案信息的公告" in got.text
    assert "根据《互联网信息服务深度合成管理规定》" in got.text
    assert got.text == HTML_PAGE.decode("utf-8")


def test_fetched_text_survives_invalid_utf8() -> None:
    got = Fetched(PAGE_URL, PAGE_URL, 200, "网信".encode() + b"\xff", "x", "t", False, "html")
    assert got.text.startswith("网信")
