"""Slack retries processed once across replicas: the first-delivery claim in the database.

Two apps (two `create_app`, each with its own stand-in for Slack's Web API and its own
loopback server) share one database, on SQLite and on PostgreSQL, as two replicas behind
a load balancer do; a retry that reaches the other replica is acknowledged and dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zlib
from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.services import deliveries
from bot.services.clock import ManualClock
from bot.services.context import ServiceContext
from bot.services.errors import DatabaseDown
from handlers.common.dedupe import RecentIds, first_delivery
from storage.db import Database
from storage.models import SlackDelivery
from tests.support.slack_fixtures import PkiSet, make_pki
from tests.support.slack_harness import USER, Exchange, SlackHarness, slack_harness
from tests.support.slack_upload_fixtures import file_share_event

START = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
# Nothing listens on port 1 of loopback: a PostgreSQL that is down (refused at once).
DOWN_URL = "postgresql://postgres@127.0.0.1:1/certops"


def hello(ts: str = "1700000000.000300") -> dict[str, object]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D" + USER[1:],
        "user": USER,
        "text": "hello",
        "ts": ts,
    }


def stored_ids(database: Database) -> list[str]:
    with database.session() as session:
        return sorted(row.delivery_id for row in session.exec(select(SlackDelivery)).all())


def work(exchange: Exchange) -> list[str]:
    """The calls a request caused, less Bolt's token check on a replica's first request."""
    return [call.method for call in exchange.calls if call.method != "auth.test"]


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture
def replicas(database_url: str) -> Iterator[tuple[SlackHarness, SlackHarness]]:
    with slack_harness(database_url) as one, slack_harness(database_url) as two:
        yield one, two


# --- the service ---------------------------------------------------------------------------


def test_the_first_claim_wins_and_every_later_one_loses(database: Database) -> None:
    ctx = ServiceContext(database=database, clock=ManualClock(START))
    assert deliveries.first_delivery(ctx, "event:Ev01", "event", prune_every=0) is True
    assert deliveries.first_delivery(ctx, "event:Ev01", "event", prune_every=0) is False
    assert deliveries.first_delivery(ctx, "file:F01@1.2", "file", prune_every=0) is True
    with database.session() as session:
        rows = {r.delivery_id: r for r in session.exec(select(SlackDelivery)).all()}
    assert sorted(rows) == ["event:Ev01", "file:F01@1.2"]
    assert rows["file:F01@1.2"].kind == "file" and rows["event:Ev01"].first_seen_at == START


def test_two_replicas_claiming_at_the_same_moment_get_one_yes(database: Database) -> None:
    ctx = ServiceContext(database=database)
    barrier = threading.Barrier(4)
    answers: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait(timeout=10)
        answer = deliveries.first_delivery(ctx, "event:EvRACE", "event", prune_every=0)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [False, False, False, True]


def test_deliveries_older_than_a_day_are_pruned(database: Database) -> None:
    clock = ManualClock(START)
    ctx = ServiceContext(database=database, clock=clock)
    deliveries.first_delivery(ctx, "event:EvOLD", "event", prune_every=0)
    clock.advance(hours=20)
    deliveries.first_delivery(ctx, "event:EvNEWER", "event", prune_every=0)
    clock.advance(hours=5)  # EvOLD is 25 hours old, EvNEWER 5 hours
    assert deliveries.prune_deliveries(ctx) == 1
    assert stored_ids(database) == ["event:EvNEWER"]
    # Pruned means forgotten: a delivery that old is a new one (Slack stopped retrying).
    assert deliveries.first_delivery(ctx, "event:EvOLD", "event", prune_every=0) is True


def test_a_claim_prunes_on_one_call_in_n_chosen_by_the_key(database: Database) -> None:
    clock = ManualClock(START)
    ctx = ServiceContext(database=database, clock=clock)
    deliveries.first_delivery(ctx, "event:EvOLD", "event", prune_every=0)
    clock.advance(days=2)
    deliveries.first_delivery(ctx, "event:EvKEPT", "event", prune_every=0)  # never prunes
    assert stored_ids(database) == ["event:EvKEPT", "event:EvOLD"]
    deliveries.first_delivery(ctx, "event:EvPRUNES", "event", prune_every=1)  # always prunes
    assert stored_ids(database) == ["event:EvKEPT", "event:EvPRUNES"]


def test_the_default_prunes_about_one_claim_in_prune_every() -> None:
    keys = [f"event:Ev{n:08d}" for n in range(20_000)]
    pruning = sum(zlib.crc32(k.encode()) % deliveries.PRUNE_EVERY == 0 for k in keys)
    assert 0.5 < pruning / (len(keys) / deliveries.PRUNE_EVERY) < 1.5


def test_a_database_that_is_down_is_reported_to_the_caller() -> None:
    database = Database(DOWN_URL)
    try:
        with pytest.raises(DatabaseDown):
            deliveries.first_delivery(ServiceContext(database=database), "event:Ev1", "event")
    finally:
        database.dispose()


# --- the handlers' decision ----------------------------------------------------------------


def test_the_process_memory_answers_a_repeat_without_the_database(database: Database) -> None:
    ctx = ServiceContext(database=database)
    recent = RecentIds()
    assert first_delivery(recent, ctx, "event", "EvMEM") is True
    assert first_delivery(recent, ctx, "event", "EvMEM") is False
    # Another process (its own memory) still learns it from the database.
    assert first_delivery(RecentIds(), ctx, "event", "EvMEM") is False
    assert stored_ids(database) == ["event:EvMEM"]


def test_with_the_database_down_the_process_memory_decides_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = Database(DOWN_URL)
    ctx = ServiceContext(database=database)
    recent = RecentIds()
    try:
        with caplog.at_level(logging.WARNING, logger="certops.slack"):
            assert first_delivery(recent, ctx, "event", "EvDOWN") is True
            assert first_delivery(recent, ctx, "event", "EvDOWN") is False
    finally:
        database.dispose()
    warnings = [r.getMessage() for r in caplog.records if r.name == "certops.slack"]
    assert len(warnings) == 1
    assert "in this process only (the database is down)" in warnings[0]
    assert "EvDOWN" in warnings[0]


# --- two replicas, end to end ----------------------------------------------------------------


def test_a_retry_reaching_the_other_replica_is_processed_once(
    replicas: tuple[SlackHarness, SlackHarness],
) -> None:
    one, two = replicas
    first = one.event(hello(), event_id="Ev0REPLICA1")
    retry = two.event(hello(), event_id="Ev0REPLICA1", retry_num=1)
    again = one.event(hello(), event_id="Ev0REPLICA1", retry_num=2)
    assert first.sent.status == retry.sent.status == again.sent.status == 200
    assert len(first.of("chat.postMessage")) == 1
    assert work(retry) == [] and work(again) == []
    # A new event (another id) is processed by whichever replica gets it.
    other = two.event(hello("1700000000.000400"), event_id="Ev0REPLICA2")
    assert len(other.of("chat.postMessage")) == 1


def test_a_file_shared_once_is_taken_once_between_replicas(
    replicas: tuple[SlackHarness, SlackHarness], pki: PkiSet
) -> None:
    one, two = replicas
    pem = pki.shop.pem + pki.intermediate.issued.pem
    cert_one = one.api.add_file("cert.pem", pem)
    cert_two = two.api.add_file("cert.pem", pem)
    assert cert_one["id"] == cert_two["id"]  # the same file as both replicas see it
    event = file_share_event([cert_one])
    first = one.event(event, event_id="Ev0FILE0001")
    # The retry in a new envelope (another event id, the same message) on the other one.
    retry = two.event(event, event_id="Ev0FILE0002", retry_num=1)
    assert len(first.of("chat.update")) == 1
    assert retry.sent.status == 200 and work(retry) == []
    # Sharing the same file again is a new message: checked again, on either replica.
    shared_again = two.event({**event, "ts": "1700000099.000200"}, event_id="Ev0FILE0003")
    assert len(shared_again.of("chat.update")) == 1


def test_replicas_without_their_database_still_drop_their_own_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with slack_harness(DOWN_URL) as alone, caplog.at_level(logging.WARNING):
        first = alone.event(hello(), event_id="Ev0NODB0001")
        retry = alone.event(hello(), event_id="Ev0NODB0001", retry_num=1)
    assert len(first.of("chat.postMessage")) == 1, "a database that is down loses no event"
    assert retry.sent.status == 200 and work(retry) == []
    assert any("the database is down" in r.getMessage() for r in caplog.records)
