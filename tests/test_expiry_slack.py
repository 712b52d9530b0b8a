"""Expiry warnings through Slack: the real app and publisher against the Slack stand-in.

The message's blocks (checked by slack_sdk), chat.update in place, a failed post retried
on the next run, a 429 waited out, the buttons (snooze, acknowledge, renew), `/cert
expiring`, and the renewal offer."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.console.render import message_text
from bot.services import expiry
from bot.services.clock import ManualClock
from bot.services.expiry import ChannelPacer
from handlers.common.ids import ValidateId, WarningId
from handlers.warnings.listeners import renewal_name
from handlers.warnings.publisher import SlackPublisher, warning_client
from storage import queries
from storage.models import AuditEvent, WarningSilence
from tests.support.expiry import START, add_cert, add_env, assign
from tests.support.expiry_slack import CONFIG, click, interact
from tests.support.slack_harness import ADMIN, USER, SlackHarness, slack_harness


@pytest.fixture
def h(sqlite_url: str) -> Iterator[SlackHarness]:
    with slack_harness(sqlite_url, default_channel="C0DEFAULT") as harness:
        harness.deps.services.clock = ManualClock(START)
        yield harness


def clock(h: SlackHarness) -> ManualClock:
    value = h.deps.services.clock
    assert isinstance(value, ManualClock)
    return value


def scan(h: SlackHarness) -> expiry.ScanReport:
    publisher = SlackPublisher(warning_client(h.settings))
    return expiry.run_scan(h.deps.services, publisher, CONFIG, ChannelPacer(0.0))


def posted(h: SlackHarness, channel: str | None = None) -> list[Any]:
    return [
        c
        for c in h.api.calls("chat.postMessage")
        if channel is None or c.params.get("channel") == channel
    ]


def test_warning_message_then_update_in_place(h: SlackHarness) -> None:
    env = add_env(h.deps.services, "prod", "C0PROD")
    cert = add_cert(h.deps.services, "shop-2026", days=20, sans=("shop.example.com",))
    assign(h.deps.services, cert, env, "shop.example.com")
    assert scan(h).posted == 1
    (message,) = posted(h, "C0PROD")
    text = message_text(message.params.get("text"), message.blocks)
    for expected in ("shop-2026", "prod", "shop.example.com", "2026-03-21", "20"):
        assert expected in text
    buttons = [
        e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == [
        WarningId.RENEW,
        WarningId.SNOOZE_1,
        WarningId.SNOOZE_7,
        WarningId.ACKNOWLEDGE,
    ]
    clock(h).advance(days=7)  # 13 days left: 14d, in place
    scan(h)
    (update,) = h.api.calls("chat.update")
    with h.deps.services.session() as session:
        (first, second) = queries.notifications_of_certificate(session, cert)
    assert update.params["ts"] == first.message_ts == second.message_ts
    assert "13" in message_text(None, update.blocks)
    clock(h).advance(days=14)  # expired: a new, loud message
    scan(h)
    loud = posted(h, "C0PROD")[-1]
    assert "<!here>" in json.dumps(loud.blocks) and "EXPIRED" in json.dumps(loud.blocks)
    assert len(posted(h, "C0PROD")) == 2


def test_failed_post_retried_on_the_next_run(h: SlackHarness) -> None:
    add_cert(h.deps.services, "shop", days=10)
    h.api.fail_next("chat.postMessage", error="internal_error")
    report = scan(h)
    assert report.failed == 1 and report.posted == 0
    assert len(h.api.failed_calls("chat.postMessage")) == 1 and posted(h) == []
    report = scan(h)
    assert report.posted == 1 and len(posted(h)) == 1
    assert scan(h).due == 0 and len(posted(h)) == 1


def test_rate_limited_post_waits_for_retry_after(h: SlackHarness) -> None:
    add_cert(h.deps.services, "shop", days=10)
    h.api.fail_next("chat.postMessage", status=429, retry_after=1)
    report = scan(h)  # slack-sdk's RateLimitErrorRetryHandler sleeps 1 s and retries
    assert report.posted == 1 and report.failed == 0
    assert len(h.api.failed_calls("chat.postMessage")) == 1 and len(posted(h)) == 1


def test_snooze_and_acknowledge_buttons_record_who_and_when(h: SlackHarness) -> None:
    add_cert(h.deps.services, "shop", days=10)
    scan(h)
    (message,) = posted(h)
    message = type(message)(
        message.method, {**message.params, "ts": "1700000000.000001"}, message.index
    )
    exchange = click(h, message, WarningId.SNOOZE_7, user=USER)
    (note,) = exchange.of("chat.postMessage")
    assert note.params["thread_ts"] == "1700000000.000001"
    assert f"Snoozed by <@{USER}>" in note.params["text"]
    click(h, message, WarningId.ACKNOWLEDGE, user=ADMIN)
    with h.deps.services.session() as session:
        from sqlmodel import col, select

        rows = session.exec(select(WarningSilence).order_by(col(WarningSilence.id))).all()
        assert [(r.kind.value, r.actor) for r in rows] == [
            ("snooze", USER),
            ("acknowledge", ADMIN),
        ]
        assert rows[0].until == START + dt.timedelta(days=7)
        actions = {e.action for e in session.exec(select(AuditEvent)).all()}
    assert {"warning.snooze", "warning.acknowledge"} <= actions
    clock(h).advance(days=8)  # snooze over, but acknowledged since: no reminder
    assert scan(h).reminded == 0


def test_a_silence_whose_thread_reply_slack_refuses_is_no_error(h: SlackHarness) -> None:
    """Defect 3: the snooze is recorded before the reply in the thread; a refused reply
    must not read 'something went wrong ... Nothing was changed'. The person hears it
    through the response URL instead."""
    add_cert(h.deps.services, "shop", days=10)
    scan(h)
    (message,) = posted(h)
    message = type(message)(
        message.method, {**message.params, "ts": "1700000000.000001"}, message.index
    )
    h.api.fail_next("chat.postMessage", error="not_in_channel")
    exchange = click(h, message, WarningId.SNOOZE_1, user=USER)
    assert "went wrong" not in exchange.all_text
    assert "Nothing was changed" not in exchange.all_text
    (told,) = exchange.of("response_url")
    assert f"Snoozed by <@{USER}>" in told.params["text"]
    with h.deps.services.session() as session:
        from sqlmodel import select

        (row,) = session.exec(select(WarningSilence)).all()
        assert (row.kind.value, row.actor) == ("snooze", USER)


def test_renew_opens_the_validate_modal_prefilled(h: SlackHarness) -> None:
    add_cert(h.deps.services, "shop-2026", days=10, sans=("shop.example.com",))
    scan(h)
    (message,) = posted(h)
    (opened,) = click(h, message, WarningId.RENEW).of("views.open")
    view = opened.view
    assert view["callback_id"] == ValidateId.FORMAT_MODAL
    meta = json.loads(view["private_metadata"])
    assert meta["renews"] == "shop-2026" and meta["domain"] == "shop.example.com"
    assert meta["name"] == renewal_name("shop-2026", START.date())
    # step two (after the format) shows the Domain and the new name filled in
    step = interact(
        h,
        {
            "type": "view_submission",
            "user": {"id": USER},
            "view": {
                **view,
                "id": "V1",
                "state": {
                    "values": {
                        "format": {
                            "format": {
                                "type": "radio_buttons",
                                "selected_option": {"value": "pem"},
                            }
                        }
                    }
                },
            },
        },
    )
    fields = json.dumps(step.ack_json)
    assert "shop.example.com" in fields and renewal_name("shop-2026", START.date()) in fields
    assert "Renewing *shop-2026*" in fields


def test_renewal_updates_the_warning_and_offers_the_one_step_renewal(h: SlackHarness) -> None:
    ctx = h.deps.services
    env = add_env(ctx, "prod", "C0PROD")
    old = add_cert(ctx, "shop-2025", days=10)
    assign(ctx, old, env, "shop.example.com")
    scan(h)
    (warning,) = posted(h, "C0PROD")
    assert "shop-2025" in json.dumps(warning.blocks)
    add_cert(ctx, "shop-2026", days=300, renews=old)
    report = scan(h)
    assert report.renewed == 1 and report.due == 0
    (update,) = h.api.calls("chat.update")
    assert "renewed by" in message_text(None, update.blocks)
    offer = posted(h, "C0PROD")[-1]
    assert offer.params.get("thread_ts") == update.params["ts"]
    assert "Renew now" in json.dumps(offer.blocks) and "prod" in json.dumps(offer.blocks)
    assert scan(h).renewed == 0 and len(h.api.calls("chat.update")) == 1


def test_cert_expiring_digest_by_environment(h: SlackHarness) -> None:
    ctx = h.deps.services
    prod = add_env(ctx, "prod", "C0PROD")
    cert = add_cert(ctx, "shop", days=10)
    assign(ctx, cert, prod, "shop.example.com")
    add_cert(ctx, "spare", days=40, sans=("spare.example.com",))
    exchange = h.command("expiring 60")
    text = exchange.all_text
    assert "prod" in text and "shop" in text and "10 days left" in text
    assert "spare" in text and "(no environment)" in text
    assert "Expiring within 1 day: none on record" in h.command("expiring 1").all_text
