"""The result of :func:`~infersight.drift.compare`: metrics, drift decisions, metric rows.

Metric rows are ``(feature, metric, value, sample_size)``: ``feature`` is the feature name, or
``"@prediction"`` for the model output, ``"class:<label>"`` / ``"average:macro"`` for per-class
and macro-averaged performance, and None for model-level metrics (``drift_share``, ``count``,
latency, performance of the positive class or the multiclass macro average).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: ``feature`` of the rows describing the model output.
PREDICTION = "@prediction"
_ROW_METRICS = frozenset({"count", "missing_rate", "missing_rate_stderr", "invalid_rate"})
"""Feature metrics over every row of the window (missing ones included)."""


class MetricRow(NamedTuple):
    """One metric point: feature (None = model level), metric name, value, sample size."""

    feature: str | None
    metric: str
    value: float
    sample_size: int


@dataclass(frozen=True)
class TestResult:
    """One rule applied to one feature: the value read, the threshold, the outcome."""

    test: str
    threshold: float
    value: float
    drifted: bool
    adjusted_pvalue: float | None = None


@dataclass
class FeatureDrift:
    """A feature's (or the prediction's) metrics and drift decision."""

    kind: str
    metrics: dict[str, float]
    sample_size: int
    tests: list[TestResult] = field(default_factory=list)
    reference_rows: int = 0
    """The reference's rows of the feature (the sample size of ``reference_missing_rate``)."""

    @property
    def drifted(self) -> bool:
        """Whether any rule fired."""
        return any(t.drifted for t in self.tests)


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class DriftReport:
    """Metrics of one window against its reference.

    ``features[name][metric]`` → float; ``drifted(name)``; ``drift_share``;
    ``prediction[metric]``; ``performance[metric]`` (realised and ``estimated_*``);
    ``model[metric]`` (``count``, ``drift_share``, latency quantiles).
    """

    details: dict[str, FeatureDrift]
    prediction_detail: FeatureDrift | None
    performance: dict[str, float]
    model: dict[str, float]
    labelled: int = 0
    scored: int = 0
    unexpected: dict[str, int] = field(default_factory=dict)
    """``{name: rows carrying it}`` of the names the reference never had (at most
    ``MAX_UNEXPECTED_FEATURES`` of them, the rest under ``@other``)."""

    @property
    def features(self) -> dict[str, dict[str, float]]:
        """``{feature: {metric: value}}``."""
        return {name: d.metrics for name, d in self.details.items()}

    @property
    def prediction(self) -> dict[str, float]:
        """Drift metrics of the model output (empty without predictions)."""
        return self.prediction_detail.metrics if self.prediction_detail else {}

    @property
    def prediction_drifted(self) -> bool:
        """Whether the model output drifted."""
        return bool(self.prediction_detail and self.prediction_detail.drifted)

    @property
    def drift_share(self) -> float:
        """Share of the features with a drift decision that drifted (0 when none was decided)."""
        return self.model.get("drift_share", 0.0)

    def drifted(self, feature: str) -> bool:
        """Whether ``feature`` drifted (KeyError for an unknown feature)."""
        return self.details[feature].drifted

    def drifted_features(self) -> list[str]:
        """Drifted features, most drifted (largest PSI) first."""
        names = [n for n, d in self.details.items() if d.drifted]
        return sorted(names, key=lambda n: -self.details[n].metrics.get("psi", 0.0))

    def rows(self) -> Iterator[MetricRow]:
        """Every metric as a flat row, for writing metric points."""
        for name, detail in self.details.items():
            yield from self._detail_rows(name, detail)
        if self.prediction_detail is not None:
            yield from self._detail_rows(PREDICTION, self.prediction_detail)
        rows = int(self.model.get("count", 0))
        for name, carried in self.unexpected.items():  # a schema change: a name never profiled
            yield MetricRow(name, "unexpected_feature", float(carried), rows)
            yield MetricRow(name, "schema_change", 1.0, rows)
        for metric, value in self.model.items():
            size = rows if metric != "drift_share" else len(
                [d for d in self.details.values() if d.tests])
            yield MetricRow(None, metric, value, size)
        for metric, value in self.performance.items():
            size = self.scored if metric.startswith("estimated_") else self.labelled
            if metric == "label_coverage":
                size = rows
            yield _performance_row(metric, value, size)

    @staticmethod
    def _detail_rows(name: str, detail: FeatureDrift) -> Iterator[MetricRow]:
        rows = int(detail.metrics.get("count", 0))
        for metric, value in detail.metrics.items():
            size = rows if metric in _ROW_METRICS else detail.reference_rows \
                if metric.startswith("reference_") else detail.sample_size
            yield MetricRow(name, metric, value, size)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite values become None)."""
        def detail(d: FeatureDrift) -> dict[str, Any]:
            return {"kind": d.kind, "drifted": d.drifted, "sample_size": d.sample_size,
                    "metrics": {k: _json_float(v) for k, v in d.metrics.items()},
                    "tests": [{"test": t.test, "threshold": t.threshold,
                               "value": _json_float(t.value), "drifted": t.drifted,
                               "adjusted_pvalue": t.adjusted_pvalue} for t in d.tests]}
        return {
            "features": {n: detail(d) for n, d in self.details.items()},
            "drift_share": self.drift_share,
            "drifted_features": self.drifted_features(),
            "prediction": detail(self.prediction_detail) if self.prediction_detail else None,
            "performance": {k: _json_float(v) for k, v in self.performance.items()},
            "model": {k: _json_float(v) for k, v in self.model.items()},
            "unexpected_features": dict(self.unexpected),
        }


def _performance_row(metric: str, value: float, size: int) -> MetricRow:
    if metric.endswith("]") and "[" in metric:
        base, label = metric[:-1].split("[", 1)
        return MetricRow(f"class:{label}", base, value, size)
    if metric.endswith("_macro"):
        return MetricRow("average:macro", metric[: -len("_macro")], value, size)
    return MetricRow(None, metric, value, size)
