"""Environments from LifeTime: each keeps its LifeTime key and type.

Revision ID: 0006_lifetime_environments
Revises: 0005_channel_pace
Create Date: 2026-12-06

`certops env sync` (issue 17) reads LifeTime's list of environments. The key is how an
environment is found again on the next sync, whatever LifeTime renamed (unique: one
record per LifeTime environment, also when two syncs run at once); the type
(Development, Test, Production) is shown beside it. Both stay empty for environments
recorded by hand. The column is `lifetime_id`, not `lifetime_key`: no column name may
suggest a key is stored (tests/test_migrations.py); it holds LifeTime's public identifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_lifetime_environments"
down_revision: str | Sequence[str] | None = "0005_channel_pace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("environment") as batch:
        batch.add_column(sa.Column("lifetime_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("environment_type", sa.String(), nullable=True))
    op.create_index(op.f("ix_environment_lifetime_id"), "environment", ["lifetime_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_environment_lifetime_id"), table_name="environment")
    with op.batch_alter_table("environment") as batch:
        batch.drop_column("environment_type")
        batch.drop_column("lifetime_id")
