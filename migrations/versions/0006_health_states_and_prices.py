"""Health states (requests, errors, latency, tokens, cost per window and partition), model
price revisions and the windows whose cost was recomputed.

Self-contained (no import of the current models): this describes the schema as it was at
this revision.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
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
        "health_states",
        sa.Column("model", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("window_start", _ts(), nullable=False),
        sa.Column("partition_key", _name(), nullable=False),
        sa.Column("window_end", _ts(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint(
            "model", "version", "window_start", "partition_key", name=op.f("pk_health_states")
        ),
    )
    op.create_index(
        op.f("ix_health_states_model_window_start"), "health_states", ["model", "window_start"]
    )
    op.create_table(
        "model_prices",
        sa.Column("model", _name(), nullable=False),
        sa.Column("effective_from", _ts(), nullable=False),
        sa.Column("pricing", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("model", "effective_from", name=op.f("pk_model_prices")),
    )
    op.create_table(
        "cost_recomputations",
        sa.Column("model", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("window_start", _ts(), nullable=False),
        sa.Column("price_effective_from", _ts(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint(
            "model", "version", "window_start", name=op.f("pk_cost_recomputations")
        ),
    )


def downgrade() -> None:
    op.drop_table("cost_recomputations")
    op.drop_table("model_prices")
    op.drop_index(op.f("ix_health_states_model_window_start"), table_name="health_states")
    op.drop_table("health_states")
