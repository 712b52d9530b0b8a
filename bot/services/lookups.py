"""Finding records by the names people type, with `not_found` when there is none."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from bot.services.errors import NotFound
from storage.models import (
    CURRENT_ASSIGNMENT_STATES,
    OPEN_TICKET_STATES,
    Assignment,
    Certificate,
    Environment,
    SupportTicket,
)


def environment(session: Session, name: str) -> Environment:
    row = session.exec(select(Environment).where(Environment.name == name.strip())).first()
    if row is None:
        raise NotFound("environment", name)
    return row


def certificate(session: Session, name: str) -> Certificate:
    row = session.exec(select(Certificate).where(Certificate.name == name.strip())).first()
    if row is None:
        raise NotFound("certificate", name)
    return row


def certificate_by_id(session: Session, cert_id: int) -> Certificate:
    row = session.get(Certificate, cert_id)
    if row is None:
        raise NotFound("certificate", cert_id)
    return row


def environment_by_id(session: Session, env_id: int) -> Environment:
    row = session.get(Environment, env_id)
    if row is None:
        raise NotFound("environment", env_id)
    return row


def ticket(session: Session, ticket_id: int) -> SupportTicket:
    row = session.get(SupportTicket, ticket_id)
    if row is None:
        raise NotFound("ticket", ticket_id)
    return row


def name_exists(session: Session, name: str) -> bool:
    return session.exec(select(Certificate.id).where(Certificate.name == name)).first() is not None


def current_assignment(session: Session, env_id: int) -> Assignment | None:
    """The environment's one `updating` or `active` assignment, if any."""
    return session.exec(
        select(Assignment)
        .where(Assignment.environment_id == env_id)
        .where(col(Assignment.state).in_(CURRENT_ASSIGNMENT_STATES))
    ).first()


def current_assignments_of(session: Session, cert_id: int) -> Sequence[Assignment]:
    return session.exec(
        select(Assignment)
        .where(Assignment.certificate_id == cert_id)
        .where(col(Assignment.state).in_(CURRENT_ASSIGNMENT_STATES))
        .order_by(col(Assignment.id))
    ).all()


def assignments_of(session: Session, cert_id: int) -> Sequence[Assignment]:
    return session.exec(
        select(Assignment).where(Assignment.certificate_id == cert_id).order_by(col(Assignment.id))
    ).all()


def open_tickets_of(session: Session, cert_id: int) -> Sequence[SupportTicket]:
    return session.exec(
        select(SupportTicket)
        .where(SupportTicket.certificate_id == cert_id)
        .where(col(SupportTicket.state).in_(OPEN_TICKET_STATES))
    ).all()


def renewals_of(session: Session, cert_id: int) -> Sequence[Certificate]:
    return session.exec(
        select(Certificate).where(Certificate.renews_id == cert_id).order_by(col(Certificate.id))
    ).all()
