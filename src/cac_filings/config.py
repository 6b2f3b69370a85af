"""Run-time settings: where to fetch from, where to write, how politely."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

from cac_filings import __version__
from cac_filings.errors import SettingsError

LIVE_WWW = "https://www.cac.gov.cn"
LIVE_BEIAN = "https://beian.cac.gov.cn"
HOSTS: dict[str, str] = {"www": "www.cac.gov.cn", "beian": "beian.cac.gov.cn"}
USER_AGENT = (
    f"cac-filings/{__version__} (open-data archive of CAC algorithm filings; "
    "+https://github.com/cac-filings/cac-filings)"
)


# Every time stamp the project writes (crawl records, fetch log, runs.jsonl, releases).
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> str:
    return datetime.now(UTC).strftime(TIMESTAMP_FORMAT)


def canonical_url(href: str, base: str) -> str:
    """Resolve `href` against the live-site URL `base` and force the live https origin.

    Links on the site are a mix of site-relative, protocol-relative (//www.cac.gov.cn/…),
    http:// and https:// forms; they all name the same resource.
    """
    joined = urljoin(base, href.strip())
    parts = urlsplit(joined)
    host = (parts.hostname or "").lower()
    scheme = "https" if host in HOSTS.values() else parts.scheme
    return urlunsplit((scheme, parts.netloc.lower() if host else parts.netloc, parts.path or "/",
                       parts.query, ""))


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    www_base: str = LIVE_WWW
    beian_base: str = LIVE_BEIAN
    delay: float = 1.0  # seconds between two requests to one host
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_attempts: int = 8
    retry_base: float = 1.0  # first backoff in seconds; doubles per attempt, plus jitter
    retry_cap: float = 180.0  # total seconds one URL may spend in retries
    max_run_seconds: float = 3 * 3600.0  # the whole crawl; then it fails, naming the URL
    # One request from its first byte sent to its last byte read (redirect hops included),
    # however slowly the server drips; then the attempt fails as too slow and is retried.
    request_seconds: float = 120.0
    # Real lists are well under 1 MB; a body larger than this is refused while it streams.
    max_bytes: int = 50 * 1024 * 1024
    # Hosts other than the two CAC hosts that links may point to and that may be fetched as
    # they are (no rebasing). Empty: links elsewhere are refused, naming the host.
    allowed_hosts: tuple[str, ...] = ()
    user_agent: str = USER_AGENT

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def releases_dir(self) -> Path:
        return self.data_dir / "releases"

    @property
    def published(self) -> Path:
        return self.data_dir / "published"

    def base_for(self, role: str) -> str:
        return {"www": self.www_base, "beian": self.beian_base}[role]


def check_base_urls(settings: Settings) -> None:
    """The commands that fetch: each base URL (the replica's, a mirror's) is
    http(s)://host[:port][/path]; anything else is a setup error naming where it came from."""
    for value, option, variable in ((settings.www_base, "--www-base", "CAC_WWW_BASE"),
                                    (settings.beian_base, "--beian-base", "CAC_BEIAN_BASE")):
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or \
                parts.fragment:
            raise SettingsError(f"{option} / {variable}: {value!r} is not a base URL such as "
                                "http://127.0.0.1:8765 (http or https, a host, no query)")


def load_settings(
    data_dir: Path | None = None,
    www_base: str | None = None,
    beian_base: str | None = None,
    delay: float | None = None,
) -> Settings:
    """Command-line values win over the environment, which wins over the defaults."""
    return Settings(
        data_dir=(data_dir or Path(os.environ.get("CAC_FILINGS_DATA_DIR") or "data")).resolve(),
        www_base=(www_base or os.environ.get("CAC_WWW_BASE") or LIVE_WWW).strip().rstrip("/"),
        beian_base=(beian_base or os.environ.get("CAC_BEIAN_BASE") or LIVE_BEIAN
                    ).strip().rstrip("/"),
        delay=delay if delay is not None else env_float("CAC_FILINGS_DELAY", 1.0),
        read_timeout=env_float("CAC_FILINGS_TIMEOUT", 30.0),
        max_attempts=max(1, int(env_float("CAC_FILINGS_ATTEMPTS", 8))),
        retry_base=env_float("CAC_FILINGS_RETRY_BASE", 1.0),
        retry_cap=env_float("CAC_FILINGS_RETRY_CAP", 180.0),
        max_run_seconds=env_float("CAC_FILINGS_MAX_RUN_SECONDS", 3 * 3600.0),
        request_seconds=env_float("CAC_FILINGS_REQUEST_SECONDS", 120.0),
        max_bytes=int(env_float("CAC_FILINGS_MAX_BYTES", 50 * 1024 * 1024)),
        allowed_hosts=tuple(h.strip().lower() for h in os.environ.get(
            "CAC_FILINGS_ALLOWED_HOSTS", "").split(",") if h.strip()),
    )
