"""Per-model event-time watermarks (the maximum event time seen), which close windows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from infersight.storage.models import Watermark
from infersight.storage.types import utc_now
from infersight.storage.upsert import upsert
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session


def advance_watermarks(session: Session, max_event_ts: Mapping[str, datetime]) -> int:
    """Raise each model's watermark to the given time; a watermark never moves back.

    Models are written in sorted order (one lock order across workers).
    """
    now = utc_now()
    rows = [
        {"model": m, "max_event_ts": ts, "updated_at": now}
        for m, ts in sorted(max_event_ts.items())
    ]
    greatest = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max

    def _keep_max(excluded: Any, table: Table) -> dict[str, Any]:
        return {"max_event_ts": greatest(table.c.max_event_ts, excluded.max_event_ts)}

    return upsert(
        session,
        Watermark,
        rows,
        conflict=("model",),
        update=("updated_at",),
        extra_set=_keep_max,
    )


def load_watermarks(session: Session, models: Iterable[str] | None = None) -> dict[str, datetime]:
    """The watermark of each model (of the given models, if any)."""
    query = select(Watermark.model, Watermark.max_event_ts)
    if models is not None:
        query = query.where(Watermark.model.in_(list(models)))
    return {model: ts for model, ts in session.execute(query)}
