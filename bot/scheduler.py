"""The bot's own clock-driven work: expiry warnings, post-assignment TLS checks and the
served-certificate probe (each hostname every CERTOPS_PROBE_INTERVAL, 0: off).

A small daemon thread runs every job each `interval` seconds (CERTOPS_NOTIFY_INTERVAL,
default 60); the probe has a thread of its own (`OWN_THREAD`), so a long probe run (about
25 s for 1,000 hostnames, longer with silent ones) never holds back a due warning. No job store and no in-process locking: every job claims its work in the
database (a unique notification row, a compare-and-set on a check row), so any number of
bot replicas, plus `certops notify --once` from cron, can run the same jobs at once and
each warning is still posted once. A job that raises is logged and retried next tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from bot.services import expiry, served, tls_check
from bot.services.context import ServiceContext
from bot.settings import Settings

log = logging.getLogger("certops.scheduler")

Job = tuple[str, Callable[[], Any]]

# Jobs that tick on a thread of their own, apart from the expiry scan and the TLS checks.
OWN_THREAD = frozenset({"probe"})


@dataclass
class Jobs:
    """What one tick runs, built once from settings, services and a Web API client."""

    services: ServiceContext
    publisher: expiry.Publisher
    config: expiry.ExpiryConfig
    tls_publisher: tls_check.TlsPublisher | None
    tls_config: tls_check.TlsCheckConfig
    pacer: expiry.ChannelPacer
    probe_config: served.ProbeConfig | None = None  # None: the probe is off
    stopping: Callable[[], bool] = lambda: False

    def expiry(self) -> expiry.ScanReport:
        return expiry.run_scan(self.services, self.publisher, self.config, self.pacer)

    def tls(self) -> tls_check.TlsReport:
        return tls_check.run_checks(self.services, self.tls_config, self.tls_publisher)

    def probe(self) -> served.ProbeReport:
        """Probe the hostnames that are due, then post the changes not said yet."""
        if self.probe_config is None:
            return served.ProbeReport()
        report = served.run_probe(self.services, self.probe_config, stopping=self.stopping)
        publisher: Any = self.publisher
        return served.post_changes(
            self.services, self.probe_config, publisher, self.config, self.pacer, report
        )

    def release_claims(self) -> int:
        """Give back the warnings claimed and not yet posting (the process is stopping)."""
        return self.config.held.release_all(self.services)

    def as_list(self, *, with_tls: bool = True, with_probe: bool = False) -> list[Job]:
        """The jobs of one tick; the probe only where asked (the bot's scheduler), not in
        `certops notify --once` (cron has `certops probe --once` for it)."""
        jobs: list[Job] = [("expiry", self.expiry)]
        if with_tls:
            jobs.append(("tls", self.tls))
        if with_probe and self.probe_config is not None:
            jobs.append(("probe", self.probe))
        return jobs


def build_jobs(
    settings: Settings,
    services: ServiceContext,
    client: WebClient,
    *,
    tls_config: tls_check.TlsCheckConfig | None = None,
    pacer: expiry.ChannelPacer | None = None,
    stopping: threading.Event | None = None,
) -> Jobs:
    """`stopping`: once set, a wait for Slack's rate limit ends at once (the post fails
    and its claim goes back), so a stop keeps to its grace period."""
    from handlers.warnings.publisher import SlackPublisher, SlackTlsPublisher, warning_client

    client = warning_client(settings, client, stopping)
    config = expiry.config_from_settings(settings)

    def closing() -> bool:
        return config.held.closing or (stopping is not None and stopping.is_set())

    # One post per second per channel across replicas, and a 429 holds every replica back.
    pacer = pacer or expiry.SharedPacer(services, stopping=closing)
    return Jobs(
        services=services,
        publisher=SlackPublisher(client, on_rate_limited=pacer.hold),
        config=config,
        tls_publisher=SlackTlsPublisher(client),
        tls_config=tls_config
        or tls_check.TlsCheckConfig(
            default_channel=settings.default_channel, probe=served.config_from_settings(settings)
        ),
        pacer=pacer,
        probe_config=(
            served.config_from_settings(settings) if settings.probe_interval_seconds > 0 else None
        ),
        stopping=closing,
    )


def run_once(jobs: Sequence[Job]) -> dict[str, Any]:
    """Run each job once; a failure is logged and returned, never raised."""
    results: dict[str, Any] = {}
    for name, job in jobs:
        try:
            results[name] = job()
        except Exception as error:
            log.warning("scheduled job %s failed: %s: %s", name, type(error).__name__, error)
            results[name] = error
    return results


class Scheduler:
    """Runs the jobs every `interval` seconds on a daemon thread until `stop()`."""

    def __init__(
        self,
        jobs: Sequence[Job],
        interval: float,
        first_delay: float = 5.0,
        on_stop: Callable[[], Any] | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        """`stopping`: an event that stops the ticks when set, by `stop()` or by whoever
        else shares it (`certops run` passes its SIGTERM event: no tick starts after it,
        and `on_stop` runs at once, so the tick in progress claims no more warnings)."""
        self.jobs = list(jobs)
        self._on_stop = on_stop
        self.interval = interval
        self.first_delay = first_delay
        self.ticks = 0
        self._stop = stopping or threading.Event()
        self._stopped = False
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._watcher: threading.Thread | None = None

    def lanes(self) -> list[list[Job]]:
        """The jobs as the threads run them: the shared lane first (it counts `ticks`),
        then one lane for each job of `OWN_THREAD`."""
        shared = [job for job in self.jobs if job[0] not in OWN_THREAD]
        return [shared] + [[job] for job in self.jobs if job[0] in OWN_THREAD]

    @property
    def running(self) -> bool:
        """A lane's thread is still alive (started and not yet stopped)."""
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> Scheduler:
        for number, lane in enumerate(self.lanes()):
            name = "certops-scheduler" if number == 0 else f"certops-scheduler-{lane[0][0]}"
            thread = threading.Thread(
                target=self._loop, args=(lane, number == 0), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self._on_stop is not None:
            self._watcher = threading.Thread(
                target=self._stop_when_told, name="certops-scheduler-stop", daemon=True
            )
            self._watcher.start()
        log.info("scheduler started: every %.0f s", self.interval)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop ticking; then run `on_stop` (give back claims), also when the tick in
        progress has not finished within `timeout`: it claims nothing more once told.
        Only the first call waits: a stop is bounded by the first caller's `timeout`."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._run_on_stop()
        for thread in (self._watcher, *self._threads):  # the watcher may be giving back
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _stop_when_told(self) -> None:
        self._stop.wait()
        self._run_on_stop()

    def _run_on_stop(self) -> None:
        with self._lock:
            on_stop, self._on_stop = self._on_stop, None
        if on_stop is not None:
            try:
                on_stop()
            except Exception as error:
                log.warning("scheduler stop: %s: %s", type(error).__name__, error)

    def _loop(self, jobs: list[Job], counts: bool) -> None:
        if self._stop.wait(self.first_delay):
            return
        while not self._stop.is_set():
            run_once(jobs)
            if counts:
                self.ticks += 1
            self._stop.wait(self.interval)


def start_scheduler(
    settings: Settings,
    services: ServiceContext,
    client: WebClient,
    stopping: threading.Event | None = None,
    **options: Any,
) -> Scheduler:
    """The scheduler of `certops run` (Socket Mode, HTTP and console); `stopping` stops
    its ticks and cuts its rate-limit waits short when set."""
    stopping = stopping or threading.Event()
    jobs = build_jobs(settings, services, client, stopping=stopping, **options)
    interval = settings.notify_interval_seconds
    # The first scan a few seconds after start (the app is up by then), or sooner when
    # the interval is shorter.
    return Scheduler(
        jobs.as_list(with_probe=True),
        interval,
        first_delay=min(5.0, interval),
        on_stop=jobs.release_claims,
        stopping=stopping,
    ).start()
