"""Slack deliveries: the first delivery of an event or a shared file, across replicas.

Revision ID: 0004_slack_delivery
Revises: 0003_certificate_name_indexes
Create Date: 2026-11-27

Slack retries an event it thinks was missed and the retry may reach another replica; the
row with the unique key is the claim that only one replica processes it. Rows are pruned
a day after they were first seen, by time (`first_seen_at` is indexed for that delete).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_slack_delivery"
down_revision: str | Sequence[str] | None = "0003_certificate_name_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_delivery",
        sa.Column("delivery_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_slack_delivery")),
    )
    op.create_index(
        op.f("ix_slack_delivery_first_seen_at"), "slack_delivery", ["first_seen_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_slack_delivery_first_seen_at"), table_name="slack_delivery")
    op.drop_table("slack_delivery")
