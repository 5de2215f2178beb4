"""``GET /v1/models/{model}/metrics``: metric points of a model over time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from infersight.collector.api.deps import DbSession, ReadKey, existing_model
from infersight.collector.api.errors import ERROR_RESPONSES, invalid
from pydantic import AwareDatetime, BaseModel

router = APIRouter(prefix="/v1", tags=["metrics"], responses=ERROR_RESPONSES)

MAX_POINTS = 100_000


class MetricPointView(BaseModel):
    """One metric of one window; ``feature`` null for dataset-level metrics."""

    window_start: datetime
    window_end: datetime
    version: str
    feature: str | None
    metric: str
    value: float | None
    """Null when undefined for the window (e.g. ROC AUC with one class)."""
    sample_size: int


@router.get("/models/{model}/metrics")
def get_metrics(
    model: Annotated[str, Path(min_length=1, max_length=255)],
    session: DbSession,
    _key: ReadKey,
    version: Annotated[str | None, Query(max_length=255)] = None,
    metric: Annotated[str | None, Query(max_length=64, description="e.g. psi, drift_share, f1")] = None,
    feature: Annotated[str | None, Query(
        max_length=255, description="A feature; empty for dataset-level metrics only; "
        "omit for all.")] = None,
    start: Annotated[AwareDatetime | None, Query(description="Windows starting at or after (RFC 3339).")] = None,
    end: Annotated[AwareDatetime | None, Query(description="Windows starting before (RFC 3339).")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 10_000,
) -> list[MetricPointView]:
    """Points ``{window_start, window_end, version, feature, metric, value, sample_size}``,
    oldest first."""
    from infersight.storage.metrics import query_metric_points

    if start is not None and end is not None and start >= end:
        raise invalid("query.end", "must be after start")
    existing_model(session, model)
    points = query_metric_points(session, model, version=version, metric=metric,
                                 feature=feature, start=start, end=end, limit=limit)
    return [
        MetricPointView(window_start=p.window_start, window_end=p.window_end, version=p.version,
                        feature=p.feature, metric=p.metric, value=p.value,
                        sample_size=p.sample_size)
        for p in points
    ]
