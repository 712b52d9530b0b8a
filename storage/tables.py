"""The record's `certificate` and `audit_event` tables in SQLAlchemy Core, without SQLModel.

`storage.models` is where the schema is defined (and what the migrations follow). These
are the same two tables as plain Core `Table` objects, for the paths that must start fast
at the terminal (issue 16): `certops cert list` reads the certificates and `certops cert
submit` writes a certificate and its audit event through them, without importing
SQLModel, pydantic, the ORM and every table class (about 0.2 s of a 0.5 s budget).

They are not a second schema: nothing creates tables from them. tests/test_storage_tables.py
checks them column by column against `storage.models` (name, order, type, length, enum,
nullability, primary and foreign keys, defaults), so a column added, renamed or retyped
there and not here fails a test, not a submission.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.enums import CertificateStatus, SubmittedFormat, enum_type
from storage.types import UTCDateTime, utcnow

METADATA = sa.MetaData()

CERTIFICATE = sa.Table(
    "certificate",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("domain", sa.String, nullable=False),
    sa.Column("submitted_format", enum_type(SubmittedFormat, 8), nullable=False),
    sa.Column("status", enum_type(CertificateStatus), nullable=False),
    sa.Column("subject", sa.String),
    sa.Column("sans", sa.JSON, nullable=False, default=list),
    sa.Column("issuer", sa.String),
    sa.Column("serial", sa.String),
    sa.Column("not_before", UTCDateTime),
    sa.Column("not_after", UTCDateTime),
    sa.Column("fingerprint_sha256", sa.String),
    sa.Column("key_type", sa.String),
    sa.Column("key_bits", sa.Integer),
    sa.Column("certificate_pem", sa.Text),
    sa.Column("chain_pem", sa.Text, nullable=False, default=""),
    sa.Column("report", sa.JSON, nullable=False, default=dict),
    sa.Column("notes", sa.Text),
    sa.Column("submitted_by", sa.String, nullable=False),
    sa.Column("submitted_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("renews_id", sa.Integer, sa.ForeignKey("certificate.id")),
    sa.Column("reviewed_by", sa.String),
    sa.Column("reviewed_at", UTCDateTime),
    sa.Column("review_reason", sa.Text),
)

AUDIT_EVENT = sa.Table(
    "audit_event",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("action", sa.String, nullable=False),
    sa.Column("entity_type", sa.String, nullable=False),
    sa.Column("entity_id", sa.Integer),
    sa.Column("before", sa.JSON(none_as_null=True)),
    sa.Column("after", sa.JSON(none_as_null=True)),
)
