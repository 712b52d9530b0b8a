"""The `/cert validate` and `/cert assign` modals from open to submit, end to end: signed
slash commands and view submissions to the app in HTTP mode, files served by the stand-in,
a real DNS server on loopback, the real services on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.services import certificates, environments, tickets
from handlers.assign import blocks as assign_ui
from handlers.common.forms import FormRequest
from handlers.common.ids import AssignId, ValidateId
from handlers.validate import blocks as validate_ui
from handlers.validate import form as validate_form
from tests.support.dns_server import DnsServer
from tests.support.slack_fixtures import ENV_HOST, LT_HOST, PkiSet, add_env, make_pki, submit
from tests.support.slack_harness import ADMIN, USER, SlackHarness, slack_harness
from tests.support.slack_upload_fixtures import (
    PFX_PASSWORD,
    ZIP_PASSWORD,
    UploadSet,
    boxes_value,
    choice_value,
    files_value,
    interact,
    make_uploads,
    opened_view,
    select_value,
    submit_view,
    text_value,
)

RECORDS = {
    "shop.example.com": [("CNAME", ENV_HOST + ".", 300)],
    "www.example.com": [("A", "192.0.2.80", 300)],
    ENV_HOST: [("A", "192.0.2.10", 60)],
    LT_HOST: [("A", "192.0.2.11", 60)],
}


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture(scope="module")
def files(pki: PkiSet) -> UploadSet:
    return make_uploads(pki)


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


def _harness(url: str, pki: PkiSet, dns: DnsServer, **overrides: Any) -> Any:
    return slack_harness(url, nameservers=[dns.address], extra_roots=[pki.root.cert], **overrides)


@pytest.fixture
def slack(database_url: str, pki: PkiSet, dns_server: DnsServer) -> Iterator[SlackHarness]:
    """The app on SQLite and on PostgreSQL."""
    with _harness(database_url, pki, dns_server) as harness:
        yield harness


# --- /cert validate ----------------------------------------------------------------------
def fields_step(slack: SlackHarness, fmt: str, user: str = USER) -> dict[str, Any]:
    """Open the modal, choose the format; the second step's view as the ack gave it."""
    first = opened_view(slack.command("validate", user))
    assert first["callback_id"] == ValidateId.FORMAT_MODAL
    ack = submit_view(slack, first, {"format": choice_value(fmt)}, user).ack_json
    assert ack["response_action"] == "update"
    view: dict[str, Any] = ack["view"]
    assert view["callback_id"] == ValidateId.FIELDS_MODAL
    return view


def block_ids(view: dict[str, Any]) -> list[str]:
    return [b.get("block_id", "") for b in view["blocks"] if b["type"] == "input"]


def test_validate_modal_pem_from_open_to_saved(slack: SlackHarness, files: UploadSet) -> None:
    view = fields_step(slack, "pem")
    assert block_ids(view)[:5] == ["domain", "name", "certificate", "key", "chain"]
    assert '"type": "file_input"' in json.dumps(view["blocks"])
    cert = slack.api.add_file("cert.pem", files.cert_pem)
    key = slack.api.add_file("key.pem", files.key_pem)
    values = {
        "domain": text_value("shop.example.com"),
        "name": text_value("shop-2027"),
        "certificate": files_value(cert),
        "key": files_value(key),
        "chain": files_value(),
    }
    done = submit_view(slack, view, values)
    assert done.ack_json["response_action"] == "update"
    text = done.all_text + json.dumps(done.ack_json)
    assert "Saved *shop-2027*: validated" in text and "shop.example.com" in text
    assert certificates.show_certificate(slack.deps.services, "shop-2027").status == "validated"
    dm = done.texts("chat.postMessage")
    assert dm and "Saved *shop-2027*" in dm[0]
    taken = submit_view(slack, view, values)
    assert taken.ack_json == {
        "response_action": "errors",
        "errors": {"name": "the certificate name 'shop-2027' is already taken: choose another"},
    }


def test_validate_modal_field_errors(slack: SlackHarness, files: UploadSet) -> None:
    view = fields_step(slack, "pem")
    quick = submit_view(
        slack,
        view,
        {"domain": text_value("not a host!"), "name": text_value(" "), "key": files_value()},
    )
    errors = quick.ack_json["errors"]
    assert set(errors) == {"domain", "name", "certificate", "key"}
    assert quick.of("views.update") == []  # answered in the ack, nothing downloaded
    cert = slack.api.add_file("cert.pem", files.cert_pem)
    other_key = slack.api.add_file("key.pem", files.other_key_pem)
    wrong_key = submit_view(
        slack,
        view,
        {
            "domain": text_value("www.example.com"),
            "name": text_value("mismatch"),
            "certificate": files_value(cert),
            "key": files_value(other_key),
        },
    )
    assert wrong_key.ack_json["response_action"] == "errors"
    assert list(wrong_key.ack_json["errors"]) == ["key"]
    uncovered = submit_view(
        slack,
        view,
        {
            "domain": text_value("api.other.org"),
            "name": text_value("uncovered"),
            "certificate": files_value(cert),
            "key": files_value(slack.api.add_file("k.pem", files.key_pem)),
        },
    )
    assert list(uncovered.ack_json["errors"]) == ["domain"]
    with pytest.raises(Exception, match="no certificate named"):
        certificates.show_certificate(slack.deps.services, "uncovered")


def test_validate_modal_pfx_wrong_password_then_right(
    slack: SlackHarness, files: UploadSet
) -> None:
    view = fields_step(slack, "pfx")
    assert block_ids(view)[:4] == ["domain", "name", "pfx", "password"]
    pfx = slack.api.add_file("shop.pfx", files.pfx)
    values = {
        "domain": text_value("shop.example.com"),
        "name": text_value("pfx-modal"),
        "pfx": files_value(pfx),
        "password": text_value("not-the-pfx-password"),
    }
    wrong = submit_view(slack, view, values)
    assert list(wrong.ack_json["errors"]) == ["password"]
    values["password"] = text_value(PFX_PASSWORD)
    right = submit_view(slack, view, values)
    assert "Saved *pfx-modal*" in json.dumps(right.ack_json)
    assert PFX_PASSWORD not in json.dumps([c.params for c in slack.api.calls()])


def test_validate_modal_zip_with_notes_for_manual_validation(
    slack: SlackHarness, files: UploadSet
) -> None:
    view = fields_step(slack, "zip")
    assert block_ids(view)[:5] == ["domain", "name", "zip", "zip_password", "password"]
    assert "notes" in block_ids(view)
    leaf_only = slack.api.add_file(
        "leaf.zip", _zip({"leaf.pem": files.leaf_pem, "k.pem": files.key_pem})
    )
    values = {
        "domain": text_value("shop.example.com"),
        "name": text_value("zip-manual"),
        "zip": files_value(leaf_only),
        "notes": text_value("Our CA's intermediate is installed on the load balancer."),
    }
    invalid = submit_view(slack, view, values)  # chain_incomplete has a field on PEM only
    assert invalid.ack_json["response_action"] == "update"
    assert "chain_incomplete" in json.dumps(invalid.ack_json) and "Not saved" in json.dumps(
        invalid.ack_json
    )
    values[validate_ui.MANUAL] = boxes_value(validate_ui.MANUAL)
    manual = submit_view(slack, view, values)
    assert "waiting for manual validation" in json.dumps(manual.ack_json)
    saved = certificates.show_certificate(slack.deps.services, "zip-manual")
    assert saved.status == "pending_manual" and saved.submitted_format == "zip"


def test_validate_modal_slow_work_updates_the_view(
    sqlite_url: str, pki: PkiSet, dns_server: DnsServer, files: UploadSet
) -> None:
    with _harness(sqlite_url, pki, dns_server, modal_budget_seconds=0.0) as slack:
        view = fields_step(slack, "pem")
        cert = slack.api.add_file("cert.pem", files.cert_pem)
        key = slack.api.add_file("key.pem", files.key_pem)
        values = {
            "domain": text_value("shop.example.com"),
            "name": text_value("slow"),
            "certificate": files_value(cert),
            "key": files_value(key),
        }
        done = submit_view(slack, view, values, view_id="V0SLOW")
        assert "Validating" in json.dumps(done.ack_json["view"])
        (update,) = done.of("views.update")
        assert update.params["view_id"] == "V0SLOW" and "Saved *slow*" in json.dumps(update.view)
        late = submit_view(slack, view, values, view_id="V0LATE")  # name taken, after 3 s
        (late_update,) = late.of("views.update")
        assert "already taken" in json.dumps(late_update.view)


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- /cert assign ------------------------------------------------------------------------
def assign_values(
    cert: str | None, env: str | None, hostname: str, cname: bool
) -> dict[str, dict[str, Any]]:
    return {
        "certificate": select_value(AssignId.PICK, cert),
        "environment": select_value(assign_ui.CHOICE_ACTION, env),
        "hostname": text_value(hostname),
        assign_ui.CNAME: boxes_value(assign_ui.CNAME) if cname else boxes_value(),
    }


def pick(slack: SlackHarness, view: dict[str, Any], cert: str) -> Any:
    payload = {
        "type": "block_actions",
        "user": {"id": ADMIN, "username": "admin"},
        "container": {"type": "view", "view_id": "V0ASSIGN"},
        "view": {
            "id": "V0ASSIGN",
            "hash": "h1",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "blocks": view["blocks"],
            "state": {"values": assign_values(cert, "dev", "", False)},
        },
        "actions": [
            {
                "type": "static_select",
                "action_id": AssignId.PICK,
                "block_id": "certificate",
                "selected_option": {"value": cert, "text": {"type": "plain_text", "text": cert}},
            }
        ],
    }
    return interact(slack, payload)


def test_assign_modal_from_open_to_assigned(slack: SlackHarness, pki: PkiSet) -> None:
    ctx = slack.deps.services
    submit(ctx, pki, "shop")
    submit(ctx, pki, "waiting", manual=True)
    add_env(ctx)
    opened = slack.command("assign", ADMIN, channel_id="C0TEAM")
    assert opened.ack_text == "" and opened.sent.status == 200
    view = opened_view(opened)
    assert view["callback_id"] == AssignId.MODAL
    options = json.dumps(view["blocks"][0])
    assert '"shop"' in options and "waiting" not in options  # validated or approved only

    picked = pick(slack, view, "shop")
    (update,) = picked.of("views.update")
    hostname = next(b for b in update.view["blocks"] if b.get("block_id") == "hostname")
    assert hostname["element"]["initial_value"] == "shop.example.com"
    assert "It covers: shop.example.com, www.example.com" in hostname["hint"]["text"]

    unticked = submit_view(
        slack, view, assign_values("shop", "dev", "shop.example.com", False), ADMIN
    )
    assert unticked.ack_json["response_action"] == "errors"
    assert f"shop.example.com CNAME {ENV_HOST}" in unticked.ack_json["errors"][assign_ui.CNAME]
    uncovered = submit_view(slack, view, assign_values("shop", "dev", "api.other.org", True), ADMIN)
    assert list(uncovered.ack_json["errors"]) == ["hostname"]
    bad = submit_view(slack, view, assign_values("shop", "dev", "not a host", True), ADMIN)
    assert list(bad.ack_json["errors"]) == ["hostname"]

    done = submit_view(slack, view, assign_values("shop", "dev", "shop.example.com", True), ADMIN)
    assert done.ack_json["response_action"] == "update"
    assert "assigned *shop* to *dev*" in json.dumps(done.ack_json["view"])
    (announced,) = [c for c in done.of("chat.postMessage") if c.params["channel"] == "C0TEAM"]
    said = json.dumps(announced.blocks)
    assert "REST and SOAP" in said and "Mobile apps" in said and "Host header" in said
    current = environments.show_environment(ctx, "dev").current
    assert current is not None and current.hostname == "shop.example.com"


def test_assign_modal_shows_a_misconfigured_cname_in_the_form(
    slack: SlackHarness, pki: PkiSet
) -> None:
    ctx = slack.deps.services
    submit(ctx, pki, "shop")
    add_env(ctx)
    view = opened_view(slack.command("assign", ADMIN))
    result = submit_view(slack, view, assign_values("shop", "dev", "www.example.com", True), ADMIN)
    ack = result.ack_json
    assert ack["response_action"] == "update" and ack["view"]["callback_id"] == AssignId.MODAL
    text = json.dumps(ack["view"]["blocks"])
    assert "a_record_instead_of_cname" in text and "submit again" in text
    assert environments.show_environment(ctx, "dev").current is None


def test_assign_modal_lifetime_turns_into_a_ticket(slack: SlackHarness, pki: PkiSet) -> None:
    ctx = slack.deps.services
    submit(ctx, pki, "wild", pki.wildcard)
    add_env(ctx)
    add_env(ctx, "lt", LT_HOST, lifetime=True)
    view = opened_view(slack.command("assign", ADMIN))
    assert "LifeTime: by support ticket" in json.dumps(view["blocks"])
    # No CNAME yet on LifeTime: it comes after support confirms.
    result = submit_view(slack, view, assign_values("wild", "lt", "lt.example.com", False), ADMIN)
    ack = json.dumps(result.ack_json)
    assert "support ticket" in ack and "Subject: Change the LifeTime hostname" in ack
    dm = result.texts("chat.postMessage")
    assert dm and "Subject: Change the LifeTime hostname" in dm[0]
    again = submit_view(slack, view, assign_values("wild", "lt", "lt.example.com", False), ADMIN)
    assert "already" in json.dumps(again.ack_json)
    assert environments.show_environment(ctx, "lt").current is None


def test_a_lifetime_ticket_whose_dm_slack_refuses_is_no_error(
    slack: SlackHarness, pki: PkiSet
) -> None:
    """Defect 3: the draft ticket exists once the form is answered; a DM that Slack then
    refuses is logged, never 'something went wrong ... Nothing was changed', and the
    Home is still brought up to date."""
    ctx = slack.deps.services
    submit(ctx, pki, "wild", pki.wildcard)
    add_env(ctx, "lt", LT_HOST, lifetime=True)
    view = opened_view(slack.command("assign", ADMIN))
    slack.api.fail_next("conversations.open", error="user_disabled")
    result = submit_view(slack, view, assign_values("wild", "lt", "lt.example.com", False), ADMIN)
    assert "Subject: Change the LifeTime hostname" in json.dumps(result.ack_json)
    assert "went wrong" not in result.all_text
    assert "Nothing was changed" not in result.all_text
    assert not result.texts("chat.postMessage")  # the DM was refused: logged only
    assert result.of("views.publish")
    (ticket,) = tickets.list_tickets(ctx)
    assert ticket.state == "draft"


def test_a_form_whose_follow_up_fails_after_the_change_is_no_error(
    slack: SlackHarness, pki: PkiSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 3, for every form: `Outcome.after` runs once the change is made and shown,
    so whatever it raises is logged and the modal keeps saying what was done."""
    ctx = slack.deps.services
    submit(ctx, pki, "wild", pki.wildcard)
    add_env(ctx, "lt", LT_HOST, lifetime=True)
    view = opened_view(slack.command("assign", ADMIN))

    def broken(client: object, actor: object) -> None:
        raise RuntimeError("the Home is broken")

    monkeypatch.setattr(slack.deps, "publish_home", broken)
    result = submit_view(slack, view, assign_values("wild", "lt", "lt.example.com", False), ADMIN)
    assert "Subject: Change the LifeTime hostname" in json.dumps(result.ack_json)
    assert "went wrong" not in result.all_text
    assert "Subject: Change the LifeTime hostname" in result.texts("chat.postMessage")[0]
    assert len(tickets.list_tickets(ctx)) == 1


def test_assign_modal_is_for_admins_and_needs_records(slack: SlackHarness, pki: PkiSet) -> None:
    empty = slack.command("assign", ADMIN)
    assert "no validated or approved certificate" in empty.ack_text
    submit(slack.deps.services, pki, "shop")
    assert "No environment is recorded yet" in slack.command("assign", ADMIN).ack_text
    add_env(slack.deps.services)
    home = slack.click("home_assign", ADMIN, in_message=False)
    assert opened_view(home)["callback_id"] == AssignId.MODAL
    assert "for admins only" in slack.click("home_assign", USER, in_message=False).all_text


def test_validate_modal_prefilled_for_a_renewal(
    slack: SlackHarness, pki: PkiSet, files: UploadSet
) -> None:
    """The Renew button of an expiry warning opens this modal with prefill arguments."""
    submit(slack.deps.services, pki, "shop")
    since = slack.api.mark()
    client = slack.app.client
    assert (
        validate_form.open_modal(
            client,
            FormRequest(
                "1.trigger", USER, domain="shop.example.com", name="shop-new", renews="shop"
            ),
            slack.deps,
        )
        is None
    )
    (opened,) = slack.api.calls("views.open", since=since)
    step = submit_view(slack, opened.view, {"format": choice_value("pem")}).ack_json["view"]
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in step["blocks"]
        if b["type"] == "input" and b["element"]["type"] == "plain_text_input"
    }
    assert initial["domain"] == "shop.example.com" and initial["name"] == "shop-new"
    assert "Renewing *shop*" in json.dumps(step["blocks"])
    renewal = pki.shop_renewal.pem + pki.intermediate.issued.pem
    values = {
        "domain": text_value("shop.example.com"),
        "name": text_value("shop-new"),
        "certificate": files_value(slack.api.add_file("new.pem", renewal)),
        "key": files_value(slack.api.add_file("key.pem", files.key_pem)),
    }
    assert "Saved *shop-new*" in json.dumps(submit_view(slack, step, values).ack_json)
    assert certificates.show_certificate(slack.deps.services, "shop-new").renews == "shop"


def test_work_that_breaks_ends_in_a_view_without_details(
    slack: SlackHarness, files: UploadSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internal detail")

    view = fields_step(slack, "pem")
    monkeypatch.setattr(certificates, "submit_certificate", broken)
    values = {
        "domain": text_value("shop.example.com"),
        "name": text_value("broken"),
        "certificate": files_value(slack.api.add_file("c.pem", files.cert_pem)),
        "key": files_value(slack.api.add_file("k.pem", files.key_pem)),
    }
    ack = json.dumps(submit_view(slack, view, values).ack_json)
    assert "Something went wrong" in ack and "Reference" in ack
    assert "secret internal detail" not in ack


def test_validate_modal_zip_password_goes_on_its_field(
    slack: SlackHarness, files: UploadSet
) -> None:
    view = fields_step(slack, "zip")
    values = {
        "domain": text_value("shop.example.com"),
        "name": text_value("zip-aes"),
        "zip": files_value(slack.api.add_file("bundle.zip", files.zip_aes)),
        "zip_password": text_value("not-the-zip-password"),
    }
    wrong = submit_view(slack, view, values)
    assert list(wrong.ack_json["errors"]) == ["zip_password"]
    values["zip_password"] = text_value(ZIP_PASSWORD)
    assert "Saved *zip-aes*: validated" in json.dumps(submit_view(slack, view, values).ack_json)


def test_validate_modal_refuses_a_name_with_markup_and_says_what_is_allowed(
    slack: SlackHarness, files: UploadSet
) -> None:
    view = fields_step(slack, "pfx")
    pfx = slack.api.add_file("shop.pfx", files.pfx)
    values = {
        "domain": text_value("shop.example.com"),
        "name": text_value("<!here> pfx"),
        "pfx": files_value(pfx),
        "password": text_value(PFX_PASSWORD),
    }
    refused = submit_view(slack, view, values)
    assert list(refused.ack_json["errors"]) == ["name"]
    assert "letters, digits, '.', '-' and '_'" in refused.ack_json["errors"]["name"]
    assert "<!here>" not in json.dumps(refused.ack_json) and not refused.calls
    values["name"] = text_value("pfx.shop_2027")
    assert "Saved *pfx.shop_2027*" in json.dumps(submit_view(slack, view, values).ack_json)


def test_validate_modal_saved_when_slack_refuses_the_dm(
    slack: SlackHarness, files: UploadSet
) -> None:
    view = fields_step(slack, "pfx")
    pfx = slack.api.add_file("shop.pfx", files.pfx)
    values = {
        "domain": text_value("shop.example.com"),
        "name": text_value("pfx-kept"),
        "pfx": files_value(pfx),
        "password": text_value(PFX_PASSWORD),
    }
    slack.api.fail_next("conversations.open", error="user_disabled")
    saved = submit_view(slack, view, values)
    assert "Saved *pfx-kept*" in json.dumps(saved.ack_json)
    assert "went wrong" not in saved.all_text
    assert saved.of("views.publish")
