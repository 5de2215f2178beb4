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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from infersight.collector.worker import statistics
from infersight.storage.detectors import lock_detector_states, store_detector_states
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from infersight.drift import Reference

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


def errors(reference: Reference, joined: Sequence[JoinedLabel]) -> list[float | None]:
    """The error of each joined label (None when it cannot be scored)."""
    scored: list[float | None] = statistics.prediction_errors(
        reference, [j.prediction for j in joined], [j.label for j in joined])
    return scored


def update_detectors(
    session: Session, references: Mapping[tuple[str, str], Reference | None],
    joined: Sequence[JoinedLabel],
) -> dict[tuple[str, str, str], bool]:
    """Feed the joined labels' errors to each (model, version)'s detectors; returns which
    detectors signalled a drift in this batch."""
    by_version: dict[tuple[str, str], list[JoinedLabel]] = defaultdict(list)
    for item in joined:
        by_version[(item.model, item.version)].append(item)
    drifts: dict[tuple[str, str, str], bool] = {}
    states: dict[tuple[str, str, str], Any] = {}
    for (model, version), items in sorted(by_version.items()):
        reference = references.get((model, version))
        if reference is None or reference.task is None:
            continue
        items.sort(key=lambda j: (j.ts, j.prediction_id))
        stream = [(e, j) for e, j in zip(errors(reference, items), items, strict=True)
                  if e is not None]
        if not stream:
            continue
        names = (REGRESSION_DETECTORS if reference.task == "regression"
                 else CLASSIFICATION_DETECTORS)
        # Missing rows are created before the lock, so it always has rows to hold: two
        # workers joining labels of the same version then take turns, never overwrite.
        stored = lock_detector_states(session, model, version, names)
        for name in names:
            record = stored.get(name) or {}
            try:
                detector = (statistics.restore_detector(record["detector"]) if record
                            else statistics.new_detector(name))
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("detector %s of %s/%s unreadable (%s); starting afresh",
                            name, model, version, exc)
                detector, record = statistics.new_detector(name), {}
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
