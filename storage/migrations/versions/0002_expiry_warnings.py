"""Expiry warnings: per-environment thresholds, snoozes and acknowledgements, TLS checks.

Revision ID: 0002_expiry_warnings
Revises: 0001_initial
Create Date: 2026-11-27

`environment.warning_days` holds an environment's own thresholds (NULL: the global ones).
`warning_silence` records who snoozed or acknowledged a warning and when. `tls_check` is
the check, after an assignment, that the hostname serves the assigned certificate: one
row per assignment, which is also the claim that keeps replicas from checking twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_expiry_warnings"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("environment", sa.Column("warning_days", sa.String(), nullable=True))
    op.create_table(
        "warning_silence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("threshold", sa.String(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_warning_silence_certificate_id_certificate"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_silence")),
    )
    op.create_index(
        "ix_warning_silence_target", "warning_silence", ["certificate_id", "channel"], unique=False
    )
    op.create_table(
        "tls_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("thread_ts", sa.String(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("served_fingerprint", sa.String(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_tls_check_assignment_id_assignment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tls_check")),
        sa.UniqueConstraint("assignment_id", name=op.f("uq_tls_check_assignment_id")),
    )
    op.create_index(op.f("ix_tls_check_state"), "tls_check", ["state"], unique=False)
    op.create_index(op.f("ix_tls_check_next_at"), "tls_check", ["next_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tls_check_next_at"), table_name="tls_check")
    op.drop_index(op.f("ix_tls_check_state"), table_name="tls_check")
    op.drop_table("tls_check")
    op.drop_index("ix_warning_silence_target", table_name="warning_silence")
    op.drop_table("warning_silence")
    with op.batch_alter_table("environment") as batch:
        batch.drop_column("warning_days")
