"""Served probes: the latest outcome of probing each hostname, and their posts' claims.

Revision ID: 0007_served_probes
Revises: 0006_lifetime_environments
Create Date: 2026-12-06

`served_probe` holds one row per hostname (what it serves, judged against the record).
A change of outcome is posted once, claimed in `notification` like an expiry warning:
such a claim names no certificate, so `notification.certificate_id` becomes nullable and
a partial unique index keeps (threshold, channel) unique among the claims without one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_served_probes"
down_revision: str | Sequence[str] | None = "0006_lifetime_environments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITHOUT_CERTIFICATE = "certificate_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "served_probe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=True),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("served_fingerprint", sa.String(), nullable=True),
        sa.Column("served_not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("served_subject", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change", sa.Integer(), nullable=False),
        sa.Column("reported", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_served_probe_environment_id_environment"),
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_served_probe_certificate_id_certificate"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_served_probe")),
        sa.UniqueConstraint("hostname", name=op.f("uq_served_probe_hostname")),
    )
    op.create_index(
        op.f("ix_served_probe_environment_id"), "served_probe", ["environment_id"], unique=False
    )
    op.create_index(op.f("ix_served_probe_next_at"), "served_probe", ["next_at"], unique=False)
    with op.batch_alter_table("notification") as batch:
        batch.alter_column("certificate_id", existing_type=sa.Integer(), nullable=True)
    op.create_index(
        "uq_notification_once_without_certificate",
        "notification",
        ["threshold", "channel"],
        unique=True,
        sqlite_where=sa.text(WITHOUT_CERTIFICATE),
        postgresql_where=sa.text(WITHOUT_CERTIFICATE),
    )


def downgrade() -> None:
    op.drop_index("uq_notification_once_without_certificate", table_name="notification")
    op.execute("DELETE FROM notification WHERE certificate_id IS NULL")
    with op.batch_alter_table("notification") as batch:
        batch.alter_column("certificate_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_served_probe_next_at"), table_name="served_probe")
    op.drop_index(op.f("ix_served_probe_environment_id"), table_name="served_probe")
    op.drop_table("served_probe")
