"""The one place the worker calls the statistics engine (:mod:`infersight.drift`).

The worker only needs: load a reference, make/load/serialise a window state, add decoded
predictions and joined labels to it, merge states, and turn a merged state into metric
rows. Keeping these calls here keeps the worker independent of the engine's internals.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MetricRow = tuple[str | None, str, float | None, int]
"""``(feature or None, metric, value, sample_size)``."""


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """What the worker needs to know of a model (``models`` row, or the defaults)."""

    window_s: float
    task: str | None = None
    positive_label: Any = None
    threshold: float = 0.5
    drift_config: Any = None


def load_reference(data: bytes) -> Any:
    from infersight.drift import Reference

    return Reference.from_bytes(data)


def new_state(reference: Any) -> Any:
    return reference.new_window()


def load_state(reference: Any, data: bytes) -> Any:
    return reference.window_from_bytes(data)


def load_any_state(data: bytes) -> Any:
    """Restore a window state without binding it (it may belong to another reference)."""
    from infersight.drift.window import WindowState

    return WindowState.from_bytes(data)


def bind_if_same_layout(reference: Any, state: Any) -> bool:
    """Bind ``state`` to ``reference`` if it was built on the same layout (same bins,
    vocabularies and prediction spec: the reference's fingerprint); False if not."""
    if state.fingerprint != reference.fingerprint:
        return False
    if state.reference is not reference:
        state.attach(reference)
    return True


def dump_state(state: Any) -> bytes:
    return bytes(state.to_bytes())


def add_predictions(state: Any, predictions: Sequence[Any]) -> None:
    state.update(list(predictions))


def add_labels(
    state: Any, joined: Sequence[tuple[Any, Any]], settings: ModelSettings
) -> None:
    """Add ``(prediction value as stored in the index, label)`` pairs to ``state``.

    The task, classes and threshold come from the state's reference.
    """
    predictions = [prediction for prediction, _label in joined]
    labels = [label for _prediction, label in joined]
    state.add_labels(labels, predictions)


def merge_states(reference: Any, states: Sequence[Any]) -> Any:
    merged = reference.new_window()
    for state in states:
        merged.merge(state)
    return merged


def drift_config(settings: ModelSettings) -> Any:
    """The model's per-feature test overrides, or None (the documented defaults).

    An invalid stored configuration falls back to the defaults (and is logged): a bad
    setting must not stop evaluation.
    """
    if not settings.drift_config:
        return None
    from infersight.drift.config import DriftConfig

    try:
        return DriftConfig.from_dict(settings.drift_config)
    except (ValueError, TypeError) as exc:
        log.warning("ignoring invalid drift_config %r: %s", settings.drift_config, exc)
        return None


def evaluate(reference: Any, state: Any, settings: ModelSettings) -> list[MetricRow]:
    """Metric rows of one (merged) window state compared with the reference."""
    from infersight.drift import compare

    report = compare(reference, state, drift_config(settings))
    rows: list[MetricRow] = []
    for feature, metric, value, sample_size in report.rows():
        number = None if value is None else float(value)
        if number is not None and not math.isfinite(number):
            number = None
        rows.append((feature, str(metric), number, int(sample_size)))
    return rows
