"""The record: SQLModel tables for environments, certificates, assignments, LifeTime
support tickets, expiry notifications and the audit trail.

Rules that the database itself enforces (so that two replicas, or two people at the same
moment, cannot break them): a certificate name is unique; an environment has at most one
current assignment (`updating` or `active`, a partial unique index); a warning is posted
once per (certificate, threshold, channel). Never a column for a private key or a password:
only public material (certificate and chain PEM) and the validation report are stored.

Every datetime column is a `UTCDateTime`: aware UTC in, aware UTC out, on both databases.
JSON columns are plain `sqlalchemy.JSON`; mutate them by assigning a new value (in-place
changes to a list or dict are not tracked).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# The enums live in storage.enums (importable without the tables); importable from here too.
from storage.enums import (  # noqa: F401
    CURRENT_ASSIGNMENT_STATES,
    OPEN_TICKET_STATES,
    AssignmentState,
    CertificateStatus,
    SilenceKind,
    SubmittedFormat,
    TicketState,
    TlsCheckState,
)
from storage.enums import enum_type as _enum
from storage.types import UTCDateTime, utcnow

# Named constraints make batch migrations on SQLite (which rebuild tables) able to find
# them again, and give PostgreSQL errors a stable constraint name to recognise.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Environment(SQLModel, table=True):
    """An OutSystems Cloud environment and its current secure-endpoint hostname."""

    __tablename__ = "environment"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    default_host: str
    is_lifetime: bool = False
    channel: str | None = None
    hostname: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Expiry warning thresholds of this environment ("30,14,7,3,1,0", "33%,7"); None: global.
    warning_days: str | None = None
    # From LifeTime's API (`certops env sync`, issue 17): its key, how the environment is
    # found again on the next sync, and its type (Development, Test, Production). None for
    # environments recorded by hand.
    lifetime_id: str | None = Field(default=None, unique=True, index=True)
    environment_type: str | None = None


class Certificate(SQLModel, table=True):
    """A submitted certificate: public material, what validation said, and its review.

    The certificate-derived fields are nullable because a submission sent for manual
    validation may not have yielded a readable leaf; validated ones always fill them.
    """

    __tablename__ = "certificate"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    domain: str = Field(index=True)  # indexed for the expiry scan's renewed-by-names lookup
    submitted_format: SubmittedFormat = Field(sa_type=_enum(SubmittedFormat, 8))
    status: CertificateStatus = Field(sa_type=_enum(CertificateStatus), index=True)
    subject: str | None = Field(default=None, index=True)
    sans: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    issuer: str | None = None
    serial: str | None = None
    not_before: datetime | None = Field(default=None, sa_type=UTCDateTime)
    not_after: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    fingerprint_sha256: str | None = Field(default=None, index=True)
    key_type: str | None = None
    key_bits: int | None = None
    certificate_pem: str | None = Field(default=None, sa_type=sa.Text)
    chain_pem: str = Field(default="", sa_type=sa.Text)
    report: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    notes: str | None = Field(default=None, sa_type=sa.Text)
    submitted_by: str
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    renews_id: int | None = Field(default=None, foreign_key="certificate.id", index=True)
    reviewed_by: str | None = None
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_reason: str | None = Field(default=None, sa_type=sa.Text)


class Assignment(SQLModel, table=True):
    """A certificate and hostname put on an environment's secure endpoint."""

    __tablename__ = "assignment"
    __table_args__ = (
        sa.Index(
            "uq_assignment_current_per_environment",
            "environment_id",
            unique=True,
            sqlite_where=sa.text("state IN ('updating', 'active')"),
            postgresql_where=sa.text("state IN ('updating', 'active')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", index=True)
    environment_id: int = Field(foreign_key="environment.id", index=True)
    hostname: str
    cname_confirmed: bool = False
    dns_report: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    state: AssignmentState = Field(sa_type=_enum(AssignmentState), index=True)
    assigned_by: str
    assigned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    active_at: datetime = Field(sa_type=UTCDateTime)
    replaced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SupportTicket(SQLModel, table=True):
    """A support case that changes the LifeTime environment's hostname and certificate."""

    __tablename__ = "support_ticket"

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", index=True)
    environment_id: int = Field(foreign_key="environment.id", index=True)
    hostname: str
    case_number: str | None = None
    state: TicketState = Field(sa_type=_enum(TicketState), index=True)
    created_by: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Notification(SQLModel, table=True):
    """A message claimed by one replica before it is posted (unique row): an expiry warning
    (certificate, threshold, channel), or a served-certificate change (no certificate;
    `threshold` is `served:<hostname>:<change>`, unique per channel by a partial index)."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.UniqueConstraint("certificate_id", "threshold", "channel", name="uq_notification_once"),
        sa.Index(
            "uq_notification_once_without_certificate",
            "threshold",
            "channel",
            unique=True,
            sqlite_where=sa.text("certificate_id IS NULL"),
            postgresql_where=sa.text("certificate_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int | None = Field(default=None, foreign_key="certificate.id", index=True)
    threshold: str
    channel: str
    message_ts: str | None = None
    claimed_by: str
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChannelPace(SQLModel, table=True):
    """When the next post may go to one channel, shared by every replica.

    Slack asks for about one message per second per channel. Each post takes the next
    slot with one UPDATE (`next_at` moves on by the interval), so replicas space their
    posts across processes; a 429 with `Retry-After` pushes `next_at` past it, so every
    replica waits. `next_at` is seconds since the epoch (a float: portable arithmetic).
    """

    __tablename__ = "channel_pace"

    channel: str = Field(primary_key=True)
    next_at: float = 0.0


class WarningSilence(SQLModel, table=True):
    """A snooze (quiet until `until`) or an acknowledgement (quiet until the next threshold)
    of a certificate's expiry warning in one channel: who, when, which threshold."""

    __tablename__ = "warning_silence"
    __table_args__ = (sa.Index("ix_warning_silence_target", "certificate_id", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id")
    channel: str
    kind: SilenceKind = Field(sa_type=_enum(SilenceKind))
    threshold: str
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    actor: str
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TlsCheck(SQLModel, table=True):
    """The check, some minutes after an assignment, that the hostname serves its certificate.

    One row per assignment (unique): the row is the claim, and `next_at` is moved forward by
    whoever runs an attempt, so two replicas never probe and post the same attempt.
    """

    __tablename__ = "tls_check"

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", unique=True)
    channel: str | None = None
    thread_ts: str | None = None
    state: TlsCheckState = Field(sa_type=_enum(TlsCheckState), index=True)
    attempts: int = 0
    next_at: datetime = Field(sa_type=UTCDateTime, index=True)
    served_fingerprint: str | None = None
    detail: str | None = Field(default=None, sa_type=sa.Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ServedProbe(SQLModel, table=True):
    """The latest probe of one hostname: what it serves, judged against the record.

    One row per hostname (unique: inserting it claims the first probe). `next_at` is moved
    on by whoever probes it (a compare-and-set), so replicas share the work. `change` counts
    the changes of outcome; `reported` is the last change said in a channel (the post is
    claimed in `notification` as `served:<hostname>:<change>`, so one replica posts it).
    """

    __tablename__ = "served_probe"

    id: int | None = Field(default=None, primary_key=True)
    hostname: str = Field(unique=True)
    environment_id: int | None = Field(default=None, foreign_key="environment.id", index=True)
    certificate_id: int | None = Field(default=None, foreign_key="certificate.id")
    outcome: str | None = Field(default=None, sa_type=sa.String(32))
    detail: str | None = Field(default=None, sa_type=sa.Text)
    served_fingerprint: str | None = None
    served_not_after: datetime | None = Field(default=None, sa_type=UTCDateTime)
    served_subject: str | None = Field(default=None, sa_type=sa.Text)
    checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_at: datetime = Field(sa_type=UTCDateTime, index=True)
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    change: int = 0
    reported: int = 0


class AuditEvent(SQLModel, table=True):
    """Who did what to which record, when, with the record before and after."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str
    action: str
    entity_type: str
    entity_id: int | None = None
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))


class SlackDelivery(SQLModel, table=True):
    """The first delivery of a Slack event or shared file, across every replica.

    Slack retries an event it thinks was missed, and the retry may reach another replica:
    the unique `delivery_id` (`event:<event id>`, `file:<file id>@<message ts>`) is the claim: of
    all the deliveries exactly one inserts the row and is processed. Rows older than a day
    are pruned (Slack's last retry comes about 5 minutes after the first delivery).
    """

    __tablename__ = "slack_delivery"

    delivery_id: str = Field(primary_key=True)
    kind: str = Field(sa_type=sa.String(20))
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


TABLES = (
    Environment,
    Certificate,
    Assignment,
    SupportTicket,
    Notification,
    AuditEvent,
    WarningSilence,
    TlsCheck,
    SlackDelivery,
    ChannelPace,
    ServedProbe,
)
