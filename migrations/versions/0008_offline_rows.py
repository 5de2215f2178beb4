"""Train/serve skew by key: ``offline_rows`` (the offline and/or served feature values of one
request, MessagePack, until compared or expired) and ``models.skew_enabled`` (keep served
feature values for the join).

Self-contained (no import of the current models): this describes the schema as it was at
this revision.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offline_rows",
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("key_hash", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("prediction_id", sa.String(length=255), nullable=False),
        sa.Column("offline", sa.LargeBinary(), nullable=True),
        sa.Column("served", sa.LargeBinary(), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("compared", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model", "version", "key_hash", name=op.f("pk_offline_rows")),
    )
    op.create_index(op.f("ix_offline_rows_expires_at"), "offline_rows", ["expires_at"])
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("skew_enabled", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("skew_enabled")
    op.drop_index(op.f("ix_offline_rows_expires_at"), table_name="offline_rows")
    op.drop_table("offline_rows")
