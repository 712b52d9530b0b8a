"""Assign: put a certificate and a hostname on an environment's secure endpoint.

The rules, cheapest first so a refusal comes fast: admins only; LifeTime goes by ticket;
the certificate is validated or approved and in date; it covers the hostname; the person
confirmed the CNAME exists; then the DNS check (misconfigured refuses, unknown warns).
One current assignment per environment: the previous one becomes `replaced`. The new one
is `updating` for about five minutes, then `active` (see promotion).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from bot.pipeline.hostnames import InvalidHostname, normalize, san_matches
from bot.services import audit
from bot.services.actors import Actor
from bot.services.context import ServiceContext
from bot.services.dns import run_check, warnings_for
from bot.services.errors import ServiceError
from bot.services.promotion import promote_due
from bot.services.reminders import ASSIGNMENT_REMINDERS
from bot.services.supersession import VALID_STATES, supersede_unused
from bot.services.views import AssignmentView, assignment_view
from storage import queries
from storage.models import Assignment, AssignmentState, Certificate, Environment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssignResult:
    assignment: AssignmentView
    replaced: AssignmentView | None
    dns_report: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    reminders: list[str] = field(default_factory=lambda: list(ASSIGNMENT_REMINDERS))
    superseded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "assignment": self.assignment.to_dict(),
            "replaced": self.replaced.to_dict() if self.replaced else None,
            "dns_report": self.dns_report,
            "warnings": list(self.warnings),
            "reminders": list(self.reminders),
            "superseded": list(self.superseded),
        }


def check_hostname(hostname: str) -> str:
    try:
        return normalize(hostname)
    except InvalidHostname as error:
        raise ServiceError("invalid_input", f"hostname: {error}") from None


def check_assignable(cert: Certificate, now: dt.datetime) -> None:
    """Only a validated or approved certificate, inside its validity period."""
    if cert.status not in VALID_STATES:
        hint = {
            "pending_manual": "an admin must approve it first",
            "rejected": "it was rejected",
            "superseded": "its renewal replaced it",
            "observed": "it was taken in from what a hostname serves, and certops holds no "
            "key to put it elsewhere",
        }.get(cert.status.value, "")
        raise ServiceError(
            "certificate_not_assignable",
            f"{cert.name!r} is {cert.status.value}: only a validated or approved certificate "
            f"can be assigned" + (f" ({hint})" if hint else ""),
        )
    if cert.not_after is not None and cert.not_after <= now:
        raise ServiceError(
            "certificate_expired", f"{cert.name!r} expired on {cert.not_after:%Y-%m-%d}"
        )
    if cert.not_before is not None and cert.not_before > now:
        raise ServiceError(
            "certificate_expired", f"{cert.name!r} is not valid before {cert.not_before:%Y-%m-%d}"
        )


def check_covers(cert: Certificate, hostname: str) -> None:
    sans = [s.lower() for s in cert.sans or []]
    if not any(san_matches(san, hostname) for san in sans):
        raise ServiceError(
            "hostname_not_covered",
            f"{cert.name!r} does not cover {hostname} (it covers: {', '.join(sans) or 'nothing'})",
        )


def lifetime_refusal(
    session: Session, env: Environment, cert: Certificate, hostname: str
) -> ServiceError:
    """The refusal for LifeTime: it points at the open ticket, or at how to open one."""
    command = f"certops ticket open {cert.name} {hostname}"
    details: dict[str, Any] = {"next": command, "ticket": None}
    for ticket in queries.open_tickets_of_certificate(session, cert.id or 0):
        if ticket.environment_id == env.id and ticket.hostname == hostname:
            details["ticket"] = ticket.id
            command = f"certops ticket update {ticket.id} --state NEXT (ticket {ticket.id} is open)"
    details["next"] = command
    return ServiceError(
        "lifetime_needs_ticket",
        f"{env.name} is the LifeTime environment: its hostname changes only through a support "
        f"ticket. Next: {command}",
        details,
    )


def put_in_place(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    cert: Certificate,
    env: Environment,
    hostname: str,
    *,
    cname_confirmed: bool,
    dns_report: dict[str, Any] | None,
    updating: bool = True,
) -> tuple[Assignment, Assignment | None]:
    """Write the assignment, replacing the environment's current one, with audit events."""
    now = ctx.now()
    current = queries.active_assignment(session, env.id or 0)
    before = audit.snapshot(current) if current is not None else None
    previous = queries.mark_replaced(session, env.id or 0, now)  # flushed: the index sees it
    if previous is not None:
        audit.record(session, ctx, actor, "assignment.replaced", previous, before=before)
    row = Assignment(
        certificate_id=cert.id or 0,
        environment_id=env.id or 0,
        hostname=hostname,
        cname_confirmed=cname_confirmed,
        dns_report=dns_report,
        state=AssignmentState.UPDATING if updating else AssignmentState.ACTIVE,
        assigned_by=actor.user_id,
        assigned_at=now,
        active_at=now + dt.timedelta(minutes=ctx.update_minutes) if updating else now,
    )
    queries.add_assignment(session, row)  # EnvironmentBusy if another won the race
    audit.record(session, ctx, actor, "assignment.create", row)
    env_before = audit.snapshot(env)
    env.hostname = hostname
    session.add(env)
    audit.record(session, ctx, actor, "environment.hostname", env, before=env_before)
    return row, previous


def assign_certificate(
    ctx: ServiceContext,
    actor: Actor,
    certificate: str,
    environment: str,
    hostname: str,
    *,
    cname_confirmed: bool,
    nameservers: Sequence[tuple[str, int]] | None = None,
    timeout: float | None = None,
) -> AssignResult:
    """Put `certificate` on `environment` under `hostname`, or refuse with the rule's code."""
    actor.require_admin("assign certificates")
    host = check_hostname(hostname)
    promote_due(ctx)
    with ctx.session() as session:
        cert = queries.certificate(session, certificate)
        env = queries.environment(session, environment)
        if env.is_lifetime:
            raise lifetime_refusal(session, env, cert, host)
        check_assignable(cert, ctx.now())
        check_covers(cert, host)
        sans = list(cert.sans or [])
        target = env.default_host
    if not cname_confirmed:
        raise ServiceError(
            "cname_not_confirmed",
            f"confirm that the CNAME {host} -> {target} exists (--cname-confirmed)",
        )
    report = run_check(
        ctx, host, target, nameservers=nameservers, timeout=timeout, certificate_names=sans
    )
    report_dict = report.to_dict()
    with ctx.session() as session:
        # Read again: the record may have moved while the DNS was asked.
        cert = queries.certificate(session, certificate)
        env = queries.environment(session, environment)
        check_assignable(cert, ctx.now())
        row, previous = put_in_place(
            session, ctx, actor, cert, env, host, cname_confirmed=True, dns_report=report_dict
        )
        superseded = supersede_unused(
            session, ctx, actor, [previous.certificate_id] if previous else []
        )
        log.info(
            "%s assigned to %s as %s by %s (dns %s)",
            cert.name,
            env.name,
            host,
            actor.user_id,
            report.verdict,
        )
        return AssignResult(
            assignment=assignment_view(session, row),
            replaced=assignment_view(session, previous) if previous else None,
            dns_report=report_dict,
            warnings=warnings_for(report),
            superseded=superseded,
        )
