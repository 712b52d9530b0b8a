"""LifeTime ticket drafts (issue 13, point 7): one draft per certificate and LifeTime
environment (a second `ticket open` points to the first; another certificate opens its
own), and a certificate that is superseded cancels its drafts with an audit event.

Through the `certops` command line on SQLite and PostgreSQL, and through signed HTTP into
the running Bolt app on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.services import audit, tickets
from tests.support.dns_server import DnsServer
from tests.support.record_cli import Run
from tests.support.services import DEV_HOST
from tests.support.services import LT_HOST as CLI_LT_HOST
from tests.support.slack_fixtures import LT_HOST, RECORDS, PkiSet, add_env, make_pki, submit
from tests.support.slack_harness import ADMIN, SlackHarness, slack_harness


def _submit(run: Run, files: dict[str, str], name: str, *extra: str) -> dict[str, Any]:
    cert, key = (
        (files["wild.pem"], files["wild.key"])
        if name == "wild"
        else (
            files["app.pem"],
            files["app.key"],
        )
    )
    argv = ["cert", "submit", cert, key, "--name", name, "--password-file", files["key.pass"]]
    code, data = run.json(*argv, "--trust-store", files["root.pem"], *extra)
    assert code == 0, data
    return data


def test_one_draft_per_certificate_and_superseded_drafts_cancelled_on_the_terminal(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    files: dict[str, str],
    dns_server: DnsServer,
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    run = Run(capsys)
    ns = ["--nameserver", dns_server.nameserver, "--timeout", "2"]
    assert run("env", "add", "dev", "--host", DEV_HOST)[0] == 0
    assert run("env", "add", "lifetime", "--host", CLI_LT_HOST, "--lifetime")[0] == 0
    _submit(run, files, "app")
    assert run("assign", "app", "dev", "app.example.com", "--cname-confirmed", *ns)[0] == 0
    _submit(run, files, "wild")

    code, first = run.json("ticket", "open", "wild", "lt.example.com")
    assert code == 0 and first["existing"] is False and first["ticket"]["state"] == "draft"
    code, again = run.json("ticket", "open", "wild", "portal.example.com")
    assert code == 0 and again["existing"] is True  # points to the first...
    assert again["ticket"]["id"] == first["ticket"]["id"]
    assert again["ticket"]["hostname"] == "lt.example.com"
    assert f"Ticket {first['ticket']['id']} is already the draft" in again["message"]
    assert "lt.example.com" in again["support_text"]
    code, out, _ = run("ticket", "open", "wild", "lt.example.com")  # ...on the terminal too
    assert code == 0 and "already the draft" in out
    code, other = run.json("ticket", "open", "app", "app.example.com")
    assert code == 0 and other["existing"] is False  # another certificate: its own draft
    code, listed = run.json("ticket", "list", "--open")
    assert sorted(t["certificate"] for t in listed["items"]) == ["app", "wild"]

    # A renewal of `wild` is validated: nothing serves `wild` (a draft is not support's
    # work yet), so it is superseded and its draft cancelled, with an audit event.
    _submit(run, files, "wild-2", "--renews", "wild")
    code, shown = run.json("cert", "show", "wild")
    assert code == 0 and shown["status"] == "superseded"
    code, listed = run.json("ticket", "list")
    states = {t["certificate"]: t["state"] for t in listed["items"]}
    assert states == {"wild": "cancelled", "app": "draft"}
    code, events = run.json("audit", "--limit", "5")
    cancelled = [e for e in events["items"] if e["action"] == "ticket.cancelled"]
    assert [e["entity_id"] for e in cancelled] == [first["ticket"]["id"]]
    assert cancelled[0]["before"]["state"] == "draft"
    assert cancelled[0]["after"]["state"] == "cancelled"


def test_a_ticket_support_has_keeps_the_certificate_in_use(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    files: dict[str, str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    run = Run(capsys)
    assert run("env", "add", "lifetime", "--host", CLI_LT_HOST, "--lifetime")[0] == 0
    _submit(run, files, "wild")
    code, opened = run.json("ticket", "open", "wild", "lt.example.com")
    assert code == 0, opened
    tid = str(opened["ticket"]["id"])
    assert run("ticket", "update", tid, "--state", "submitted", "--case", "CS-9")[0] == 0
    _submit(run, files, "wild-2", "--renews", "wild")
    assert run.json("cert", "show", "wild")[1]["status"] == "validated"  # support has it
    listed = run.json("ticket", "list")[1]
    assert [t["state"] for t in listed["items"]] == ["submitted"]


# --- through signed HTTP ----------------------------------------------------------------
@pytest.fixture(scope="module")
def slack_pki() -> PkiSet:
    return make_pki()


@pytest.fixture
def slack(pg_url: str, slack_pki: PkiSet) -> Iterator[SlackHarness]:
    zones = ["example.com", "outsystemsenterprise.com"]
    with (
        DnsServer(RECORDS, zones=zones) as server,
        slack_harness(pg_url, nameservers=[server.address], extra_roots=[slack_pki.root.cert]) as h,
    ):
        yield h


def test_drafts_through_slack(slack: SlackHarness, slack_pki: PkiSet) -> None:
    ctx = slack.deps.services
    submit(ctx, slack_pki, "wild", slack_pki.wildcard)
    submit(ctx, slack_pki, "shop", slack_pki.shop)
    add_env(ctx)
    add_env(ctx, "lt", LT_HOST, lifetime=True)
    prompt = slack.command("assign shop dev shop.example.com", ADMIN)
    slack.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)
    first = slack.command("ticket open wild lt.example.com", ADMIN).texts()[0]
    assert "#1" in first and "is a draft" in first
    again = slack.command("ticket open wild www.example.com", ADMIN).texts()[0]
    assert "Ticket 1 is already the draft for wild on lt (lt.example.com)" in again
    own = slack.command("ticket open shop shop.example.com", ADMIN).texts()[0]
    assert "Ticket 2 is a draft" in own  # another certificate
    submit(ctx, slack_pki, "wild-2", slack_pki.wildcard, renews="wild")
    listing = slack.command("ticket list", ADMIN).texts()[0]
    assert "cancelled" in listing
    events = [e for e in audit.recent(ctx, 10) if e.action == "ticket.cancelled"]
    assert [e.entity_id for e in events] == [1]
    assert [t.id for t in tickets.list_tickets(ctx, open_only=True)] == [2]
