"""Settings from the environment and a `.env` file, read once at start.

One frozen object passed down explicitly (never a global), so tests build their own and
several apps can live in one process. Reading is separate from checking: `load()` never
raises on a bad value; `problems()` lists what is wrong in words a person can act on, so
the bot can stop with one clear line instead of a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path("data")
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_LOAD_BALANCER_PATTERNS = ("*.elb.amazonaws.com",)
DEFAULT_THRESHOLDS = (30, 14, 7, 3, 1, 0)
DEFAULT_SHUTDOWN_SECONDS = 20.0
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_UPLOAD_WINDOW_SECONDS = 3.0
DEFAULT_MODAL_BUDGET_SECONDS = 2.0  # below Slack's 3 s: the ack still has to travel back
# Slow work after the ack (issue 11): the worker pool's threads, how many submissions one
# person may have in flight, and how long one download may take in all.
DEFAULT_WORK_THREADS = 4
DEFAULT_SUBMISSIONS_PER_PERSON = 3
DEFAULT_DOWNLOAD_DEADLINE_SECONDS = 30.0
# A bearer token as an HTTP header can carry: visible ASCII, no spaces (a newline would
# split the header, and http.client would quote the whole value in its error).
MAX_TOKEN_CHARS = 8192
_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{MAX_TOKEN_CHARS}}}")


def _split(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.replace(";", ",").split(",") if part.strip())


def _share(text: str) -> float:
    """`33%` -> 33.0; a share must be above 0 and at most 100 percent."""
    value = float(text[:-1].strip())
    if not 0 < value <= 100:
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    admins: tuple[str, ...] = ()
    default_channel: str | None = None
    load_balancer_patterns: tuple[str, ...] = DEFAULT_LOAD_BALANCER_PATTERNS
    warning_thresholds_days: tuple[int, ...] = DEFAULT_THRESHOLDS
    # Thresholds as a share of the certificate's lifetime, in percent ("33%" -> 33.0).
    warning_shares: tuple[float, ...] = ()
    # How often the bot's scheduler scans for due warnings and TLS checks (seconds).
    notify_interval_seconds: float = 60.0
    # CERTOPS_WARNING_LEASE_SECONDS: a warning claimed and not recorded as posted after this
    # long was left by a process that died; a scan then looks for it in Slack (issue 13).
    warning_lease_seconds: float = 300.0
    log_format: str = "text"
    # Operating (issue 8): CERTOPS_LOG_LEVEL, CERTOPS_METRICS_PORT (Socket Mode's own port
    # for /healthz, /readyz, /metrics), CERTOPS_SHUTDOWN_SECONDS (grace period on SIGTERM).
    log_level: str = "INFO"
    metrics_port: int | None = None
    shutdown_seconds: float = 20.0
    # Issue 16: how often the record's gauges are read (CERTOPS_METRICS_REFRESH, seconds)
    # and which expiry series are served (CERTOPS_METRICS_SERIES, see bot/metrics.py).
    metrics_refresh_seconds: float = 60.0
    metrics_series: str = "auto"
    # CERTOPS_DRAIN_SECONDS: HTTP mode keeps answering /readyz 503 at least this long after
    # SIGTERM (within the grace period), for load balancers that poll readiness.
    drain_seconds: float = 0.0
    raw_errors: tuple[str, ...] = ()
    # Files sent in a DM within this many seconds of each other form one submission.
    upload_window_seconds: float = DEFAULT_UPLOAD_WINDOW_SECONDS
    # How long a modal submission may work before its ack shows "working" instead.
    modal_budget_seconds: float = DEFAULT_MODAL_BUDGET_SECONDS
    # CERTOPS_WORK_THREADS: threads checking files, downloading and asking DNS, shared
    # round-robin between people (bot/work_pool.py).
    work_threads: int = DEFAULT_WORK_THREADS
    # CERTOPS_MAX_SUBMISSIONS_PER_PERSON: submissions one person may have in flight; the
    # next is answered at once ("still checking your earlier files").
    max_submissions_per_person: int = DEFAULT_SUBMISSIONS_PER_PERSON
    # CERTOPS_DOWNLOAD_DEADLINE_SECONDS: one file's download in all, however it trickles.
    download_deadline_seconds: float = DEFAULT_DOWNLOAD_DEADLINE_SECONDS
    # CERTOPS_ISOLATE_CHECKS (default on; 0 turns it off): files dropped in a DM are read
    # and validated in a worker process, whose GIL a key derivation may hold.
    isolate_checks: bool = True
    # CERTOPS_TRUST_STORE: PEM files of extra roots (separated with ':'), trusted by the bot,
    # the console and every command as `--trust-store` is (issue 15). The files are read
    # once, at start, by bot/trust_roots.py (settings stay free of file reads and crypto).
    trust_store: tuple[Path, ...] = ()
    # CERTOPS_NAMESERVERS: the nameservers the bot's DNS checks ask (HOST[:PORT], separated
    # with commas), as `--nameserver` does for the terminal commands; empty: the system
    # resolver. Lets a lab or a test point the running bot at a DNS server of its own.
    nameservers: tuple[tuple[str, int], ...] = ()
    # Issue 17, for tests and labs only: the port probed instead of 443
    # (CERTOPS_PROBE_PORT) and whether a hostname may resolve to a loopback or link-local
    # address (CERTOPS_PROBE_ALLOW_LOOPBACK; refused by default).
    probe_port: int = 443
    probe_allow_loopback: bool = False
    # Issue 17: LIFETIME_API_TOKEN, a LifeTime service account's token (never on a command
    # line, never logged or stored), and CERTOPS_LIFETIME_URL, LifeTime's address
    # (`certops env sync` and `/cert env sync`).
    lifetime_api_token: str | None = field(default=None, repr=False)
    lifetime_url: str | None = None
    # CERTOPS_LIFETIME_ADDRESS, for tests and labs only: connect to this IP address instead
    # of resolving the LifeTime URL's host name (its certificate is still checked against
    # the name), as curl's --connect-to does.
    lifetime_address: str | None = None
    # Issue 17, the served-certificate probe: CERTOPS_PROBE_INTERVAL (seconds between two
    # probes of one hostname; 0: the bot's scheduler does not probe),
    # CERTOPS_PROBE_CONCURRENCY (connections at once), CERTOPS_PROBE_TIMEOUT (one
    # connection and handshake in all).
    probe_interval_seconds: float = 6 * 3600.0
    probe_concurrency: int = 16
    probe_timeout_seconds: float = 5.0

    @property
    def effective_database_url(self) -> str:
        """The database URL; the embedded default is a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'certops.db').as_posix()}"

    def problems(self) -> list[str]:
        """Every setting that is present but malformed, as one sentence each."""
        found = list(self.raw_errors)
        if self.slack_bot_token and not self.slack_bot_token.startswith("xoxb-"):
            found.append("SLACK_BOT_TOKEN must be a bot token (it starts with xoxb-)")
        if self.slack_app_token and not self.slack_app_token.startswith("xapp-"):
            found.append("SLACK_APP_TOKEN must be an app-level token (it starts with xapp-)")
        if not self.slack_api_url.startswith(("http://", "https://")):
            found.append("SLACK_API_URL must be an http(s) URL")
        if self.log_format not in {"text", "json"}:
            found.append("CERTOPS_LOG_FORMAT must be 'text' or 'json'")
        if self.log_level not in LOG_LEVELS:
            found.append(f"CERTOPS_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        if self.lifetime_api_token is not None and not _TOKEN.fullmatch(self.lifetime_api_token):
            # Never echoed: the value is the secret.
            found.append(
                "LIFETIME_API_TOKEN must be one token: printable characters without spaces, "
                f"at most {MAX_TOKEN_CHARS}"
            )
        if self.lifetime_url and not self.lifetime_url.lower().startswith("https://"):
            found.append(
                "CERTOPS_LIFETIME_URL must be an https:// URL (the token never goes over http)"
            )
        return found


def _operating(environ: Mapping[str, str], errors: list[str]) -> tuple[int | None, float]:
    """CERTOPS_METRICS_PORT and CERTOPS_SHUTDOWN_SECONDS; a bad value is added to `errors`."""
    port: int | None = None
    raw_port = (environ.get("CERTOPS_METRICS_PORT") or "").strip()
    if raw_port:
        if raw_port.isdigit() and 0 < int(raw_port) < 65536:
            port = int(raw_port)
        else:
            errors.append("CERTOPS_METRICS_PORT must be a port number from 1 to 65535")
    seconds = DEFAULT_SHUTDOWN_SECONDS
    raw_seconds = (environ.get("CERTOPS_SHUTDOWN_SECONDS") or "").strip()
    if raw_seconds:
        try:
            seconds = float(raw_seconds)
            if not 0 <= seconds <= 3600:
                raise ValueError(raw_seconds)
        except ValueError:
            errors.append("CERTOPS_SHUTDOWN_SECONDS must be a number of seconds from 0 to 3600")
            seconds = DEFAULT_SHUTDOWN_SECONDS
    return port, seconds


METRICS_SERIES = ("auto", "both", "per_certificate", "aggregated")


def _metrics_record(environ: Mapping[str, str], errors: list[str]) -> tuple[float, str]:
    """CERTOPS_METRICS_REFRESH (5 to 3600 s) and CERTOPS_METRICS_SERIES; bad values are
    added to `errors`. The modes are repeated in bot/metrics.py (tested equal) so that
    the settings import no Prometheus."""
    refresh = _number(environ, "CERTOPS_METRICS_REFRESH", 60.0, 5.0, 3600.0, errors)
    series = (environ.get("CERTOPS_METRICS_SERIES") or "auto").strip().lower()
    if series not in METRICS_SERIES:
        errors.append(f"CERTOPS_METRICS_SERIES must be one of {', '.join(METRICS_SERIES)}")
        series = "auto"
    return refresh, series


def _number(
    environ: Mapping[str, str],
    name: str,
    default: float,
    low: float,
    high: float,
    errors: list[str],
) -> float:
    """A number between `low` and `high` from `name`; the default (and an error) if not."""
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        errors.append(f"{name} must be a number from {low:g} to {high:g}")
        return default
    return value


def _flag(environ: Mapping[str, str], name: str, default: bool, errors: list[str]) -> bool:
    """1/0, true/false, yes/no, on/off; the default (and an error) for anything else."""
    raw = (environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    errors.append(f"{name} must be 1 or 0")
    return default


def _work(environ: Mapping[str, str], errors: list[str]) -> tuple[int, int, float]:
    """The worker pool's threads, the per-person cap, the download deadline (issue 11)."""
    threads = _number(environ, "CERTOPS_WORK_THREADS", DEFAULT_WORK_THREADS, 1, 64, errors)
    per_person = _number(
        environ,
        "CERTOPS_MAX_SUBMISSIONS_PER_PERSON",
        DEFAULT_SUBMISSIONS_PER_PERSON,
        1,
        100,
        errors,
    )
    deadline = _number(
        environ,
        "CERTOPS_DOWNLOAD_DEADLINE_SECONDS",
        DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
        1,
        600,
        errors,
    )
    return int(threads), int(per_person), deadline


def _nameservers(environ: Mapping[str, str], errors: list[str]) -> tuple[tuple[str, int], ...]:
    """CERTOPS_NAMESERVERS as (address, port) pairs; a bad entry is added to `errors`."""
    texts = _split(environ.get("CERTOPS_NAMESERVERS"))
    if not texts:  # the record commands import nothing of the pipeline (issue 16)
        return ()
    from bot.pipeline.nameservers import parse_nameserver

    parsed: list[tuple[str, int]] = []
    for text in texts:
        try:
            parsed.append(parse_nameserver(text))
        except ValueError as error:
            errors.append(f"CERTOPS_NAMESERVERS: {error}")
    return tuple(parsed)


def load(environ: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Read settings from `environ` (default: os.environ after loading `.env`)."""
    if environ is None:
        if dotenv:
            from dotenv import load_dotenv

            load_dotenv(override=False)
        environ = os.environ
    errors: list[str] = []
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    shares: tuple[float, ...] = ()
    raw_thresholds = environ.get("CERTOPS_WARNING_DAYS")
    if raw_thresholds:
        try:
            parts = _split(raw_thresholds)
            shares = tuple(sorted({_share(x) for x in parts if x.endswith("%")}, reverse=True))
            thresholds = tuple(sorted({int(x) for x in parts if not x.endswith("%")}, reverse=True))
            if any(days < 0 for days in thresholds):
                raise ValueError("negative")
        except ValueError:
            errors.append(
                "CERTOPS_WARNING_DAYS must be whole numbers of days or shares of the "
                "lifetime (like 33%) separated by commas"
            )
    interval = 60.0
    raw_interval = environ.get("CERTOPS_NOTIFY_INTERVAL")
    if raw_interval:
        try:
            interval = float(raw_interval)
            if interval <= 0:
                raise ValueError("not positive")
        except ValueError:
            errors.append("CERTOPS_NOTIFY_INTERVAL must be a number of seconds above 0")
            interval = 60.0
    lease = 300.0
    raw_lease = environ.get("CERTOPS_WARNING_LEASE_SECONDS")
    if raw_lease:
        try:
            lease = float(raw_lease)
            if lease <= 0:
                raise ValueError("not positive")
        except ValueError:
            errors.append("CERTOPS_WARNING_LEASE_SECONDS must be a number of seconds above 0")
            lease = 300.0
    window = DEFAULT_UPLOAD_WINDOW_SECONDS
    raw_window = environ.get("CERTOPS_UPLOAD_WINDOW_SECONDS")
    if raw_window:
        try:
            window = min(max(float(raw_window), 0.0), 60.0)
        except ValueError:
            errors.append("CERTOPS_UPLOAD_WINDOW_SECONDS must be a number of seconds")
    metrics_port, shutdown_seconds = _operating(environ, errors)
    metrics_refresh, metrics_series = _metrics_record(environ, errors)
    drain_seconds = _number(environ, "CERTOPS_DRAIN_SECONDS", 0.0, 0.0, 3600.0, errors)
    threads, per_person, download_deadline = _work(environ, errors)
    isolate = _flag(environ, "CERTOPS_ISOLATE_CHECKS", True, errors)
    nameservers = _nameservers(environ, errors)
    probe_port = int(_number(environ, "CERTOPS_PROBE_PORT", 443, 1, 65535, errors))
    allow_loopback = _flag(environ, "CERTOPS_PROBE_ALLOW_LOOPBACK", False, errors)
    probe_interval = _number(
        environ, "CERTOPS_PROBE_INTERVAL", 6 * 3600.0, 0.0, 7 * 86400.0, errors
    )
    probe_concurrency = int(_number(environ, "CERTOPS_PROBE_CONCURRENCY", 16, 1, 256, errors))
    probe_timeout = _number(environ, "CERTOPS_PROBE_TIMEOUT", 5.0, 0.5, 60.0, errors)
    api_url = environ.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not api_url.endswith("/"):
        api_url += "/"
    return Settings(
        slack_bot_token=environ.get("SLACK_BOT_TOKEN") or None,
        slack_app_token=environ.get("SLACK_APP_TOKEN") or None,
        slack_signing_secret=environ.get("SLACK_SIGNING_SECRET") or None,
        slack_api_url=api_url,
        database_url=environ.get("DATABASE_URL", ""),
        data_dir=Path(environ.get("CERTOPS_DATA_DIR") or DEFAULT_DATA_DIR),
        admins=_split(environ.get("CERTOPS_ADMINS")),
        default_channel=environ.get("CERTOPS_DEFAULT_CHANNEL") or None,
        load_balancer_patterns=_split(environ.get("CERTOPS_LOAD_BALANCER_PATTERNS"))
        or DEFAULT_LOAD_BALANCER_PATTERNS,
        warning_thresholds_days=thresholds,
        warning_shares=shares,
        notify_interval_seconds=interval,
        warning_lease_seconds=lease,
        log_format=(environ.get("CERTOPS_LOG_FORMAT") or "text").lower(),
        log_level=(environ.get("CERTOPS_LOG_LEVEL") or "INFO").strip().upper(),
        metrics_port=metrics_port,
        shutdown_seconds=shutdown_seconds,
        metrics_refresh_seconds=metrics_refresh,
        metrics_series=metrics_series,
        drain_seconds=drain_seconds,
        raw_errors=tuple(errors),
        upload_window_seconds=window,
        work_threads=threads,
        max_submissions_per_person=per_person,
        download_deadline_seconds=download_deadline,
        isolate_checks=isolate,
        nameservers=nameservers,
        probe_port=probe_port,
        probe_allow_loopback=allow_loopback,
        trust_store=tuple(
            Path(part) for part in (environ.get("CERTOPS_TRUST_STORE") or "").split(":") if part
        ),
        lifetime_api_token=(environ.get("LIFETIME_API_TOKEN") or "").strip() or None,
        lifetime_url=(environ.get("CERTOPS_LIFETIME_URL") or "").strip() or None,
        lifetime_address=(environ.get("CERTOPS_LIFETIME_ADDRESS") or "").strip() or None,
        probe_interval_seconds=probe_interval,
        probe_concurrency=probe_concurrency,
        probe_timeout_seconds=probe_timeout,
    )
