"""LifeTime support tickets: the only way to change the LifeTime environment's hostname.

A ticket names a certificate that is already on the platform (assigned on another
environment, or a wildcard already uploaded that covers the hostname) and the hostname;
it carries the text to paste into the support case. It moves draft -> submitted (case
number) -> confirmed (now configure DNS) -> dns_configured (the DNS check closes the
loop) -> done, or cancelled from any open state. At `done` the LifeTime environment's
assignment is recorded, so renewals and expiry warnings know it is in use.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from bot.pipeline.hostnames import is_wildcard, san_matches
from bot.services import audit
from bot.services.actors import Actor
from bot.services.assignments import check_assignable, check_covers, check_hostname, put_in_place
from bot.services.audit import iso
from bot.services.context import ServiceContext
from bot.services.dns import run_check, warnings_for
from bot.services.errors import ServiceError
from bot.services.reminders import ASSIGNMENT_REMINDERS, dns_instruction, support_case_text
from bot.services.supersession import supersede_unused
from bot.services.views import TicketView, ticket_view
from storage import queries
from storage.models import (
    Certificate,
    Environment,
    SupportTicket,
    TicketState,
)

log = logging.getLogger(__name__)

S = TicketState
TRANSITIONS: dict[TicketState, tuple[TicketState, ...]] = {
    S.DRAFT: (S.SUBMITTED, S.CANCELLED),
    S.SUBMITTED: (S.CONFIRMED, S.CANCELLED),
    S.CONFIRMED: (S.DNS_CONFIGURED, S.CANCELLED),
    S.DNS_CONFIGURED: (S.DONE, S.CANCELLED),
    S.DONE: (),
    S.CANCELLED: (),
}


@dataclass(frozen=True)
class TicketResult:
    ticket: TicketView
    message: str
    support_text: str | None = None
    dns_report: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    reminders: list[str] = field(default_factory=list)
    existing: bool = False  # the draft already open was given, none was opened

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "ticket": self.ticket.to_dict(),
            "existing": self.existing,
            "message": self.message,
            "support_text": self.support_text,
            "dns_report": self.dns_report,
            "warnings": list(self.warnings),
            "reminders": list(self.reminders),
        }


def _lifetime(session: Session, environment: str | None) -> Environment:
    if environment:
        env = queries.environment(session, environment)
        if not env.is_lifetime:
            raise ServiceError(
                "not_lifetime",
                f"{env.name} is not the LifeTime environment: assign it directly "
                f"(certops assign CERT {env.name} HOSTNAME --cname-confirmed)",
            )
        return env
    env_row = queries.lifetime_environment(session)
    if env_row is None:
        raise ServiceError(
            "no_lifetime_environment",
            "no LifeTime environment is registered: add it with certops env add NAME "
            "--host HOST --lifetime",
        )
    return env_row


def _uploaded_on(session: Session, cert: Certificate, lifetime: Environment) -> list[str]:
    """The other environments the certificate was ever assigned on (so it is uploaded)."""
    names = []
    for assignment in queries.assignments_of_certificate(session, cert.id or 0):
        if assignment.environment_id != lifetime.id:
            env = queries.environment_by_id(session, assignment.environment_id)
            if env.name not in names:
                names.append(env.name)
    return names


def _uploaded_wildcard(cert: Certificate, hostname: str) -> bool:
    return any(is_wildcard(s) and san_matches(s, hostname) for s in cert.sans or [])


def open_ticket(
    ctx: ServiceContext,
    actor: Actor,
    certificate: str,
    hostname: str,
    *,
    environment: str | None = None,
) -> TicketResult:
    """Open a `draft` ticket and give the text to paste into the support case."""
    actor.require_admin("open LifeTime tickets")
    host = check_hostname(hostname)
    with ctx.session() as session:
        cert = queries.certificate(session, certificate)
        env = _lifetime(session, environment)
        check_assignable(cert, ctx.now())
        check_covers(cert, host)
        uploaded_on = _uploaded_on(session, cert, env)
        if not uploaded_on and not _uploaded_wildcard(cert, host):
            raise ServiceError(
                "ticket_not_allowed",
                f"{cert.name!r} must first be assigned on another environment (support takes "
                "it from there), unless it is a wildcard covering "
                f"{host}: certops assign {cert.name} ENV HOSTNAME --cname-confirmed",
            )
        queries.lock_environment(session, env.id or 0)  # concurrent opens take turns
        draft = next(iter(queries.draft_tickets(session, cert.id or 0, env.id)), None)
        if draft is not None:  # one draft per certificate and LifeTime environment
            return _existing_draft(session, draft, cert, env, uploaded_on)
        for existing in queries.open_tickets_of_certificate(session, cert.id or 0):
            if existing.hostname == host and existing.environment_id == env.id:
                raise ServiceError(
                    "ticket_already_open",
                    f"ticket {existing.id} for {cert.name} on {host} is already "
                    f"{existing.state.value}",
                    {"ticket": existing.id},
                )
        now = ctx.now()
        row = SupportTicket(
            certificate_id=cert.id or 0,
            environment_id=env.id or 0,
            hostname=host,
            state=TicketState.DRAFT,
            created_by=actor.user_id,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        audit.record(session, ctx, actor, "ticket.open", row)
        log.info("ticket %s opened for %s on %s by %s", row.id, cert.name, host, actor.user_id)
        return TicketResult(
            ticket=ticket_view(session, row),
            message=(
                f"Ticket {row.id} is a draft. Open a support case with the text below, then: "
                f"certops ticket update {row.id} --state submitted --case NUMBER"
            ),
            support_text=_case_text(row, cert, env, uploaded_on),
        )


def _case_text(
    row: SupportTicket, cert: Certificate, env: Environment, uploaded_on: list[str]
) -> str:
    return support_case_text(
        environment=env.name,
        default_host=env.default_host,
        hostname=row.hostname,
        certificate=cert.name,
        fingerprint=cert.fingerprint_sha256 or "",
        not_after=iso(cert.not_after) or "",
        uploaded_on=uploaded_on,
    )


def _existing_draft(
    session: Session,
    draft: SupportTicket,
    cert: Certificate,
    env: Environment,
    uploaded_on: list[str],
) -> TicketResult:
    """The draft already open for this certificate on this environment, instead of a second
    one: two drafts for one change would become two support cases."""
    return TicketResult(
        ticket=ticket_view(session, draft),
        message=(
            f"Ticket {draft.id} is already the draft for {cert.name} on {env.name} "
            f"({draft.hostname}): no second one was opened. Open a support case with the "
            f"text below, then: certops ticket update {draft.id} --state submitted "
            "--case NUMBER (or cancel it first to open another)"
        ),
        support_text=_case_text(draft, cert, env, uploaded_on),
        existing=True,
    )


def ticket_id(text: str) -> int:
    """A ticket id as typed (`7` or `#7`)."""
    raw = text.lstrip("#")
    if not raw.isdigit():
        raise ServiceError("invalid_input", f"the ticket id is a number, not {text!r}")
    return int(raw)


def _parse_state(state: str) -> TicketState:
    try:
        return TicketState(state.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in TicketState)
        raise ServiceError("invalid_input", f"state must be one of: {choices}") from None


def _check_transition(row: SupportTicket, wanted: TicketState) -> None:
    if wanted not in TRANSITIONS[row.state]:
        allowed = ", ".join(s.value for s in TRANSITIONS[row.state]) or "none (it is closed)"
        raise ServiceError(
            "invalid_transition",
            f"ticket {row.id} is {row.state.value}: it cannot become {wanted.value} "
            f"(allowed: {allowed})",
        )


def _move(
    session: Session, ctx: ServiceContext, actor: Actor, row: SupportTicket, state: TicketState
) -> None:
    before = audit.snapshot(row)
    row.state = state
    row.updated_at = ctx.now()
    session.add(row)
    audit.record(session, ctx, actor, f"ticket.{state.value}", row, before=before)


def update_ticket(
    ctx: ServiceContext,
    actor: Actor,
    ticket_id: int,
    state: str,
    *,
    case_number: str | None = None,
    nameservers: Sequence[tuple[str, int]] | None = None,
    timeout: float | None = None,
) -> TicketResult:
    """Move a ticket one step; `dns_configured` and `done` run the DNS check first."""
    actor.require_admin("update LifeTime tickets")
    wanted = _parse_state(state)
    with ctx.session() as session:
        row = queries.ticket(session, ticket_id)
        _check_transition(row, wanted)
        if wanted is S.SUBMITTED and not (case_number and case_number.strip()):
            raise ServiceError(
                "case_number_required",
                f"give the support case number: certops ticket update {ticket_id} "
                "--state submitted --case NUMBER",
            )
        env = queries.environment_by_id(session, row.environment_id)
        hostname, target = row.hostname, env.default_host
        sans = list(queries.certificate_by_id(session, row.certificate_id).sans or [])
    report = None
    if wanted in (S.DNS_CONFIGURED, S.DONE):
        report = run_check(
            ctx, hostname, target, nameservers=nameservers, timeout=timeout, certificate_names=sans
        )
    report_dict = report.to_dict() if report else None
    warnings = warnings_for(report) if report else []
    with ctx.session() as session:
        row = queries.ticket(session, ticket_id)
        _check_transition(row, wanted)  # again: someone may have moved it meanwhile
        if wanted is S.SUBMITTED:
            row.case_number = (case_number or "").strip()
        _move(session, ctx, actor, row, wanted)
        message = _message(row, target)
        reminders: list[str] = []
        if wanted is S.DNS_CONFIGURED and report is not None and report.ok:
            _move(session, ctx, actor, row, S.DONE)  # the DNS check closed the loop
        if row.state is S.DONE:
            _finish(session, ctx, actor, row, report_dict)
            message = f"Ticket {row.id} is done: {hostname} serves LifeTime."
            reminders = list(ASSIGNMENT_REMINDERS)
        elif wanted is S.DNS_CONFIGURED:
            message = (
                f"Ticket {row.id}: DNS recorded. The check could not confirm it yet; run "
                f"certops ticket update {row.id} --state done when it resolves."
            )
        if row.state is S.CANCELLED:
            supersede_unused(session, ctx, actor, [row.certificate_id])
        log.info("ticket %s is now %s (by %s)", row.id, row.state.value, actor.user_id)
        return TicketResult(
            ticket=ticket_view(session, row),
            message=message,
            dns_report=report_dict,
            warnings=warnings,
            reminders=reminders,
        )


def _message(row: SupportTicket, target: str) -> str:
    if row.state is S.SUBMITTED:
        return (
            f"Ticket {row.id} is submitted as case {row.case_number}. When support confirms: "
            f"certops ticket update {row.id} --state confirmed"
        )
    if row.state is S.CONFIRMED:
        return dns_instruction(row.hostname, target)
    if row.state is S.CANCELLED:
        return f"Ticket {row.id} is cancelled."
    return f"Ticket {row.id} is {row.state.value}."


def _finish(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    row: SupportTicket,
    report_dict: dict[str, Any] | None,
) -> None:
    """Record that LifeTime now serves the certificate (support already made the change)."""
    cert = queries.certificate_by_id(session, row.certificate_id)
    env = queries.environment_by_id(session, row.environment_id)
    _, previous = put_in_place(
        session,
        ctx,
        actor,
        cert,
        env,
        row.hostname,
        cname_confirmed=True,
        dns_report=report_dict,
        updating=False,
    )
    freed = [previous.certificate_id] if previous else []
    supersede_unused(session, ctx, actor, freed)


def list_tickets(ctx: ServiceContext, *, open_only: bool = False) -> list[TicketView]:
    with ctx.session() as session:
        rows = queries.tickets_in_order(session, open_only=open_only)
        return [ticket_view(session, row) for row in rows]
