"""How a renewal takes over: where the old certificate serves, and when it is done.

The old certificate becomes `superseded` once a valid renewal of it exists and nothing
uses it any more: no current assignment and no LifeTime ticket past `draft`. Its drafts
are then cancelled (each with a `ticket.cancelled` audit event). Checked after every
change that can free it (a renewal validated or approved, an assignment replaced, a
ticket done or cancelled).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from bot.services import audit
from bot.services.actors import Actor
from bot.services.context import ServiceContext
from storage import queries
from storage.models import Certificate, CertificateStatus, TicketState

log = logging.getLogger(__name__)

VALID_STATES = (CertificateStatus.VALIDATED, CertificateStatus.APPROVED)


@dataclass(frozen=True)
class RenewalTarget:
    """One place the old certificate serves, where the renewal can go in one step."""

    environment: str
    hostname: str
    is_lifetime: bool
    old_certificate: str

    @property
    def action(self) -> str:
        return "ticket" if self.is_lifetime else "assign"

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "hostname": self.hostname,
            "is_lifetime": self.is_lifetime,
            "old_certificate": self.old_certificate,
            "action": self.action,
        }


def renewal_targets(session: Session, new: Certificate) -> list[RenewalTarget]:
    """The environments (and hostnames) the certificate that `new` renews is on now."""
    if new.renews_id is None:
        return []
    old = queries.certificate_by_id(session, new.renews_id)
    targets = []
    for assignment in queries.assignments_of_certificate(session, old.id or 0, current_only=True):
        env = queries.environment_by_id(session, assignment.environment_id)
        targets.append(RenewalTarget(env.name, assignment.hostname, env.is_lifetime, old.name))
    return targets


def _has_valid_renewal(session: Session, cert_id: int) -> bool:
    return queries.has_valid_renewal(session, cert_id, VALID_STATES)


def in_use(session: Session, cert_id: int) -> bool:
    """Serving somewhere, or on a ticket support has been given (a draft has not: it is
    cancelled when the certificate is superseded)."""
    if queries.assignments_of_certificate(session, cert_id, current_only=True):
        return True
    tickets = queries.open_tickets_of_certificate(session, cert_id)
    return any(ticket.state is not TicketState.DRAFT for ticket in tickets)


def cancel_drafts(session: Session, ctx: ServiceContext, actor: Actor, cert_id: int) -> int:
    """Cancel the superseded certificate's draft tickets, each with its audit event: a
    support case for a replaced certificate must not be opened from them."""
    drafts = queries.draft_tickets(session, cert_id)
    for draft in drafts:
        before = audit.snapshot(draft)
        draft.state = TicketState.CANCELLED
        draft.updated_at = ctx.now()
        session.add(draft)
        audit.record(session, ctx, actor, "ticket.cancelled", draft, before=before)
        log.info("ticket %s cancelled: its certificate was superseded", draft.id)
    return len(drafts)


def supersede_unused(
    session: Session, ctx: ServiceContext, actor: Actor, cert_ids: Iterable[int]
) -> list[str]:
    """Mark each of these certificates superseded if renewed and unused; return the names."""
    done = []
    session.flush()
    for cert_id in set(cert_ids):
        row = queries.certificate_by_id(session, cert_id)
        if row.status is CertificateStatus.SUPERSEDED:
            continue
        if not _has_valid_renewal(session, cert_id) or in_use(session, cert_id):
            continue
        before = audit.snapshot(row)
        row.status = CertificateStatus.SUPERSEDED
        session.add(row)
        audit.record(session, ctx, actor, "certificate.superseded", row, before=before)
        cancel_drafts(session, ctx, actor, cert_id)
        log.info("certificate %s superseded", row.name)
        done.append(row.name)
    return done
