"""The query layer's read-only queries written in SQLAlchemy Core, without the ORM.

Part of `storage.queries`, which re-exports them: one function per question, called by
the Slack handlers' services and the terminal alike. They live in a module of their own
only so that `certops cert list` can read the record without importing SQLModel,
pydantic, the ORM and every table class, which was most of that command's time (issue 16).
They take a Core `Connection` (`Database.reading()`) or an ORM `Session`: both execute a
Core statement and return plain rows.

The tables here name the columns these queries read, with the types that convert them
(enums, aware UTC datetimes, JSON); tests/test_storage_reading.py checks them against
`storage.models`, so a column renamed or retyped there fails a test, not a listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from storage.enums import CertificateStatus, SubmittedFormat, enum_type
from storage.types import UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

# The certificate's columns a listing shows (not its PEM, chain or report: large, and not
# listed).
CERTIFICATE = sa.table(
    "certificate",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("domain", sa.String),
    sa.column("submitted_format", enum_type(SubmittedFormat, 8)),
    sa.column("status", enum_type(CertificateStatus)),
    sa.column("subject", sa.String),
    sa.column("sans", sa.JSON),
    sa.column("issuer", sa.String),
    sa.column("serial", sa.String),
    sa.column("not_before", UTCDateTime),
    sa.column("not_after", UTCDateTime),
    sa.column("fingerprint_sha256", sa.String),
    sa.column("key_type", sa.String),
    sa.column("key_bits", sa.Integer),
    sa.column("submitted_by", sa.String),
    sa.column("submitted_at", UTCDateTime),
    sa.column("renews_id", sa.Integer),
    sa.column("reviewed_by", sa.String),
    sa.column("reviewed_at", UTCDateTime),
    sa.column("review_reason", sa.Text),
)


def certificates_by_name(
    connection: Connection | Session, status: CertificateStatus | None = None
) -> Sequence[sa.Row[Any]]:
    """Certificates in name order (only those in `status` if given): the list people read.

    One query, the name of the certificate each one renews included (`renews`), where
    the listing used to ask for it row by row.
    """
    renewed = CERTIFICATE.alias("renewed")
    query = (
        sa.select(*CERTIFICATE.c, renewed.c.name.label("renews"))
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
