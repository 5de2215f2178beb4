"""Window evaluation: merge every partition's state of a window, compare, upsert points.

A window has health points (requests, errors, latency, tokens, cost; see
:mod:`infersight.drift.health`) from its first call, reference or not, and drift points once
its version has a reference.

Evaluation reads from the database, so any worker can evaluate any window and doing it
twice gives the same points. On Postgres a transaction-scoped advisory lock per window
serialises evaluations of the same window, so the last one to write has read the latest
committed state (a worker always evaluates after committing its own writes).

Only rows built on the version's current reference (same fingerprint) are merged: rows of a
replaced reference are left out and reported through ``on_stale``. A window with none left
keeps the points it has.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from infersight.collector.worker import statistics
from infersight.collector.worker.catalog import ModelCatalog
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from infersight.storage.models import HealthState
from infersight.storage.prices import (
    health_windows,
    price_history,
    price_in_force,
    recomputed_price,
    record_recomputations,
)
from infersight.storage.windows import load_window, lock_window
from sqlalchemy.orm import Session


def evaluate_window(
    session: Session,
    catalog: ModelCatalog,
    model: str,
    version: str,
    window_start: datetime,
    *,
    on_stale: Callable[[int], object] | None = None,
) -> int:
    """Evaluate one window and upsert its metric points; returns how many were written.

    ``on_stale(n)`` is called with the number of rows left out because they were built on
    a replaced reference (when there are any)."""
    points = window_points(session, catalog, model, version, window_start, on_stale=on_stale)
    return int(upsert_metric_points(session, points))


def window_points(
    session: Session,
    catalog: ModelCatalog,
    model: str,
    version: str,
    window_start: datetime,
    *,
    on_stale: Callable[[int], object] | None = None,
) -> list[MetricPointRecord]:
    """Lock one window and compute its metric points, health and drift (the caller upserts
    them, e.g. with those of other windows in one statement, before the transaction ends)."""
    lock_window(session, model, version, window_start)
    return (health_points(session, model, version, window_start)
            + drift_points(session, catalog, model, version, window_start, on_stale=on_stale))


def health_points(
    session: Session, model: str, version: str, window_start: datetime
) -> list[MetricPointRecord]:
    """The health points of one window (no reference needed; the caller holds the window's
    lock); its cost is priced from its sums at a revision if the window's cost was
    recomputed (``POST /v1/models/{model}/recompute-cost``)."""
    rows = load_window(session, model, version, window_start, HealthState)
    if not rows:
        return []
    window_end = max(row.window_end for row in rows)
    window_s = (window_end - window_start).total_seconds()
    metric_rows = statistics.health_metrics(
        [statistics.load_health(row.state) for row in rows], window_s,
        recomputed_price(session, model, version, window_start))
    return [
        MetricPointRecord(model, version, window_start, window_end, feature, metric, value, size)
        for feature, metric, value, size in metric_rows
    ]


def drift_points(
    session: Session,
    catalog: ModelCatalog,
    model: str,
    version: str,
    window_start: datetime,
    *,
    on_stale: Callable[[int], object] | None = None,
) -> list[MetricPointRecord]:
    """The drift points of one window: none while the version has no reference."""
    rows = load_window(session, model, version, window_start)
    if not rows:
        return []
    reference = catalog.reference(session, model, version)
    if reference is None:
        return []
    current = []
    states = []
    for row in rows:
        state = statistics.load_any_state(row.state)
        if statistics.bind_if_same_layout(reference, state):
            current.append(row)
            states.append(state)
    if len(current) < len(rows) and on_stale is not None:
        on_stale(len(rows) - len(current))
    if not current:
        return []
    settings = catalog.settings(session, model)
    window_end = max(row.window_end for row in current)
    merged = statistics.merge_states(reference, states)
    metric_rows = statistics.evaluate(reference, merged, settings)
    event_count = sum(row.event_count for row in current)
    if not any(feature is None and metric == "count" for feature, metric, _v, _n in metric_rows):
        metric_rows.append((None, "count", float(event_count), event_count))
    return [
        MetricPointRecord(model, version, window_start, window_end, feature, metric, value, size)
        for feature, metric, value, size in metric_rows
    ]


def recompute_cost(
    session: Session, model: str, start: datetime, end: datetime
) -> list[MetricPointRecord]:
    """Price every window of ``model`` (all versions) starting in ``[start, end)`` from its
    sums at the revision in force at the window's start, as the price history now stands,
    and write its health points; windows starting before the first revision keep their cost.

    The choice is stored (``cost_recomputations``), so later evaluations of the window keep
    pricing it that way. Returns the points written (the caller commits)."""
    history = price_history(session, model)
    chosen = []
    for version, window_start in health_windows(session, model, start, end):
        revision = price_in_force(history, window_start)
        if revision is not None:
            chosen.append((version, window_start, revision[0]))
    record_recomputations(session, model, chosen)
    points: list[MetricPointRecord] = []
    for version, window_start, _revision in chosen:
        lock_window(session, model, version, window_start)
        points += health_points(session, model, version, window_start)
    upsert_metric_points(session, points)
    return points
