"""LifeTime tickets: who may open one, the states, the DNS check that closes the loop."""

from __future__ import annotations

import pytest

from bot.services import environments, tickets
from bot.services.assignments import assign_certificate
from bot.services.audit import recent
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from tests.support.dns_server import DnsServer
from tests.support.services import ADMIN, LT_HOST, PERSON, Pki, add_envs, submit


@pytest.fixture
def ready(ctx: ServiceContext, pki: Pki, dns_server: DnsServer) -> ServiceContext:
    """dev serves `app` (so it is uploaded); `wild` is a wildcard never assigned."""
    add_envs(ctx)
    submit(ctx, pki.app, pki, "app")
    submit(ctx, pki.wildcard, pki, "wild")
    assign_certificate(
        ctx,
        ADMIN,
        "app",
        "dev",
        "app.example.com",
        cname_confirmed=True,
        nameservers=[dns_server.address],
        timeout=2,
    )
    return ctx


def _update(
    ctx: ServiceContext, server: DnsServer, ticket_id: int, state: str, **kw: object
) -> tickets.TicketResult:
    return tickets.update_ticket(
        ctx, ADMIN, ticket_id, state, nameservers=[server.address], timeout=2, **kw
    )  # type: ignore[arg-type]


def test_full_ticket_cycle_closes_with_the_dns_check(
    ready: ServiceContext, dns_server: DnsServer
) -> None:
    opened = tickets.open_ticket(ready, ADMIN, "app", "www.example.com")
    assert opened.ticket.state == "draft"
    assert opened.ticket.environment == "lifetime"
    text = opened.support_text or ""
    assert "www.example.com" in text and LT_HOST in text and "app" in text
    assert "dev" in text  # where it was uploaded
    tid = opened.ticket.id
    with pytest.raises(ServiceError) as no_case:
        _update(ready, dns_server, tid, "submitted")
    assert no_case.value.code == "case_number_required"
    submitted = _update(ready, dns_server, tid, "submitted", case_number="CASE-42")
    assert submitted.ticket.state == "submitted" and submitted.ticket.case_number == "CASE-42"
    confirmed = _update(ready, dns_server, tid, "confirmed")
    assert confirmed.ticket.state == "confirmed"
    assert "CNAME" in confirmed.message and LT_HOST in confirmed.message
    # www.example.com is a CNAME to qa's host, not LifeTime's: the check refuses
    with pytest.raises(ServiceError) as wrong:
        _update(ready, dns_server, tid, "dns_configured")
    assert wrong.value.code == "dns_misconfigured"
    assert [t.state for t in tickets.list_tickets(ready)] == ["confirmed"]


def test_dns_ok_takes_the_ticket_to_done_and_records_lifetime(
    ready: ServiceContext, dns_server: DnsServer
) -> None:
    opened = tickets.open_ticket(ready, ADMIN, "wild", "lt.example.com")
    tid = opened.ticket.id
    _update(ready, dns_server, tid, "submitted", case_number="7")
    _update(ready, dns_server, tid, "confirmed")
    done = _update(ready, dns_server, tid, "dns_configured")
    assert done.ticket.state == "done"
    assert done.dns_report and done.dns_report["verdict"] == "ok"
    assert done.reminders  # the same reminders as an assignment
    env = environments.show_environment(ready, "lifetime")
    assert env.current is not None and env.current.certificate == "wild"
    assert env.current.state == "active" and env.hostname == "lt.example.com"
    actions = [e.action for e in recent(ready, 100)]
    for action in ("ticket.open", "ticket.submitted", "ticket.confirmed", "ticket.done"):
        assert action in actions
    with pytest.raises(ServiceError) as closed:
        _update(ready, dns_server, tid, "cancelled")
    assert closed.value.code == "invalid_transition"


def test_dns_unknown_stops_at_dns_configured_then_done(
    ready: ServiceContext, dns_server: DnsServer, silent_dns: DnsServer
) -> None:
    tid = tickets.open_ticket(ready, ADMIN, "wild", "lt.example.com").ticket.id
    _update(ready, dns_server, tid, "submitted", case_number="7")
    _update(ready, dns_server, tid, "confirmed")
    waiting = tickets.update_ticket(
        ready, ADMIN, tid, "dns_configured", nameservers=[silent_dns.address], timeout=0.3
    )
    assert waiting.ticket.state == "dns_configured" and waiting.warnings
    done = _update(ready, dns_server, tid, "done")
    assert done.ticket.state == "done"


def test_invalid_transitions_are_refused(ready: ServiceContext, dns_server: DnsServer) -> None:
    tid = tickets.open_ticket(ready, ADMIN, "wild", "lt.example.com").ticket.id
    for state in ("confirmed", "dns_configured", "done", "draft"):
        with pytest.raises(ServiceError) as caught:
            _update(ready, dns_server, tid, state)
        assert caught.value.code == "invalid_transition", state
    with pytest.raises(ServiceError) as bad:
        _update(ready, dns_server, tid, "finished")
    assert bad.value.code == "invalid_input"
    with pytest.raises(ServiceError) as missing:
        _update(ready, dns_server, 999, "cancelled")
    assert missing.value.code == "not_found"


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_cancel_from_any_open_state(
    ready: ServiceContext, dns_server: DnsServer, steps: int
) -> None:
    tid = tickets.open_ticket(ready, ADMIN, "wild", "lt.example.com").ticket.id
    path = [("submitted", {"case_number": "9"}), ("confirmed", {})][:steps]
    for state, kw in path:
        _update(ready, dns_server, tid, state, **kw)
    cancelled = _update(ready, dns_server, tid, "cancelled")
    assert cancelled.ticket.state == "cancelled"
    reopened = tickets.open_ticket(ready, ADMIN, "wild", "lt.example.com")  # allowed again
    assert reopened.ticket.id != tid


def test_ticket_needs_an_uploaded_certificate(ready: ServiceContext, pki: Pki) -> None:
    submit(ready, pki.renewal, pki, "fresh")  # covers app/www, never assigned, no wildcard
    with pytest.raises(ServiceError) as caught:
        tickets.open_ticket(ready, ADMIN, "fresh", "www.example.com")
    assert caught.value.code == "ticket_not_allowed"
    assert "another environment" in caught.value.message


def test_ticket_rules(ready: ServiceContext) -> None:
    with pytest.raises(ServiceError) as admin:
        tickets.open_ticket(ready, PERSON, "wild", "lt.example.com")
    assert admin.value.code == "not_admin"
    with pytest.raises(ServiceError) as cover:
        tickets.open_ticket(ready, ADMIN, "app", "lt.example.com")
    assert cover.value.code == "hostname_not_covered"
    with pytest.raises(ServiceError) as direct:
        tickets.open_ticket(ready, ADMIN, "wild", "lt.example.com", environment="dev")
    assert direct.value.code == "not_lifetime"
    first = tickets.open_ticket(ready, ADMIN, "wild", "lt.example.com")
    twice = tickets.open_ticket(ready, ADMIN, "wild", "lt.example.com")
    assert twice.existing and twice.ticket.id == first.ticket.id  # the draft, not a second
    tickets.update_ticket(ready, ADMIN, first.ticket.id, "submitted", case_number="C-1")
    with pytest.raises(ServiceError) as submitted:  # support has it: no draft beside it
        tickets.open_ticket(ready, ADMIN, "wild", "lt.example.com")
    assert submitted.value.code == "ticket_already_open"
    assert submitted.value.details["ticket"] == first.ticket.id
    with pytest.raises(ServiceError) as pointed:
        assign_certificate(ready, ADMIN, "wild", "lifetime", "lt.example.com", cname_confirmed=True)
    assert pointed.value.code == "lifetime_needs_ticket"
    assert pointed.value.details["ticket"] == first.ticket.id


def test_no_lifetime_environment(ctx: ServiceContext, pki: Pki) -> None:
    submit(ctx, pki.wildcard, pki, "wild")
    with pytest.raises(ServiceError) as caught:
        tickets.open_ticket(ctx, ADMIN, "wild", "lt.example.com")
    assert caught.value.code == "no_lifetime_environment"
