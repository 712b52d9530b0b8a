"""SIGTERM: `certops run --http` as a real process stops taking work, finishes what is in
flight (within CERTOPS_SHUTDOWN_SECONDS), runs its shutdown callbacks and exits 0.

The slow request in flight is a real one: an App Home opened, acknowledged at once, whose
listener then waits on Slack's Web API (the stand-in holds `views.publish` back)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.console.sender import SlackSender
from bot.console.slack_api import FakeSlackApi
from bot.shutdown import Shutdown
from storage.db import Database
from storage.models import Certificate, CertificateStatus, Notification, SubmittedFormat
from tests.support.certops_run import (
    free_port,
    gauge,
    get,
    run_environ,
    start_http,
    wait_in_flight,
)

SECRET = "shutdown-test-signing-secret"
TOKEN = "xoxb-shutdown-test"
USER = "USHUTDOWN"


@contextmanager
def running(
    tmp_path: Path, api: FakeSlackApi, grace: float, **settings: str
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    environ = run_environ(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api.api_url,
        CERTOPS_DATA_DIR=str(tmp_path / "data"),
        CERTOPS_SHUTDOWN_SECONDS=str(grace),
        CERTOPS_NOTIFY_INTERVAL="3600",
        **settings,
    )
    process = start_http(port, tmp_path, environ)
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return False
    except OSError:
        return True


def open_home(port: int) -> None:
    sender = SlackSender(f"http://127.0.0.1:{port}", SECRET)
    sent = sender.event({"type": "app_home_opened", "user": USER, "tab": "home", "channel": "D1"})
    assert sent.status == 200  # acknowledged before the slow work


def test_sigterm_finishes_the_work_in_flight_then_exits_0(tmp_path: Path) -> None:
    with FakeSlackApi(bot_token=TOKEN) as api, running(tmp_path, api, grace=20) as (process, port):
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/readyz") == (200, "ready\n")
        assert gauge(port, "certops_database_up") == 1
        api.delays["views.publish"] = 2.0
        open_home(port)
        wait_in_flight(port, 1)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while get(port, "/readyz")[0] != 503:  # the socket stays open: a balancer drains
            assert time.monotonic() < deadline, "/readyz still ready after SIGTERM"
            time.sleep(0.02)
        assert get(port, "/readyz") == (503, "shutting down\n")
        refusal = SlackSender(f"http://127.0.0.1:{port}", SECRET).event(
            {"type": "app_home_opened", "user": "UOTHER", "tab": "home", "channel": "D2"}
        )
        assert refusal.status == 503  # new Slack work is refused (Slack retries it)...
        assert process.poll() is None  # ...while the run in flight goes on
        assert process.wait(timeout=20) == 0
        assert refused(port)  # the socket closes once the work is done
        elapsed = time.monotonic() - started
        (published,) = api.calls("views.publish")  # the work was finished, not dropped
        assert published.params["user_id"] == USER
        _, stderr = process.communicate(timeout=5)
    assert 1.0 < elapsed < 10, elapsed
    assert "SIGTERM received: stopping, no new work taken" in stderr
    assert "waiting for 1 handler run(s) in flight" in stderr
    assert stderr.strip().splitlines()[-1].endswith("stopped")
    assert "Traceback" not in stderr


def test_the_grace_period_bounds_the_wait(tmp_path: Path) -> None:
    with FakeSlackApi(bot_token=TOKEN) as api, running(tmp_path, api, grace=1) as (process, port):
        api.delays["views.publish"] = 8.0
        open_home(port)
        wait_in_flight(port, 1)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=8) == 0
        elapsed = time.monotonic() - started
        _, stderr = process.communicate(timeout=5)
    assert elapsed < 5, elapsed
    assert "still running after 1 s: stopping anyway" in stderr
    assert "stopped with 1 handler run(s) cut short" in stderr


def test_an_upload_in_its_window_or_on_the_work_pool_is_finished(tmp_path: Path) -> None:
    """The upload window is a timer and the check runs on the work pool (issue 11): no
    listener is in flight, yet the stop waits for both and the verdict is posted."""
    with FakeSlackApi(bot_token=TOKEN) as api, running(tmp_path, api, grace=20) as (process, port):
        info = api.add_file("junk.pem", b"not a certificate")
        api.delays["chat.update"] = 1.0  # the verdict's post is in flight too
        sender = SlackSender(f"http://127.0.0.1:{port}", SECRET)
        event = {
            "type": "message",
            "subtype": "file_share",
            "channel_type": "im",
            "channel": "D" + USER[1:],
            "user": USER,
            "files": [info],
            "ts": "1700000000.000300",
        }
        assert sender.event(event).status == 200
        api.wait_for("chat.postMessage", timeout=10)  # "Checking your files…"; window open
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        (verdict,) = api.calls("chat.update")
        _, stderr = process.communicate(timeout=5)
    assert verdict.params["channel"] == "D" + USER[1:]  # the verdict, in the person's DM
    assert "waiting for 1 handler run(s) in flight" in stderr
    assert stderr.strip().splitlines()[-1].endswith("stopped")


def test_an_idle_bot_stops_at_once(tmp_path: Path) -> None:
    with FakeSlackApi(bot_token=TOKEN) as api, running(tmp_path, api, grace=20) as (process, port):
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 3
        assert refused(port)


def test_an_idle_bot_answers_readyz_503_for_the_drain_seconds(tmp_path: Path) -> None:
    """CERTOPS_DRAIN_SECONDS: with nothing in flight, the socket still stays open that long
    (a load balancer polling /readyz sees `503 shutting down`), then the bot exits 0."""
    with (
        FakeSlackApi(bot_token=TOKEN) as api,
        running(tmp_path, api, grace=20, CERTOPS_DRAIN_SECONDS="2") as (process, port),
    ):
        assert get(port, "/readyz") == (200, "ready\n")
        process.send_signal(signal.SIGTERM)
        seen: set[tuple[int, str]] = set()
        while process.poll() is None:
            try:
                seen.add(get(port, "/readyz"))
            except OSError:
                break  # closed: the drain is over
            time.sleep(0.05)
        assert process.wait(timeout=20) == 0
    assert (503, "shutting down\n") in seen
    assert (200, "ready\n") not in seen


# --- the callbacks that give claims back ----------------------------------------------
class _Work:
    """In-flight work that ends when told (stands for the listener executor's count)."""

    def __init__(self) -> None:
        self.pending = 1

    def wait_idle(self, timeout: float) -> bool:
        time.sleep(min(timeout, 0.05))
        self.pending = 0
        return True


def _claim(database: Database) -> None:
    with database.session() as session:
        cert = Certificate(
            name="claimed",
            domain="shop.example.com",
            submitted_format=SubmittedFormat.PEM,
            status=CertificateStatus.VALIDATED,
            submitted_by="U1",
        )
        session.add(cert)
        session.flush()
        assert cert.id is not None
        for threshold, posted in (("30", True), ("7", False)):
            session.add(
                Notification(
                    certificate_id=cert.id,
                    threshold=threshold,
                    channel="C1",
                    claimed_by="replica-a",
                    posted_at=cert.submitted_at if posted else None,
                )
            )


def _release(database: Database, replica: str) -> None:
    """What the notifier registers: its unposted claims deleted, for others to take."""
    from sqlmodel import col, delete

    with database.session() as session:
        session.exec(
            delete(Notification)
            .where(col(Notification.claimed_by) == replica)
            .where(col(Notification.posted_at).is_(None))
        )


def test_callbacks_release_the_claims_after_the_work_newest_first(database: Database) -> None:
    _claim(database)
    work = _Work()
    shutdown = Shutdown(grace_seconds=5, work=work)
    order: list[str] = []

    def release() -> None:
        assert work.pending == 0, "claims are released after the work in flight"
        _release(database, "replica-a")
        order.append("release")

    def broken() -> None:
        order.append("broken")
        raise RuntimeError("boom")

    shutdown.on_shutdown(release, name="notifier claims")
    shutdown.on_shutdown(broken)
    shutdown.request("test")
    assert shutdown.draining
    assert shutdown.finish() is False  # one callback failed: reported, the others ran
    assert order == ["broken", "release"]
    with database.session() as session:
        from sqlmodel import select

        left = session.exec(select(Notification.threshold)).all()
    assert left == ["30"]  # the posted warning stays; the open claim is gone
    assert shutdown.run_callbacks() == 0 and order == ["broken", "release"]  # once only


@pytest.mark.parametrize("grace", [0.0, 0.2])
def test_a_run_that_never_ends_is_left_after_the_grace(grace: float) -> None:
    class Stuck:
        pending = 1

        def wait_idle(self, timeout: float) -> bool:
            time.sleep(timeout)
            return False

    shutdown = Shutdown(grace_seconds=grace, work=Stuck())
    started = time.monotonic()
    assert shutdown.finish() is False
    assert time.monotonic() - started < grace + 0.5


def test_the_drain_setting_is_read_capped_and_checked() -> None:
    from bot import settings

    read = settings.load({"CERTOPS_DRAIN_SECONDS": "5"}, dotenv=False)
    assert read.drain_seconds == 5 and settings.load({}, dotenv=False).drain_seconds == 0
    assert Shutdown(grace_seconds=3, drain_seconds=5).drain_seconds == 3  # within the grace
    bad = settings.load({"CERTOPS_DRAIN_SECONDS": "-1"}, dotenv=False)
    assert "CERTOPS_DRAIN_SECONDS must be a number from 0 to 3600" in " ".join(bad.problems())
