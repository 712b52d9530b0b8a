"""A PostgreSQL that hangs must not hold Slack's acks nor `/readyz` (issue 11, point 4).

The real server on 127.0.0.1:5432, made to hang two ways: frozen (a loopback proxy that
stops forwarding: the connection stays open and nothing answers, as with a paused server
or a network that drops packets), and locked (another session holds the delivery table
in ACCESS EXCLUSIVE mode, so the claim's INSERT waits). Requests go as Slack sends them,
signed, into the running app; `/readyz` through the HTTP server `certops run` uses.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bot.health import HealthApp, with_health
from bot.http_server import HttpServer
from bot.metrics import Metrics
from bot.services import deliveries
from bot.services.context import ServiceContext
from bot.services.errors import DatabaseDown
from handlers.assign import blocks as assign_ui
from handlers.common.ids import AssignId
from storage.db import Database
from tests.support.pg_proxy import FreezableProxy
from tests.support.slack_fixtures import PkiSet, add_env, make_pki, submit
from tests.support.slack_harness import ADMIN, slack_harness
from tests.support.slack_upload_fixtures import (
    boxes_value,
    file_share_event,
    opened_view,
    select_value,
    text_value,
    view_submission,
)

# How long the database hangs (the run: acks took 10.8 s).
HUNG_SECONDS = 10.0
# Slack retries an event whose ack takes over 3 s; the claim is bounded at 0.3 s.
ACK_LIMIT = 2.0
# A probe's default timeout is 1 s; the check is bounded at 0.7 s (a loaded machine: 1.5).
READY_LIMIT = 1.5
# Prometheus' default scrape timeout is 10 s; the record's read is bounded at 2 s.
METRICS_LIMIT = 5.0


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture
def proxy(pg_url: str) -> Iterator[FreezableProxy]:
    with FreezableProxy.for_url(pg_url) as proxy:
        yield proxy


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def hung(how: str, proxy: FreezableProxy, pg_url: str) -> Iterator[None]:
    """The database hangs until the block ends (frozen: HUNG_SECONDS at most)."""
    if how == "frozen":
        proxy.freeze()
        timer = threading.Timer(HUNG_SECONDS, proxy.thaw)
        timer.start()
        try:
            yield
        finally:
            proxy.thaw()
            timer.cancel()
        return
    with psycopg.connect(libpq(pg_url), connect_timeout=5) as locker:
        locker.execute("LOCK TABLE slack_delivery IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            locker.rollback()


def wait_claims_done(timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while deliveries.claims_in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["frozen", "locked"])
def test_a_dm_upload_is_acked_in_time_and_answered_while_the_database_hangs(
    pg_url: str, proxy: FreezableProxy, pki: PkiSet, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    with slack_harness(proxy.url_through(pg_url)) as h:
        warm = h.dm("hello")  # the pool holds a connection, the claim path has run once
        assert warm.sent.status == 200
        file = h.api.add_file("cert.pem", pki.shop.pem + pki.intermediate.issued.pem)
        since = h.api.mark()
        with hung(how, proxy, pg_url):
            sent = h.sender.event(file_share_event([file]), event_id="Ev0HUNG0001")
            retry = h.sender.event(file_share_event([file]), event_id="Ev0HUNG0001", retry_num=1)
        h.settle()
        wait_claims_done()
        assert sent.status == 200 and retry.status == 200
        assert sent.elapsed < ACK_LIMIT, f"the ack took {sent.elapsed:.2f} s"
        assert retry.elapsed < ACK_LIMIT, f"the retry's ack took {retry.elapsed:.2f} s"
        updates = h.api.calls("chat.update", since=since)
        assert len(updates) == 1, "answered once: the retry is dropped by the process memory"
        assert "Checking" not in str(updates[0].params.get("text"))
    assert any("in this process only" in r.getMessage() for r in caplog.records)


def test_an_assign_form_submitted_while_the_database_hangs_is_acked_in_time(
    pg_url: str, proxy: FreezableProxy, pki: PkiSet
) -> None:
    """Its environment is read in the submission's work (raced against the modal budget),
    no longer before the ack."""
    with slack_harness(
        proxy.url_through(pg_url), modal_budget_seconds=0.5, extra_roots=[pki.root.cert]
    ) as h:
        submit(h.deps.services, pki, "shop")
        add_env(h.deps.services)
        view = opened_view(h.command("assign", ADMIN))
        values = {
            "certificate": select_value(AssignId.PICK, "shop"),
            "environment": select_value(assign_ui.CHOICE_ACTION, "dev"),
            "hostname": text_value("shop.example.com"),
            assign_ui.CNAME: boxes_value(),  # unticked: answered without DNS
        }
        since = h.api.mark()
        with hung("frozen", proxy, pg_url):
            sent = h.sender.interaction(view_submission(view, values, ADMIN))
        h.settle()
        assert sent.status == 200
        assert sent.elapsed < ACK_LIMIT, f"the ack took {sent.elapsed:.2f} s"
        assert sent.json()["response_action"] == "update"  # the "working" view
        (update,) = h.api.calls("views.update", since=since)
        assert "CNAME" in str(update.view["blocks"]) and "tick this" in str(update.view["blocks"])


def test_a_delivery_claimed_late_is_recorded_once_the_database_is_back(
    pg_url: str, proxy: FreezableProxy
) -> None:
    """A late claim goes on: another replica then drops the retry it receives."""
    through = Database(proxy.url_through(pg_url))
    direct = Database(pg_url)
    try:
        ctx = ServiceContext(database=through)
        assert deliveries.claim_within(ctx, "event:EvWARM", "event") is True
        proxy.freeze()
        started = time.perf_counter()
        with pytest.raises(DatabaseDown, match="no answer"):
            deliveries.claim_within(ctx, "event:EvLATE", "event")
        assert time.perf_counter() - started < ACK_LIMIT
        proxy.thaw()
        wait_claims_done()
        other_replica = ServiceContext(database=direct)
        assert deliveries.claim_within(other_replica, "event:EvLATE", "event") is False
    finally:
        proxy.thaw()
        through.dispose()
        direct.dispose()


def test_a_claim_waiting_on_a_lock_is_cancelled_by_the_server(pg_url: str) -> None:
    """statement_timeout: the thread and its connection are given back while the lock
    is still held, so a locked table does not use up the claims' threads."""
    database = Database(pg_url)
    try:
        ctx = ServiceContext(database=database)
        with psycopg.connect(libpq(pg_url), connect_timeout=5) as locker:
            locker.execute("LOCK TABLE slack_delivery IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(DatabaseDown):
                deliveries.claim_within(ctx, "event:EvLOCK", "event")
            deadline = time.monotonic() + 5
            while deliveries.claims_in_flight() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert deliveries.claims_in_flight() == 0, "the claim still waits on the lock"
            locker.rollback()
        assert deliveries.claim_within(ctx, "event:EvLOCK", "event") is True
    finally:
        database.dispose()


def get(url: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode(), time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), time.perf_counter() - started


def test_readyz_and_metrics_answer_in_time_while_the_database_is_frozen(
    pg_url: str, proxy: FreezableProxy
) -> None:
    database = Database(proxy.url_through(pg_url))
    health = HealthApp(Metrics(database), database)
    try:
        with HttpServer(with_health(not_slack, health), host="127.0.0.1", port=0) as server:
            assert get(server.url + "/readyz")[:2] == (200, "ready\n")
            with hung("frozen", proxy, pg_url):
                # The first probe's check hangs; so do the next; past two, "not ready" at once.
                probes = [get(server.url + "/readyz") for _ in range(4)]
                healthz = get(server.url + "/healthz")
                scrape = get(server.url + "/metrics")
            for status, text, elapsed in probes:
                assert status == 503 and text.startswith("database did not answer"), text
                assert elapsed < READY_LIMIT, f"/readyz took {elapsed:.2f} s"
            assert healthz[:2] == (200, "ok\n")
            status, text, elapsed = scrape  # the record's read waits 2 s at most
            assert status == 200 and "certops_database_up 0.0" in text
            assert elapsed < METRICS_LIMIT, f"/metrics took {elapsed:.2f} s"
            deadline = time.monotonic() + 20
            while get(server.url + "/readyz")[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert get(server.url + "/readyz")[:2] == (200, "ready\n")
    finally:
        database.dispose()


def not_slack(environ: dict[str, object], start_response: object) -> list[bytes]:
    raise AssertionError("only the health paths are asked here")


def test_a_locked_sqlite_file_does_not_hold_the_ack(sqlite_url: str, pki: PkiSet) -> None:
    """SQLite: another process holds the write lock; the claim's BEGIN IMMEDIATE waits for
    the busy timeout (10 s) on its own thread, the ack does not."""
    import sqlite3

    with slack_harness(sqlite_url) as h:
        h.dm("hello")
        file = h.api.add_file("cert.pem", pki.shop.pem + pki.intermediate.issued.pem)
        since = h.api.mark()
        writer = sqlite3.connect(make_url(sqlite_url).database or "", isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            sent = h.sender.event(file_share_event([file]), event_id="Ev0SQLITE01")
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        h.settle()
        wait_claims_done()
        assert sent.status == 200
        assert sent.elapsed < ACK_LIMIT, f"the ack took {sent.elapsed:.2f} s"
        assert len(h.api.calls("chat.update", since=since)) == 1
