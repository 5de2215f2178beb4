"""Window evaluation: merge every partition's state of a window, compare, upsert points.

Evaluation reads from the database, so any worker can evaluate any window and doing it
twice gives the same points. On Postgres a transaction-scoped advisory lock per window
serialises evaluations of the same window, so the last one to write has read the latest
committed state (a worker always evaluates after committing its own writes).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from infersight.collector import engine
from infersight.collector.catalog import ModelCatalog
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from infersight.storage.windows import load_window
from sqlalchemy import text
from sqlalchemy.orm import Session


def _lock_id(model: str, version: str, window_start: datetime) -> int:
    digest = hashlib.blake2b(
        f"{model}\0{version}\0{window_start.isoformat()}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def evaluate_window(
    session: Session, catalog: ModelCatalog, model: str, version: str, window_start: datetime
) -> int:
    """Evaluate one window and upsert its metric points; returns how many were written."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": _lock_id(model, version, window_start)},
        )
    rows = load_window(session, model, version, window_start)
    if not rows:
        return 0
    reference = catalog.reference(session, model, version)
    if reference is None:
        return 0
    settings = catalog.settings(session, model)
    window_end = max(row.window_end for row in rows)
    states = [engine.load_state(reference, row.state) for row in rows]
    merged = engine.merge_states(reference, states)
    metric_rows = engine.evaluate(reference, merged, settings)
    event_count = sum(row.event_count for row in rows)
    if not any(feature is None and metric == "count" for feature, metric, _v, _n in metric_rows):
        metric_rows.append((None, "count", float(event_count), event_count))
    points = [
        MetricPointRecord(model, version, window_start, window_end, feature, metric, value, size)
        for feature, metric, value, size in metric_rows
    ]
    return int(upsert_metric_points(session, points))
