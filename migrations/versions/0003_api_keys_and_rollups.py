"""API keys (stored hashed, with scopes) and window rollups (pre-merged bucket states).

Self-contained (no import of the current models): this describes the schema as it was at
this revision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _name() -> sa.String:
    return sa.String(length=255)


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
    )
    op.create_table(
        "window_rollups",
        sa.Column("model", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("bucket_seconds", sa.Integer(), nullable=False),
        sa.Column("bucket_start", _ts(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("source_rows", sa.Integer(), nullable=False),
        sa.Column("source_updated_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint(
            "model", "version", "bucket_seconds", "bucket_start", name=op.f("pk_window_rollups")
        ),
    )


def downgrade() -> None:
    op.drop_table("window_rollups")
    op.drop_table("api_keys")
