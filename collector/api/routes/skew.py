"""Train/serve skew by key: upload offline feature values (``POST .../skew-rows``) and read a
window's skew with its worst pairs (``GET /v1/models/{model}/skew``); docs/api.md."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from infersight.collector.api.context import ApiContext
from infersight.collector.api.deps import (
    AdminKey,
    Context,
    DbSession,
    Instant,
    ModelName,
    ReadKey,
    VersionName,
    existing_model,
    name_query,
)
from infersight.collector.api.errors import ERROR_RESPONSES, ApiError, invalid
from infersight.collector.api.limits import read_body
from infersight.collector.api.reference_upload import UploadProblem
from infersight.collector.api.skew_upload import parse_skew_rows
from pydantic import BaseModel
from sqlalchemy.orm import Session

router = APIRouter(prefix="/v1", tags=["skew"], responses=ERROR_RESPONSES)

EXAMPLES_MAX = 100
"""Worst pairs one answer lists at most (each feature's window state keeps its 20 worst)."""


class SkewUploadResult(BaseModel):
    """What an upload stored."""

    model: str
    version: str
    rows: int
    """Distinct ids in the upload."""
    stored: int
    """Rows new to the join (an id already uploaded or compared keeps its first values)."""
    duplicates: int
    """Ids given more than once in the upload, or already uploaded."""
    features: list[str]
    expires_at: datetime
    """When rows not joined by then are dropped (``INFERSIGHT_SKEW_TTL``)."""


class SkewExampleView(BaseModel):
    prediction_id: str
    feature: str
    served: Any
    offline: Any
    difference: float | None
    """``|served - offline|``; null for a categorical or missing-value mismatch."""


class SkewView(BaseModel):
    """A window's train/serve skew per feature and its worst pairs."""

    model: str
    version: str
    window_start: datetime
    window_end: datetime
    features: dict[str, dict[str, float]]
    """Feature → ``skew_matched``, ``skew_rate``, ``skew_mean_abs_diff`` (where defined)."""
    examples: list[SkewExampleView]
    """The worst differing pairs, largest difference first (mismatches first)."""
    waiting: dict[str, int]
    """Rows of the version not joined yet: ``offline`` (no prediction yet) and ``served``."""


def _store(context: ApiContext, model: str, version: str, body: bytes) -> SkewUploadResult:
    from infersight.storage import skew_rows
    from infersight.storage.registry import configure_model
    from infersight.storage.types import utc_now

    try:
        rows, repeated = parse_skew_rows(body)
    except UploadProblem as exc:
        raise invalid(exc.field, exc.problem) from None
    expires_at = utc_now() + timedelta(seconds=context.config.skew_ttl_s)
    with context.write_sessions.begin() as session:
        stored = skew_rows.store_offline(session, model, version, rows, expires_at)
        configure_model(session, model, skew_enabled=True)
    features = sorted({name for values in rows.values() for name in values})
    return SkewUploadResult(model=model, version=version, rows=len(rows), stored=stored,
                            duplicates=repeated + len(rows) - stored, features=features,
                            expires_at=expires_at)


_SKEW_ROWS_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {
            "schema": {
                "type": "object", "required": ["prediction_ids", "features"],
                "additionalProperties": False,
                "properties": {
                    "prediction_ids": {"type": "array", "items": {"type": "string"}},
                    "features": {"type": "object", "additionalProperties": {
                        "type": "array", "items": {"nullable": True, "oneOf": [
                            {"type": "string"}, {"type": "number"}, {"type": "boolean"}]}}}}},
            "example": {"prediction_ids": ["p-1", "p-2"],
                        "features": {"amount": [12.5, 3.0], "country": ["FR", "DE"]}}}},
    }
}


@router.post("/models/{model}/versions/{version}/skew-rows", status_code=201,
             openapi_extra=_SKEW_ROWS_DOC)
async def upload_skew_rows(request: Request, model: ModelName, version: VersionName,
                           context: Context, _key: AdminKey) -> SkewUploadResult:
    """Upload the offline feature values (a training snapshot, a feature-store export) of
    served requests, by prediction id, to be compared with the served values; enables skew
    for the model (served values are kept from then on)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("", "application/json"):
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type {content_type!r}: send application/json "
                       "(infersight skew upload reads CSV and Parquet files)")
    body = await read_body(request, context.config.max_reference_bytes, "the skew rows")
    return await run_in_threadpool(_store, context, model, version, body)


LATEST_SCANNED = 50
"""Windows, newest first, searched for skew when no window is given."""


def _latest_skew_window(session: Session, model: str, version: str) -> datetime | None:
    from infersight.collector.worker import statistics
    from infersight.storage.skew_rows import recent_window_starts
    from infersight.storage.windows import load_window

    for start in recent_window_starts(session, model, version, LATEST_SCANNED):
        if any(statistics.load_any_state(r.state).skew
               for r in load_window(session, model, version, start)):
            return start
    return None


@router.get("/models/{model}/skew")
def get_skew(
    model: ModelName, session: DbSession, _key: ReadKey,
    version: Annotated[str, name_query("Model version.", min_length=1)],
    window: Annotated[Instant | None, Query(
        description="Window start (RFC 3339); default: the latest window with skew (of "
        "the version's latest 50).")] = None,
    limit: Annotated[int, Query(ge=1, le=EXAMPLES_MAX, description="Worst pairs listed.")] = 20,
) -> SkewView:
    """A window's train/serve skew by key (all partitions merged) and its worst pairs."""
    from infersight.collector.worker import statistics
    from infersight.drift.skew import SkewExample, SkewState
    from infersight.storage import skew_rows
    from infersight.storage.windows import load_window

    existing_model(session, model)
    start = window or _latest_skew_window(session, model, version)
    rows = [] if start is None else load_window(session, model, version, start)
    merged: dict[str, SkewState] = {}
    for row in rows:
        for name, state in statistics.load_any_state(row.state).skew.items():
            merged.setdefault(name, SkewState()).merge(state)
    if start is None or not merged:
        where = "any window" if start is None else f"the window starting {start.isoformat()}"
        raise ApiError(404, "not_found", f"no train/serve skew of {model!r} version "
                       f"{version!r} in {where}: upload offline values with POST /v1/models/"
                       "{model}/versions/{version}/skew-rows")
    worst = sorted(((name, w) for name, state in merged.items() for w in state.worst),
                   key=lambda item: (*SkewExample.order(item[1]), item[0]))[:limit]
    return SkewView(
        model=model, version=version, window_start=start,
        window_end=max(row.window_end for row in rows),
        features={name: state.metrics() for name, state in sorted(merged.items())},
        examples=[SkewExampleView(prediction_id=w.prediction_id, feature=name, served=w.served,
                                  offline=w.offline,
                                  difference=w.difference if math.isfinite(w.difference)
                                  else None) for name, w in worst],
        waiting=skew_rows.waiting(session, model, version),
    )
