"""Certificates: submit (validate, then store public material), review, list, show.

Submit is open to everyone; approve and reject are for admins. What is stored is the
public certificate, its chain and the validation report, never a key or a password: the
report is checked against this upload's secrets before it is written (see redaction).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization

from bot.metrics_scope import record_validation
from bot.pipeline.hostnames import InvalidHostname, normalize
from bot.pipeline.material import InputFile, Passwords
from bot.pipeline.report import Report, fingerprint_sha256, serial_hex
from bot.pipeline.validate import ValidateOptions, validate
from bot.services import audit, redaction
from bot.services.actors import Actor
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from bot.services.names import check_certificate_name
from bot.services.views import CertificateView, list_certificates, written_certificate_view
from storage import reading, writing
from storage.enums import CertificateStatus, SubmittedFormat

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from bot.services.supersession import RenewalTarget

# A submission stores its row and audit event through SQLAlchemy Core (`ctx.writing()`,
# `storage.writing`): `certops cert submit` must not pay for importing SQLModel, pydantic
# and the ORM (issue 16). The rules written with the ORM (review, renewal, supersession)
# import `storage.queries` where they run.

log = logging.getLogger(__name__)

ASSIGNABLE = (CertificateStatus.VALIDATED, CertificateStatus.APPROVED)


@dataclass(frozen=True)
class SubmitResult:
    """A stored submission: the record, the report, and what renewing it offers."""

    certificate: CertificateView
    report: dict[str, Any]
    manual: bool
    renewal_targets: list[RenewalTarget] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "certificate": self.certificate.to_dict(with_report=False),
            "status": self.certificate.status,
            "manual": self.manual,
            "report": self.report,
            "renewal_offer": [t.to_dict() for t in self.renewal_targets],
        }


@dataclass(frozen=True)
class ReviewResult:
    """An admin's decision; `submitter` and `reason` are for telling the submitter."""

    certificate: CertificateView
    decision: str  # "approved" | "rejected"
    reviewer: str
    submitter: str
    reason: str | None
    renewal_targets: list[RenewalTarget] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "certificate": self.certificate.to_dict(with_report=False),
            "decision": self.decision,
            "reviewer": self.reviewer,
            "notify": {"user": self.submitter, "reason": self.reason},
            "renewal_offer": [t.to_dict() for t in self.renewal_targets],
        }


def _format_of(report: Report) -> SubmittedFormat:
    kinds = {summary.kind for summary in report.inputs}
    if "pkcs12" in kinds:
        return SubmittedFormat.PFX
    if "zip" in kinds:
        return SubmittedFormat.ZIP
    return SubmittedFormat.PEM


def _domain_of(domain: str | None, report: Report) -> str:
    if domain:
        try:
            return normalize(domain, allow_wildcard=True)
        except InvalidHostname:
            return domain.strip()
    cert = report.certificate_dict()
    sans = cert["sans"] if cert else []
    return sans[0] if sans else ""


def _facts_of(report: Report) -> dict[str, Any]:
    """The public facts of the chosen leaf and its chain: the row's columns they fill."""
    leaf = report.leaf
    if leaf is None:
        return {}
    info = report.certificate_dict() or {}
    key = report.key
    return {
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "serial": serial_hex(leaf),
        "sans": list(info.get("sans", [])),
        "not_before": leaf.not_valid_before_utc,
        "not_after": leaf.not_valid_after_utc,
        "fingerprint_sha256": fingerprint_sha256(leaf),
        "key_type": key.type if key else None,
        "key_bits": key.bits if key else None,
        "certificate_pem": leaf.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "chain_pem": b"".join(
            entry.cert.public_bytes(serialization.Encoding.PEM)
            for entry in report.chain
            if entry.source != "trust_store"
        ).decode("ascii"),
    }


def submit_certificate(
    ctx: ServiceContext,
    actor: Actor,
    files: Sequence[InputFile],
    passwords: Passwords,
    *,
    name: str,
    domain: str | None = None,
    manual: bool = False,
    renews: str | None = None,
    notes: str | None = None,
) -> SubmitResult:
    """Validate and store a certificate: `validated`, or `pending_manual` when asked.

    An invalid certificate without `manual` is refused with code `certificate_invalid`
    and the report in the details; a taken name is refused with `name_taken` before the
    (costly) validation and again, by the database, when two arrive at the same moment.
    """
    clean = check_certificate_name(name)
    if not files:
        raise ServiceError("invalid_input", "give at least one certificate file")
    with ctx.reading() as connection:
        if reading.certificate_name_taken(connection, clean):
            raise ServiceError(
                "name_taken", f"the certificate name {clean!r} is already taken: choose another"
            )
        renewed = reading.certificate_ref(connection, renews) if renews else None
    renews_id = renewed.id if renewed else None
    options = ValidateOptions(
        domain=domain, name=clean, extra_roots=tuple(ctx.extra_roots), now=ctx.now()
    )
    report = validate(files, passwords, options)
    record_validation(report.verdict)
    secrets = redaction.secrets_of(files, passwords)
    report_dict = redaction.redact(report.to_dict(), secrets)
    log.info(
        "certificate %s submitted by %s: %s (%s)",
        clean,
        actor.user_id,
        report.verdict,
        ", ".join(report.codes) or "no findings",
    )
    if not report.valid and not manual:
        raise ServiceError(
            "certificate_invalid",
            f"the certificate {clean!r} is invalid: "
            + "; ".join(f["code"] for f in report_dict["findings"] if f["severity"] == "error")
            + " (fix it, or submit it for manual validation)",
            {"report": report_dict},
        )
    status = CertificateStatus.VALIDATED if report.valid else CertificateStatus.PENDING_MANUAL
    row = writing.certificate_values(
        name=clean,
        domain=_domain_of(domain, report),
        submitted_format=_format_of(report),
        status=status,
        report=report_dict,
        notes=notes,
        submitted_by=actor.user_id,
        submitted_at=ctx.now(),
        renews_id=renews_id,
    )
    row.update(_facts_of(report))
    targets: list[RenewalTarget] = []
    with ctx.writing() as connection:
        # NameTaken (the unique index) decides between simultaneous submissions of a name.
        row["id"] = writing.insert_certificate(connection, row)
        audit.record_written(
            connection, ctx, actor, "certificate.submit", ("certificate", row["id"]), row
        )
        if status is CertificateStatus.VALIDATED and renews_id is not None:
            targets = _take_over(connection, ctx, actor, row["id"], renews_id)
    view = written_certificate_view(row, ctx.now(), renews=renewed.name if renewed else None)
    return SubmitResult(view, report_dict, manual=not report.valid, renewal_targets=targets)


def _take_over(
    connection: Connection, ctx: ServiceContext, actor: Actor, certificate_id: int, renews_id: int
) -> list[RenewalTarget]:
    """A validated renewal, in the submission's transaction: where the old certificate
    serves (offered to the submitter), and the old one superseded if nothing uses it."""
    from bot.services.supersession import renewal_targets, supersede_unused
    from storage import queries

    with ctx.database.session_in(connection) as session:
        row = queries.certificate_by_id(session, certificate_id)
        targets = renewal_targets(session, row)
        supersede_unused(session, ctx, actor, [renews_id])
    return targets


def _review(
    ctx: ServiceContext, actor: Actor, name: str, decision: CertificateStatus, reason: str | None
) -> ReviewResult:
    from bot.services.supersession import renewal_targets, supersede_unused
    from bot.services.views import certificate_view
    from storage import queries

    verb = "approve" if decision is CertificateStatus.APPROVED else "reject"
    actor.require_admin(f"{verb} certificates")
    with ctx.session() as session:
        row = queries.certificate(session, name)
        if row.status is not CertificateStatus.PENDING_MANUAL:
            raise ServiceError(
                "invalid_transition",
                f"{row.name!r} is {row.status.value}: only a certificate waiting for manual "
                f"validation can be {decision.value}",
            )
        if decision is CertificateStatus.APPROVED and not row.certificate_pem:
            raise ServiceError(
                "certificate_unreadable",
                f"{row.name!r} has no readable certificate: it cannot be approved, only rejected",
            )
        before = audit.snapshot(row)
        row.status = decision
        row.reviewed_by = actor.user_id
        row.reviewed_at = ctx.now()
        row.review_reason = reason
        session.add(row)
        audit.record(session, ctx, actor, f"certificate.{verb}", row, before=before)
        targets: list[RenewalTarget] = []
        if decision is CertificateStatus.APPROVED and row.renews_id is not None:
            targets = renewal_targets(session, row)
            supersede_unused(session, ctx, actor, [row.renews_id])
        log.info("certificate %s %s by %s", row.name, decision.value, actor.user_id)
        return ReviewResult(
            certificate=certificate_view(session, row, ctx.now()),
            decision=decision.value,
            reviewer=actor.user_id,
            submitter=row.submitted_by,
            reason=reason,
            renewal_targets=targets,
        )


def approve_certificate(
    ctx: ServiceContext, actor: Actor, name: str, reason: str | None = None
) -> ReviewResult:
    """An admin accepts a certificate that failed validation: it becomes assignable."""
    return _review(ctx, actor, name, CertificateStatus.APPROVED, reason)


def reject_certificate(ctx: ServiceContext, actor: Actor, name: str, reason: str) -> ReviewResult:
    """An admin refuses a certificate; the reason is for the submitter."""
    if not reason or not reason.strip():
        raise ServiceError("invalid_input", "a rejection needs a reason for the submitter")
    return _review(ctx, actor, name, CertificateStatus.REJECTED, reason.strip())


def show_certificate(ctx: ServiceContext, name: str) -> CertificateView:
    from bot.services.promotion import promote_due
    from bot.services.views import certificate_view
    from storage import queries

    promote_due(ctx)
    with ctx.session() as session:
        return certificate_view(session, queries.certificate(session, name), ctx.now())


def assignable_certificates(ctx: ServiceContext) -> list[CertificateView]:
    """The certificates that may be assigned (validated or approved): what the assign
    form offers."""
    wanted = {status.value for status in ASSIGNABLE}
    return [view for view in list_certificates(ctx) if view.status in wanted]
