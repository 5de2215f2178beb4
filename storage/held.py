"""Predictions held in the prediction index until their version has a reference.

A held row's ``prediction`` keeps the whole event under :data:`BOOTSTRAP_KEY` (the worker's
first-window bootstrap, docs/pipeline.md §5). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infersight.storage.models import ModelVersion, PredictionIndex
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

BOOTSTRAP_KEY = "infersight_bootstrap_event"
"""Marks a prediction-index row whose whole event is held until its version has a reference."""

HeldRow = tuple[str, datetime, datetime, Any, Any, datetime | None]
"""``(prediction_id, window_start, ts, stored prediction, label, labelled_at)``."""


def _held(session: Session) -> ColumnElement[bool]:
    column = PredictionIndex.prediction
    if session.get_bind().dialect.name == "postgresql":
        return func.jsonb_exists(column, BOOTSTRAP_KEY)
    return func.json_extract(column, f"$.{BOOTSTRAP_KEY}").is_not(None)


def versions_to_bootstrap(session: Session) -> list[tuple[str, str]]:
    """Versions without a reference, or with a first-window one (rows may still be held)."""
    rows = session.execute(
        select(ModelVersion.model, ModelVersion.version).where(
            (ModelVersion.reference.is_(None)) | (ModelVersion.reference_source == "first_window")
        )
    )
    return [(m, v) for m, v in rows]


def held_summary(session: Session, model: str, version: str) -> tuple[int, datetime | None]:
    """How many predictions of the version are held, and the first window start."""
    count, first = session.execute(
        select(func.count(), func.min(PredictionIndex.window_start)).where(
            PredictionIndex.model == model, PredictionIndex.version == version, _held(session)
        )
    ).one()
    return int(count), first


def lock_missing_reference(session: Session, model: str, version: str) -> bool:
    """Lock the version's row (until the transaction ends); True if it has no reference."""
    current = session.execute(
        select(ModelVersion.reference)
        .where(ModelVersion.model == model, ModelVersion.version == version)
        .with_for_update()
    ).first()
    return current is None or current[0] is None


def held_in_window(
    session: Session, model: str, version: str, window_start: datetime, limit: int
) -> list[tuple[Any, Any, datetime | None]]:
    """``(stored prediction, label, labelled_at)`` of the window's held rows, oldest first."""
    rows = session.execute(
        select(PredictionIndex.prediction, PredictionIndex.label, PredictionIndex.labelled_at)
        .where(PredictionIndex.model == model, PredictionIndex.version == version,
               PredictionIndex.window_start == window_start, _held(session))
        .order_by(PredictionIndex.ts, PredictionIndex.prediction_id)
        .limit(limit)
    ).all()
    return [(stored, label, at) for stored, label, at in rows]


def lock_held(session: Session, model: str, version: str, limit: int) -> list[HeldRow]:
    """Lock up to ``limit`` held rows of the version, oldest first, skipping rows another
    transaction holds."""
    query = (
        select(PredictionIndex.prediction_id, PredictionIndex.window_start, PredictionIndex.ts,
               PredictionIndex.prediction, PredictionIndex.label, PredictionIndex.labelled_at)
        .where(PredictionIndex.model == model, PredictionIndex.version == version,
               _held(session))
        .order_by(PredictionIndex.ts, PredictionIndex.prediction_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(pid, start, ts, stored, label, at)
            for pid, start, ts, stored, label, at in session.execute(query)]


def release_held(session: Session, model: str, predictions: Mapping[str, Any]) -> None:
    """Restore held rows to plain index rows: ``{prediction_id: prediction value}``."""
    for pid, value in predictions.items():
        session.execute(
            update(PredictionIndex)
            .where(PredictionIndex.model == model, PredictionIndex.prediction_id == pid)
            .values(prediction=value)
        )
