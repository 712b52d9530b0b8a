"""Initial schema: environments, certificates, assignments, tickets, notifications, audit.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27

Enum columns are VARCHARs holding the enum's value (no native PostgreSQL enum types), and
every timestamp is timezone-aware. The partial unique index allows one current
(`updating` or `active`) assignment per environment.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("entity_type", sa.String(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"], unique=False)
    op.create_index(
        "ix_audit_event_entity", "audit_event", ["entity_type", "entity_id"], unique=False
    )
    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("domain", sa.String(), nullable=False),
        sa.Column("submitted_format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("sans", sa.JSON(), nullable=False),
        sa.Column("issuer", sa.String(), nullable=True),
        sa.Column("serial", sa.String(), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fingerprint_sha256", sa.String(), nullable=True),
        sa.Column("key_type", sa.String(), nullable=True),
        sa.Column("key_bits", sa.Integer(), nullable=True),
        sa.Column("certificate_pem", sa.Text(), nullable=True),
        sa.Column("chain_pem", sa.Text(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renews_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_by", sa.String(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["renews_id"], ["certificate.id"], name=op.f("fk_certificate_renews_id_certificate")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
    )
    op.create_index(
        op.f("ix_certificate_fingerprint_sha256"),
        "certificate",
        ["fingerprint_sha256"],
        unique=False,
    )
    op.create_index(op.f("ix_certificate_name"), "certificate", ["name"], unique=True)
    op.create_index(op.f("ix_certificate_not_after"), "certificate", ["not_after"], unique=False)
    op.create_index(op.f("ix_certificate_renews_id"), "certificate", ["renews_id"], unique=False)
    op.create_index(op.f("ix_certificate_status"), "certificate", ["status"], unique=False)
    op.create_table(
        "environment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("default_host", sa.String(), nullable=False),
        sa.Column("is_lifetime", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("hostname", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environment")),
    )
    op.create_index(op.f("ix_environment_name"), "environment", ["name"], unique=True)
    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(), nullable=False),
        sa.Column("cname_confirmed", sa.Boolean(), nullable=False),
        sa.Column("dns_report", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("assigned_by", sa.String(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_assignment_certificate_id_certificate"),
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_assignment_environment_id_environment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
    )
    op.create_index(
        op.f("ix_assignment_certificate_id"), "assignment", ["certificate_id"], unique=False
    )
    op.create_index(
        op.f("ix_assignment_environment_id"), "assignment", ["environment_id"], unique=False
    )
    op.create_index(op.f("ix_assignment_state"), "assignment", ["state"], unique=False)
    op.create_index(
        "uq_assignment_current_per_environment",
        "assignment",
        ["environment_id"],
        unique=True,
        sqlite_where=sa.text("state IN ('updating', 'active')"),
        postgresql_where=sa.text("state IN ('updating', 'active')"),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("message_ts", sa.String(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_notification_certificate_id_certificate"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("certificate_id", "threshold", "channel", name="uq_notification_once"),
    )
    op.create_index(
        op.f("ix_notification_certificate_id"), "notification", ["certificate_id"], unique=False
    )
    op.create_table(
        "support_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(), nullable=False),
        sa.Column("case_number", sa.String(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_support_ticket_certificate_id_certificate"),
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_support_ticket_environment_id_environment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_ticket")),
    )
    op.create_index(
        op.f("ix_support_ticket_certificate_id"), "support_ticket", ["certificate_id"], unique=False
    )
    op.create_index(
        op.f("ix_support_ticket_environment_id"), "support_ticket", ["environment_id"], unique=False
    )
    op.create_index(op.f("ix_support_ticket_state"), "support_ticket", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_support_ticket_state"), table_name="support_ticket")
    op.drop_index(op.f("ix_support_ticket_environment_id"), table_name="support_ticket")
    op.drop_index(op.f("ix_support_ticket_certificate_id"), table_name="support_ticket")
    op.drop_table("support_ticket")
    op.drop_index(op.f("ix_notification_certificate_id"), table_name="notification")
    op.drop_table("notification")
    op.drop_index(
        "uq_assignment_current_per_environment",
        table_name="assignment",
        sqlite_where=sa.text("state IN ('updating', 'active')"),
        postgresql_where=sa.text("state IN ('updating', 'active')"),
    )
    op.drop_index(op.f("ix_assignment_state"), table_name="assignment")
    op.drop_index(op.f("ix_assignment_environment_id"), table_name="assignment")
    op.drop_index(op.f("ix_assignment_certificate_id"), table_name="assignment")
    op.drop_table("assignment")
    op.drop_index(op.f("ix_environment_name"), table_name="environment")
    op.drop_table("environment")
    op.drop_index(op.f("ix_certificate_status"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_renews_id"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_not_after"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_name"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_fingerprint_sha256"), table_name="certificate")
    op.drop_table("certificate")
    op.drop_index("ix_audit_event_entity", table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_at"), table_name="audit_event")
    op.drop_table("audit_event")
