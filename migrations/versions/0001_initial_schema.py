"""Initial schema: models, versions, window states, offsets, metric points, label join,
dead letters, detector states and watermarks.

Self-contained on purpose (no import of the current models): a migration describes the
schema as it was at this revision. Alert tables come with a later revision.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
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
        "models",
        sa.Column("name", _name(), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=True),
        sa.Column("positive_label", _json(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=True),
        sa.Column("drift_config", _json(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_models")),
    )
    op.create_table(
        "model_versions",
        sa.Column("model", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("reference", sa.LargeBinary(), nullable=True),
        sa.Column("reference_source", sa.String(length=32), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model"],
            ["models.name"],
            name=op.f("fk_model_versions_model_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model", "version", name=op.f("pk_model_versions")),
    )
    op.create_table(
        "window_states",
        sa.Column("model", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("window_start", _ts(), nullable=False),
        sa.Column("partition_key", _name(), nullable=False),
        sa.Column("window_end", _ts(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint(
            "model", "version", "window_start", "partition_key", name=op.f("pk_window_states")
        ),
    )
    op.create_index(
        op.f("ix_window_states_model_window_start"), "window_states", ["model", "window_start"]
    )
    op.create_table(
        "consumer_offsets",
        sa.Column("consumer_group", _name(), nullable=False),
        sa.Column("topic", _name(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint(
            "consumer_group", "topic", "partition", name=op.f("pk_consumer_offsets")
        ),
    )
    op.create_table(
        "metric_points",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("model", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("window_start", _ts(), nullable=False),
        sa.Column("window_end", _ts(), nullable=False),
        sa.Column("feature", _name(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("sample_size", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_points")),
        sa.UniqueConstraint(
            "model",
            "version",
            "window_start",
            "feature",
            "metric",
            name=op.f("uq_metric_points_model_version_window_start_feature_metric"),
        ),
    )
    op.create_index(
        op.f("ix_metric_points_model_metric_window_start"),
        "metric_points",
        ["model", "metric", "window_start"],
    )
    op.create_index(
        op.f("ix_metric_points_model_window_start"), "metric_points", ["model", "window_start"]
    )
    op.create_table(
        "prediction_index",
        sa.Column("model", _name(), nullable=False),
        sa.Column("prediction_id", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("window_start", _ts(), nullable=False),
        sa.Column("ts", _ts(), nullable=False),
        sa.Column("prediction", _json(), nullable=False),
        sa.Column("label", _json(), nullable=True),
        sa.Column("labelled_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("model", "prediction_id", name=op.f("pk_prediction_index")),
    )
    op.create_index(op.f("ix_prediction_index_ts"), "prediction_index", ["ts"])
    op.create_table(
        "pending_labels",
        sa.Column("model", _name(), nullable=False),
        sa.Column("prediction_id", _name(), nullable=False),
        sa.Column("label", _json(), nullable=False),
        sa.Column("ts", _ts(), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("model", "prediction_id", name=op.f("pk_pending_labels")),
    )
    op.create_index(op.f("ix_pending_labels_received_at"), "pending_labels", ["received_at"])
    op.create_table(
        "dead_letters",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("topic", _name(), nullable=True),
        sa.Column("partition", sa.Integer(), nullable=True),
        sa.Column("offset", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(op.f("ix_dead_letters_created_at"), "dead_letters", ["created_at"])
    op.create_index(op.f("ix_dead_letters_reason"), "dead_letters", ["reason"])
    op.create_table(
        "detector_states",
        sa.Column("model", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("detector", sa.String(length=64), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("model", "version", "detector", name=op.f("pk_detector_states")),
    )
    op.create_table(
        "watermarks",
        sa.Column("model", _name(), nullable=False),
        sa.Column("max_event_ts", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("model", name=op.f("pk_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("watermarks")
    op.drop_table("detector_states")
    op.drop_index(op.f("ix_dead_letters_reason"), table_name="dead_letters")
    op.drop_index(op.f("ix_dead_letters_created_at"), table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index(op.f("ix_pending_labels_received_at"), table_name="pending_labels")
    op.drop_table("pending_labels")
    op.drop_index(op.f("ix_prediction_index_ts"), table_name="prediction_index")
    op.drop_table("prediction_index")
    op.drop_index(op.f("ix_metric_points_model_window_start"), table_name="metric_points")
    op.drop_index(op.f("ix_metric_points_model_metric_window_start"), table_name="metric_points")
    op.drop_table("metric_points")
    op.drop_table("consumer_offsets")
    op.drop_index(op.f("ix_window_states_model_window_start"), table_name="window_states")
    op.drop_table("window_states")
    op.drop_table("model_versions")
    op.drop_table("models")
