"""Every `/cert` subcommand end to end: signed requests to the app in HTTP mode on
loopback, the real services on a SQLite file, Slack's Web API played by the stand-in,
DNS answered by a real DNS server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.console.slack_api import Call
from bot.services import certificates, environments
from handlers.common.ids import AssignId, UploadId, WarningId, with_legacy
from tests.support.dns_server import DnsServer
from tests.support.slack_fixtures import (
    ENV_HOST,
    LT_HOST,
    RECORDS,
    PkiSet,
    add_env,
    make_pki,
    submit,
)
from tests.support.slack_harness import ADMIN, OTHER, USER, SlackHarness, slack_harness


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


@pytest.fixture
def slack(sqlite_url: str, pki: PkiSet, dns_server: DnsServer) -> Iterator[SlackHarness]:
    with slack_harness(
        sqlite_url, nameservers=[dns_server.address], extra_roots=[pki.root.cert]
    ) as h:
        yield h


def test_help_for_admins_and_others(slack: SlackHarness) -> None:
    for user, marker in ((USER, "need an admin"), (ADMIN, "You are an admin")):
        ex = slack.command("help", user)
        assert ex.sent.status == 200
        assert "/cert env add NAME DEFAULT_HOST" in ex.ack_text and marker in ex.ack_text
        assert ex.responses == []  # answered in the ack itself


def test_unknown_subcommand_gets_usage_and_changes_nothing(slack: SlackHarness) -> None:
    ex = slack.command("frobnicate now", ADMIN)
    assert ex.sent.status == 200
    assert "I don't know `/cert frobnicate`" in ex.ack_text and "/cert help" in ex.ack_text
    assert [c.method for c in ex.calls if c.method != "auth.test"] == []


def test_bad_arguments_get_the_subcommand_usage(slack: SlackHarness) -> None:
    ex = slack.command("show", USER)
    assert "Usage: `/cert show NAME`" in ex.ack_text


def test_list_show_and_expiring(slack: SlackHarness, pki: PkiSet) -> None:
    empty = slack.command("list")
    assert "none on record" in empty.texts()[0]
    submit(slack.deps.services, pki, "shop")
    ex = slack.command("list", OTHER)
    assert ex.sent.body == ""  # acked at once, answered through the response URL
    (response,) = ex.responses
    assert response.params["response_type"] == "ephemeral"
    assert "*shop*" in ex.texts()[0] and "validated" in ex.texts()[0]
    shown = slack.command("show shop").texts()[0]
    assert "shop.example.com, www.example.com" in shown and "RSA 2048" in shown
    assert "88 days left" in slack.command("expiring 90").texts()[0]
    assert "none on record" in slack.command("expiring 7").texts()[0]
    missing = slack.command("show nope").texts()[0]
    assert "No certificate named 'nope'" in missing


def test_env_add_is_for_admins(slack: SlackHarness) -> None:
    ex = slack.command(f"env add dev {ENV_HOST}", USER)
    assert "for admins only" in ex.ack_text and f"@{ADMIN}" in ex.ack_text
    assert environments.list_environments(slack.deps.services) == []
    ex = slack.command(f"env add dev {ENV_HOST} <#C0OPS|ops>", ADMIN)
    assert (
        "Environment *dev* recorded" in ex.texts()[0]
        and "<#C0OPS>" in ex.responses[0].params["text"]
    )
    (published,) = ex.of("views.publish")
    assert published.params["user_id"] == ADMIN  # the Home of the person who changed it
    assert "*dev*" in slack.command("env list").texts()[0]
    again = slack.command(f"env add dev {ENV_HOST}", ADMIN).texts()[0]
    assert "exists" in again


def test_approve_and_reject(slack: SlackHarness, pki: PkiSet) -> None:
    submit(slack.deps.services, pki, "manual-one", manual=True)
    submit(slack.deps.services, pki, "manual-two", pki.wildcard, manual=True)
    refused = slack.command("approve manual-one", USER)
    assert "for admins only" in refused.ack_text
    assert "pending manual" in slack.command("show manual-one").texts()[0]

    ex = slack.command("approve manual-one", ADMIN)
    (response,) = ex.responses
    assert response.params["response_type"] == "in_channel"  # for the team
    assert "approved certificate *manual-one*" in ex.texts()[0]
    dms = ex.of("chat.postMessage")
    assert [c.params["channel"] for c in dms] == ["D" + USER[1:]]  # the submitter is told
    assert {c.params["user_id"] for c in ex.of("views.publish")} == {USER, ADMIN}

    ex = slack.command("reject manual-two the chain is missing", ADMIN)
    assert "rejected" in ex.texts()[0] and ex.responses[0].params["response_type"] == "ephemeral"
    assert "the chain is missing" in ex.texts("chat.postMessage")[0]
    again = slack.command("approve manual-two", ADMIN).texts()[0]
    assert "only a certificate waiting for manual validation" in again


def test_assign_asks_for_the_cname_then_assigns_in_channel(
    slack: SlackHarness, pki: PkiSet
) -> None:
    submit(slack.deps.services, pki, "shop")
    add_env(slack.deps.services)
    assert "for admins only" in slack.command("assign shop dev shop.example.com", USER).ack_text

    prompt = slack.command("assign shop dev shop.example.com", ADMIN)
    assert f"shop.example.com CNAME {ENV_HOST}" in prompt.texts()[0]
    assert environments.show_environment(slack.deps.services, "dev").current is None

    stranger = slack.click_button_in(prompt.responses[0], "assign_confirm", USER)
    assert "only an admin" in stranger.all_text or "for admins only" in stranger.all_text
    assert environments.show_environment(slack.deps.services, "dev").current is None

    done = slack.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)
    (final,) = done.of("chat.postMessage")  # a real message in the channel, for the TLS thread
    assert final.params["channel"] == "C0TEST"
    assert "posted in this channel" in done.texts()[-1]
    text = done.texts("chat.postMessage")[-1]
    assert "assigned *shop* to *dev* as *shop.example.com*" in text
    assert "Mobile apps must be regenerated" in text and "Host header protection" in text
    env = environments.show_environment(slack.deps.services, "dev")
    assert env.current is not None and env.current.hostname == "shop.example.com"
    assert done.of("views.publish")


def test_assign_refused_by_the_dns_shows_the_report(slack: SlackHarness, pki: PkiSet) -> None:
    submit(slack.deps.services, pki, "shop")
    add_env(slack.deps.services)
    prompt = slack.command("assign shop dev www.example.com", ADMIN)
    done = slack.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)
    assert done.responses[-1].params["response_type"] == "ephemeral"
    text = done.texts()[-1]
    assert "misconfigured" in text and "a_record_instead_of_cname" in text and "To fix" in text
    assert environments.show_environment(slack.deps.services, "dev").current is None


def test_cancel_changes_nothing(slack: SlackHarness, pki: PkiSet) -> None:
    submit(slack.deps.services, pki, "shop")
    add_env(slack.deps.services)
    prompt = slack.command("assign shop dev shop.example.com", ADMIN)
    cancelled = slack.click_button_in(prompt.responses[0], AssignId.CANCEL, ADMIN)
    assert "nothing was changed" in cancelled.texts()[0]
    assert environments.show_environment(slack.deps.services, "dev").current is None


def test_validate_and_assign_without_arguments_open_modals_or_refuse(slack: SlackHarness) -> None:
    validate = slack.command("validate")  # the modals: tests/test_slack_modals.py
    assert validate.of("views.open")[0].view["callback_id"] == "validate_format"
    assert "for admins only" in slack.command("assign", USER).ack_text


def test_dns_answers_after_the_ack_with_the_report(slack: SlackHarness) -> None:
    add_env(slack.deps.services)
    ok = slack.command("dns shop.example.com")
    assert "Checking the DNS" in ok.ack_text
    assert "OK" in ok.texts()[0] and f"shop.example.com  CNAME  {ENV_HOST}" in ok.texts()[0]
    bad = slack.command("dns www.example.com dev").texts()[0]
    assert "Misconfigured" in bad and "a_record_instead_of_cname" in bad
    add_env(slack.deps.services, "lt", LT_HOST, lifetime=True)
    ambiguous = slack.command("dns new.example.com").texts()[0]
    assert "Say which environment" in ambiguous
    invalid = slack.command("dns not_a_host!").texts()[0]
    assert ":no_entry:" in slack.command("dns not_a_host!").responses[0].blocks[0]["text"]["text"]
    assert "not_a_host" in invalid


def test_lifetime_ticket_flow(slack: SlackHarness, pki: PkiSet) -> None:
    ctx = slack.deps.services
    submit(ctx, pki, "wild", pki.wildcard)
    add_env(ctx)
    add_env(ctx, "lt", LT_HOST, lifetime=True)
    assert "for admins only" in slack.command("ticket open wild lt.example.com", USER).ack_text
    opened = slack.command("ticket open wild lt.example.com", ADMIN)
    text = opened.texts()[0]
    assert "#1" in text and "draft" in text and "Subject: Change the LifeTime hostname" in text
    assert "for admins only" in slack.command("ticket update 1 submitted 0042", USER).ack_text
    moved = slack.command("ticket update 1 submitted 0042", ADMIN)
    assert moved.responses[0].params["response_type"] == "in_channel"
    assert "case 0042" in moved.texts()[0]
    assert "case 0042" in slack.command("ticket list", OTHER).texts()[0]
    bad = slack.command("ticket update x1 submitted", ADMIN).texts()[0]
    assert "ticket id is a number" in bad


def test_renew_everywhere_the_old_certificate_serves(slack: SlackHarness, pki: PkiSet) -> None:
    ctx = slack.deps.services
    submit(ctx, pki, "shop")
    add_env(ctx)
    prompt = slack.command("assign shop dev shop.example.com", ADMIN)
    slack.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)
    submit(ctx, pki, "shop-2027", pki.shop_renewal, renews="shop")
    assert "for admins only" in slack.command("renew shop-2027", USER).ack_text
    offer = slack.command("renew shop-2027", ADMIN)
    assert "*dev* · shop.example.com (now shop)" in offer.texts()[0]
    done = slack.click_button_in(offer.responses[0], AssignId.RENEW_CONFIRM, ADMIN)
    assert done.of("chat.postMessage")[-1].params["channel"] == "C0TEST"
    assert "renewed *shop* with *shop-2027*" in done.texts("chat.postMessage")[-1]
    env = environments.show_environment(ctx, "dev")
    assert env.current is not None and env.current.certificate == "shop-2027"
    nothing = slack.command("renew shop", ADMIN).texts()[0]
    assert "renews no certificate" in nothing


def test_a_submitter_who_cannot_be_told_does_not_undo_the_answer(
    slack: SlackHarness, pki: PkiSet
) -> None:
    """Approved is approved: a DM that Slack refuses (the submitter left) is logged, and
    nobody is told 'Nothing was changed'."""
    submit(slack.deps.services, pki, "manual-one", manual=True)
    slack.api.fail_next("conversations.open", error="user_disabled")
    ex = slack.command("approve manual-one", ADMIN)
    assert "approved certificate *manual-one*" in ex.texts()[0]
    assert "Nothing was changed" not in ex.all_text
    assert "went wrong" not in ex.all_text
    assert ADMIN in {c.params["user_id"] for c in ex.of("views.publish")}  # the Home still
    assert certificates.show_certificate(slack.deps.services, "manual-one").status == "approved"


def _button_as_posted_before(call: Call, new: str, old: str) -> Call:
    """The message `call` as an earlier version posted it: its button `new` carried `old`."""
    text = json.dumps(call.blocks).replace(f'"action_id": "{new}"', f'"action_id": "{old}"')
    assert f'"{old}"' in text
    return Call(call.method, {**call.params, "blocks": json.loads(text)}, call.index, call.path)


def test_buttons_of_messages_posted_before_the_ids_were_renamed_still_work(
    slack: SlackHarness, pki: PkiSet
) -> None:
    """Confirmation prompts and renewal offers last in channels and threads: a click on
    one posted with the old ids (`confirm_cancel`, `renew_confirm`) still does its job."""
    ctx = slack.deps.services
    submit(ctx, pki, "shop")
    add_env(ctx)
    prompt = slack.command("assign shop dev shop.example.com", ADMIN)
    old_prompt = _button_as_posted_before(prompt.responses[0], AssignId.CANCEL, "confirm_cancel")
    cancelled = slack.click_button_in(old_prompt, "confirm_cancel", ADMIN)
    assert "nothing was changed" in cancelled.texts()[0]
    slack.click_button_in(prompt.responses[0], AssignId.CONFIRM, ADMIN)
    submit(ctx, pki, "shop-2027", pki.shop_renewal, renews="shop")
    offer = slack.command("renew shop-2027", ADMIN)
    old_offer = _button_as_posted_before(
        offer.responses[0], AssignId.RENEW_CONFIRM, "renew_confirm"
    )
    done = slack.click_button_in(old_offer, "renew_confirm", ADMIN)
    assert "renewed *shop* with *shop-2027*" in done.texts("chat.postMessage")[-1]
    env = environments.show_environment(ctx, "dev")
    assert env.current is not None and env.current.certificate == "shop-2027"


def test_the_ids_posted_messages_carry_keep_their_values() -> None:
    """Expiry warnings and DM verdicts stay clickable for months: their ids never change
    (a rename must keep the old value in LEGACY, as the confirmations' did)."""
    assert [str(i) for i in WarningId] == [
        "certops_warning_renew",
        "certops_warning_snooze_1",
        "certops_warning_snooze_7",
        "certops_warning_ack",
    ]
    assert {UploadId.PASSWORD, UploadId.SAVE, UploadId.MANUAL} == {
        "upload_password",
        "upload_save",
        "upload_manual",
    }
    assert with_legacy(AssignId.OPEN) == ("assign_open", "upload_assign")
    assert with_legacy(AssignId.CANCEL) == ("assign_cancel", "confirm_cancel")
    assert with_legacy(AssignId.RENEW_CONFIRM) == ("assign_renew_confirm", "renew_confirm")
