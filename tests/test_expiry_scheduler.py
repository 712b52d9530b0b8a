"""The scheduler in the bot process: it runs the jobs on its thread, survives a failing
one, stops cleanly; `build_jobs` wires the real publisher to the Slack stand-in."""

from __future__ import annotations

import threading
import time

from bot.app import create_client
from bot.console.slack_api import FakeSlackApi
from bot.scheduler import Scheduler, build_jobs, run_once
from bot.services.context import ServiceContext
from storage.db import Database
from tests.support.notify import TOKEN, seed
from tests.support.slack_harness import harness_settings


def test_scheduler_ticks_survives_a_failing_job_and_stops() -> None:
    ran = threading.Event()
    calls: list[str] = []

    def failing() -> None:
        calls.append("fail")
        raise RuntimeError("boom")

    def working() -> str:
        calls.append("ok")
        if calls.count("ok") >= 2:
            ran.set()
        return "done"

    scheduler = Scheduler([("a", failing), ("b", working)], interval=0.05, first_delay=0).start()
    assert ran.wait(5), "the jobs ran twice"
    scheduler.stop()
    assert scheduler.ticks >= 2 and calls[:2] == ["fail", "ok"]
    count = len(calls)
    time.sleep(0.2)
    assert len(calls) == count  # stopped
    results = run_once([("a", failing), ("b", working)])
    assert isinstance(results["a"], RuntimeError) and results["b"] == "done"


def test_build_jobs_posts_through_the_stand_in(sqlite_url: str, api: FakeSlackApi) -> None:
    seed(sqlite_url, 2)
    settings = harness_settings(
        sqlite_url, slack_bot_token=TOKEN, slack_api_url=api.api_url, default_channel="C0DEF"
    )
    database = Database(sqlite_url)
    try:
        jobs = build_jobs(settings, ServiceContext(database=database), create_client(settings))
        results = run_once(jobs.as_list())
    finally:
        database.dispose()
    assert results["expiry"].posted == 2
    assert results["tls"].scheduled == 0  # the seeded assignments are older than the lookback
    assert len(api.calls("chat.postMessage")) == 2


def test_certops_run_starts_the_scheduler(sqlite_url: str, api: FakeSlackApi) -> None:
    from bot.cli.startup import start_scheduler

    seed(sqlite_url, 1)
    settings = harness_settings(
        sqlite_url, slack_bot_token=TOKEN, slack_api_url=api.api_url, notify_interval_seconds=0.1
    )
    database = Database(sqlite_url)
    scheduler = start_scheduler(settings, database, create_client(settings))
    try:
        assert scheduler.running
        api.wait_for("chat.postMessage", 1, timeout=10)
    finally:
        scheduler.stop()
        database.dispose()
    assert not scheduler.running


def test_a_long_probe_run_never_holds_back_the_expiry_scan() -> None:
    """The probe ticks on a thread of its own: while one probe run hangs, the expiry scan
    (and the TLS checks) keep ticking, and stop() still returns."""
    from bot.scheduler import Scheduler

    release = threading.Event()
    scans = threading.Semaphore(0)
    probes: list[str] = []

    def hung_probe() -> None:
        probes.append(threading.current_thread().name)
        release.wait(30)

    scheduler = Scheduler(
        [("expiry", scans.release), ("probe", hung_probe)], interval=0.01, first_delay=0
    ).start()
    try:
        assert [len(lane) for lane in scheduler.lanes()] == [1, 1]
        for _ in range(3):  # three scans while the probe's first run still hangs
            assert scans.acquire(timeout=20)
        assert probes == ["certops-scheduler-probe"] and not release.is_set()
    finally:
        release.set()
        scheduler.stop(timeout=5)
    assert scheduler.ticks >= 3
