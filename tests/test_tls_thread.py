"""The post-assignment TLS check answers in the thread of the assignment's result message.

End to end: signed requests through the app in HTTP mode (tests/support/slack_harness.py), the
DNS check against a real UDP server on loopback, the TLS check against a real TLS server
on loopback (tests/support/tls_server.py's `TlsServer`), the clock a `ManualClock`. The
result of a click or of the assign modal is a `chat.postMessage` whose ts the check
keeps; five minutes later its outcome is a `chat.postMessage` with that `thread_ts`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from bot.console.slack_api import Call, FakeSlackApi
from bot.services import assignments, tls_check
from bot.services.actors import Actor
from bot.services.clock import ManualClock
from bot.services.context import ServiceContext
from bot.services.tls_check import TlsCheckConfig, TlsReport
from handlers.assign import blocks as assign_ui
from handlers.assign.post import DM_NOTE
from handlers.common.ids import AssignId
from handlers.warnings.publisher import SlackTlsPublisher
from storage.db import Database
from storage.models import TlsCheck
from tests.support.dns_server import DnsServer
from tests.support.slack_fixtures import ENV_HOST, PkiSet, add_env, make_pki, submit
from tests.support.slack_harness import ADMIN, BOT_TOKEN, SlackHarness, slack_harness
from tests.support.slack_upload_fixtures import (
    boxes_value,
    opened_view,
    select_value,
    submit_view,
    text_value,
)
from tests.support.tls_server import START, TlsServer, _record

HOST = "shop.example.com"
RECORDS = {
    HOST: [("CNAME", ENV_HOST + ".", 300)],
    ENV_HOST: [("A", "192.0.2.10", 60)],
}
ADMIN_DM = "D" + ADMIN[1:]  # what the stand-in's conversations.open answers


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


@pytest.fixture
def server(tmp_path: Path, pki: PkiSet) -> Iterator[TlsServer]:
    with TlsServer(tmp_path) as running:
        running.serve(pki.shop)
        yield running


@pytest.fixture
def slack(sqlite_url: str, pki: PkiSet, dns_server: DnsServer) -> Iterator[SlackHarness]:
    with slack_harness(
        sqlite_url, nameservers=[dns_server.address], extra_roots=[pki.root.cert]
    ) as h:
        record_answers(h.api)
        h.deps.services.clock = ManualClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
        submit(h.deps.services, pki, "shop")
        add_env(h.deps.services)  # no channel of its own: only the result's thread is known
        yield h


def clock_of(slack: SlackHarness) -> ManualClock:
    clock = slack.deps.services.clock
    assert isinstance(clock, ManualClock)
    return clock


def run_checks(slack: SlackHarness, server: TlsServer) -> TlsReport:
    """One tick of the scheduler's TLS job, its messages to the stand-in."""
    config = TlsCheckConfig(port=server.port, resolve=lambda _: "127.0.0.1", timeout=5)
    publisher = SlackTlsPublisher(WebClient(token=BOT_TOKEN, base_url=slack.api.api_url))
    return tls_check.run_checks(slack.deps.services, config, publisher)


def outcome_in_thread_of(slack: SlackHarness, server: TlsServer, result: Call) -> Call:
    """Before five minutes nothing; after them one outcome, in the result's thread."""
    since = slack.api.mark()
    early = run_checks(slack, server)
    assert (early.scheduled, early.checked) == (0, 0)  # claimed by the handler: no announcement
    assert slack.api.calls("chat.postMessage", since=since) == []
    clock_of(slack).advance(minutes=5)
    report = run_checks(slack, server)
    assert (report.checked, report.ok) == (1, 1)
    (outcome,) = slack.api.calls("chat.postMessage", since=since)
    assert outcome.params["thread_ts"] == ts_of(slack, result)
    assert outcome.params["channel"] == result.params["channel"]
    assert f"{HOST} serves *shop*" in outcome.params["text"]
    assert server.sni[-1] == HOST
    return outcome


def record_answers(api: FakeSlackApi) -> None:
    """Keep the ts the stand-in answers to each chat.postMessage (its calls keep only the
    request): the test then knows the result message's ts as Slack gave it."""
    original = api.answer
    answers: list[tuple[dict[str, Any], str]] = []

    def answer(method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, data = original(method, params)
        if method == "chat.postMessage" and data.get("ok"):
            answers.append((params, str(data["ts"])))
        return status, data

    api.answer = answer  # type: ignore[method-assign]
    api.post_answers = answers  # type: ignore[attr-defined]


def ts_of(slack: SlackHarness, call: Call) -> str:
    answers: list[tuple[dict[str, Any], str]] = slack.api.post_answers  # type: ignore[attr-defined]
    (ts,) = [ts for params, ts in answers if params is call.params]
    return ts


def click_assign(slack: SlackHarness) -> Any:
    prompt = slack.command(f"assign shop dev {HOST}", ADMIN)
    return slack.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)


def test_button_result_is_a_channel_message_and_the_check_answers_in_its_thread(
    slack: SlackHarness, server: TlsServer
) -> None:
    done = click_assign(slack)
    (posted,) = done.of("chat.postMessage")
    assert posted.params["channel"] == "C0TEST"  # the channel of the click, not a response_url
    assert "assigned *shop* to *dev*" in done.texts("chat.postMessage")[0]
    assert "posted in this channel" in done.texts()[-1]
    result = posted
    outcome_in_thread_of(slack, server, result)


def test_button_in_a_channel_that_refuses_posts_in_the_dm_and_threads_there(
    slack: SlackHarness, server: TlsServer
) -> None:
    prompt = slack.command(f"assign shop dev {HOST}", ADMIN)
    slack.api.fail_next("chat.postMessage", error="not_in_channel")
    done = slack.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)
    (refused,) = slack.api.failed_calls("chat.postMessage")
    assert refused.params["channel"] == "C0TEST"
    (posted,) = done.of("chat.postMessage")
    assert posted.params["channel"] == ADMIN_DM
    assert "could not post this in the channel" in done.texts("chat.postMessage")[0]
    assert "result is in our DM" in done.texts()[-1]
    outcome = outcome_in_thread_of(slack, server, posted)
    assert outcome.params["channel"] == ADMIN_DM


def assign_values() -> dict[str, dict[str, Any]]:
    return {
        "certificate": select_value(AssignId.PICK, "shop"),
        "environment": select_value(assign_ui.CHOICE_ACTION, "dev"),
        "hostname": text_value(HOST),
        assign_ui.CNAME: boxes_value(assign_ui.CNAME),
    }


def test_assign_modal_result_threads_the_check(slack: SlackHarness, server: TlsServer) -> None:
    view = opened_view(slack.command("assign", ADMIN, channel_id="C0TEAM"))
    done = submit_view(slack, view, assign_values(), ADMIN)
    assert done.ack_json["response_action"] == "update"
    (posted,) = [c for c in done.of("chat.postMessage") if c.params["channel"] == "C0TEAM"]
    outcome_in_thread_of(slack, server, posted)


def test_assign_modal_in_a_channel_that_refuses_threads_in_the_dm(
    slack: SlackHarness, server: TlsServer
) -> None:
    view = opened_view(slack.command("assign", ADMIN, channel_id="C0PRIVATE"))
    slack.api.fail_next("chat.postMessage", error="channel_not_found")
    done = submit_view(slack, view, assign_values(), ADMIN)
    assert done.ack_json["response_action"] == "update"
    (posted,) = done.of("chat.postMessage")
    assert posted.params["channel"] == ADMIN_DM
    assert DM_NOTE.strip("_") in done.texts("chat.postMessage")[0]
    outcome = outcome_in_thread_of(slack, server, posted)
    assert outcome.params["channel"] == ADMIN_DM


def test_renew_now_threads_the_check_of_the_renewed_assignment(
    slack: SlackHarness, server: TlsServer, pki: PkiSet
) -> None:
    ctx = slack.deps.services
    assignments.assign_certificate(
        ctx, Actor(ADMIN, True), "shop", "dev", HOST, cname_confirmed=True
    )
    submit(ctx, pki, "shop-2027", pki.shop_renewal, renews="shop")
    clock_of(slack).advance(minutes=1)
    offer = slack.command("renew shop-2027", ADMIN)
    done = slack.click_button_in(offer.responses[0], AssignId.RENEW_CONFIRM, ADMIN)
    (posted,) = done.of("chat.postMessage")
    assert "renewed *shop* with *shop-2027*" in done.texts("chat.postMessage")[0]
    assert posted.params["channel"] == "C0TEST"
    server.serve(pki.shop_renewal)
    clock_of(slack).advance(minutes=5)
    since = slack.api.mark()
    report = run_checks(slack, server)
    # Only the renewal's assignment is checked: the one it replaced is no longer current.
    assert (report.scheduled, report.checked, report.ok) == (0, 1, 1)
    (reply,) = slack.api.calls("chat.postMessage", since=since)
    assert (reply.params["channel"], reply.params["thread_ts"]) == ("C0TEST", ts_of(slack, posted))
    assert f"{HOST} serves *shop-2027*" in reply.params["text"]


def test_a_check_the_scheduler_announced_first_moves_to_the_result_thread(
    slack: SlackHarness, server: TlsServer
) -> None:
    """The scheduler's tick fell between the assignment and the result message."""
    ctx = slack.deps.services
    made = assignments.assign_certificate(
        ctx, Actor(ADMIN, True), "shop", "dev", HOST, cname_confirmed=True
    )
    config = TlsCheckConfig(
        port=server.port, resolve=lambda _: "127.0.0.1", timeout=5, default_channel="C0DEFAULT"
    )
    publisher = SlackTlsPublisher(WebClient(token=BOT_TOKEN, base_url=slack.api.api_url))
    assert tls_check.run_checks(ctx, config, publisher).scheduled == 1
    (announced,) = slack.api.calls("chat.postMessage")
    assert announced.params["channel"] == "C0DEFAULT"
    tls_check.attach_thread(ctx, made.assignment.id, "C0TEAM", "1700000000.000042")
    clock_of(slack).advance(minutes=5)
    assert tls_check.run_checks(ctx, config, publisher).ok == 1
    outcome = slack.api.calls("chat.postMessage")[-1]
    assert (outcome.params["channel"], outcome.params["thread_ts"]) == (
        "C0TEAM",
        "1700000000.000042",
    )


def test_attach_thread_claims_the_check_or_moves_its_thread(
    database: Database, pki: PkiSet
) -> None:
    """On SQLite and PostgreSQL: the handler's claim makes the scheduler announce nothing;
    after the scheduler's claim, the thread moves (no second row, no error)."""
    ctx = ServiceContext(database=database, clock=ManualClock(START))
    first, second = _record(ctx, pki.shop, "prod"), _record(ctx, pki.shop, "qa")
    tls_check.attach_thread(ctx, first, "C0ONE", "1.000001")
    assert tls_check.schedule_checks(ctx, TlsCheckConfig()) == 1  # only the second one
    tls_check.attach_thread(ctx, second, "C0TWO", "2.000002")
    with ctx.session() as session:
        rows = {r.assignment_id: r for r in session.exec(select(TlsCheck)).all()}
    assert {k: (r.channel, r.thread_ts) for k, r in rows.items()} == {
        first: ("C0ONE", "1.000001"),
        second: ("C0TWO", "2.000002"),
    }
    assert rows[first].next_at.replace(tzinfo=dt.UTC) == START + dt.timedelta(minutes=5)
