"""Alert tables: API-managed rules, the state machine, silences and the notification outbox.

Self-contained (no import of the current models): this describes the schema as it was at
this revision.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _name() -> sa.String:
    return sa.String(length=255)


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_alert_rules")),
    )
    op.create_table(
        "alert_states",
        sa.Column("dedup_key", sa.String(length=800), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("model", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("feature", _name(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("window_start", _ts(), nullable=True),
        sa.Column("pending_since", _ts(), nullable=True),
        sa.Column("firing_since", _ts(), nullable=True),
        sa.Column("resolved_at", _ts(), nullable=True),
        sa.Column("last_fired_at", _ts(), nullable=True),
        sa.Column("notified_firing", sa.Boolean(), nullable=False),
        sa.Column("details", _json(), nullable=True),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("dedup_key", name=op.f("pk_alert_states")),
    )
    op.create_index(op.f("ix_alert_states_status"), "alert_states", ["status"])
    op.create_index(op.f("ix_alert_states_model_version"), "alert_states", ["model", "version"])
    op.create_table(
        "alert_silences",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("matchers", _json(), nullable=False),
        sa.Column("starts_at", _ts(), nullable=False),
        sa.Column("ends_at", _ts(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_silences")),
    )
    op.create_index(op.f("ix_alert_silences_ends_at"), "alert_silences", ["ends_at"])
    op.create_table(
        "alert_notifications",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=800), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _ts(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("sent_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notifications")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_alert_notifications_idempotency_key")),
    )
    op.create_index(
        op.f("ix_alert_notifications_state_next_attempt_at"),
        "alert_notifications",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_alert_notifications_created_at"), "alert_notifications", ["created_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_alert_notifications_created_at"), table_name="alert_notifications")
    op.drop_index(
        op.f("ix_alert_notifications_state_next_attempt_at"), table_name="alert_notifications"
    )
    op.drop_table("alert_notifications")
    op.drop_index(op.f("ix_alert_silences_ends_at"), table_name="alert_silences")
    op.drop_table("alert_silences")
    op.drop_index(op.f("ix_alert_states_model_version"), table_name="alert_states")
    op.drop_index(op.f("ix_alert_states_status"), table_name="alert_states")
    op.drop_table("alert_states")
    op.drop_table("alert_rules")
