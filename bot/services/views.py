"""Plain read-only views of the records, with `to_dict()` for `--json` and the Slack layer.

Views are detached from the database session, so a handler can render them after the
transaction is over. They hold public data only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from bot.services.clock import iso
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from storage import reading
from storage.enums import CertificateStatus

if TYPE_CHECKING:
    from sqlmodel import Session

    from storage.models import Assignment, Certificate, Environment, SupportTicket

# `storage.queries` (and with it SQLModel and the table classes) is imported by the views
# that read through the ORM, inside them: `certops cert list` reads through
# `storage.reading` alone and must not pay for the ORM (issue 16).


@dataclass(frozen=True)
class AssignmentView:
    id: int
    certificate: str
    environment: str
    hostname: str
    state: str
    cname_confirmed: bool
    assigned_by: str
    assigned_at: str | None
    active_at: str | None
    replaced_at: str | None
    dns_verdict: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TicketView:
    id: int
    certificate: str
    environment: str
    hostname: str
    case_number: str | None
    state: str
    created_by: str
    created_at: str | None
    updated_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class EnvironmentView:
    name: str
    default_host: str
    is_lifetime: bool
    channel: str | None
    hostname: str | None
    current: AssignmentView | None = None
    open_tickets: list[TicketView] = field(default_factory=list)
    # From LifeTime's API (`env sync`); None for environments recorded by hand.
    environment_type: str | None = None
    lifetime_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "default_host": self.default_host,
            "is_lifetime": self.is_lifetime,
            "channel": self.channel,
            "hostname": self.hostname,
            "current": self.current.to_dict() if self.current else None,
            "open_tickets": [t.to_dict() for t in self.open_tickets],
            "environment_type": self.environment_type,
            "lifetime_key": self.lifetime_key,
        }


@dataclass(frozen=True)
class CertificateView:
    name: str
    status: str
    domain: str
    submitted_format: str
    subject: str | None
    issuer: str | None
    serial: str | None
    sans: list[str]
    not_before: str | None
    not_after: str | None
    days_left: int | None
    fingerprint_sha256: str | None
    key_type: str | None
    key_bits: int | None
    submitted_by: str
    submitted_at: str | None
    renews: str | None
    renewed_by: list[str]
    reviewed_by: str | None
    reviewed_at: str | None
    review_reason: str | None
    assignments: list[AssignmentView] = field(default_factory=list)
    # What its hostnames serve, from the latest probe (issue 17): hostname, outcome, ...
    served: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    certificate_pem: str | None = None
    chain_pem: str = ""

    @property
    def verdict(self) -> str | None:
        return self.report.get("verdict") if self.report else None

    def to_dict(self, *, with_report: bool = True) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in {"assignments", "report"}}
        data["assignments"] = [a.to_dict() for a in self.assignments]
        data["served"] = [dict(s) for s in self.served]
        if with_report:
            data["report"] = self.report
        else:
            data.pop("certificate_pem")
            data.pop("chain_pem")
        return data


def _days_left(not_after: dt.datetime | None, now: dt.datetime) -> int | None:
    if not_after is None:
        return None
    return (not_after - now).days


def assignment_view(session: Session, row: Assignment) -> AssignmentView:
    from storage import queries

    cert = queries.certificate_by_id(session, row.certificate_id)
    env = queries.environment_by_id(session, row.environment_id)
    verdict = row.dns_report.get("verdict") if row.dns_report else None
    return AssignmentView(
        id=row.id or 0,
        certificate=cert.name,
        environment=env.name,
        hostname=row.hostname,
        state=str(row.state.value),
        cname_confirmed=row.cname_confirmed,
        assigned_by=row.assigned_by,
        assigned_at=iso(row.assigned_at),
        active_at=iso(row.active_at),
        replaced_at=iso(row.replaced_at),
        dns_verdict=verdict,
    )


def ticket_view(session: Session, row: SupportTicket) -> TicketView:
    from storage import queries

    cert = queries.certificate_by_id(session, row.certificate_id)
    env = queries.environment_by_id(session, row.environment_id)
    return TicketView(
        id=row.id or 0,
        certificate=cert.name,
        environment=env.name,
        hostname=row.hostname,
        case_number=row.case_number,
        state=str(row.state.value),
        created_by=row.created_by,
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
    )


def environment_view(session: Session, row: Environment) -> EnvironmentView:
    from storage import queries

    current = queries.active_assignment(session, row.id or 0)
    tickets = queries.open_tickets_of_environment(session, row.id or 0)
    return EnvironmentView(
        name=row.name,
        default_host=row.default_host,
        is_lifetime=row.is_lifetime,
        channel=row.channel,
        hostname=row.hostname,
        current=assignment_view(session, current) if current else None,
        open_tickets=[ticket_view(session, t) for t in tickets],
        environment_type=row.environment_type,
        lifetime_key=row.lifetime_id,
    )


def served_of(connection: Any, certificate_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """certificate id -> the latest probe outcome of each hostname compared with it (one
    query for any number of certificates: the list shows it too). `connection` is a Core
    connection or a session (storage.reading)."""

    out: dict[int, list[dict[str, Any]]] = {}
    for row in reading.served_probes_of_certificates(connection, certificate_ids):
        out.setdefault(row.certificate_id or 0, []).append(
            {
                "hostname": row.hostname,
                "outcome": row.outcome,
                "detail": row.detail,
                "served_not_after": iso(row.served_not_after),
                "checked_at": iso(row.checked_at),
            }
        )
    return out


def certificate_view(session: Session, row: Certificate, now: dt.datetime) -> CertificateView:
    """One certificate in full: report, PEM, assignments, renewals and what is served
    (show, submit)."""
    from storage import queries

    renews = queries.certificate_by_id(session, row.renews_id).name if row.renews_id else None
    return _certificate_view(
        row,
        now,
        renews=renews,
        renewed_by=[r.name for r in queries.renewals_of(session, row.id or 0)],
        assignments=[
            assignment_view(session, a)
            for a in queries.assignments_of_certificate(session, row.id or 0)
        ],
        served=served_of(session, [row.id or 0]).get(row.id or 0, []),
        full=True,
    )


def written_certificate_view(
    row: Mapping[str, Any], now: dt.datetime, *, renews: str | None
) -> CertificateView:
    """The full view of a certificate just written through Core (a submission): its
    columns as written, the name of the one it renews; nothing renews it or is assigned
    to it yet, so there is nothing more to read."""
    return _certificate_view(
        SimpleNamespace(**row),
        now,
        renews=renews,
        renewed_by=[],
        assignments=[],
        served=[],  # no probe row can name a certificate not yet committed
        full=True,
    )


def _certificate_view(
    row: Any,
    now: dt.datetime,
    *,
    renews: str | None,
    renewed_by: list[str],
    assignments: list[AssignmentView],
    served: list[dict[str, Any]],
    full: bool,
) -> CertificateView:
    """The view of a certificate's row: an ORM `Certificate`, a row of the Core listing
    (`storage.reading.certificates_by_name`) or the columns a submission wrote, which
    have the same names."""
    return CertificateView(
        name=row.name,
        status=str(row.status.value),
        domain=row.domain,
        submitted_format=str(row.submitted_format.value),
        subject=row.subject,
        issuer=row.issuer,
        serial=row.serial,
        sans=list(row.sans or []),
        not_before=iso(row.not_before),
        not_after=iso(row.not_after),
        days_left=_days_left(row.not_after, now),
        fingerprint_sha256=row.fingerprint_sha256,
        key_type=row.key_type,
        key_bits=row.key_bits,
        submitted_by=row.submitted_by,
        submitted_at=iso(row.submitted_at),
        renews=renews,
        renewed_by=renewed_by,
        reviewed_by=row.reviewed_by,
        reviewed_at=iso(row.reviewed_at),
        review_reason=row.review_reason,
        assignments=assignments,
        served=served,
        report=row.report if full else None,
        certificate_pem=row.certificate_pem if full else None,
        chain_pem=row.chain_pem if full else "",
    )


def list_certificates(ctx: ServiceContext, status: str | None = None) -> list[CertificateView]:
    """Every certificate (or those of one status), by name: here and not in
    `certificates` so that listing imports no validation pipeline (issue 16)."""
    wanted = None
    if status:
        try:
            wanted = CertificateStatus(status)
        except ValueError:
            choices = ", ".join(s.value for s in CertificateStatus)
            raise ServiceError("invalid_input", f"status must be one of: {choices}") from None
    now = ctx.now()
    with ctx.reading() as connection:
        rows = reading.certificates_by_name(connection, wanted)
        served = served_of(connection, [row.id for row in rows])
        return [
            _certificate_view(
                row,
                now,
                renews=row.renews,
                renewed_by=[],
                assignments=[],
                served=served.get(row.id, []),
                full=False,
            )
            for row in rows
        ]
