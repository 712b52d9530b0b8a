"""Assign: every rule, against a real DNS server on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from bot.pipeline.material import InputFile, Passwords
from bot.services import assignments, certificates, environments
from bot.services.assignments import assign_certificate
from bot.services.audit import recent
from bot.services.clock import ManualClock
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from bot.services.promotion import promote_due
from bot.services.reminders import ASSIGNMENT_REMINDERS
from storage.models import Assignment
from tests.support.dns_server import DnsServer
from tests.support.pki import self_signed_leaf
from tests.support.services import ADMIN, PERSON, Pki, add_envs, submit


def _assign(
    ctx: ServiceContext, server: DnsServer, cert: str, env: str, host: str, **kw: object
) -> assignments.AssignResult:
    options: dict = {"cname_confirmed": True, "nameservers": [server.address], "timeout": 2.0}
    options.update(kw)
    return assign_certificate(ctx, options.pop("actor", ADMIN), cert, env, host, **options)


@pytest.fixture
def ready(ctx: ServiceContext, pki: Pki) -> ServiceContext:
    add_envs(ctx)
    submit(ctx, pki.app, pki, "app")
    return ctx


def test_assign_with_dns_ok_is_updating_then_active(
    ready: ServiceContext, dns_server: DnsServer, clock: ManualClock
) -> None:
    result = _assign(ready, dns_server, "app", "dev", "APP.example.com.")
    a = result.assignment
    assert (a.certificate, a.environment, a.hostname) == ("app", "dev", "app.example.com")
    assert a.state == "updating" and a.dns_verdict == "ok"
    assert result.dns_report and result.dns_report["verdict"] == "ok"
    assert result.warnings == []
    assert result.reminders == list(ASSIGNMENT_REMINDERS)
    text = " ".join(result.reminders)
    assert "REST" in text and "SOAP" in text and "Mobile apps" in text
    assert "Host header protection" in text
    assert dns_server.queries, "the real server was asked"
    assert promote_due(ready) == []  # not yet: four minutes in
    clock.advance(minutes=4)
    assert environments.show_environment(ready, "dev").current.state == "updating"  # type: ignore[union-attr]
    clock.advance(minutes=1, seconds=1)
    env = environments.show_environment(ready, "dev")  # reads promote
    assert env.current is not None and env.current.state == "active"
    assert env.hostname == "app.example.com"
    assert promote_due(ready) == []  # idempotent
    actions = [e.action for e in recent(ready)]
    assert "assignment.active" in actions and "assignment.create" in actions


def test_dns_misconfigured_refuses_with_the_report(
    ready: ServiceContext, dns_server: DnsServer, pki: Pki
) -> None:
    submit(ready, pki.wildcard, pki, "wild")
    with pytest.raises(ServiceError) as caught:
        _assign(ready, dns_server, "wild", "dev", "bad.example.com")
    assert caught.value.code == "dns_misconfigured"
    report = caught.value.details["dns_report"]
    assert report["verdict"] == "misconfigured"
    assert "a_record_instead_of_cname" in [f["code"] for f in report["findings"]]
    # the CNAME of www points at qa, not dev: wrong target
    with pytest.raises(ServiceError) as wrong:
        _assign(ready, dns_server, "app", "dev", "www.example.com")
    assert wrong.value.code == "dns_misconfigured"
    with ready.database.session() as session:
        assert session.exec(select(Assignment)).all() == []


def test_dns_unknown_lets_it_through_with_a_warning(
    ready: ServiceContext, silent_dns: DnsServer
) -> None:
    result = _assign(ready, silent_dns, "app", "dev", "app.example.com", timeout=0.3)
    assert result.assignment.state == "updating"
    assert result.dns_report and result.dns_report["verdict"] == "unknown"
    assert result.warnings and "unknown" in result.warnings[0]


def test_one_current_assignment_per_environment(
    ready: ServiceContext, dns_server: DnsServer, pki: Pki, clock: ManualClock
) -> None:
    first = _assign(ready, dns_server, "app", "dev", "app.example.com")
    clock.advance(minutes=10)
    submit(ready, pki.wildcard, pki, "wild")
    second = _assign(ready, dns_server, "wild", "dev", "new.example.com")
    assert second.replaced is not None and second.replaced.id == first.assignment.id
    assert second.replaced.state == "replaced"
    assert second.replaced.replaced_at is not None
    with ready.database.session() as session:
        states = sorted(a.state.value for a in session.exec(select(Assignment)).all())
    assert states == ["replaced", "updating"]
    env = environments.show_environment(ready, "dev")
    assert env.current is not None and env.current.certificate == "wild"
    assert env.hostname == "new.example.com"


def test_only_validated_or_approved_certificates(
    ready: ServiceContext, dns_server: DnsServer
) -> None:
    leaf = self_signed_leaf(["app.example.com"])
    files = [InputFile("c.pem", leaf.pem), InputFile("k.pem", leaf.key_pem())]
    certificates.submit_certificate(ready, PERSON, files, Passwords(), name="self", manual=True)
    with pytest.raises(ServiceError) as caught:
        _assign(ready, dns_server, "self", "dev", "app.example.com")
    assert caught.value.code == "certificate_not_assignable"
    assert "pending_manual" in caught.value.message
    certificates.approve_certificate(ready, ADMIN, "self", "ok")
    result = _assign(ready, dns_server, "self", "dev", "app.example.com")
    assert result.assignment.certificate == "self"


def test_rejected_certificate_is_not_assignable(
    ready: ServiceContext, dns_server: DnsServer
) -> None:
    leaf = self_signed_leaf(["app.example.com"])
    files = [InputFile("c.pem", leaf.pem), InputFile("k.pem", leaf.key_pem())]
    certificates.submit_certificate(ready, PERSON, files, Passwords(), name="self", manual=True)
    certificates.reject_certificate(ready, ADMIN, "self", "no")
    with pytest.raises(ServiceError) as caught:
        _assign(ready, dns_server, "self", "dev", "app.example.com")
    assert caught.value.code == "certificate_not_assignable"


def test_expired_certificate_is_not_assignable(
    ready: ServiceContext, dns_server: DnsServer, clock: ManualClock
) -> None:
    clock.advance(days=200)
    with pytest.raises(ServiceError) as caught:
        _assign(ready, dns_server, "app", "dev", "app.example.com")
    assert caught.value.code == "certificate_expired"


def test_hostname_must_be_covered(ready: ServiceContext, dns_server: DnsServer) -> None:
    before = len(dns_server.queries)
    with pytest.raises(ServiceError) as caught:
        _assign(ready, dns_server, "app", "dev", "new.example.com")
    assert caught.value.code == "hostname_not_covered"
    assert "app.example.com" in caught.value.message
    assert len(dns_server.queries) == before  # refused before any DNS question


def test_cname_must_be_confirmed(ready: ServiceContext, dns_server: DnsServer) -> None:
    before = len(dns_server.queries)
    with pytest.raises(ServiceError) as caught:
        _assign(ready, dns_server, "app", "dev", "app.example.com", cname_confirmed=False)
    assert caught.value.code == "cname_not_confirmed"
    assert "app.example.com" in caught.value.message
    assert len(dns_server.queries) == before  # refused before any DNS question


def test_lifetime_is_refused_and_points_to_the_ticket(
    ready: ServiceContext, dns_server: DnsServer
) -> None:
    with pytest.raises(ServiceError) as caught:
        _assign(ready, dns_server, "app", "lifetime", "app.example.com")
    assert caught.value.code == "lifetime_needs_ticket"
    assert "certops ticket open app app.example.com" in caught.value.message
    assert caught.value.details["next"] == "certops ticket open app app.example.com"


def test_assign_is_for_admins_and_checks_names(
    ready: ServiceContext, dns_server: DnsServer
) -> None:
    with pytest.raises(ServiceError) as caught:
        _assign(ready, dns_server, "app", "dev", "app.example.com", actor=PERSON)
    assert caught.value.code == "not_admin"
    with pytest.raises(ServiceError) as missing:
        _assign(ready, dns_server, "nope", "dev", "app.example.com")
    assert missing.value.code == "not_found"
    with pytest.raises(ServiceError) as env:
        _assign(ready, dns_server, "app", "nope", "app.example.com")
    assert env.value.code == "not_found"
    with pytest.raises(ServiceError) as bad:
        _assign(ready, dns_server, "app", "dev", "not a host")
    assert bad.value.code == "invalid_input"


def test_audit_has_before_and_after_of_the_replaced_assignment(
    ready: ServiceContext, dns_server: DnsServer, pki: Pki
) -> None:
    _assign(ready, dns_server, "app", "dev", "app.example.com")
    submit(ready, pki.wildcard, pki, "wild")
    _assign(ready, dns_server, "wild", "dev", "new.example.com")
    replaced = [e for e in recent(ready) if e.action == "assignment.replaced"]
    assert len(replaced) == 1
    assert replaced[0].before and replaced[0].before["state"] == "updating"
    assert replaced[0].after and replaced[0].after["state"] == "replaced"
    assert replaced[0].actor == ADMIN.user_id
    assert dt.datetime.fromisoformat(replaced[0].at or "")  # a real timestamp
