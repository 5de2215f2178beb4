"""``metric_points.first_evaluated_at``: when a point was first written.

Alert rule delays (``label_coverage_low``'s 24 h) count from it as well as from the window's
end, so replaying weeks of history does not judge windows whose late labels are still on
their way. Nullable, without a default: adding it rewrites no rows on Postgres or SQLite;
points written before it exist read as first written at their window's end.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("metric_points",
                  sa.Column("first_evaluated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("metric_points") as batch:
        batch.drop_column("first_evaluated_at")
