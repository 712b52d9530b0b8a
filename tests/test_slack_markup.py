"""Slack markup in everything the bot sends (issue 11, point 7).

A certificate name stored before the naming rule (`<!channel> soon <@UEVIL0001>`), free
text (a reject reason, a support case number, a typed command) and a SAN such as
`<!channel>.example.com` inside an uploaded certificate go through every kind of message
the bot sends: the DM verdict, the save result, the validate modal, the assign result,
the expiry warning and its renewal texts, the TLS check's thread, ticket texts, approval
notices, the App Home and the error answers. Everything reaches the Web API stand-in or
the ack through the real path (signed HTTP into the app), and every field Slack shows is
then searched for an unescaped `<!`, `<@` or `<#`: only the bot's own mentions of the
test's people, and `<!here>` in an expired certificate's warning, may be there.

Not searched, because Slack shows them as typed and never parses them: a button's or
option's `value`, `private_metadata`, message `metadata`, an input's `initial_value`, and
a modal's field `errors` (plain text under the field, shown only to the person who typed
the value they may quote).
The gate (handlers/common/markup_gate.py) must not have had to fix anything: the builders escape.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_client
from bot.console.sender import Sent
from bot.pipeline.material import InputFile, Passwords
from bot.services import certificates, expiry, names, tls_check
from bot.services.actors import Actor
from bot.services.clock import ManualClock
from bot.services.errors import ServiceError
from bot.services.expiry import ChannelPacer
from handlers.assign import blocks as assign_ui
from handlers.commands import subcommands
from handlers.common.blocks.base import broadcast, escape, neutralize, section
from handlers.common.ids import AssignId, UploadId, ValidateId, WarningId
from handlers.warnings.publisher import SlackPublisher, SlackTlsPublisher
from storage import queries
from storage.models import CertificateStatus
from tests.support.dns_server import DnsServer
from tests.support.expiry import START
from tests.support.expiry import add_cert as add_cert_row
from tests.support.expiry import add_env as add_env_row
from tests.support.expiry import assign as assign_row
from tests.support.expiry_slack import CONFIG
from tests.support.expiry_slack import click as click_warning
from tests.support.pki import Issued
from tests.support.slack_fixtures import ENV_HOST, LT_HOST, PkiSet, add_env, make_pki, submit
from tests.support.slack_harness import ADMIN, OTHER, USER, SlackHarness, slack_harness
from tests.support.slack_upload_fixtures import (
    boxes_value,
    button_in,
    choice_value,
    click,
    files_value,
    interact,
    opened_view,
    select_value,
    send_files,
    submit_view,
    text_value,
)

HOSTILE = "<!channel> soon <@UEVIL0001>"  # a name saved before the naming rule
FREE = "<!everyone> <#CEVIL0001|ops> <!subteam^SEVIL> <@UEVIL0002> & co"  # typed text
HOSTILE_SAN = "<!channel>.example.com"
OWN_MENTIONS = {f"<@{user}>" for user in (ADMIN, USER, OTHER, "UADMIN")}
CONTROL = re.compile(r"<[!@#][^<>]*>")
NOT_SHOWN = frozenset({"value", "private_metadata", "metadata", "initial_value", "url", "errors"})
RECORDS = {
    "shop.example.com": [("CNAME", ENV_HOST + ".", 300)],
    "lt.example.com": [("CNAME", LT_HOST + ".", 300)],
    ENV_HOST: [("A", "192.0.2.10", 60)],
    LT_HOST: [("A", "192.0.2.11", 60)],
}


# -- the check ---------------------------------------------------------------------------


def shown_strings(value: Any) -> Iterator[str]:
    """Every string of a payload that Slack shows (see the module's docstring)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in NOT_SHOWN:
                yield from shown_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from shown_strings(item)
    elif isinstance(value, str):
        if value.startswith(("[", "{")):  # blocks or a view sent form-encoded
            try:
                yield from shown_strings(json.loads(value))
                return
            except ValueError:
                pass
        yield value


def unsafe_markup(payload: Any, *, here: bool = False) -> set[str]:
    allowed = OWN_MENTIONS | ({"<!here>"} if here else set())
    return {m for s in shown_strings(payload) for m in CONTROL.findall(s)} - allowed


class Watch:
    """Every ack body the app answered and every call it made, checked at the end."""

    def __init__(self, slack: SlackHarness, caplog: pytest.LogCaptureFixture) -> None:
        self.slack = slack
        self.caplog = caplog
        self.acks: list[Sent] = []

    def assert_clean(self, *, kinds: set[str]) -> None:
        calls = self.slack.api.calls()
        methods = {c.method for c in calls}
        assert kinds <= methods, f"not exercised: {kinds - methods}"
        for call in calls:
            expired = str(call.params.get("text", "")).endswith("has expired")
            found = unsafe_markup(call.params, here=expired)
            assert not found, f"{call.method} sent {found}: {json.dumps(call.params)[:600]}"
        for sent in self.acks:
            body = sent.json() if sent.body else {}
            found = unsafe_markup(body)
            assert not found, f"an ack sent {found}: {sent.body[:600]!r}"
        fixed = [r.getMessage() for r in self.caplog.records if r.name == "certops.markup"]
        assert not fixed, f"the gate had to fix what a builder forgot: {fixed}"


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture(scope="module")
def hostile_leaf(pki: PkiSet) -> Issued:
    """A certificate whose first SAN (and CN) is `<!channel>.example.com`."""
    return pki.intermediate.leaf(sans=[HOSTILE_SAN, "shop.example.com"])


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


@pytest.fixture
def slack(
    sqlite_url: str,
    pki: PkiSet,
    dns_server: DnsServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[SlackHarness, Watch]]:
    caplog.set_level(logging.WARNING, logger="certops.markup")
    with slack_harness(
        sqlite_url,
        nameservers=[dns_server.address],
        extra_roots=[pki.root.cert],
        default_channel="C0DEFAULT",
    ) as harness:
        watch = Watch(harness, caplog)
        post = harness.sender.post

        def recording(*args: Any, **kwargs: Any) -> Sent:
            sent = post(*args, **kwargs)
            watch.acks.append(sent)
            return sent

        monkeypatch.setattr(harness.sender, "post", recording)
        yield harness, watch


def rename(slack: SlackHarness, old: str, new: str) -> None:
    """A name as it may have been saved before the naming rule."""
    with slack.deps.services.session() as session:
        row = queries.certificate(session, old)
        row.name = new
        session.add(row)


def quoted(name: str) -> str:
    return f'"{name}"'


# -- the tests -----------------------------------------------------------------------------


def test_dm_verdict_save_and_validate_modal_with_a_hostile_san(
    slack: tuple[SlackHarness, Watch], pki: PkiSet, hostile_leaf: Issued
) -> None:
    h, watch = slack
    chain = hostile_leaf.pem + pki.intermediate.issued.pem
    cert = h.api.add_file("fullchain.pem", chain)
    key = h.api.add_file("privkey.pem", hostile_leaf.key_pem())
    update = send_files(h, cert, key).of("chat.update")[-1]  # the DM verdict
    assert "&lt;!channel&gt;.example.com" in json.dumps(update.params)
    save = button_in(update.blocks, UploadId.SAVE)
    modal = opened_view(click(h, UploadId.SAVE, save["value"]))
    name_field = next(b for b in modal["blocks"] if b.get("block_id") == "name")
    suggested = name_field["element"]["initial_value"]
    assert names.check_certificate_name(suggested) == suggested  # the SAN made to fit
    assert suggested.startswith("channel-.example.com-")
    saved = submit_view(h, modal, {"name": text_value(suggested), "domain": text_value("")})
    assert saved.ack_json["response_action"] == "update"
    assert any("Saved" in json.dumps(c.params) for c in saved.of("chat.postMessage"))

    # The validate modal: same files, a Domain typed as the hostile SAN.
    first = opened_view(h.command("validate"))
    assert first["callback_id"] == ValidateId.FORMAT_MODAL
    fields = submit_view(h, first, {"format": choice_value("pem")}).ack_json["view"]
    values = {
        "domain": text_value(HOSTILE_SAN),
        "name": text_value("validated-one"),
        "certificate": files_value(h.api.add_file("c.pem", chain)),
        "key": files_value(h.api.add_file("k.pem", hostile_leaf.key_pem())),
        "chain": files_value(),
    }
    submit_view(h, fields, values)  # the Domain is refused on its field
    values["domain"] = text_value("shop.example.com")
    done = submit_view(h, fields, values)
    assert "Saved *validated-one*" in json.dumps(done.ack_json)
    watch.assert_clean(kinds={"chat.update", "views.open", "chat.postMessage", "views.publish"})


def test_records_notices_assign_tickets_home_and_errors_with_a_hostile_name(
    slack: tuple[SlackHarness, Watch], pki: PkiSet
) -> None:
    h, watch = slack
    ctx = h.deps.services
    submit(ctx, pki, "shop")
    rename(h, "shop", HOSTILE)
    submit(ctx, pki, "waiting-one", manual=True)
    rename(h, "waiting-one", HOSTILE + " 2")
    submit(ctx, pki, "waiting-two", pki.wildcard, manual=True)
    rename(h, "waiting-two", HOSTILE + " 3")
    submit(ctx, pki, "wild", pki.wildcard)
    rename(h, "wild", HOSTILE + " w")
    add_env(ctx)
    add_env(ctx, "lt", LT_HOST, lifetime=True)

    assert HOSTILE in h.command("list").all_text  # shown as text
    h.command(f"show {quoted(HOSTILE)}")
    h.open_home(USER)
    # Approval notices: the reply in the channel and the DM to the submitter.
    approved = h.command(f"approve {quoted(HOSTILE + ' 2')}", ADMIN)
    assert [c.params["channel"] for c in approved.of("chat.postMessage")] == ["D" + USER[1:]]
    rejected = h.command(f"reject {quoted(HOSTILE + ' 3')} {FREE}", ADMIN)
    assert "co" in rejected.texts("chat.postMessage")[0]
    # Assign: the prompt, the confirmation, the result posted in the channel.
    prompt = h.command(f"assign {quoted(HOSTILE)} dev shop.example.com", ADMIN)
    done = h.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)
    assert done.of("chat.postMessage") and "assigned" in done.texts("chat.postMessage")[-1]
    # The TLS check's thread: its outcome (nothing listens on the port: a handshake error).
    config = tls_check.TlsCheckConfig(attempts=1, port=9, resolve=lambda _: "127.0.0.1", timeout=1)
    h.deps.services.clock = ManualClock(h.deps.services.now() + dt.timedelta(minutes=6))
    since = h.api.mark()
    report = tls_check.run_checks(ctx, config, SlackTlsPublisher(create_client(h.settings)))
    assert report.unreachable == 1
    (outcome,) = h.api.calls("chat.postMessage", since=since)
    assert "could not read the certificate of shop.example.com" in outcome.params["text"]
    # Tickets: opened for the hostile name, moved on with a hostile case number.
    opened = h.command(f"ticket open {quoted(HOSTILE + ' w')} lt.example.com", ADMIN)
    assert "#1" in opened.texts()[0] and "draft" in opened.texts()[0]
    moved = h.command(f"ticket update 1 submitted {quoted(FREE)}", ADMIN)
    assert "submitted" in moved.texts()[0]
    h.command("ticket list", OTHER)
    # Errors: usage errors quoting what was typed, refusals quoting a name, a crash.
    h.command(f"frobnicate {FREE}")
    h.command(f"env add {FREE}", ADMIN)
    h.command(f"show {quoted(FREE)}")
    h.command(f"dns {HOSTILE_SAN}")
    h.open_home(ADMIN)
    watch.assert_clean(
        kinds={"response_url", "chat.postMessage", "views.publish", "conversations.open"}
    )


def test_assign_modal_with_a_hostile_name_san_and_hostname(
    slack: tuple[SlackHarness, Watch], pki: PkiSet, hostile_leaf: Issued
) -> None:
    h, watch = slack
    ctx = h.deps.services
    files = [
        InputFile("c.pem", hostile_leaf.pem + pki.intermediate.issued.pem),
        InputFile("k.pem", hostile_leaf.key_pem()),
    ]
    certificates.submit_certificate(
        ctx, Actor(USER), files, Passwords(), name="odd", domain="shop.example.com"
    )
    rename(h, "odd", HOSTILE)
    add_env(ctx)
    view = opened_view(h.command("assign", ADMIN, channel_id="C0TEAM"))
    assert escape(HOSTILE) in json.dumps(view["blocks"][0])  # the option's text
    picked = pick_certificate(h, view, HOSTILE)
    (update,) = picked.of("views.update")
    assert "It covers: &lt;!channel&gt;.example.com" in json.dumps(update.view)
    refused = submit_view(h, view, assign_form(HOSTILE, HOSTILE_SAN), ADMIN)
    assert list(refused.ack_json["errors"]) == ["hostname"]
    done = submit_view(h, view, assign_form(HOSTILE, "shop.example.com"), ADMIN)
    assert done.ack_json["response_action"] == "update"
    assert f"assigned *{escape(HOSTILE)}* to *dev*" in json.dumps(done.ack_json["view"])
    assert [c for c in done.of("chat.postMessage") if c.params["channel"] == "C0TEAM"]
    watch.assert_clean(kinds={"views.open", "views.update", "chat.postMessage"})


def assign_form(cert: str, hostname: str) -> dict[str, dict[str, Any]]:
    return {
        "certificate": select_value(AssignId.PICK, cert),
        "environment": select_value(assign_ui.CHOICE_ACTION, "dev"),
        "hostname": text_value(hostname),
        assign_ui.CNAME: boxes_value(assign_ui.CNAME),
    }


def pick_certificate(h: SlackHarness, view: dict[str, Any], cert: str) -> Any:
    """A pick in the assign modal's certificate menu, as Slack sends it."""
    option = {"value": cert, "text": {"type": "plain_text", "text": escape(cert)}}
    payload = {
        "type": "block_actions",
        "user": {"id": ADMIN},
        "container": {"type": "view", "view_id": "V0ASSIGN"},
        "view": {
            "id": "V0ASSIGN",
            "hash": "h1",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "blocks": view["blocks"],
            "state": {"values": assign_form(cert, "")},
        },
        "actions": [
            {
                "type": "static_select",
                "action_id": AssignId.PICK,
                "block_id": "certificate",
                "selected_option": option,
            }
        ],
    }
    return interact(h, payload)


def test_a_crash_answer_quotes_the_typed_command_escaped(
    slack: tuple[SlackHarness, Watch], monkeypatch: pytest.MonkeyPatch
) -> None:
    h, watch = slack

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(subcommands.SUBCOMMANDS, "show", broken)
    crashed = h.command(f"show {quoted(FREE)}")
    assert "something went wrong" in crashed.all_text
    # A listener that failed may have failed after its change: no "Nothing was changed".
    assert "Nothing was changed" not in crashed.all_text
    watch.assert_clean(kinds={"response_url"})


def test_expiry_warnings_and_renewal_texts_with_a_hostile_name(
    slack: tuple[SlackHarness, Watch],
) -> None:
    h, watch = slack
    ctx = h.deps.services
    clock = ManualClock(START)
    ctx.clock = clock
    env = add_env_row(ctx, "prod", "C0PROD")
    cert = add_cert_row(ctx, HOSTILE, days=20, sans=(HOSTILE_SAN, "shop.example.com"))
    assign_row(ctx, cert, env, "shop.example.com")
    # The TLS check announces the new assignment in the channel (its thread's first post).
    config = tls_check.TlsCheckConfig(resolve=lambda _: "127.0.0.1", timeout=1)
    tls_check.run_checks(ctx, config, SlackTlsPublisher(create_client(h.settings)))
    (announced,) = h.api.calls("chat.postMessage")
    assert "was assigned to *prod*" in announced.params["text"]
    publisher = SlackPublisher(create_client(h.settings))

    def scan() -> expiry.ScanReport:
        return expiry.run_scan(ctx, publisher, CONFIG, ChannelPacer(0.0))

    assert scan().posted == 1
    warning = h.api.calls("chat.postMessage")[-1]
    assert warning is not announced
    assert warning.params["text"] == f"Certificate {escape(HOSTILE)} expires in 20 days"
    # Renew: the validate modal prefilled, with a proposed name that fits the rule.
    renew = click_warning(h, warning, WarningId.RENEW)
    meta = json.loads(opened_view(renew)["private_metadata"])
    assert names.check_certificate_name(meta["name"]) == meta["name"]
    fields = submit_view(h, opened_view(renew), {"format": choice_value("pem")}).ack_json
    assert escape(HOSTILE) in json.dumps(fields)
    # Days later, updated in place; then expired: <!here>, the bot's own, and nothing else.
    clock.advance(days=7)
    scan()
    clock.advance(days=14)
    scan()
    loud = h.api.calls("chat.postMessage")[-1]
    assert loud.params["text"].endswith("has expired")
    assert "<!here>" in json.dumps(loud.blocks)
    # A valid renewal turns the warning into "renewed" and offers the one-step renewal.
    add_cert_row(ctx, "shop-2027", days=400, renews=cert, sans=("shop.example.com",))
    scan()
    assert h.api.calls("chat.update")
    watch.assert_clean(kinds={"chat.postMessage", "chat.update", "views.open"})


# -- the rule and the gate -----------------------------------------------------------------


def test_the_naming_rule_and_the_names_it_proposes() -> None:
    for good in ("shop-2027", "wildcard.example.com_2", "a", "9" * 100):
        assert names.check_certificate_name(f" {good} ") == good
    for bad in ("", "-shop", ".x", "shop 2027", "a/b", "<!channel>", "é", "x" * 101):
        with pytest.raises(ServiceError) as refused:
            names.check_certificate_name(bad)
        assert refused.value.code == "invalid_input"
        assert "letters, digits, '.', '-' and '_'" in refused.value.message
    cases = {
        ("*.example.com", "-2027"): "wildcard.example.com-2027",
        (HOSTILE_SAN, "-2027"): "channel-.example.com-2027",
        (HOSTILE, "-renewal-20260301"): "channel-soon-UEVIL0001-renewal-20260301",
        ("", ""): "certificate",
        ("<>", "-2027"): "certificate-2027",
        ("x" * 300, "-renewal-20260301"): "x" * 83 + "-renewal-20260301",
    }
    for (text, suffix), expected in cases.items():
        assert names.fit_name(text, suffix) == expected
        assert names.check_certificate_name(expected) == expected


def test_a_new_name_outside_the_rule_is_refused_by_the_service(
    pki: PkiSet, sqlite_url: str
) -> None:
    """The CLI, the console and Slack all save through this one check."""
    from bot.app import create_service_context
    from tests.support.slack_harness import harness_settings

    ctx = create_service_context(harness_settings(sqlite_url))
    files = [
        InputFile("c.pem", pki.shop.pem + pki.intermediate.issued.pem),
        InputFile("k.pem", pki.shop.key_pem()),
    ]
    with pytest.raises(ServiceError) as refused:
        certificates.submit_certificate(ctx, Actor(USER), files, Passwords(), name=HOSTILE)
    assert "letters, digits" in refused.value.message
    assert certificates.list_certificates(ctx) == []
    ctx.database.dispose()


def test_neutralize_keeps_own_markup_and_escaped_text_and_escapes_the_rest() -> None:
    text = f"<@{USER}> in <#C0PROD|ops>: {escape(HOSTILE)} &amp; *bold*"
    assert neutralize(text) == text  # idempotent on what the builders write
    assert neutralize("<!channel> & <@evil> <http://x|y> a<b") == (
        "&lt;!channel&gt; &amp; &lt;@evil&gt; &lt;http://x|y&gt; a&lt;b"
    )
    # The limit: a user id looks like the bot's own mention, so builders must escape.
    assert neutralize("<@UEVIL0001>") == "<@UEVIL0001>"
    assert neutralize("<!here>") == "&lt;!here&gt;"
    with broadcast():
        assert neutralize("<!here> <!channel>") == "<!here> &lt;!channel&gt;"


def test_the_gate_fixes_what_a_builder_forgot_on_every_path(
    slack: tuple[SlackHarness, Watch], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Web API client, the ack and the response URL: `<!channel>` never leaves."""
    h, watch = slack
    client = create_client(h.settings)
    client.chat_postMessage(channel="C0X", text="<!channel>", blocks=[section("<!everyone>")])
    posted = h.api.calls("chat.postMessage")[-1]
    assert posted.params["text"] == "&lt;!channel&gt;"
    assert "&lt;!everyone&gt;" in json.dumps(posted.blocks)

    import handlers.commands.command as commands

    forgetful = [section("<!channel> from the ack")]
    monkeypatch.setattr(commands, "help_blocks", lambda admin: forgetful)
    ack = h.command("help")
    assert "&lt;!channel&gt; from the ack" in ack.sent.body
    monkeypatch.setattr(
        subcommands, "cert_list", lambda *a: subcommands.Reply([section("<!subteam^S1> late")])
    )
    monkeypatch.setitem(subcommands.SUBCOMMANDS, "list", subcommands.cert_list)
    late = h.command("list")
    assert "&lt;!subteam^S1&gt; late" in json.dumps(late.responses[-1].params)
    fixed = [r.getMessage() for r in watch.caplog.records if r.name == "certops.markup"]
    assert len(fixed) == 3 and "chat.postMessage" in fixed[0] and "ack" in fixed[1]
    assert "response_url" in fixed[2]
    assert not [c for c in h.api.calls() if unsafe_markup(c.params)]


def test_a_stored_status_is_not_what_makes_a_name_safe(
    slack: tuple[SlackHarness, Watch], pki: PkiSet
) -> None:
    """Names saved before the rule still work for lookups (show, assign, approve...)."""
    h, _ = slack
    submit(h.deps.services, pki, "old", manual=True)
    rename(h, "old", HOSTILE)
    view = certificates.show_certificate(h.deps.services, HOSTILE)
    assert view.status == CertificateStatus.PENDING_MANUAL.value
    approved = h.command(f"approve {quoted(HOSTILE)}", ADMIN)
    assert "approved certificate" in approved.texts()[0]


# Modules that may build a Slack client themselves, and why it cannot post unguarded.
UNGUARDED_CLIENTS_ALLOWED = {
    "bot/doctor/slack_checks.py": "reads only (auth.test, conversations.info, a connection)",
}


def test_no_module_builds_a_slack_client_that_bypasses_the_gate() -> None:
    """A new WebClient or WebhookClient must come from create_client() or guarded():
    Bolt's request clients are swapped by the gate's middleware, the rest must be too."""
    root = Path(__file__).resolve().parent.parent
    found: dict[str, int] = {}
    for path in sorted(
        [*root.joinpath("bot").rglob("*.py"), *root.joinpath("handlers").rglob("*.py")]
    ):
        relative = path.relative_to(root).as_posix()
        if relative == "handlers/common/markup_gate.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node.func, "id", None) if isinstance(node, ast.Call) else None
            if name in {"WebClient", "WebhookClient"}:
                found[relative] = found.get(relative, 0) + 1
    assert set(found) <= set(UNGUARDED_CLIENTS_ALLOWED), (
        f"{sorted(set(found) - set(UNGUARDED_CLIENTS_ALLOWED))} build a Slack client: "
        "use bot.app.create_client or handlers.common.markup_gate.guarded"
    )
    assert found, "the scan sees the known ones"
