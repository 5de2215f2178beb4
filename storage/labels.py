"""The label join: a prediction index and labels waiting for their prediction.

Labels join predictions by (model, prediction_id) in either order. When a label arrives
first it waits in ``pending_labels`` until its prediction is indexed (or it expires after
``INFERSIGHT_LABEL_TTL`` and the caller dead-letters it as ``unmatched_label``).
Nothing here commits; the caller owns the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infersight.storage.models import PendingLabel, PredictionIndex
from infersight.storage.types import utc_now
from infersight.storage.upsert import upsert
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

PredictionKey = tuple[str, str]
"""(model, prediction_id)."""

_INDEX = PredictionIndex.__table__
_SET_LABEL = (
    update(_INDEX)
    .where(
        _INDEX.c.model == bindparam("b_model", type_=_INDEX.c.model.type),
        _INDEX.c.prediction_id == bindparam("b_prediction_id", type_=_INDEX.c.prediction_id.type),
    )
    .values(
        label=bindparam("b_label", type_=_INDEX.c.label.type),
        labelled_at=bindparam("b_labelled_at", type_=_INDEX.c.labelled_at.type),
    )
)
"""Core executemany UPDATE: rows that are not indexed are skipped, not an error."""

_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """What the label join needs of a prediction (``prediction``: label and score/probabilities)."""

    model: str
    prediction_id: str
    version: str
    window_start: datetime
    ts: datetime
    prediction: Any
    label: Any = None
    labelled_at: datetime | None = None

    @property
    def key(self) -> PredictionKey:
        return (self.model, self.prediction_id)


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A ground-truth label for a prediction; ``ts`` is the label's event time."""

    model: str
    prediction_id: str
    label: Any
    ts: datetime

    @property
    def key(self) -> PredictionKey:
        return (self.model, self.prediction_id)


@dataclass(slots=True)
class LabelJoin:
    """Outcome of joining labels: ``matched`` (prediction with its new label, and the label it
    carried before, None if it had none) and ``pending`` (labels still waiting)."""

    matched: list[tuple[PredictionRecord, Any]] = field(default_factory=list)
    pending: list[LabelRecord] = field(default_factory=list)


def _chunks(keys: Iterable[PredictionKey]) -> Iterator[tuple[str, list[str]]]:
    by_model: dict[str, list[str]] = defaultdict(list)
    for model, prediction_id in keys:
        by_model[model].append(prediction_id)
    for model, ids in by_model.items():
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), _CHUNK):
            yield model, unique[i : i + _CHUNK]


def index_predictions(session: Session, records: Iterable[PredictionRecord]) -> int:
    """Upsert predictions into the index; a label already joined to one is kept."""
    rows = [
        {
            "model": r.model,
            "prediction_id": r.prediction_id,
            "version": r.version,
            "window_start": r.window_start,
            "ts": r.ts,
            "prediction": r.prediction,
        }
        for r in records
    ]
    # A replayed batch may repeat ids: the last occurrence wins, as in sequential upserts.
    rows = list({(row["model"], row["prediction_id"]): row for row in rows}.values())
    return upsert(
        session,
        PredictionIndex,
        rows,
        conflict=("model", "prediction_id"),
        update=("version", "window_start", "ts", "prediction"),
    )


def find_predictions(
    session: Session, keys: Iterable[PredictionKey]
) -> dict[PredictionKey, PredictionRecord]:
    """The indexed predictions among ``keys`` (absent keys are simply missing)."""
    found: dict[PredictionKey, PredictionRecord] = {}
    for model, ids in _chunks(keys):
        query = select(PredictionIndex).where(
            PredictionIndex.model == model, PredictionIndex.prediction_id.in_(ids)
        )
        for row in session.scalars(query):
            found[(row.model, row.prediction_id)] = PredictionRecord(
                model=row.model,
                prediction_id=row.prediction_id,
                version=row.version,
                window_start=row.window_start,
                ts=row.ts,
                prediction=row.prediction,
                label=row.label,
                labelled_at=row.labelled_at,
            )
    return found


def set_labels(session: Session, labels: Iterable[LabelRecord]) -> int:
    """Attach labels to indexed predictions (``labelled_at`` = the label's event time).

    Labels of predictions that are not indexed change nothing.
    """
    rows = [
        {
            "b_model": label.model,
            "b_prediction_id": label.prediction_id,
            "b_label": label.label,
            "b_labelled_at": label.ts,
        }
        for label in labels
    ]
    if rows:
        session.execute(_SET_LABEL, rows)
    return len(rows)


def add_pending_labels(
    session: Session, labels: Iterable[LabelRecord], received_at: datetime | None = None
) -> int:
    """Keep labels whose prediction is not indexed yet (a newer label replaces an older one)."""
    now = received_at or utc_now()
    rows = {
        label.key: {
            "model": label.model,
            "prediction_id": label.prediction_id,
            "label": label.label,
            "ts": label.ts,
            "received_at": now,
        }
        for label in labels
    }
    return upsert(
        session,
        PendingLabel,
        list(rows.values()),
        conflict=("model", "prediction_id"),
        update=("label", "ts", "received_at"),
    )


def take_pending_labels(
    session: Session, keys: Iterable[PredictionKey]
) -> dict[PredictionKey, LabelRecord]:
    """Remove and return the pending labels of these predictions."""
    taken: dict[PredictionKey, LabelRecord] = {}
    for model, ids in _chunks(keys):
        stmt = (
            delete(PendingLabel)
            .where(PendingLabel.model == model, PendingLabel.prediction_id.in_(ids))
            .returning(PendingLabel.prediction_id, PendingLabel.label, PendingLabel.ts)
        )
        for prediction_id, label, ts in session.execute(stmt):
            taken[(model, prediction_id)] = LabelRecord(model, prediction_id, label, ts)
    return taken


def expire_pending_labels(session: Session, received_before: datetime) -> list[LabelRecord]:
    """Remove and return pending labels received before ``received_before`` (TTL passed)."""
    stmt = (
        delete(PendingLabel)
        .where(PendingLabel.received_at < received_before)
        .returning(
            PendingLabel.model, PendingLabel.prediction_id, PendingLabel.label, PendingLabel.ts
        )
    )
    return [LabelRecord(*row) for row in session.execute(stmt)]


def join_labels(session: Session, labels: Iterable[LabelRecord]) -> LabelJoin:
    """Attach labels to their indexed predictions; keep the others pending.

    Within one call the last label of a prediction wins.
    """
    latest = {label.key: label for label in labels}
    found = find_predictions(session, latest)
    result = LabelJoin()
    to_set: list[LabelRecord] = []
    for key, label in latest.items():
        prediction = found.get(key)
        if prediction is None:
            result.pending.append(label)
            continue
        to_set.append(label)
        labelled = _with_label(prediction, label)
        result.matched.append((labelled, prediction.label))
    set_labels(session, to_set)
    add_pending_labels(session, result.pending)
    return result


def index_predictions_and_claim_labels(
    session: Session, records: Iterable[PredictionRecord]
) -> LabelJoin:
    """Index predictions and join the labels that were waiting for them.

    ``matched`` lists the predictions that received a pending label (previous label None).
    """
    records = list(records)
    index_predictions(session, records)
    waiting = take_pending_labels(session, (r.key for r in records))
    result = LabelJoin()
    if not waiting:
        return result
    latest = {r.key: r for r in records}
    set_labels(session, waiting.values())
    for key, label in waiting.items():
        result.matched.append((_with_label(latest[key], label), None))
    return result


def _with_label(prediction: PredictionRecord, label: LabelRecord) -> PredictionRecord:
    return PredictionRecord(
        model=prediction.model,
        prediction_id=prediction.prediction_id,
        version=prediction.version,
        window_start=prediction.window_start,
        ts=prediction.ts,
        prediction=prediction.prediction,
        label=label.label,
        labelled_at=label.ts,
    )
