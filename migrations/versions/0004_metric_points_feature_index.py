"""An index on ``metric_points (model, feature, metric, window_start)``: one feature's series.

``GET /v1/models/{model}/metrics?feature=&metric=`` read one feature's points through
``(model, metric, window_start)``, which holds every feature's points of that metric (100
features: 100 times the rows it returns). This index leads with the feature, so the series
is a range scan over its own points, already in ``window_start`` order.

Built inside the migration's transaction (which holds the migration advisory lock), so on
Postgres writes to ``metric_points`` wait while it builds: about 20 s for 4.4 M rows on the
2-core CI machine (``bench/query.py``'s 30 days of 100 features).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_metric_points_model_feature_metric_window_start"


def upgrade() -> None:
    op.create_index(INDEX, "metric_points", ["model", "feature", "metric", "window_start"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="metric_points")
