"""The record's enumerations and how a column stores one, without the tables.

The record commands build their views and read the listing with SQLAlchemy Core alone
(issue 16): they need these types, and importing `storage.models` (SQLModel, pydantic and
every table class) cost them about a quarter of a second. `storage.models` imports them
from here, so both paths store and read the same values.
"""

from __future__ import annotations

from enum import Enum, StrEnum

import sqlalchemy as sa


class SubmittedFormat(StrEnum):
    PEM = "pem"
    PFX = "pfx"
    ZIP = "zip"
    # Read from what a hostname serves (`certops adopt`): nothing was submitted.
    SERVED = "served"


class CertificateStatus(StrEnum):
    VALIDATED = "validated"
    PENDING_MANUAL = "pending_manual"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    # Taken in from what a hostname already serves (`certops adopt`, issue 17): public
    # parts only, no validation by certops and no key. Watched for expiry and renewable
    # like a validated one, but never assigned elsewhere (the key is not ours to upload).
    OBSERVED = "observed"


class AssignmentState(StrEnum):
    UPDATING = "updating"
    ACTIVE = "active"
    REPLACED = "replaced"


# The states in which an assignment is the environment's current one (at most one).
CURRENT_ASSIGNMENT_STATES = (AssignmentState.UPDATING, AssignmentState.ACTIVE)


class TicketState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    DNS_CONFIGURED = "dns_configured"
    DONE = "done"
    CANCELLED = "cancelled"


OPEN_TICKET_STATES = (
    TicketState.DRAFT,
    TicketState.SUBMITTED,
    TicketState.CONFIRMED,
    TicketState.DNS_CONFIGURED,
)


class SilenceKind(StrEnum):
    SNOOZE = "snooze"
    ACKNOWLEDGE = "acknowledge"


class TlsCheckState(StrEnum):
    PENDING = "pending"
    OK = "ok"
    MISMATCH = "mismatch"
    UNREACHABLE = "unreachable"


def enum_type(enum_cls: type[Enum], length: int = 20) -> sa.Enum:
    """An enum stored as its value in a VARCHAR: no native PostgreSQL type to migrate."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )
