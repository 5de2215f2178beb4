"""Concept-drift detectors over each model version's labelled error stream.

Every label joined in a batch yields an error — 0/1 (misclassified) for classifiers, the
absolute error for regression — fed in prediction-time order to the detectors of its
(model, version): DDM, EDDM, ADWIN and Page-Hinkley for classifiers, ADWIN and
Page-Hinkley for regression (river's defaults). Their state lives in ``detector_states``,
written in the batch's transaction (rows locked on Postgres so two workers take turns), so a
restarted worker continues exactly where the committed stream left off.

Stored state: ``{"detector": <to_dict()>, "updates": n, "drifts": n, "last_drift_ts": iso|None,
"drift_detected": bool}``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from infersight.storage.detectors import lock_detector_states, store_detector_states
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CLASSIFICATION_DETECTORS = ("DDM", "EDDM", "ADWIN", "PageHinkley")
REGRESSION_DETECTORS = ("ADWIN", "PageHinkley")


@dataclass(frozen=True, slots=True)
class JoinedLabel:
    """A label joined to its prediction (what the error stream needs)."""

    model: str
    version: str
    ts: datetime
    prediction_id: str
    prediction: Any
    label: Any


def errors(reference: Any, joined: Sequence[JoinedLabel]) -> list[float | None]:
    """The error of each joined label (None when it cannot be scored)."""
    from infersight.drift.categorical import category_key
    from infersight.drift.columns import to_float

    spec = reference.prediction_spec
    if spec is None or not joined:
        return [None] * len(joined)
    read = spec.read([j.prediction for j in joined])
    if spec.task == "regression":
        truth, _ = to_float([j.label for j in joined])
        assert read.values is not None
        return [
            None if t != t or v != v else abs(float(t) - float(v))
            for t, v in zip(truth.tolist(), read.values.tolist(), strict=True)
        ]
    predicted = read.labels or [None] * len(joined)
    out: list[float | None] = []
    for item, guess in zip(joined, predicted, strict=True):
        if guess is None or item.label is None:
            out.append(None)
        else:
            out.append(0.0 if category_key(item.label) == guess else 1.0)
    return out


def update_detectors(
    session: Session, references: dict[tuple[str, str], Any], joined: Sequence[JoinedLabel]
) -> dict[tuple[str, str, str], bool]:
    """Feed the joined labels' errors to each (model, version)'s detectors; returns which
    detectors signalled a drift in this batch."""
    from infersight.drift.detectors import DriftDetector

    by_version: dict[tuple[str, str], list[JoinedLabel]] = defaultdict(list)
    for item in joined:
        by_version[(item.model, item.version)].append(item)
    drifts: dict[tuple[str, str, str], bool] = {}
    states: dict[tuple[str, str, str], Any] = {}
    for (model, version), items in sorted(by_version.items()):
        reference = references.get((model, version))
        if reference is None or reference.prediction_spec is None:
            continue
        items.sort(key=lambda j: (j.ts, j.prediction_id))
        stream = [(e, j) for e, j in zip(errors(reference, items), items, strict=True)
                  if e is not None]
        if not stream:
            continue
        names = (REGRESSION_DETECTORS if reference.prediction_spec.task == "regression"
                 else CLASSIFICATION_DETECTORS)
        # Create missing rows first so that the lock below always has rows to hold: two
        # workers joining labels of the same version then take turns, never overwrite.
        stored = lock_detector_states(session, model, version, names)
        for name in names:
            record = stored.get(name) or {}
            try:
                detector = DriftDetector.from_dict(record["detector"]) if record else _new(name)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("detector %s of %s/%s unreadable (%s); starting afresh",
                            name, model, version, exc)
                detector, record = _new(name), {}
            updates = int(record.get("updates", 0))
            count = int(record.get("drifts", 0))
            last = record.get("last_drift_ts")
            fired = False
            for error, item in stream:
                detector.update(error)
                updates += 1
                if detector.drift_detected:
                    fired = True
                    count += 1
                    last = item.ts.isoformat()
            states[(model, version, name)] = {
                "detector": detector.to_dict(), "updates": updates, "drifts": count,
                "last_drift_ts": last, "drift_detected": fired,
            }
            drifts[(model, version, name)] = fired
            if fired:
                log.info("concept drift: %s on %s/%s", name, model, version)
    store_detector_states(session, states)
    return drifts


def _new(name: str) -> Any:
    from infersight.drift import detectors

    return getattr(detectors, name)()
