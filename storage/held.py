"""Predictions held until their version has a reference (the worker's first-window
bootstrap, docs/pipeline.md §5).

A held prediction has its index row (the held marker as its prediction, so duplicates and
labels are recognised) and its whole event in ``held_predictions`` under
:data:`BOOTSTRAP_KEY`; its label, if one joined, is on the index row. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infersight.storage.index_codec import as_float32, decode_value, split_prediction
from infersight.storage.models import HeldPrediction, ModelVersion, PredictionIndex
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

BOOTSTRAP_KEY = "infersight_bootstrap_event"
"""Marks a stored prediction whose whole event is held until its version has a reference."""

HeldRow = tuple[str, datetime, datetime, Any, Any, datetime | None]
"""``(prediction_id, window_start, ts, stored prediction, label, labelled_at)``; the index
keeps no label time, so ``labelled_at`` is the window start when a label joined, else None."""

H, I = HeldPrediction, PredictionIndex  # noqa: E741


def _index_row() -> Any:
    return (I.key_hash == H.key_hash) & (I.ts == H.ts)


def _label(label: bytes | None) -> Any:
    return None if label is None else decode_value(label)


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
        select(func.count(), func.min(H.window_start)).where(H.model == model,
                                                              H.version == version)
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
        select(H.event, I.label, H.window_start)
        .join(I, _index_row(), isouter=True)
        .where(H.model == model, H.version == version, H.window_start == window_start)
        .order_by(H.ts, H.prediction_id)
        .limit(limit)
    ).all()
    return [(event, _label(label), None if label is None else start)
            for event, label, start in rows]


def lock_held(session: Session, model: str, version: str, limit: int) -> list[HeldRow]:
    """Lock up to ``limit`` held rows of the version, oldest first, skipping rows another
    transaction holds."""
    query = (
        select(H.prediction_id, H.window_start, H.ts, H.event, I.label)
        .join(I, _index_row(), isouter=True)
        .where(H.model == model, H.version == version)
        .order_by(H.ts, H.prediction_id)
        .limit(limit)
        .with_for_update(of=H, skip_locked=True)
    )
    return [(pid, start, ts, event, _label(label), None if label is None else start)
            for pid, start, ts, event, label in session.execute(query)]


def _released(h: int, ts: datetime, prediction: Any) -> dict[str, Any]:
    score, value = split_prediction(prediction)
    return {"h": h, "t": ts, "s": None if score is None else as_float32(score), "v": value}


def release_held(session: Session, model: str, predictions: Mapping[str, Any]) -> None:
    """Restore held rows to plain index rows: ``{prediction_id: prediction value}``."""
    pids = sorted(predictions)
    for start in range(0, len(pids), 500):
        chunk = pids[start : start + 500]
        held = session.execute(select(H.prediction_id, H.key_hash, H.ts).where(
            H.model == model, H.prediction_id.in_(chunk))).all()
        if not held:
            continue
        session.execute(
            update(I.__table__)
            .where(I.key_hash == bindparam("h"), I.ts == bindparam("t"))
            .values(score=bindparam("s"), value=bindparam("v")),
            [_released(h, ts, predictions[pid]) for pid, h, ts in held],
        )
        session.execute(delete(H).where(H.model == model, H.prediction_id.in_(chunk)))
