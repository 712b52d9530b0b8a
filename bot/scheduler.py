"""The bot's own clock-driven work: expiry warnings and post-assignment TLS checks.

A small daemon thread runs every job each `interval` seconds (CERTOPS_NOTIFY_INTERVAL,
default 60). No job store and no in-process locking: every job claims its work in the
database (a unique notification row, a compare-and-set on a check row), so any number of
bot replicas, plus `certops notify --once` from cron, can run the same jobs at once and
each warning is still posted once. A job that raises is logged and retried next tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from bot.services import expiry, tls_check
from bot.services.context import ServiceContext
from bot.settings import Settings

log = logging.getLogger("certops.scheduler")

Job = tuple[str, Callable[[], Any]]


@dataclass
class Jobs:
    """What one tick runs, built once from settings, services and a Web API client."""

    services: ServiceContext
    publisher: expiry.Publisher
    config: expiry.ExpiryConfig
    tls_publisher: tls_check.TlsPublisher | None
    tls_config: tls_check.TlsCheckConfig
    pacer: expiry.ChannelPacer

    def expiry(self) -> expiry.ScanReport:
        return expiry.run_scan(self.services, self.publisher, self.config, self.pacer)

    def tls(self) -> tls_check.TlsReport:
        return tls_check.run_checks(self.services, self.tls_config, self.tls_publisher)

    def release_claims(self) -> int:
        """Give back the warnings claimed and not yet posting (the process is stopping)."""
        return self.config.held.release_all(self.services)

    def as_list(self, *, with_tls: bool = True) -> list[Job]:
        jobs: list[Job] = [("expiry", self.expiry)]
        if with_tls:
            jobs.append(("tls", self.tls))
        return jobs


def build_jobs(
    settings: Settings,
    services: ServiceContext,
    client: WebClient,
    *,
    tls_config: tls_check.TlsCheckConfig | None = None,
    pacer: expiry.ChannelPacer | None = None,
) -> Jobs:
    from handlers.warnings.publisher import SlackPublisher, SlackTlsPublisher, warning_client

    client = warning_client(settings, client)
    config = expiry.config_from_settings(settings)
    # One post per second per channel across replicas, and a 429 holds every replica back.
    pacer = pacer or expiry.SharedPacer(services, stopping=lambda: config.held.closing)
    return Jobs(
        services=services,
        publisher=SlackPublisher(client, on_rate_limited=pacer.hold),
        config=config,
        tls_publisher=SlackTlsPublisher(client),
        tls_config=tls_config or tls_check.TlsCheckConfig(default_channel=settings.default_channel),
        pacer=pacer,
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
    ) -> None:
        self.jobs = list(jobs)
        self._on_stop = on_stop
        self.interval = interval
        self.first_delay = first_delay
        self.ticks = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="certops-scheduler", daemon=True)
        self._thread.start()
        log.info("scheduler started: every %.0f s", self.interval)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop ticking; then run `on_stop` (give back claims), also when the tick in
        progress has not finished within `timeout`: it claims nothing more once told."""
        self._stop.set()
        on_stop, self._on_stop = self._on_stop, None
        if on_stop is not None:
            try:
                on_stop()
            except Exception as error:
                log.warning("scheduler stop: %s: %s", type(error).__name__, error)
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        if self._stop.wait(self.first_delay):
            return
        while not self._stop.is_set():
            run_once(self.jobs)
            self.ticks += 1
            self._stop.wait(self.interval)


def start_scheduler(
    settings: Settings, services: ServiceContext, client: WebClient, **options: Any
) -> Scheduler:
    """The scheduler of `certops run` (Socket Mode, HTTP and console)."""
    jobs = build_jobs(settings, services, client, **options)
    interval = settings.notify_interval_seconds
    # The first scan a few seconds after start (the app is up by then), or sooner when
    # the interval is shorter.
    return Scheduler(
        jobs.as_list(), interval, first_delay=min(5.0, interval), on_stop=jobs.release_claims
    ).start()
