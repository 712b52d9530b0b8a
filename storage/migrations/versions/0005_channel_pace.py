"""Channel pace: when the next post may go to each channel, shared by every replica.

Revision ID: 0005_channel_pace
Revises: 0004_slack_delivery
Create Date: 2026-12-06

One post per second per channel held within one process only: replicas each kept their
own clock. One row per channel holds the next free slot (`next_at`, seconds since the
epoch); a post takes it with one UPDATE, and a 429's `Retry-After` pushes it on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_channel_pace"
down_revision: str | Sequence[str] | None = "0004_slack_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_pace",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_pace")),
    )


def downgrade() -> None:
    op.drop_table("channel_pace")
