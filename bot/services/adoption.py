"""Adopt: take in the certificate a hostname already serves as an environment's own.

A team that runs its own certificates gets expiry warnings, metrics and the renewal flow
for them without uploading anything: the served leaf is read (public parts only, there
is no key to have) and recorded with the status `observed`, with an `active` assignment
of the hostname on the environment, exactly as an assignment would leave it.

The rules, cheapest first: admins only (it changes the record, as assign does); the
hostname is a host name; the environment exists; its current assignment is not still
`updating` (the endpoint may be serving the old certificate for a few more minutes:
adopting it would undo the assignment); then the probe (through the configured
nameservers, loopback and link-local refused); the served leaf is read with the upload
readers; it must cover the hostname and be inside its validity period.

Adopting the certificate the environment already has under that hostname changes
nothing (`changed` is false: idempotent). A certificate already on record with the same
fingerprint (uploaded, or observed elsewhere) is reused rather than recorded twice.
Otherwise the environment's current assignment is replaced, with the same audit events
as an assignment. The standard library's TLS gives the leaf only, so the chain is not
recorded (`chain_pem` stays empty).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlmodel import Session

from bot.pipeline.hostnames import covers
from bot.pipeline.keys import describe_certificate_key
from bot.pipeline.leaf import dns_names
from bot.pipeline.report import fingerprint_sha256, serial_hex
from bot.pipeline.served import ServedProblem, read_served_leaf
from bot.pipeline.tls_probe import ProbeResult
from bot.services import audit
from bot.services.actors import Actor
from bot.services.assignments import check_hostname, put_in_place
from bot.services.audit import iso
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from bot.services.expiry_thresholds import Threshold, next_warning, parse_thresholds
from bot.services.names import fit_name
from bot.services.promotion import promote_due
from bot.services.served import ProbeConfig, check_served, is_platform_host
from bot.services.supersession import VALID_STATES, supersede_unused
from bot.services.views import (
    AssignmentView,
    CertificateView,
    assignment_view,
    certificate_view,
)
from storage import queries

if TYPE_CHECKING:
    from bot.services.served import Observation, ProbeReport, Target
from storage.models import (
    Assignment,
    AssignmentState,
    Certificate,
    CertificateStatus,
    Environment,
    SubmittedFormat,
    TlsCheck,
    TlsCheckState,
)

log = logging.getLogger(__name__)

# A certificate on record with the served fingerprint in one of these is reused as is.
REUSABLE = (*VALID_STATES, CertificateStatus.OBSERVED)
RENEWAL_HINT = (
    "certops holds no key for an observed certificate: renewing it means submitting the "
    "new certificate with its key (`certops cert submit ... --renews NAME`, or Renew on "
    "the warning), then `certops cert renew`."
)


@dataclass(frozen=True)
class AdoptResult:
    certificate: CertificateView
    environment: str
    hostname: str
    changed: bool  # False: the environment already had this certificate under this name
    reused: bool  # the certificate was on record already (same fingerprint)
    assignment: AssignmentView
    replaced: AssignmentView | None = None
    superseded: list[str] = field(default_factory=list)
    served_by: str = ""  # address:port probed
    next_warning: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "changed": self.changed,
            "reused": self.reused,
            "environment": self.environment,
            "hostname": self.hostname,
            "served_by": self.served_by,
            "certificate": self.certificate.to_dict(with_report=False),
            "assignment": self.assignment.to_dict(),
            "replaced": self.replaced.to_dict() if self.replaced else None,
            "superseded": list(self.superseded),
            "next_warning": self.next_warning,
            "renewal": RENEWAL_HINT if self.certificate.status == "observed" else None,
        }


def probe_served(ctx: ServiceContext, hostname: str, options: ProbeConfig) -> ProbeResult:
    """What `hostname` serves, dialled as every probe is (`served.check_served`: the
    configured nameservers, else the context's; loopback and link-local refused unless
    allowed). A hostname with no address to dial is a ServiceError with the reason."""
    if not options.nameservers and ctx.default_nameservers:
        options = dataclasses.replace(options, nameservers=tuple(ctx.default_nameservers))
    result, failed = check_served(options, hostname)
    if failed is not None:
        raise ServiceError(failed.outcome, failed.detail or failed.outcome)
    return result


def _check_not_updating(session: Session, env: Environment) -> None:
    current = queries.active_assignment(session, env.id or 0)
    if current is not None and current.state is AssignmentState.UPDATING:
        cert = queries.certificate_by_id(session, current.certificate_id)
        raise ServiceError(
            "assignment_in_progress",
            f"{env.name} is being given {cert.name!r} (updating until "
            f"{current.active_at:%Y-%m-%d %H:%M} UTC): what it serves now may be the old "
            "certificate. Adopt once the assignment is active.",
        )


def _read(result: ProbeResult, hostname: str, now: dt.datetime) -> x509.Certificate:
    if result.error is not None:
        raise ServiceError(
            "handshake_failed",
            f"no certificate could be read from {hostname} ({result.address}:{result.port}): "
            f"{result.error}",
        )
    try:
        leaf = read_served_leaf(result.leaf_der, hostname)
    except ServedProblem as problem:
        raise ServiceError(problem.code, problem.message) from None
    sans = dns_names(leaf)
    if not covers(sans, hostname):
        raise ServiceError(
            "hostname_not_covered",
            f"the certificate {hostname} serves does not cover {hostname} "
            f"(it covers: {', '.join(sans) or 'no DNS name'}): not adopted",
        )
    if leaf.not_valid_after_utc <= now:
        raise ServiceError(
            "certificate_expired",
            f"the certificate {hostname} serves expired on {leaf.not_valid_after_utc:%Y-%m-%d}: "
            "there is nothing worth taking in; put a valid certificate in place first",
        )
    if leaf.not_valid_before_utc > now:
        raise ServiceError(
            "certificate_expired",
            f"the certificate {hostname} serves is not valid before "
            f"{leaf.not_valid_before_utc:%Y-%m-%d}: not adopted",
        )
    return leaf


def _observed_row(
    session: Session, leaf: x509.Certificate, hostname: str, actor: Actor, now: dt.datetime
) -> Certificate:
    """The record of a served leaf: public parts only (there is no key), no chain."""
    fingerprint = fingerprint_sha256(leaf)
    name = fit_name(hostname, f"-observed-{leaf.not_valid_after_utc:%Y%m%d}")
    if queries.certificate_name_taken(session, name):
        name = fit_name(hostname, f"-observed-{fingerprint.replace(':', '')[:12].lower()}")
    key = describe_certificate_key(leaf)
    sans = dns_names(leaf)
    return Certificate(
        name=name,
        domain=hostname if hostname in sans else (sans[0] if sans else hostname),
        submitted_format=SubmittedFormat.SERVED,
        status=CertificateStatus.OBSERVED,
        subject=leaf.subject.rfc4514_string(),
        sans=sans,
        issuer=leaf.issuer.rfc4514_string(),
        serial=serial_hex(leaf),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        fingerprint_sha256=fingerprint,
        key_type=key.type,
        key_bits=key.bits,
        certificate_pem=leaf.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        chain_pem="",  # the standard library's TLS gives the leaf only
        report={"observed": {"hostname": hostname, "at": iso(now)}},
        notes=f"observed at {hostname}",
        submitted_by=actor.user_id,
        submitted_at=now,
    )


def _thresholds(env: Environment, default: Sequence[Threshold]) -> Sequence[Threshold]:
    if env.warning_days:
        try:
            return parse_thresholds(env.warning_days)
        except ValueError:
            return default
    return default


def _next_warning(
    cert: Certificate, env: Environment, thresholds: Sequence[Threshold], now: dt.datetime
) -> dict[str, Any] | None:
    if cert.not_after is None or not thresholds:
        return None
    threshold, moment = next_warning(
        _thresholds(env, thresholds), cert.not_before, cert.not_after, now
    )
    return {"at": iso(moment), "threshold": threshold.key, "label": threshold.label()}


def _mark_checked(
    session: Session, ctx: ServiceContext, row: Assignment, result: ProbeResult
) -> None:
    """The assignment's TLS check, already done: the probe just saw it served (so the
    scheduler neither announces it nor probes it again)."""
    queries.add_tls_check(
        session,
        TlsCheck(
            assignment_id=row.id or 0,
            state=TlsCheckState.OK,
            attempts=1,
            next_at=ctx.now(),
            served_fingerprint=result.fingerprint_sha256,
            detail="adopted: the served certificate is the recorded one",
            updated_at=ctx.now(),
        ),
    )


def adopt_served(
    ctx: ServiceContext,
    actor: Actor,
    hostname: str,
    environment: str | int,
    *,
    options: ProbeConfig | None = None,
    thresholds: Sequence[Threshold] = (),
    result: ProbeResult | None = None,
) -> AdoptResult:
    """Record what `hostname` serves as `environment`'s certificate (by name, or by id).

    `result` is a probe already made (the periodic probe's `--adopt`): then nothing is
    probed again. `thresholds` (the global warning thresholds) give the next warning date.
    """
    actor.require_admin("adopt served certificates")
    host = check_hostname(hostname)
    promote_due(ctx)
    with ctx.session() as session:
        env = queries.environment_by_id_or_name(session, environment)
        _check_not_updating(session, env)
        env_id = env.id or 0
    if result is None:
        result = probe_served(ctx, host, options or ProbeConfig())
    leaf = _read(result, host, ctx.now())
    fingerprint = fingerprint_sha256(leaf)
    served_by = f"{result.address}:{result.port}"
    with ctx.session() as session:
        env = queries.environment_by_id(session, env_id)
        _check_not_updating(session, env)  # again: the record may have moved meanwhile
        now = ctx.now()
        current = queries.active_assignment(session, env_id)
        if current is not None and current.hostname == host:
            held = queries.certificate_by_id(session, current.certificate_id)
            if held.fingerprint_sha256 == fingerprint:
                log.info("adopt %s on %s: already recorded as %s", host, env.name, held.name)
                return AdoptResult(
                    certificate=certificate_view(session, held, now),
                    environment=env.name,
                    hostname=host,
                    changed=False,
                    reused=True,
                    assignment=assignment_view(session, current),
                    served_by=served_by,
                    next_warning=_next_warning(held, env, thresholds, now),
                )
        known = [
            c
            for c in queries.certificates_with_fingerprint(session, fingerprint)
            if c.status in REUSABLE
        ]
        if known:
            cert = known[0]
        else:
            cert = _observed_row(session, leaf, host, actor, now)
            queries.add_certificate(session, cert)
            audit.record(session, ctx, actor, "certificate.observe", cert)
        row, previous = put_in_place(
            session,
            ctx,
            actor,
            cert,
            env,
            host,
            cname_confirmed=False,
            dns_report=None,
            updating=False,
        )
        _mark_checked(session, ctx, row, result)
        superseded = supersede_unused(
            session, ctx, actor, [previous.certificate_id] if previous else []
        )
        log.info(
            "adopted %s on %s as %s (%s) by %s",
            host,
            env.name,
            cert.name,
            "reused" if known else "observed",
            actor.user_id,
        )
        return AdoptResult(
            certificate=certificate_view(session, cert, now),
            environment=env.name,
            hostname=host,
            changed=True,
            reused=bool(known),
            assignment=assignment_view(session, row),
            replaced=assignment_view(session, previous) if previous else None,
            superseded=superseded,
            served_by=served_by,
            next_warning=_next_warning(cert, env, thresholds, now),
        )


def adopt_unrecorded(
    ctx: ServiceContext,
    actor: Actor,
    report: ProbeReport,
    *,
    options: ProbeConfig,
    thresholds: Sequence[Threshold] = (),
) -> list[tuple[Target, Observation]]:
    """`certops probe --once --adopt`: adopt what each `not_recorded` hostname of `report`
    serves, from the probe's own connection (no second one). `served_other_certificate`
    is left to a person (the post's Adopt button, `certops adopt`): adopting it would
    replace what the record says on a guess. Fills `report.adopted` (one entry per
    hostname, adopted or refused with the reason); returns the adopted pairs."""
    from bot.services.served import NOT_RECORDED

    adopted: list[tuple[Target, Observation]] = []
    for target, observation, outcome in report.observed:
        host = target.hostname
        if outcome != NOT_RECORDED or observation.probe is None:
            continue
        entry: dict[str, Any] = {"hostname": host, "environment": target.environment}
        if is_platform_host(host):
            entry["skipped"] = "the platform's own certificate (OutSystems renews it)"
        else:
            try:
                done = adopt_served(
                    ctx,
                    actor,
                    host,
                    target.environment_id,
                    options=options,
                    thresholds=thresholds,
                    result=observation.probe,
                )
            except ServiceError as error:
                entry["refused"] = f"{error.code}: {error.message}"
            else:
                entry["adopted"] = done.certificate.name
                entry["not_after"] = done.certificate.not_after
                adopted.append((target, observation))
        report.adopted.append(entry)
    return adopted
