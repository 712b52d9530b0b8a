"""Renewals: the offer, the one-step renewal (LifeTime by ticket), and superseding."""

from __future__ import annotations

import pytest

from bot.services import certificates, renewals, tickets
from bot.services.assignments import assign_certificate
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from tests.support.dns_server import DnsServer
from tests.support.services import ADMIN, PERSON, Pki, add_envs, submit


def _assign(ctx: ServiceContext, server: DnsServer, cert: str, env: str, host: str) -> None:
    assign_certificate(
        ctx, ADMIN, cert, env, host, cname_confirmed=True, nameservers=[server.address], timeout=2
    )


def _lifetime_done(ctx: ServiceContext, server: DnsServer, cert: str, host: str) -> int:
    tid = tickets.open_ticket(ctx, ADMIN, cert, host).ticket.id
    kw = {"nameservers": [server.address], "timeout": 2}
    tickets.update_ticket(ctx, ADMIN, tid, "submitted", case_number="1", **kw)  # type: ignore[arg-type]
    tickets.update_ticket(ctx, ADMIN, tid, "confirmed", **kw)  # type: ignore[arg-type]
    done = tickets.update_ticket(ctx, ADMIN, tid, "dns_configured", **kw)  # type: ignore[arg-type]
    assert done.ticket.state == "done"
    return tid


@pytest.fixture
def serving(ctx: ServiceContext, pki: Pki, dns_server: DnsServer) -> ServiceContext:
    """`old` serves dev (app.example.com) and qa (www.example.com)."""
    add_envs(ctx)
    submit(ctx, pki.app, pki, "old")
    _assign(ctx, dns_server, "old", "dev", "app.example.com")
    _assign(ctx, dns_server, "old", "qa", "www.example.com")
    return ctx


def test_a_valid_renewal_offers_the_old_ones_environments(
    serving: ServiceContext, pki: Pki
) -> None:
    result = submit(serving, pki.renewal, pki, "new", renews="old")
    offer = sorted((t.environment, t.hostname, t.action) for t in result.renewal_targets)  # type: ignore[attr-defined]
    assert offer == [("dev", "app.example.com", "assign"), ("qa", "www.example.com", "assign")]
    assert result.to_dict()["renewal_offer"][0]["old_certificate"] == "old"  # type: ignore[attr-defined]
    shown = certificates.show_certificate(serving, "new")
    assert shown.renews == "old"
    assert certificates.show_certificate(serving, "old").renewed_by == ["new"]
    assert certificates.show_certificate(serving, "old").status == "validated"  # still in use


def test_renew_in_one_step_then_the_old_one_is_superseded(
    serving: ServiceContext, pki: Pki, dns_server: DnsServer
) -> None:
    submit(serving, pki.renewal, pki, "new", renews="old")
    result = renewals.apply_renewal(
        serving, ADMIN, "new", cname_confirmed=True, nameservers=[dns_server.address], timeout=2
    )
    assert result.ok and len(result.outcomes) == 2
    assert all(o.result["assignment"]["certificate"] == "new" for o in result.outcomes)
    assert certificates.show_certificate(serving, "old").status == "superseded"
    assert certificates.show_certificate(serving, "new").status == "validated"
    with pytest.raises(ServiceError) as gone:
        _assign(serving, dns_server, "old", "dev", "app.example.com")
    assert gone.value.code == "certificate_not_assignable"


def test_lifetime_renewal_makes_a_new_ticket(
    serving: ServiceContext, pki: Pki, dns_server: DnsServer
) -> None:
    submit(serving, pki.wildcard, pki, "wild-old")
    _lifetime_done(serving, dns_server, "wild-old", "lt.example.com")
    wild_new = pki.inter.leaf(sans=["*.example.com"], key=pki.wildcard.key, days=120)
    submit(serving, wild_new, pki, "wild-new", renews="wild-old")
    result = renewals.apply_renewal(
        serving, ADMIN, "wild-new", cname_confirmed=True, nameservers=[dns_server.address]
    )
    assert [o.target.environment for o in result.outcomes] == ["lifetime"]
    outcome = result.outcomes[0]
    assert outcome.ok and outcome.result["ticket"]["state"] == "draft"
    assert "wild-new" in outcome.result["support_text"]
    # the old wildcard serves LifeTime until the new ticket is done
    assert certificates.show_certificate(serving, "wild-old").status == "validated"
    tid = outcome.result["ticket"]["id"]
    kw = {"nameservers": [dns_server.address], "timeout": 2}
    tickets.update_ticket(serving, ADMIN, tid, "submitted", case_number="2", **kw)  # type: ignore[arg-type]
    tickets.update_ticket(serving, ADMIN, tid, "confirmed", **kw)  # type: ignore[arg-type]
    tickets.update_ticket(serving, ADMIN, tid, "dns_configured", **kw)  # type: ignore[arg-type]
    assert certificates.show_certificate(serving, "wild-old").status == "superseded"


def test_partial_renewal_reports_each_environment(
    serving: ServiceContext, pki: Pki, dns_server: DnsServer
) -> None:
    narrow = pki.inter.leaf(sans=["app.example.com"], key=pki.renewal.key)
    submit(serving, narrow, pki, "narrow", renews="old")
    result = renewals.apply_renewal(
        serving, ADMIN, "narrow", cname_confirmed=True, nameservers=[dns_server.address]
    )
    assert not result.ok
    by_env = {o.target.environment: o for o in result.outcomes}
    assert by_env["dev"].ok
    assert by_env["qa"].result["code"] == "hostname_not_covered"
    assert certificates.show_certificate(serving, "old").status == "validated"  # qa uses it


def test_unused_old_certificate_is_superseded_at_once(ctx: ServiceContext, pki: Pki) -> None:
    submit(ctx, pki.app, pki, "old")
    submit(ctx, pki.renewal, pki, "new", renews="old")
    assert certificates.show_certificate(ctx, "old").status == "superseded"
    with pytest.raises(ServiceError) as nothing:
        renewals.apply_renewal(ctx, ADMIN, "new", cname_confirmed=True)
    assert nothing.value.code == "nothing_to_renew"


def test_renewal_rules(serving: ServiceContext, pki: Pki) -> None:
    with pytest.raises(ServiceError) as plain:
        renewals.apply_renewal(serving, ADMIN, "old", cname_confirmed=True)
    assert plain.value.code == "nothing_to_renew"
    submit(serving, pki.renewal, pki, "new", renews="old")
    with pytest.raises(ServiceError) as admin:
        renewals.apply_renewal(serving, PERSON, "new", cname_confirmed=True)
    assert admin.value.code == "not_admin"
    result = renewals.apply_renewal(serving, ADMIN, "new", cname_confirmed=False)
    assert {o.result["code"] for o in result.outcomes} == {"cname_not_confirmed"}
