"""The one place the worker calls the statistics engine (:mod:`infersight.drift`).

The worker only needs: load or build a reference, make/load/serialise a window state, add
decoded predictions and joined labels to it, merge states, turn a merged state into metric
rows, and score joined labels for the concept-drift detectors. Keeping these calls here
keeps the worker independent of the engine's internals. ``infersight.drift`` is imported
when first used (the worker's modules import quickly).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from infersight.drift import DriftConfig, Reference, WindowState
    from infersight.drift.detectors import DriftDetector
    from infersight.drift.health import HealthState
    from infersight.drift.pricing import PriceHistory
    from infersight.sdk.wire import Prediction

log = logging.getLogger(__name__)

MetricRow = tuple[str | None, str, float | None, int]
"""``(feature or None, metric, value, sample_size)``."""


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """What the worker needs to know of a model (``models`` row, or the defaults)."""

    window_s: float
    task: str | None = None
    positive_label: Any = None
    """A class label as JSON (a string, a number or a boolean), or None."""
    threshold: float = 0.5
    drift_config: dict[str, Any] | None = None
    skew: bool = False
    """Keep served feature values for the train/serve skew join."""


def load_reference(data: bytes) -> Reference:
    from infersight.drift import Reference

    return Reference.from_bytes(data)


def build_reference(
    columns: Mapping[str, Sequence[Any]], predictions: Sequence[Any],
    labels: Sequence[Any] | None, settings: ModelSettings,
) -> Reference:
    """A reference profiled from feature columns, predictions and (all or no) labels, with
    the model's task, positive class and threshold where set (else inferred)."""
    from infersight.drift import Reference

    return Reference.from_data(dict(columns), predictions=list(predictions),
                               labels=None if labels is None else list(labels),
                               task=settings.task, positive_label=settings.positive_label,
                               threshold=settings.threshold)


def vector_dimensions(reference: Reference) -> dict[str, int]:
    """``{feature: length}`` of the reference's embedding features."""
    from infersight.drift.embedding import EmbeddingProfile

    return {name: profile.dimension for name, profile in reference.features.items()
            if isinstance(profile, EmbeddingProfile)}


def prediction_problem(reference: Reference, prediction: list[Any]) -> str | None:
    """Why a vector ``prediction`` does not fit the version's reference (None: it fits): an
    embedding model's output of another length, or class probabilities outside [0, 1]."""
    from infersight.drift.embedding import EmbeddingProfile
    from infersight.sdk.wire import MAX_CLASSES

    spec = reference.prediction_spec
    if isinstance(reference.prediction, EmbeddingProfile):
        size = reference.prediction.dimension
        return None if len(prediction) == size else (
            f"prediction: a vector of {len(prediction)} numbers, but the reference's output "
            f"has {size}")
    if spec is None or spec.task == "regression":
        return None
    if len(prediction) > MAX_CLASSES:
        return f"prediction: {len(prediction)} class probabilities, at most {MAX_CLASSES:,}"
    bad = next(((i, v) for i, v in enumerate(prediction) if not 0.0 <= v <= 1.0), None)
    return None if bad is None else (
        f"prediction[{bad[0]}]: a class probability must be within [0, 1], got {bad[1]!r}")


def new_state(reference: Reference) -> WindowState:
    return reference.new_window()


def load_state(reference: Reference, data: bytes) -> WindowState:
    return reference.window_from_bytes(data)


def load_any_state(data: bytes) -> WindowState:
    """Restore a window state without binding it (it may belong to another reference)."""
    from infersight.drift.window import WindowState

    return WindowState.from_bytes(data)


def bind_if_same_layout(reference: Reference, state: WindowState) -> bool:
    """Bind ``state`` to ``reference`` if it was built on the same layout (same bins,
    vocabularies and prediction spec: the reference's fingerprint); False if not."""
    if state.fingerprint != reference.fingerprint:
        return False
    if state.reference is not reference:
        state.attach(reference)
    return True


def dump_state(state: WindowState) -> bytes:
    return bytes(state.to_bytes())


def add_predictions(state: WindowState, predictions: Sequence[Prediction]) -> None:
    state.update(list(predictions))


def add_labels(state: WindowState, joined: Sequence[tuple[Any, Any]]) -> None:
    """Add ``(prediction value as stored in the index, label)`` pairs to ``state``.

    The task, classes and threshold come from the state's reference.
    """
    predictions = [prediction for prediction, _label in joined]
    labels = [label for _prediction, label in joined]
    state.add_labels(labels, predictions)


def add_skew(state: WindowState, pairs: Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any]]]
             ) -> None:
    """Add ``(prediction_id, served features, offline features)`` requests to ``state``'s
    train/serve skew (compared by the kinds of the state's reference)."""
    if pairs:
        state.add_skew([p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs])


def skew_rows(state: WindowState) -> list[MetricRow]:
    """``skew_matched``, ``skew_rate`` and ``skew_mean_abs_diff`` per feature (sample size:
    the matched pairs)."""
    return [(feature, metric, value, skew.matched)
            for feature, skew in sorted(state.skew.items())
            for metric, value in skew.metrics().items()]


def merge_states(reference: Reference, states: Sequence[WindowState]) -> WindowState:
    merged = reference.new_window()
    for state in states:
        merged.merge(state)
    return merged


def drift_config(settings: ModelSettings) -> DriftConfig | None:
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


def evaluate(reference: Reference, state: WindowState, settings: ModelSettings) -> list[MetricRow]:
    """Metric rows of one (merged) window state compared with the reference."""
    from infersight.drift import compare

    report = compare(reference, state, drift_config(settings))
    rows: list[MetricRow] = []
    for feature, metric, value, sample_size in report.rows():
        number = None if value is None else float(value)
        if number is not None and not math.isfinite(number):
            number = None
        rows.append((feature, str(metric), number, int(sample_size)))
    return rows + skew_rows(state)


# -- health -----------------------------------------------------------------------------------


def new_health() -> HealthState:
    from infersight.drift.health import HealthState

    return HealthState()


def load_health(data: bytes) -> HealthState:
    from infersight.drift.health import HealthState

    return HealthState.from_bytes(data)


def dump_health(state: HealthState) -> bytes:
    return bytes(state.to_bytes())


def price_history(revisions: Sequence[tuple[datetime, Mapping[str, Any]]]) -> PriceHistory:
    """The engine's price history from stored ``(effective_from, pricing)`` revisions."""
    from infersight.drift.pricing import Price, PriceHistory

    return PriceHistory([(start.timestamp(), Price.from_dict(pricing))
                         for start, pricing in revisions])


def add_calls(
    state: HealthState, predictions: Sequence[Prediction], prices: PriceHistory
) -> tuple[float, str] | None:
    """Add calls to a health state, each priced at the revision in force at its ``ts``;
    returns their total cost and its currency (None when none was priced)."""
    costs: list[float | None] = []
    total, currency = 0.0, None
    for p in predictions:
        price = prices.at(p.ts.timestamp()) if prices else None
        cost = None if price is None else price.call_cost(p.usage, p.latency_ms)
        if price is not None and cost is not None:
            total, currency = total + cost, price.currency
        costs.append(cost)
    state.update(predictions, costs)
    return None if currency is None else (total, currency)


def health_metrics(
    states: Sequence[HealthState], window_s: float, recomputed: Mapping[str, Any] | None
) -> list[MetricRow]:
    """Metric rows of a window's merged health states; ``recomputed`` (a stored pricing)
    prices the window from its sums at that revision instead of the accrued cost."""
    from infersight.drift.pricing import Price

    merged = new_health()
    for state in states:
        merged.merge(state)
    cost = None
    if recomputed is not None:
        usage = merged.usage
        cost = Price.from_dict(recomputed).cost_of_sums(
            merged.calls, usage["input_tokens"], usage["cached_input_tokens"],
            usage["output_tokens"], merged.latency_ms_sum / 1000.0)
    return [(feature, metric, value, n) for feature, metric, value, n
            in merged.metrics(window_s, cost)]


# -- concept drift ----------------------------------------------------------------------------


def prediction_errors(
    reference: Reference, predictions: Sequence[Any], labels: Sequence[Any]
) -> list[float | None]:
    """The error of each (prediction, label) pair: 0/1 (misclassified) for a classifier, the
    absolute error for regression; None where it cannot be scored (or the reference knows no
    prediction spec)."""
    from infersight.drift.categorical import category_key
    from infersight.drift.columns import to_float

    spec = reference.prediction_spec
    if spec is None or not predictions:
        return [None] * len(predictions)
    read = spec.read(list(predictions))
    if spec.task == "regression":
        truth, _ = to_float(list(labels))
        assert read.values is not None
        return [
            None if t != t or v != v else abs(float(t) - float(v))
            for t, v in zip(truth.tolist(), read.values.tolist(), strict=True)
        ]
    predicted = read.labels or [None] * len(predictions)
    out: list[float | None] = []
    for label, guess in zip(labels, predicted, strict=True):
        if guess is None or label is None:
            out.append(None)
        else:
            out.append(0.0 if category_key(label) == guess else 1.0)
    return out


def new_detector(name: str) -> DriftDetector:
    """A fresh detector by class name (``DDM``, ``EDDM``, ``ADWIN``, ``PageHinkley``)."""
    from infersight.drift import detectors

    detector: DriftDetector = getattr(detectors, name)()
    return detector


def restore_detector(data: Mapping[str, Any]) -> DriftDetector:
    """A detector continuing from its stored ``to_dict()``; raises ``ValueError`` (or
    ``KeyError``/``TypeError``) if it cannot be read."""
    from infersight.drift.detectors import DriftDetector

    return DriftDetector.from_dict(data)
