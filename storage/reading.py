"""The query layer's read-only queries written in SQLAlchemy Core, without the ORM.

Part of `storage.queries`, which re-exports them: one function per question, called by
the Slack handlers' services and the terminal alike. They live in a module of their own
only so that `certops cert list` can read the record without importing SQLModel,
pydantic, the ORM and every table class, which was most of that command's time (issue 16).
They take a Core `Connection` (`Database.reading()`) or an ORM `Session`: both execute a
Core statement and return plain rows.

They read the Core tables of `storage.tables`, with the types that convert the columns
(enums, aware UTC datetimes, JSON); tests/test_storage_tables.py checks those against
`storage.models`, so a column renamed or retyped there fails a test, not a listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from storage import tables
from storage.enums import CertificateStatus
from storage.errors import RecordMissing
from storage.types import UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

# The certificate's columns a listing shows (not its PEM, chain or report: large, and not
# listed).
CERTIFICATE = tables.CERTIFICATE
LISTED = tuple(
    column
    for column in CERTIFICATE.c
    if column.name not in {"certificate_pem", "chain_pem", "report", "notes"}
)


def certificate_name_taken(connection: Connection | Session, name: str) -> bool:
    """Whether a certificate already has this name (asked before a costly validation).

    Through a session it sees the rows that session has flushed, as any Core query.
    """
    query = sa.select(CERTIFICATE.c.id).where(CERTIFICATE.c.name == name)
    return connection.execute(query).first() is not None


def certificate_ref(connection: Connection | Session, name: str) -> sa.Row[Any]:
    """The id and name of the certificate a person named; `RecordMissing` when there is none.

    What a submission that renews another needs of it, without loading the whole row.
    """
    query = sa.select(CERTIFICATE.c.id, CERTIFICATE.c.name).where(
        CERTIFICATE.c.name == name.strip()
    )
    found = connection.execute(query).first()
    if found is None:
        raise RecordMissing("certificate", name)
    return found


def certificates_by_name(
    connection: Connection | Session, status: CertificateStatus | None = None
) -> Sequence[sa.Row[Any]]:
    """Certificates in name order (only those in `status` if given): the list people read.

    One query, the name of the certificate each one renews included (`renews`), where
    the listing used to ask for it row by row.
    """
    renewed = CERTIFICATE.alias("renewed")
    query = (
        sa.select(*LISTED, renewed.c.name.label("renews"))
        .select_from(CERTIFICATE.outerjoin(renewed, renewed.c.id == CERTIFICATE.c.renews_id))
        .order_by(CERTIFICATE.c.name)
    )
    if status is not None:
        query = query.where(CERTIFICATE.c.status == status)
    return connection.execute(query).all()


# The probe's latest outcome per hostname (bot/services/served.py writes it), as the
# listing and `show` read it.
SERVED_PROBE = sa.table(
    "served_probe",
    sa.column("hostname", sa.String),
    sa.column("certificate_id", sa.Integer),
    sa.column("outcome", sa.String),
    sa.column("detail", sa.Text),
    sa.column("served_not_after", UTCDateTime),
    sa.column("checked_at", UTCDateTime),
)


def served_probes_of_certificates(
    connection: Connection | Session, certificate_ids: Iterable[int], chunk: int = 500
) -> list[sa.Row[Any]]:
    """The probed hostnames compared with these certificates (probed at least once), by
    hostname; asked `chunk` ids at a time (bound parameters are limited)."""
    ids = list(certificate_ids)
    found: list[sa.Row[Any]] = []
    for start in range(0, len(ids), chunk):
        found += connection.execute(
            sa.select(*SERVED_PROBE.c)
            .where(
                SERVED_PROBE.c.certificate_id.in_(ids[start : start + chunk]),
                SERVED_PROBE.c.outcome.is_not(None),
            )
            .order_by(SERVED_PROBE.c.hostname)
        ).all()
    return found
