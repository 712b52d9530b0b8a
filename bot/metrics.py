"""Prometheus metrics for one app: what the record holds, and what the process did.

One `Metrics` per app, each with its own `CollectorRegistry` (never the global default),
so tests, the console and several apps in one process never see each other's counts.

Two kinds of numbers:

- Read from the database on a timer (every CERTOPS_METRICS_REFRESH seconds) by a custom
  collector (`RecordCollector`) and served from memory at each scrape:
  certificates by status, each certificate's expiry (labelled by certificate and
  environment, named and labelled after the x509-certificate-exporter's
  `x509_cert_not_after` / `x509_cert_expires_in_seconds` / `x509_cert_expired`), and
  warnings posted (the `Notification` rows with a `posted_at`). These survive restarts
  and agree between replicas, because the database is their only source.
- Counted by this process where things happen: validations by verdict, Slack Web API
  errors by method and error, Slack request latency (request in -> ack) and handler
  latency (listener start -> end) by kind of request.

How the counting reaches the code where things happen, without a global:
- Slack API errors and request latency: `bot.metrics_slack` (a slack-sdk retry handler
  that only watches, and a wrapper around `app.dispatch`); this module imports no Slack.
- Handler latency: `MeteredExecutor`, the listener executor `create_app` gives Bolt.
- Validations: the services call `record_validation(verdict)`, which counts on the
  metrics bound to the current context (a contextvar set while a request is dispatched
  and copied into the listener threads, or `Metrics.bound()`); elsewhere it does nothing.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# What the services call (`current`, `record_validation`) lives in bot.metrics_scope, free
# of Prometheus; importable from here too.
from bot.metrics_scope import _current, current, record_validation  # noqa: F401
from bot.services.deadlines import Bounded
from storage.enums import CertificateStatus

if TYPE_CHECKING:
    from storage.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A scrape answers within Prometheus' default 10 s timeout even when the database hangs.
RECORD_READ_SECONDS = 2.0
RECORD_READS_IN_FLIGHT = 2
DEFAULT_REFRESH_SECONDS = 60.0
# A refresh runs off the scrape path, so it may take longer than a scrape; past this it
# counts as failed (`certops_database_up 0`) and the next one starts on time.
REFRESH_READ_SECONDS = 30.0
SERIES_MODES = ("auto", "both", "per_certificate", "aggregated")
# `auto` serves both kinds of series up to this many expiry series (certificate x
# environment), only the aggregated ones above (docs/operating.md gives the costs).
AUTO_PER_CERTIFICATE_LIMIT = 10_000
# Days-left buckets of `certops_certificates_by_days_left`: (label, days at most).
DAYS_LEFT_BUCKETS = (
    ("expired", 0),
    ("0-7d", 7),
    ("7-14d", 14),
    ("14-30d", 30),
    ("30-60d", 60),
    ("60-90d", 90),
)
OVER_BUCKET = "over-90d"
# Slack answers within 3 s or retries; handlers (DNS, validation) may take longer.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
HANDLER_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Every status of the record, from its one list (a new status gets its gauge without an edit).
STATUSES = tuple(str(status) for status in CertificateStatus)
# Certificates that no longer matter (replaced, refused) get no expiry series.
EXPIRY_STATUSES = ("validated", "pending_manual", "approved", "observed")
CERT_LABELS = (
    "certificate",
    "environment",
    "hostname",
    "status",
    "subject_CN",
    "issuer_CN",
    "serial_number",
)

_kind: contextvars.ContextVar[str] = contextvars.ContextVar("certops_request_kind", default="other")


class Metrics:
    """The registry of one app and the instruments the process counts with."""

    def __init__(
        self,
        database: Database | None = None,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        series: str = "auto",
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.database = database
        self.validations = Counter(
            "certops_validations",
            "Certificate validations by verdict.",
            ["verdict"],
            registry=self.registry,
        )
        self.slack_api_errors = Counter(
            "certops_slack_api_errors",
            "Slack Web API calls that failed (ok=false, HTTP error or no connection).",
            ["method", "error"],
            registry=self.registry,
        )
        self.slack_requests = Histogram(
            "certops_slack_request_seconds",
            "Slack requests from arrival to the answer (the ack), by kind.",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "certops_handler_seconds",
            "Listener runs from start to end (the work after the ack included), by kind.",
            ["kind"],
            buckets=HANDLER_BUCKETS,
            registry=self.registry,
        )
        self.handlers_in_flight = Gauge(
            "certops_handlers_in_flight",
            "Listener runs started and not yet finished.",
            registry=self.registry,
        )
        self.work_in_flight = Gauge(
            "certops_work_in_flight",
            "Slow work after the ack (checks, downloads, DNS, upload windows) queued, "
            "running or waiting on a timer in the work pool.",
            registry=self.registry,
        )
        self.work_queued = Gauge(
            "certops_work_queued",
            "Work waiting in the work pool for a free worker.",
            registry=self.registry,
        )
        # The record's gauges (None without a database): refreshed on a timer.
        self.record: RecordCollector | None = None
        if database is not None:
            self.record = RecordCollector(database, refresh_seconds=refresh_seconds, series=series)
            self.registry.register(self.record)

    def watch_work(self, pool: Any) -> None:
        """Read the work pool's counts at each scrape (bot/work_pool.WorkPool)."""
        self.work_in_flight.set_function(lambda: float(pool.pending))
        self.work_queued.set_function(lambda: float(pool.queued))

    def render(self) -> bytes:
        """The Prometheus text format of everything in this registry, and the record's
        per-certificate series as rendered at its last refresh."""
        text = generate_latest(self.registry)
        return text + self.record.rendered() if self.record is not None else text

    @contextmanager
    def bound(self) -> Iterator[Metrics]:
        """Make these the metrics `record_validation` counts on, for the block."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)


def watch_socket_mode(metrics: Metrics | None, connected: Callable[[], bool]) -> None:
    """`certops_socket_mode_connected`, read at scrape time (Socket Mode only: in HTTP
    mode there is no connection to report)."""
    if metrics is None:
        return
    gauge = Gauge(
        "certops_socket_mode_connected",
        "1 while a Socket Mode connection to Slack is open, 0 while none is.",
        registry=metrics.registry,
    )
    gauge.set_function(lambda: 1.0 if connected() else 0.0)


# --- request latency, request id, listener latency -------------------------------------
class MeteredExecutor(Executor):
    """The listener executor, timing each run and counting those in flight.

    Knowing what is in flight is also what lets a clean shutdown wait for it.
    """

    def __init__(self, inner: Executor, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        kind = _kind.get()
        with self._idle:
            self._pending += 1
        self.metrics.handlers_in_flight.inc()

        def timed() -> T:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.metrics.handler_seconds.labels(kind=kind).observe(
                    time.perf_counter() - started
                )

        try:
            future = self.inner.submit(timed)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any] | None) -> None:
        self.metrics.handlers_in_flight.dec()
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no listener runs; False if some still did after `timeout` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=max(timeout, 0))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


_by_app: weakref.WeakKeyDictionary[Any, Metrics] = weakref.WeakKeyDictionary()


def attach(app: object, metrics: Metrics) -> None:
    """Remember `metrics` as `app`'s (done by `bot.metrics_slack.instrument`)."""
    _by_app[app] = metrics


def metrics_for(app: object) -> Metrics | None:
    """The metrics attached to `app`."""
    return _by_app.get(app)


@contextmanager
def request_scope(metrics: Metrics, kind: str) -> Iterator[None]:
    """While a request is dispatched: its metrics and kind, for this thread and the
    listener runs it submits (the executor copies the context)."""
    tokens = (_current.set(metrics), _kind.set(kind))
    try:
        yield
    finally:
        _kind.reset(tokens[1])
        _current.reset(tokens[0])


# --- read from the record on a timer, served from memory at each scrape ----------------


def _common_name(rfc4514: str | None) -> str:
    """The CN of an RFC 4514 name string as stored (`CN=shop.example.com,O=...`)."""
    if not rfc4514:
        return ""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        found = x509.Name.from_rfc4514_string(rfc4514).get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return ""
    return str(found[0].value) if found else ""


class RecordCollector(Collector):
    """The record's gauges, computed from the database on a timer and served from memory.

    A scrape never reads the database: at 100,000 certificates the read and the label
    work took 9 s, close to Prometheus' 10 s scrape timeout, and a scrape during a
    SIGTERM held the stop. A daemon thread refreshes every `refresh_seconds` with a few
    set-based queries (GROUP BY in the database); `certops_record_refreshed_timestamp_seconds`
    says how old the figures are. Every replica reads the same record, so every replica
    shows the same figures (within one refresh period). A database that cannot be read
    (or does not answer within `REFRESH_READ_SECONDS`) gives `certops_database_up 0`
    and no record series, never a failed scrape; the first scrape waits for the first
    refresh at most `RECORD_READ_SECONDS`.

    `series`: `per_certificate` (x509-certificate-exporter-compatible, one series per
    certificate and environment), `aggregated` (counts by environment and days-left
    bucket, soonest expiry per environment), `both`, or `auto` (both up to
    `AUTO_PER_CERTIFICATE_LIMIT` expiry series, aggregated only above).
    """

    def __init__(
        self,
        database: Database,
        clock: Callable[[], dt.datetime] | None = None,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        series: str = "auto",
    ) -> None:
        if series not in SERIES_MODES:
            raise ValueError(f"series must be one of {', '.join(SERIES_MODES)}")
        self.database = database
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.refresh_seconds = refresh_seconds
        self.series = series
        self._reads = Bounded("certops-metrics-read", RECORD_READS_IN_FLIGHT)
        self._families: list[Metric] | None = None  # None: the last refresh failed
        # The per-certificate series, rendered once per refresh: formatting 300,000
        # samples took prometheus_client 4-6 s per scrape at 100,000 certificates.
        self._text = b""
        self._refreshed_at = 0.0  # Unix time of the last successful refresh
        self._refresh_took = 0.0
        self._first = threading.Event()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        self.start()
        self._first.wait(RECORD_READ_SECONDS)
        families = self._families  # one read: a refresh swaps the whole list
        up = GaugeMetricFamily("certops_database_up", "1 when the database could be read.")
        up.add_metric([], 0 if families is None else 1)
        refreshed = GaugeMetricFamily(
            "certops_record_refreshed_timestamp_seconds",
            "When the record's figures were last read from the database (Unix time).",
        )
        refreshed.add_metric([], self._refreshed_at)
        took = GaugeMetricFamily(
            "certops_record_refresh_seconds", "How long the last refresh of the record took."
        )
        took.add_metric([], self._refresh_took)
        return [up, refreshed, took, *(families or [])]

    # --- the timer ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the refresh timer (once; the first scrape does it if nobody did)."""
        with self._start_lock:
            if self._timer is not None:
                return
            self._timer = threading.Thread(
                target=_refresh_loop,
                args=(weakref.ref(self), self._stop, self.refresh_seconds),
                name="certops-metrics-refresh",
                daemon=True,
            )
            self._timer.start()

    def stop(self) -> None:
        self._stop.set()

    def refresh(self) -> bool:
        """Read the record now and serve the result from the next scrape on; False (and
        `certops_database_up 0`) when the database could not be read in time."""
        started = time.perf_counter()
        try:
            families, rows, now = self._reads.call(self._read, REFRESH_READ_SECONDS)
            # Rendering is CPU work, not a wait on the database: outside the bound.
            text = _per_certificate(rows, now) if rows is not None else b""
        except Exception as error:  # the scrape must answer; say why in the log only
            log.warning("metrics: cannot read the database: %s", type(error).__name__)
            self._families, self._text = None, b""
            self._first.set()
            return False
        self._families, self._text = families, text
        self._refreshed_at = time.time()
        self._refresh_took = time.perf_counter() - started
        self._first.set()  # after the figures are in place: the first scrape waits on it
        return True

    # --- the read -----------------------------------------------------------------------
    def rendered(self) -> bytes:
        """The per-certificate series of the last refresh, in the text format (empty
        when not served): `Metrics.render` appends them to the registry's answer."""
        return self._text

    def _read(self) -> tuple[list[Metric], list[Any] | None, dt.datetime]:
        """The families made from the record, and the per-certificate rows (None: not
        served) with the time they were read at."""
        from storage import queries

        now = self.clock()
        bounds = [(label, now + dt.timedelta(days=days)) for label, days in DAYS_LEFT_BUCKETS]
        with self.database.session() as session:
            counts = queries.status_counts(session)
            summary = queries.expiry_summary(session, EXPIRY_STATUSES, bounds, OVER_BUCKET)
            total = sum(count for _, _, count, _ in summary)
            per_certificate = self.series in ("both", "per_certificate") or (
                self.series == "auto" and total <= AUTO_PER_CERTIFICATE_LIMIT
            )
            rows = queries.expiry_series_rows(session, EXPIRY_STATUSES) if per_certificate else []
            warnings = queries.posted_warning_counts(session)
            served = queries.served_match_rows(session)
        by_status = GaugeMetricFamily(
            "certops_certificates", "Certificates in the record by status.", labels=["status"]
        )
        for status in STATUSES:
            by_status.add_metric([status], float(counts.get(status, 0)))
        posted = CounterMetricFamily(
            "certops_warnings_posted",
            "Expiry warnings posted in channels (from the record: all replicas together).",
            labels=["threshold"],
        )
        for threshold, count in warnings:
            posted.add_metric([threshold], float(count))
        mode = GaugeMetricFamily(
            "certops_record_per_certificate_series",
            "1 when the per-certificate expiry series are served (CERTOPS_METRICS_SERIES).",
        )
        mode.add_metric([], 1.0 if per_certificate else 0.0)
        families: list[Metric] = [by_status, posted, mode, *_served(served)]
        if self.series != "per_certificate":
            families += _aggregated(summary)
        return families, rows if per_certificate else None, now


def _refresh_loop(
    ref: weakref.ReferenceType[RecordCollector], stop: threading.Event, seconds: float
) -> None:
    """Refresh until stopped or until the collector is gone (holds no strong reference
    while it waits, so a dropped app's collector can be collected)."""
    while not stop.is_set():
        collector = ref()
        if collector is None:
            return
        collector.refresh()
        del collector
        stop.wait(seconds)


def _served(rows: list[Any]) -> list[Metric]:
    """What each probed hostname serves (issue 17): 1 when it is the recorded certificate,
    and the served certificate's expiry as a series of its own."""
    match = GaugeMetricFamily(
        "certops_served_certificate_match",
        "1 when the hostname serves the recorded certificate (latest probe), else 0.",
        labels=["environment", "hostname"],
    )
    expiry = GaugeMetricFamily(
        "certops_served_certificate_not_after",
        "Expiry (Unix time) of the certificate the hostname served at the latest probe.",
        labels=["environment", "hostname"],
    )
    for environment, hostname, outcome, not_after in rows:
        labels = [environment or "", hostname]
        match.add_metric(labels, 1.0 if outcome == "ok" else 0.0)
        if not_after is not None:
            expiry.add_metric(labels, not_after.timestamp())  # UTCDateTime: aware
    return [match, expiry]


def _aggregated(summary: list[tuple[str, str, int, dt.datetime]]) -> list[Metric]:
    """Counts by environment and days-left bucket, and the soonest expiry per environment
    (environment "" for the certificates that serve none)."""
    by_bucket = GaugeMetricFamily(
        "certops_certificates_by_days_left",
        "Current certificates per environment served, by days left before expiry.",
        labels=["environment", "days_left"],
    )
    soonest: dict[str, dt.datetime] = {}
    for environment, bucket, count, first in summary:
        by_bucket.add_metric([environment, bucket], float(count))
        if first is not None and (environment not in soonest or first < soonest[environment]):
            soonest[environment] = first
    soonest_family = GaugeMetricFamily(
        "certops_environment_soonest_expiry",
        "The soonest expiry (Unix time) among the current certificates of each environment.",
        labels=["environment"],
    )
    for environment, first in sorted(soonest.items()):
        soonest_family.add_metric([environment], first.timestamp())
    return [by_bucket, soonest_family]


class _Fixed(Collector):
    """Families already made, for `generate_latest` (which only calls `collect`)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _text(families: list[Metric], header: bool) -> bytes:
    """The text format of `families`; without the `# HELP`/`# TYPE` lines for the
    chunks after a family's first."""
    text = generate_latest(_Fixed(families))
    return text if header else text.split(b"\n", 2)[2]


PER_CERTIFICATE_FAMILIES = (
    (
        "certops_cert_not_after",
        "Expiry of each current certificate (Unix time), per environment it serves.",
    ),
    (
        "certops_cert_expires_in_seconds",
        "Seconds until each current certificate expires (negative once expired), as of the last refresh.",
    ),
    ("certops_cert_expired", "1 when the certificate has expired."),
)
RENDER_CHUNK = 5_000


def _per_certificate(rows: list[Any], now: dt.datetime) -> bytes:
    """One series per certificate and environment, x509-certificate-exporter style, in
    the text format. Made `RENDER_CHUNK` rows at a time so that the samples of 100,000
    certificates never all exist as objects at once (they took 500 MiB)."""
    parts: list[list[bytes]] = [[] for _ in PER_CERTIFICATE_FAMILIES]
    names: dict[str | None, str] = {}  # subject and issuer CNs repeat: parse each once
    for start in range(0, max(len(rows), 1), RENDER_CHUNK):
        families = [
            GaugeMetricFamily(n, h, labels=CERT_LABELS) for n, h in PER_CERTIFICATE_FAMILIES
        ]
        not_after, expires_in, expired = families
        for name, status, subject, issuer, serial, expiry, environment, hostname in rows[
            start : start + RENDER_CHUNK
        ]:
            for rfc4514 in (subject, issuer):
                if rfc4514 not in names:
                    names[rfc4514] = _common_name(rfc4514)
            labels = [
                name,
                environment or "",
                hostname or "",
                str(getattr(status, "value", status)),
                names[subject],
                names[issuer],
                serial or "",
            ]
            left = (expiry - now).total_seconds()
            not_after.add_metric(labels, expiry.timestamp())
            expires_in.add_metric(labels, left)
            expired.add_metric(labels, 1.0 if left <= 0 else 0.0)
        for family, found in zip(families, parts, strict=True):
            found.append(_text([family], header=start == 0))
    return b"".join(b"".join(found) for found in parts)
