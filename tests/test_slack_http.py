"""The HTTP surface as Slack uses it: signatures, retries, events, buttons, the error
handler, the App Home, and acknowledging before slow work."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import dns.message
import pytest
import yaml
from slack_bolt import Ack

from bot.services import environments
from handlers.common.request_context import RequestIdFilter
from tests.support.dns_server import DnsServer
from tests.support.slack_fixtures import ENV_HOST, PkiSet, add_env, make_pki, submit
from tests.support.slack_harness import ADMIN, USER, SlackHarness, slack_harness


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture
def slack(sqlite_url: str, pki: PkiSet) -> Iterator[SlackHarness]:
    with slack_harness(sqlite_url, extra_roots=[pki.root.cert]) as h:
        yield h


def env_add_body(slack: SlackHarness) -> str:
    return slack.sender.command_body(
        f"env add dev {ENV_HOST}", user_id=ADMIN, response_url=slack.api.response_url()
    )


def test_a_forged_signature_gets_401_and_changes_nothing(slack: SlackHarness) -> None:
    body = env_add_body(slack)
    sent = slack.sender.post(body, "application/x-www-form-urlencoded", signature="v0=" + "0" * 64)
    slack.settle()
    assert sent.status == 401
    assert slack.api.calls() == []
    assert environments.list_environments(slack.deps.services) == []


def test_a_stale_timestamp_gets_401_and_changes_nothing(slack: SlackHarness) -> None:
    body = env_add_body(slack)
    ten_minutes_ago = int(time.time()) - 600
    sent = slack.sender.post(body, "application/x-www-form-urlencoded", timestamp=ten_minutes_ago)
    slack.settle()
    assert sent.status == 401
    assert slack.api.calls() == []
    assert environments.list_environments(slack.deps.services) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "abc"},  # int() raised in slack_sdk's verifier
        {"X-Slack-Signature": "v0=\u00e9" + "0" * 63},  # compare_digest raised (non-ASCII)
    ],
)
def test_a_malformed_signature_header_gets_401_and_nothing_is_sent(
    slack: SlackHarness, headers: dict[str, str]
) -> None:
    """Before: the verifier raised, the error handler answered 200 and posted its apology to
    the (attacker's) response_url, or DMed any user_id, all from an unsigned request."""
    body = env_add_body(slack)
    sent = slack.sender.post(body, "application/x-www-form-urlencoded", headers=headers)
    slack.settle()
    assert sent.status == 401
    assert slack.api.calls() == []
    assert environments.list_environments(slack.deps.services) == []


def test_a_correctly_signed_request_goes_through(slack: SlackHarness) -> None:
    sent = slack.sender.post(env_add_body(slack), "application/x-www-form-urlencoded")
    slack.settle()
    assert sent.status == 200
    assert [e.name for e in environments.list_environments(slack.deps.services)] == ["dev"]


def test_a_retried_event_is_processed_once(slack: SlackHarness) -> None:
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "DUSER0001",
        "user": USER,
        "text": "hello",
        "ts": "1700000000.000200",
    }
    first = slack.event(event, event_id="Ev0RETRY01")
    retry = slack.event(event, event_id="Ev0RETRY01", retry_num=1)
    assert first.sent.status == 200 and retry.sent.status == 200
    assert len(first.of("chat.postMessage")) == 1
    assert retry.of("chat.postMessage") == []
    other = slack.event(event, event_id="Ev0OTHER01")
    assert len(other.of("chat.postMessage")) == 1


def test_a_dm_gets_a_hint_and_other_messages_are_acknowledged_quietly(slack: SlackHarness) -> None:
    dm = slack.dm("hi there")
    assert "Send me certificate files here" in dm.texts("chat.postMessage")[0]
    assert dm.of("chat.postMessage")[0].params["channel"] == "DUSER0001"
    edited = slack.dm("hi", subtype="message_changed")
    assert edited.sent.status == 200 and edited.of("chat.postMessage") == []
    in_channel = slack.event(
        {
            "type": "message",
            "channel_type": "channel",
            "channel": "C1",
            "user": USER,
            "text": "x",
            "ts": "1.2",
        }
    )
    assert in_channel.sent.status == 200 and in_channel.of("chat.postMessage") == []


def test_files_shared_in_a_dm_are_answered(slack: SlackHarness) -> None:
    file = slack.api.add_file("cert.pem", b"-----BEGIN CERTIFICATE-----\n")
    ex = slack.dm("", subtype="file_share", files=[file])
    assert ex.sent.status == 200
    assert "Checking `cert.pem`" in ex.texts("chat.postMessage")[0]
    assert "unrecognized_file" in ex.texts("chat.update")[0]  # tests/test_slack_uploads.py


def test_app_home_is_published_with_the_record(slack: SlackHarness, pki: PkiSet) -> None:
    submit(slack.deps.services, pki, "shop")
    add_env(slack.deps.services)
    ex = slack.open_home(USER)
    (published,) = ex.of("views.publish")
    assert published.params["user_id"] == USER
    text = ex.all_text
    assert "*dev*" in text and ENV_HOST in text and "*shop*" in text and "days left" in text
    messages_tab = slack.event({"type": "app_home_opened", "user": USER, "tab": "messages"})
    assert messages_tab.of("views.publish") == []


def test_home_buttons(slack: SlackHarness, pki: PkiSet) -> None:
    soon = pki.intermediate.leaf(sans=["soon.example.com"], key=pki.shop.key, days=20)
    submit(slack.deps.services, pki, "shop")
    submit(slack.deps.services, pki, "soon", soon)
    refresh = slack.click("home_refresh", USER, in_message=False)
    assert refresh.sent.status == 200 and refresh.of("views.publish")
    help_dm = slack.click("home_help", USER, in_message=False)
    assert "/cert dns HOSTNAME [ENV]" in help_dm.texts("chat.postMessage")[0]
    validate = slack.click("home_validate", USER, in_message=False)
    assert validate.of("views.open")[0].view["callback_id"] == "validate_format"
    assign = slack.click("home_assign", USER, in_message=False)
    assert "for admins only" in assign.texts("chat.postMessage")[0]
    expiring = slack.click("home_expiring", USER, in_message=False)
    listed = expiring.texts("chat.postMessage")[0]
    assert "*soon*" in listed and "*shop*" not in listed


SAMPLE_EVENTS: dict[str, dict[str, Any]] = {
    "app_home_opened": {"type": "app_home_opened", "user": USER, "tab": "home"},
    "message.im": {
        "type": "message",
        "channel_type": "im",
        "channel": "DUSER0001",
        "user": USER,
        "text": "x",
        "ts": "1.1",
    },
    "file_shared": {
        "type": "file_shared",
        "file_id": "F1",
        "user_id": USER,
        "channel_id": "DUSER0001",
    },
}


def test_every_manifest_event_is_handled_not_404(slack: SlackHarness) -> None:
    """Unhandled events get 404 (and in Socket Mode are redelivered): none may be."""
    manifest = yaml.safe_load((Path(__file__).resolve().parent.parent / "manifest.yml").read_text())
    for name in manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert name in SAMPLE_EVENTS, f"add a sample {name} event to this test"
        assert slack.event(SAMPLE_EVENTS[name]).sent.status == 200, name
    unsubscribed = {
        "type": "reaction_added",
        "user": USER,
        "reaction": "x",
        "item": {"type": "message", "channel": "C1", "ts": "1.1"},
    }
    assert slack.event(unsubscribed).sent.status == 404  # the check can fail


def test_the_error_handler_answers_the_user(slack: SlackHarness) -> None:
    def boom_after_ack(ack: Ack) -> None:
        ack()
        raise RuntimeError("secret internal detail")

    def boom_before_ack(body: dict[str, Any]) -> None:
        raise RuntimeError("secret internal detail")

    slack.app.command("/boom")(boom_after_ack)
    slack.app.command("/boom-early")(boom_before_ack)
    for command in ("/boom", "/boom-early"):
        ex = slack.command("now", USER, command=command)
        assert ex.sent.status == 200, command  # never Slack's "failed with operation_timeout"
        (answer,) = ex.responses
        text = ex.texts()[0]
        assert f"something went wrong while handling `{command} now`" in text
        assert "Reference `" in text and "secret internal detail" not in text
        assert answer.params["response_type"] == "ephemeral"


def test_a_failing_event_listener_tells_the_user_in_a_dm(slack: SlackHarness) -> None:
    def boom(event: dict[str, Any]) -> None:
        raise RuntimeError("nope")

    slack.app.event("reaction_added")(boom)
    ex = slack.event(
        {
            "type": "reaction_added",
            "user": USER,
            "reaction": "x",
            "item": {"type": "message", "channel": "C1", "ts": "1.1"},
        },
        event_id="Ev0BOOM001",
    )
    assert ex.sent.status == 200
    (dm,) = ex.of("chat.postMessage")
    assert dm.params["channel"] == "DUSER0001"
    assert "Reference `Ev0BOOM001`" in ex.texts("chat.postMessage")[0]


class GatedDnsServer(DnsServer):
    """Holds every answer until the test opens the gate: slow DNS, without a clock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()

    def respond(self, query: dns.message.Message) -> dns.message.Message:
        self.gate.wait(timeout=20)
        return super().respond(query)


def test_the_ack_comes_before_the_slow_work(sqlite_url: str, pki: PkiSet) -> None:
    records = {
        "shop.example.com": [("CNAME", ENV_HOST + ".", 300)],
        ENV_HOST: [("A", "192.0.2.1", 60)],
    }
    with (
        GatedDnsServer(records, zones=["example.com"]) as server,
        slack_harness(sqlite_url, nameservers=[server.address], dns_timeout=25) as slack,
    ):
        add_env(slack.deps.services)
        since = slack.api.mark()
        sent = slack.sender.command(
            "dns shop.example.com", user_id=USER, response_url=slack.api.response_url()
        )
        # The HTTP answer (the ack) is here while the DNS server still holds its answer.
        assert sent.status == 200 and "Checking the DNS" in sent.body
        assert slack.api.calls("response_url", since=since) == []
        assert slack.deps.work.pending >= 1  # on the work pool, not a listener thread
        server.gate.set()
        slack.settle()
        (answer,) = slack.api.calls("response_url", since=since)
        assert "shop.example.com" in answer.params["text"]


def test_a_database_that_is_down_is_said_in_words() -> None:
    with slack_harness("postgresql://certops@127.0.0.1:1/none") as slack:
        ex = slack.command("list", USER)
        assert ex.sent.status == 200
        assert "database unavailable" in ex.texts()[0].lower()
        assert "Traceback" not in ex.all_text and "something went wrong" not in ex.all_text
        home = slack.open_home(USER)
        assert "I can't show the record right now" in home.all_text


def test_log_lines_carry_the_request_id(slack: SlackHarness) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("[%(request_id)s] %(message)s"))
    logger = logging.getLogger("certops.slack")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        body = slack.sender.command_body(
            "list", user_id=USER, response_url=slack.api.response_url()
        )
        trigger_id = dict(part.split("=", 1) for part in body.split("&"))["trigger_id"]
        slack.sender.post(body, "application/x-www-form-urlencoded")
        slack.settle()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert f"[{unquote(trigger_id)}] /cert list by {USER}" in stream.getvalue()


def test_building_the_app_logs_no_warning_about_the_token(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt reads SLACK_BOT_TOKEN itself and warned at every start that it is 'unused'."""
    from bot.app import create_app
    from bot.request_signature import ClientTokenNotice
    from tests.support.slack_harness import BOT_TOKEN, harness_settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    with caplog.at_level(logging.DEBUG):
        app = create_app(harness_settings(sqlite_url))
        create_app(harness_settings(sqlite_url))  # the filter is added once
    assert app.client.token == BOT_TOKEN
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    notices = [
        f for f in logging.getLogger("certops.bolt").filters if isinstance(f, ClientTokenNotice)
    ]
    assert len(notices) == 1


def test_the_verifier_without_a_signing_secret_refuses_instead_of_raising() -> None:
    """Socket Mode runs without SLACK_SIGNING_SECRET: building the app must not fail."""
    from bot.request_signature import TotalSignatureVerifier

    verifier = TotalSignatureVerifier("")
    timestamp = str(int(time.time()))
    signature = verifier.generate_signature(timestamp=timestamp, body="x")
    assert verifier.is_valid("x", timestamp, signature) is False
    signed = TotalSignatureVerifier("s3cret")
    good = signed.generate_signature(timestamp=timestamp, body="x")
    assert signed.is_valid("x", timestamp, good) is True
    assert signed.is_valid("x", "abc", good) is False
