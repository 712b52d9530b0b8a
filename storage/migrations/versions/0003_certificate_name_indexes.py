"""Indexes on certificate.domain and certificate.subject.

Revision ID: 0003_certificate_name_indexes
Revises: 0002_expiry_warnings
Create Date: 2026-11-27

The expiry scan reports a certificate as renewed when a newer valid one has the same
issuer, the same names and the same Domain field or subject; these indexes keep that
lookup an index probe per expiring certificate instead of a scan of the whole record.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_certificate_name_indexes"
down_revision: str | Sequence[str] | None = "0002_expiry_warnings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_certificate_domain"), "certificate", ["domain"], unique=False)
    op.create_index(op.f("ix_certificate_subject"), "certificate", ["subject"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_certificate_subject"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_domain"), table_name="certificate")
