"""The queries the bot makes, as plain functions over a Session.

The read-only ones written in SQLAlchemy Core, which need no ORM and so start fast at the
terminal, are in `storage.reading` and re-exported here: still one function per question.
A submission writes through `storage.writing` (Core, the same SAVEPOINT rule as below),
which also holds what an audit row keeps of a record, for `record_audit` here as well.

Services call these instead of writing SQL, so the indexes in `storage.models` match the
questions asked. Inserts that a database constraint can refuse (a taken name, a second
current assignment, a notification already claimed) run in a SAVEPOINT and turn the
IntegrityError into one of our errors, leaving the caller's transaction usable: two
submissions of one name at the same moment give one winner and one `NameTaken`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, case, delete, func, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, col, select

from storage import reading
from storage.errors import EnvironmentBusy, NameTaken, RecordMissing
from storage.models import (
    CURRENT_ASSIGNMENT_STATES,
    OPEN_TICKET_STATES,
    Assignment,
    AssignmentState,
    AuditEvent,
    Certificate,
    CertificateStatus,
    ChannelPace,
    Environment,
    Notification,
    ServedProbe,
    SlackDelivery,
    SupportTicket,
    TicketState,
    TlsCheck,
    TlsCheckState,
    WarningSilence,
)
from storage.reading import (  # noqa: F401 (Core, part of this layer)
    certificates_by_name,
    served_probes_of_certificates,
)
from storage.types import utcnow
from storage.writing import (  # noqa: F401 (what an audit row keeps: one rule for both paths)
    audit_values,
    snapshot,
)

Row = TypeVar("Row", bound=SQLModel)


def _required(row: Row | None, kind: str, key: object) -> Row:
    """The row, or `RecordMissing` (the services' context turns it into `not_found`)."""
    if row is None:
        raise RecordMissing(kind, key)
    return row


def _insert_or(session: Session, row: Row, refused: Callable[[], Exception | None]) -> Row:
    """Insert `row` in a SAVEPOINT; on IntegrityError raise `refused()` if it names one."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        error = refused()
        if error is None:
            raise
        raise error from None
    return row


# -- environments -----------------------------------------------------------------------


def add_environment(session: Session, environment: Environment) -> Environment:
    """Insert an environment; `NameTaken` if the name is already used."""
    return _insert_or(
        session,
        environment,
        lambda: (
            NameTaken("environment", environment.name)
            if environment_by_name(session, environment.name) is not None
            else None
        ),
    )


def environment_by_name(session: Session, name: str) -> Environment | None:
    return session.exec(select(Environment).where(Environment.name == name.strip())).first()


def environment(session: Session, name: str) -> Environment:
    """The environment a person named; `RecordMissing` when there is none."""
    return _required(environment_by_name(session, name), "environment", name)


def environment_by_id(session: Session, environment_id: int) -> Environment:
    return _required(session.get(Environment, environment_id), "environment", environment_id)


def environment_by_id_or_name(session: Session, key: str | int) -> Environment:
    """The environment a button names, by id (int) or by name; `RecordMissing` if none."""
    if isinstance(key, int):
        return environment_by_id(session, key)
    return environment(session, key)


def environment_name_taken(session: Session, name: str) -> bool:
    return session.exec(select(Environment.id).where(Environment.name == name)).first() is not None


def lifetime_environment(session: Session) -> Environment | None:
    """The LifeTime environment (one is allowed), if registered."""
    return session.exec(select(Environment).where(col(Environment.is_lifetime))).first()


def environments(session: Session) -> Sequence[Environment]:
    """Every environment, by name."""
    return session.exec(select(Environment).order_by(col(Environment.name))).all()


# -- certificates -----------------------------------------------------------------------


def add_certificate(session: Session, certificate: Certificate) -> Certificate:
    """Insert a certificate; `NameTaken` if its name is taken, also by a concurrent insert."""
    return _insert_or(
        session,
        certificate,
        lambda: (
            NameTaken("certificate", certificate.name)
            if certificate_by_name(session, certificate.name) is not None
            else None
        ),
    )


def certificate_by_name(session: Session, name: str) -> Certificate | None:
    return session.exec(select(Certificate).where(Certificate.name == name.strip())).first()


def certificate(session: Session, name: str) -> Certificate:
    """The certificate a person named; `RecordMissing` when there is none."""
    return _required(certificate_by_name(session, name), "certificate", name)


def certificate_by_id(session: Session, certificate_id: int) -> Certificate:
    return _required(session.get(Certificate, certificate_id), "certificate", certificate_id)


# Core (storage.reading): a submission asks it before any ORM is loaded; one function.
certificate_name_taken = reading.certificate_name_taken


def certificates_with_fingerprint(session: Session, fingerprint: str) -> Sequence[Certificate]:
    """Certificates whose leaf has this SHA-256 fingerprint (the record's upper-case hex
    with colons), oldest first: the served certificate may be on record already."""
    return session.exec(
        select(Certificate)
        .where(Certificate.fingerprint_sha256 == fingerprint)
        .order_by(col(Certificate.id))
    ).all()


def has_valid_renewal(
    session: Session, certificate_id: int, statuses: Iterable[CertificateStatus]
) -> bool:
    """Whether a certificate that renews this one is in one of `statuses`."""
    found = session.exec(
        select(Certificate.id)
        .where(Certificate.renews_id == certificate_id)
        .where(col(Certificate.status).in_(list(statuses)))
    ).first()
    return found is not None


def certificates_expiring_before(
    session: Session,
    moment: datetime,
    statuses: Iterable[CertificateStatus] | None = (
        CertificateStatus.VALIDATED,
        CertificateStatus.APPROVED,
        CertificateStatus.OBSERVED,
    ),
) -> Sequence[Certificate]:
    """Certificates whose not_after is before `moment`, soonest first.

    By default only usable ones (validated, approved or observed): superseded, rejected and pending
    certificates are nobody's to renew. Pass `statuses=None` for all.
    """
    query = select(Certificate).where(
        col(Certificate.not_after).is_not(None), col(Certificate.not_after) < moment
    )
    if statuses is not None:
        query = query.where(col(Certificate.status).in_(list(statuses)))
    return session.exec(query.order_by(col(Certificate.not_after), col(Certificate.id))).all()


def renewals_of(session: Session, certificate_id: int) -> Sequence[Certificate]:
    """Certificates that name `certificate_id` as the one they renew."""
    return session.exec(
        select(Certificate)
        .where(Certificate.renews_id == certificate_id)
        .order_by(col(Certificate.id))
    ).all()


# -- assignments ------------------------------------------------------------------------


def add_assignment(session: Session, assignment: Assignment) -> Assignment:
    """Insert an assignment; `EnvironmentBusy` if the environment already has a current one."""
    return _insert_or(
        session,
        assignment,
        lambda: (
            EnvironmentBusy(assignment.environment_id)
            if active_assignment(session, assignment.environment_id) is not None
            else None
        ),
    )


def active_assignment(session: Session, environment_id: int) -> Assignment | None:
    """The environment's current assignment (`updating` or `active`), if any."""
    return session.exec(
        select(Assignment).where(
            Assignment.environment_id == environment_id,
            col(Assignment.state).in_(list(CURRENT_ASSIGNMENT_STATES)),
        )
    ).first()


def assignment_by_id(session: Session, assignment_id: int) -> Assignment | None:
    return session.get(Assignment, assignment_id)


def assignments_of_certificate(
    session: Session, certificate_id: int, *, current_only: bool = False
) -> Sequence[Assignment]:
    """A certificate's assignments, oldest first (only current ones if asked)."""
    query = select(Assignment).where(Assignment.certificate_id == certificate_id)
    if current_only:
        query = query.where(col(Assignment.state).in_(list(CURRENT_ASSIGNMENT_STATES)))
    return session.exec(query.order_by(col(Assignment.assigned_at), col(Assignment.id))).all()


def due_promotions(session: Session, now: datetime) -> Sequence[Assignment]:
    """`updating` assignments whose five minutes are over, locked for this transaction
    (another process's promotion of the same rows skips them instead of waiting)."""
    return session.exec(
        select(Assignment)
        .where(Assignment.state == AssignmentState.UPDATING)
        .where(col(Assignment.active_at) <= now)
        .with_for_update(skip_locked=True)
    ).all()


def mark_replaced(
    session: Session, environment_id: int, at: datetime | None = None
) -> Assignment | None:
    """Mark the environment's current assignment `replaced` (and flush); returns it, if any."""
    current = active_assignment(session, environment_id)
    if current is None:
        return None
    current.state = AssignmentState.REPLACED
    current.replaced_at = at or utcnow()
    session.add(current)
    session.flush()
    return current


# -- support tickets --------------------------------------------------------------------


def ticket(session: Session, ticket_id: int) -> SupportTicket:
    return _required(session.get(SupportTicket, ticket_id), "ticket", ticket_id)


def tickets_in_order(session: Session, *, open_only: bool = False) -> Sequence[SupportTicket]:
    """Tickets in the order they were opened (only open ones if asked)."""
    query = select(SupportTicket).order_by(col(SupportTicket.id))
    if open_only:
        query = query.where(col(SupportTicket.state).in_(list(OPEN_TICKET_STATES)))
    return session.exec(query).all()


def open_tickets_of_certificate(session: Session, certificate_id: int) -> Sequence[SupportTicket]:
    return session.exec(
        select(SupportTicket)
        .where(SupportTicket.certificate_id == certificate_id)
        .where(col(SupportTicket.state).in_(list(OPEN_TICKET_STATES)))
    ).all()


def draft_tickets(
    session: Session, certificate_id: int, environment_id: int | None = None
) -> Sequence[SupportTicket]:
    """The certificate's `draft` tickets (on one environment if given), oldest first."""
    query = (
        select(SupportTicket)
        .where(SupportTicket.certificate_id == certificate_id)
        .where(SupportTicket.state == TicketState.DRAFT)
    )
    if environment_id is not None:
        query = query.where(SupportTicket.environment_id == environment_id)
    return session.exec(query.order_by(col(SupportTicket.id))).all()


def lock_environment(session: Session, environment_id: int) -> None:
    """Lock the environment's row for this transaction (PostgreSQL; SQLite writes one at a
    time anyway), so that two processes opening a ticket on it take turns."""
    session.exec(
        select(Environment.id).where(Environment.id == environment_id).with_for_update()
    ).first()


def open_tickets_of_environment(session: Session, environment_id: int) -> Sequence[SupportTicket]:
    return session.exec(
        select(SupportTicket)
        .where(SupportTicket.environment_id == environment_id)
        .where(col(SupportTicket.state).in_(list(OPEN_TICKET_STATES)))
        .order_by(col(SupportTicket.id))
    ).all()


# -- notifications ----------------------------------------------------------------------


def claim_notification(
    session: Session,
    certificate_id: int | None,
    threshold: str,
    channel: str,
    claimed_by: str,
    at: datetime | None = None,
) -> Notification | None:
    """Claim the right to post one warning; None if it was already claimed (by anyone).

    The unique (certificate, threshold, channel) row is the claim: of several replicas
    running the expiry job at once, exactly one gets a Notification back and posts.
    """
    row = Notification(
        certificate_id=certificate_id,
        threshold=threshold,
        channel=channel,
        claimed_by=claimed_by,
        claimed_at=at or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        if notification_for(session, certificate_id, threshold, channel) is None:
            raise
        return None
    return row


def notification_for(
    session: Session, certificate_id: int | None, threshold: str, channel: str
) -> Notification | None:
    return session.exec(
        select(Notification).where(
            col(Notification.certificate_id).is_(None)
            if certificate_id is None
            else col(Notification.certificate_id) == certificate_id,
            Notification.threshold == threshold,
            Notification.channel == channel,
        )
    ).first()


def notifications_of_certificate(session: Session, certificate_id: int) -> Sequence[Notification]:
    return session.exec(
        select(Notification)
        .where(Notification.certificate_id == certificate_id)
        .order_by(col(Notification.claimed_at), col(Notification.id))
    ).all()


# -- audit ------------------------------------------------------------------------------


def _entity_ref(entity: SQLModel | tuple[str, int | None]) -> tuple[str, int | None]:
    if isinstance(entity, tuple):
        return entity
    table = getattr(type(entity), "__tablename__", type(entity).__name__.lower())
    return str(table), getattr(entity, "id", None)


def record_audit(
    session: Session,
    actor: str,
    action: str,
    entity: SQLModel | tuple[str, int | None],
    before: SQLModel | Mapping[str, Any] | None = None,
    after: SQLModel | Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Write who did what to which record, with snapshots before and after (flushed).

    `entity` is the record itself (a table row: flushed first so it has an id) or a
    (type, id) pair. Pass `before=snapshot(row)` taken before changing a row: a row object
    given as `before` after it was changed would show the new values.
    """
    if isinstance(entity, SQLModel) and getattr(entity, "id", None) is None:
        session.add(entity)
        session.flush()
    event = AuditEvent(**audit_values(actor, action, _entity_ref(entity), before, after, at))
    session.add(event)
    session.flush()
    return event


def latest_audit(
    session: Session, limit: int = 50, *, entity: tuple[str, int] | None = None
) -> Sequence[AuditEvent]:
    """The newest audit events first (optionally of one record)."""
    query = select(AuditEvent)
    if entity is not None:
        query = query.where(AuditEvent.entity_type == entity[0], AuditEvent.entity_id == entity[1])
    return session.exec(
        query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(max(0, limit))
    ).all()


# -- expiry warnings --------------------------------------------------------------------
# The scan reads every certificate that can be due before `horizon` in a handful of
# queries (the index on certificate.not_after keeps them cheap among 100,000 rows).

# Observed certificates (taken in from what is served) are warned about like the others.
WATCHED_STATUSES = (
    CertificateStatus.VALIDATED,
    CertificateStatus.APPROVED,
    CertificateStatus.OBSERVED,
)


def _watched(horizon: datetime, since: datetime | None = None) -> Any:
    """The filter on watched certificates that expire before `horizon` (and, when given,
    not before `since`: certificates long expired are nobody's warning any more)."""
    condition = and_(
        col(Certificate.status).in_(list(WATCHED_STATUSES)),
        col(Certificate.not_after).is_not(None),
        col(Certificate.not_after) < horizon,
    )
    if since is not None:
        condition = and_(condition, col(Certificate.not_after) >= since)
    return condition


def expiry_candidates(
    session: Session, horizon: datetime, since: datetime | None = None
) -> Sequence[Any]:
    """Watched certificates expiring before `horizon`, each with its current placements.

    One row per (certificate, current assignment), or one row with no environment for a
    certificate that serves none: (id, name, domain, not_before, not_after, environment
    name, channel, warning_days, is_lifetime, hostname, status). The names (a JSON column, slow to
    decode by the thousand) are read for the due ones only: `sans_of`.
    """
    query = (
        sa_select(
            col(Certificate.id),
            col(Certificate.name),
            col(Certificate.domain),
            col(Certificate.not_before),
            col(Certificate.not_after),
            col(Environment.name),
            col(Environment.channel),
            col(Environment.warning_days),
            col(Environment.is_lifetime),
            col(Assignment.hostname),
            col(Certificate.status),
        )
        .select_from(Certificate)
        .outerjoin(
            Assignment,
            and_(
                col(Assignment.certificate_id) == col(Certificate.id),
                col(Assignment.state).in_(list(CURRENT_ASSIGNMENT_STATES)),
            ),
        )
        .outerjoin(Environment, col(Environment.id) == col(Assignment.environment_id))
        .where(_watched(horizon, since))
        .order_by(col(Certificate.not_after), col(Certificate.id))
    )
    return session.execute(query).all()


def sans_of(session: Session, ids: Iterable[int], chunk: int = 500) -> dict[int, list[str]]:
    """certificate id -> its names, for these certificates."""
    wanted = sorted(set(ids))
    found: dict[int, list[str]] = {}
    for start in range(0, len(wanted), chunk):
        rows = session.execute(
            sa_select(col(Certificate.id), col(Certificate.sans)).where(
                col(Certificate.id).in_(wanted[start : start + chunk])
            )
        ).all()
        found.update({int(cid): list(sans or []) for cid, sans in rows})
    return found


def notifications_of_watched(
    session: Session, horizon: datetime, since: datetime | None = None
) -> Sequence[Notification]:
    """The claims of every watched certificate expiring before `horizon`."""
    return session.exec(
        select(Notification)
        .join(Certificate, col(Certificate.id) == col(Notification.certificate_id))
        .where(_watched(horizon, since))
    ).all()


def silences_of_watched(
    session: Session, horizon: datetime, since: datetime | None = None
) -> Sequence[WarningSilence]:
    """Snoozes and acknowledgements of every watched certificate expiring before `horizon`."""
    return session.exec(
        select(WarningSilence)
        .join(Certificate, col(Certificate.id) == col(WarningSilence.certificate_id))
        .where(_watched(horizon, since))
        .order_by(col(WarningSilence.at), col(WarningSilence.id))
    ).all()


def valid_renewals_of_watched(
    session: Session, horizon: datetime | None = None
) -> Sequence[tuple[int, str]]:
    """(old id, renewal name) for every validated or approved renewal of a certificate
    (of a watched one expiring before `horizon`, when given). A renewal that expires no
    later than the old one (the old file again, by mistake) renews nothing: counting it
    would silence the warnings of a certificate that still serves a site."""
    old = aliased(Certificate)
    new = aliased(Certificate)
    query = (
        sa_select(col(old.id), col(new.name))
        .select_from(new)
        .join(old, col(old.id) == col(new.renews_id))
        .where(
            col(new.status).in_(list(WATCHED_STATUSES)),
            col(new.not_after) > col(old.not_after),
        )
    )
    if horizon is not None:
        query = query.where(
            col(old.status).in_(list(WATCHED_STATUSES)),
            col(old.not_after).is_not(None),
            col(old.not_after) < horizon,
        )
    rows = session.execute(query.order_by(col(new.id))).all()
    return [(int(old_id), str(name)) for old_id, name in rows]


def same_name_successors(session: Session, horizon: datetime) -> list[Any]:
    """Newer valid certificates with the same issuer, and the same Domain field or subject,
    as a watched one: (old id, old sans, new name, new sans); the caller compares the names.
    Two joins (one per indexed column) rather than one with OR, which no index serves."""
    found: list[Any] = []
    seen: set[tuple[int, str]] = set()
    for column in ("domain", "subject"):
        old = aliased(Certificate)
        new = aliased(Certificate)
        query = (
            sa_select(col(old.id), col(old.sans), col(new.name), col(new.sans))
            .select_from(old)
            .join(
                new,
                and_(
                    getattr(new, column) == getattr(old, column),
                    col(new.issuer) == col(old.issuer),
                    col(new.not_after) > col(old.not_after),
                    col(new.id) != col(old.id),
                    col(new.status).in_(list(WATCHED_STATUSES)),
                ),
            )
            .where(
                col(old.status).in_(list(WATCHED_STATUSES)),
                col(old.not_after).is_not(None),
                col(old.not_after) < horizon,
            )
        )
        for row in session.execute(query).all():
            if (row[0], row[2]) not in seen:
                seen.add((row[0], row[2]))
                found.append(row)
    return found


def release_notification(session: Session, notification_id: int) -> None:
    """Give up a claim whose post failed, so that the next run claims and posts again."""
    session.execute(delete(Notification).where(col(Notification.id) == notification_id))


def unposted_claims(session: Session, claimed_before: datetime) -> Sequence[Notification]:
    """Claims never marked posted and older than `claimed_before`: left by a process that
    died between its claim and its record (the post may or may not be in Slack)."""
    return session.exec(
        select(Notification)
        .where(
            col(Notification.posted_at).is_(None),
            col(Notification.claimed_at) < claimed_before,
        )
        .order_by(col(Notification.claimed_at), col(Notification.id))
    ).all()


def take_over_claim(
    session: Session, notification_id: int, seen_at: datetime, claimed_by: str, at: datetime
) -> bool:
    """Make an abandoned claim ours, unless another replica took it over (or it was posted,
    or renewed) since `seen_at` was read: one UPDATE, so only one replica wins."""
    result = session.execute(
        update(Notification)
        .where(
            col(Notification.id) == notification_id,
            col(Notification.claimed_at) == seen_at,
            col(Notification.posted_at).is_(None),
        )
        .values(claimed_by=claimed_by, claimed_at=at)
    )
    return bool(getattr(result, "rowcount", 0))


def renew_claim(session: Session, notification_id: int, claimed_by: str, at: datetime) -> bool:
    """Restart a claim's lease just before its post is sent (the pace wait may be long);
    False when the claim is no longer `claimed_by`'s (taken over after its lease)."""
    result = session.execute(
        update(Notification)
        .where(
            col(Notification.id) == notification_id,
            col(Notification.claimed_by) == claimed_by,
            col(Notification.posted_at).is_(None),
        )
        .values(claimed_at=at)
    )
    return bool(getattr(result, "rowcount", 0))


def take_channel_slot(session: Session, channel: str, now: float, interval: float) -> float:
    """The time (epoch seconds) this post may go to `channel`, taken for good: the slot
    after the last one taken by any replica, or now. One UPDATE moves `next_at` on, so two
    replicas never get the same slot (the row lock on PostgreSQL, the write lock on SQLite)."""
    _ensure_pace_row(session, channel)
    session.execute(
        update(ChannelPace)
        .where(col(ChannelPace.channel) == channel)
        .values(
            next_at=case((col(ChannelPace.next_at) > now, col(ChannelPace.next_at)), else_=now)
            + interval
        )
    )
    taken = session.execute(
        sa_select(col(ChannelPace.next_at)).where(col(ChannelPace.channel) == channel)
    ).scalar_one()
    return float(taken) - interval


def hold_channel(session: Session, channel: str, until: float) -> None:
    """No replica posts to `channel` before `until` (Slack's 429 `Retry-After`)."""
    _ensure_pace_row(session, channel)
    session.execute(
        update(ChannelPace)
        .where(col(ChannelPace.channel) == channel, col(ChannelPace.next_at) < until)
        .values(next_at=until)
    )


def _ensure_pace_row(session: Session, channel: str) -> None:
    if session.get(ChannelPace, channel) is not None:
        return
    try:
        with session.begin_nested():
            session.add(ChannelPace(channel=channel, next_at=0.0))
            session.flush()
    except IntegrityError:
        pass  # another replica made it first: the UPDATE that follows waits for its commit


def posted_notifications(session: Session) -> Sequence[Notification]:
    """Every claim that was posted (has a message), oldest first."""
    return session.exec(
        select(Notification)
        .where(col(Notification.message_ts).is_not(None))
        .order_by(col(Notification.posted_at), col(Notification.id))
    ).all()


def add_silence(session: Session, silence: WarningSilence) -> WarningSilence:
    session.add(silence)
    session.flush()
    return silence


# -- post-assignment TLS checks ---------------------------------------------------------


def assignments_without_check(session: Session, since: datetime) -> Sequence[Assignment]:
    """Current assignments made after `since` that have no TLS check row yet."""
    return session.exec(
        select(Assignment)
        .outerjoin(TlsCheck, col(TlsCheck.assignment_id) == col(Assignment.id))
        .where(
            col(TlsCheck.id).is_(None),
            col(Assignment.assigned_at) >= since,
            col(Assignment.state).in_(list(CURRENT_ASSIGNMENT_STATES)),
        )
        .order_by(col(Assignment.id))
    ).all()


def add_tls_check(session: Session, check: TlsCheck) -> TlsCheck | None:
    """Insert the check of an assignment; None if another replica inserted it first."""
    try:
        with session.begin_nested():
            session.add(check)
            session.flush()
    except IntegrityError:
        return None
    return check


def tls_check_of_assignment(session: Session, assignment_id: int) -> TlsCheck | None:
    return session.exec(
        select(TlsCheck).where(col(TlsCheck.assignment_id) == assignment_id)
    ).first()


def due_tls_checks(session: Session, now: datetime) -> Sequence[TlsCheck]:
    return session.exec(
        select(TlsCheck)
        .where(col(TlsCheck.state) == TlsCheckState.PENDING, col(TlsCheck.next_at) <= now)
        .order_by(col(TlsCheck.next_at), col(TlsCheck.id))
    ).all()


def take_tls_check(
    session: Session, check_id: int, expected_next_at: datetime, lease_until: datetime
) -> bool:
    """Move a due check's `next_at` past the attempt (compare-and-set): True for the one
    replica whose update matched, so only it probes and posts this attempt."""
    result = session.execute(
        update(TlsCheck)
        .where(
            col(TlsCheck.id) == check_id,
            col(TlsCheck.state) == TlsCheckState.PENDING,
            col(TlsCheck.next_at) == expected_next_at,
        )
        .values(next_at=lease_until)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


# -- Slack deliveries -------------------------------------------------------------------


def claim_delivery(
    session: Session,
    key: str,
    kind: str,
    at: datetime | None = None,
    *,
    timeout_ms: int | None = None,
) -> bool:
    """Claim the processing of one Slack delivery: True for the first claim, by anyone.

    The insert runs in a SAVEPOINT, so a unique violation (another replica, or an earlier
    delivery, holds the key) leaves the caller's transaction usable. On PostgreSQL a
    concurrent insert of the same key waits for the other transaction and then fails, so
    exactly one of two replicas receiving the same event at once gets True.

    `timeout_ms` bounds each statement of the transaction on PostgreSQL (a lock held by
    another session, a server that is overloaded): the claim runs before Slack's ack.
    """
    if timeout_ms is not None:
        limit_statements(session, timeout_ms)
    row = SlackDelivery(delivery_id=key, kind=kind, first_seen_at=at or utcnow())
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def prune_deliveries(session: Session, before: datetime) -> int:
    """Delete the deliveries first seen before `before`; how many were deleted."""
    result = session.execute(delete(SlackDelivery).where(col(SlackDelivery.first_seen_at) < before))
    return int(getattr(result, "rowcount", 0) or 0)


def limit_statements(session: Session, timeout_ms: int) -> None:
    """Cancel any statement of this transaction that runs longer than `timeout_ms` ms.

    PostgreSQL only (`SET LOCAL statement_timeout`, which ends with the transaction; a
    cancelled statement is an OperationalError, i.e. "database unavailable"). SQLite has no
    such setting: its waits are bounded by the busy timeout of `storage.db`.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {max(int(timeout_ms), 1)}"))


# --- the record's gauges (bot/metrics.py refreshes them on a timer) ---------------------
def _expiring_with_environment(*columns: Any) -> Any:
    """Current certificates with an expiry, each joined to every environment it serves
    (or none): the rows both the per-certificate and the aggregated series are made of."""
    return (
        sa_select(*columns)
        .select_from(Certificate)
        .join(
            Assignment,
            and_(
                col(Assignment.certificate_id) == col(Certificate.id),
                col(Assignment.state).in_(list(CURRENT_ASSIGNMENT_STATES)),
            ),
            isouter=True,
        )
        .join(Environment, col(Environment.id) == col(Assignment.environment_id), isouter=True)
        .where(col(Certificate.not_after).is_not(None))
    )


def status_counts(session: Session) -> dict[str, int]:
    """Certificates by status, counted by the database."""
    rows = session.execute(
        sa_select(col(Certificate.status), func.count()).group_by(col(Certificate.status))
    ).all()
    return {str(getattr(status, "value", status)): int(count) for status, count in rows}


def expiry_summary(
    session: Session,
    statuses: Iterable[str],
    bounds: Sequence[tuple[str, datetime]],
    beyond: str = "over",
) -> list[tuple[str, str, int, datetime]]:
    """(environment, bucket, count, soonest not_after) in one GROUP BY: the bucket is the
    label of the first bound the expiry is at or before, else `beyond`. The bounds are
    bound parameters, so the same SQL runs on SQLite and PostgreSQL."""
    expiry = col(Certificate.not_after)
    bucket = case(*[(expiry <= moment, label) for label, moment in bounds], else_=beyond)
    environment = func.coalesce(col(Environment.name), "")
    query = (
        _expiring_with_environment(environment, bucket, func.count(), func.min(expiry))
        .where(col(Certificate.status).in_(list(statuses)))
        .group_by(environment, bucket)
    )
    return [(str(e), str(b), int(n), soonest) for e, b, n, soonest in session.execute(query)]


def expiry_series_rows(session: Session, statuses: Iterable[str]) -> list[Any]:
    """One row per current certificate and environment served, with only the columns the
    per-certificate labels need (no PEM, no report)."""
    query = _expiring_with_environment(
        col(Certificate.name),
        col(Certificate.status),
        col(Certificate.subject),
        col(Certificate.issuer),
        col(Certificate.serial),
        col(Certificate.not_after),
        col(Environment.name),
        col(Assignment.hostname),
    ).where(col(Certificate.status).in_(list(statuses)))
    return list(session.execute(query).all())


def posted_warning_counts(session: Session) -> list[tuple[str, int]]:
    """Warnings posted, by threshold: all replicas together."""
    rows = session.execute(
        sa_select(col(Notification.threshold), func.count())
        .where(
            col(Notification.posted_at).is_not(None),
            col(Notification.certificate_id).is_not(None),  # expiry warnings only
        )
        .group_by(col(Notification.threshold))
    ).all()
    return [(str(threshold), int(count)) for threshold, count in rows]


# -- served-certificate probes (issue 17) -------------------------------------------------


def served_assignment_targets(session: Session) -> list[Any]:
    """(hostname, environment id, certificate id, fingerprint, not_after, dns_report) of
    every current assignment: the hostnames whose served certificate is recorded."""
    return list(
        session.execute(
            sa_select(
                col(Assignment.hostname),
                col(Assignment.environment_id),
                col(Assignment.certificate_id),
                col(Certificate.fingerprint_sha256),
                col(Certificate.not_after),
                col(Assignment.dns_report),
            )
            .join(Certificate, col(Certificate.id) == col(Assignment.certificate_id))
            .where(col(Assignment.state).in_(list(CURRENT_ASSIGNMENT_STATES)))
            .order_by(col(Assignment.id))
        ).all()
    )


def certificate_by_fingerprint(session: Session, fingerprint: str) -> Certificate | None:
    """A certificate of the record with this SHA-256 fingerprint (colons, upper case)."""
    return session.exec(
        select(Certificate)
        .where(col(Certificate.fingerprint_sha256) == fingerprint)
        .order_by(col(Certificate.id).desc())
    ).first()


def served_probe_of(session: Session, hostname: str) -> ServedProbe | None:
    return session.exec(select(ServedProbe).where(col(ServedProbe.hostname) == hostname)).first()


def served_probes(session: Session) -> Sequence[ServedProbe]:
    """Every probed hostname, by hostname."""
    return session.exec(select(ServedProbe).order_by(col(ServedProbe.hostname))).all()


def add_served_probe(session: Session, row: ServedProbe) -> ServedProbe | None:
    """Insert the hostname's row; None when another replica inserted it first."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        if served_probe_of(session, row.hostname) is None:
            raise
        return None
    return row


def take_served_probe(
    session: Session, probe_id: int, expected_next_at: datetime, next_at: datetime
) -> bool:
    """Take the probe of one hostname (compare-and-set on `next_at`): one replica wins."""
    result = session.execute(
        update(ServedProbe)
        .where(col(ServedProbe.id) == probe_id, col(ServedProbe.next_at) == expected_next_at)
        .values(next_at=next_at)
    )
    return bool(getattr(result, "rowcount", 0))


def unreported_served_changes(session: Session) -> Sequence[ServedProbe]:
    """Hostnames whose latest change of outcome has not been said in a channel yet."""
    return session.exec(
        select(ServedProbe)
        .where(col(ServedProbe.reported) < col(ServedProbe.change))
        .order_by(col(ServedProbe.changed_at), col(ServedProbe.id))
    ).all()


def mark_served_reported(session: Session, probe_id: int, change: int) -> None:
    """The change `change` of this hostname is said (never moves `reported` back)."""
    session.execute(
        update(ServedProbe)
        .where(col(ServedProbe.id) == probe_id, col(ServedProbe.reported) < change)
        .values(reported=change)
    )


def served_match_rows(session: Session) -> list[Any]:
    """(environment name, hostname, outcome, served not_after) of every probed hostname,
    for the metrics."""
    return list(
        session.execute(
            sa_select(
                col(Environment.name),
                col(ServedProbe.hostname),
                col(ServedProbe.outcome),
                col(ServedProbe.served_not_after),
            )
            .select_from(ServedProbe)
            .outerjoin(Environment, col(Environment.id) == col(ServedProbe.environment_id))
            .where(col(ServedProbe.outcome).is_not(None))
            .order_by(col(ServedProbe.hostname))
        ).all()
    )
