"""The retraining recommendation: sustained drift plus a performance drop, with the evidence.

It fires for a (model, version) when at least one *drift* rule (data drift share,
prediction drift) has breached for its ``for`` windows and at least one *performance* rule
(realised F1/MAE vs the reference, or the label-free estimate) is breaching too. Its payload
says why, so on-call can act without opening anything else: the top drifted features with
their scores and since when they drift, the performance delta with sample size and a 95 %
interval, the windows involved.

>>> lo, hi = wilson_interval(0.8, 200)
>>> round(lo, 3), round(hi, 3)
(0.739, 0.85)
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from infersight.alerts.durations import Duration
from infersight.alerts.evaluation import Judgement
from infersight.alerts.rules import PREDICTION_FEATURE, Severity
from infersight.storage.alert_points import (
    feature_score_history,
    feature_scores,
    top_feature_scores,
)
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

PROPORTION_METRICS = frozenset(
    {"accuracy", "precision", "recall", "f1", "roc_auc", "label_coverage"}
    | {"estimated_precision", "estimated_recall", "estimated_f1", "estimated_roc_auc"}
)
"""Metrics bounded in [0, 1] for which a Wilson interval over the sample size is meaningful."""

FEATURE_SCORES = (
    "psi",
    "js_distance",
    "hellinger",
    "wasserstein_normed",
    "ks_pvalue",
    "chi2_pvalue",
)
"""Per-feature statistics copied into the evidence when the worker wrote them."""


class RetrainingRule(BaseModel):
    """Combines drift rules and performance rules into one actionable recommendation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    model: str = "*"
    drift_rules: list[str] = Field(min_length=1)
    performance_rules: list[str] = Field(min_length=1)
    severity: Severity = "warning"
    channels: list[str] = Field(default_factory=list)
    cooldown: Duration | None = 86400.0
    """A recommendation is not repeated within a day by default."""
    top_features: int = Field(default=5, ge=1, le=50)
    feature_score_metric: str = "js_distance"
    """Ranks features; JS distance (base 2) is in [0, 1] for numeric and categorical alike."""
    feature_drift_threshold: float = 0.1
    """A feature "drifts since" the first window of its current run above this score."""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

    def matches_model(self, model: str) -> bool:
        return fnmatch.fnmatchcase(model, self.model)


def wilson_interval(p: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` observed over ``n`` rows (95 % default)."""
    if n <= 0:
        return (0.0, 1.0)
    p = min(max(p, 0.0), 1.0)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def decide(
    rule: RetrainingRule, judgements: Mapping[str, Sequence[Judgement]]
) -> tuple[list[Judgement], list[Judgement]]:
    """The satisfied drift and performance judgements (both non-empty → recommend)."""
    drift = [j for name in rule.drift_rules for j in judgements.get(name, ()) if j.satisfied]
    performance = [
        j for name in rule.performance_rules for j in judgements.get(name, ()) if j.satisfied
    ]
    return drift, performance


def performance_evidence(judgement: Judgement) -> dict[str, Any]:
    """Metric, value, reference, delta, sample size and 95 % interval of a performance breach.

    For a significance rule, the interval, the sample size and ``significant`` are its test's
    (the windows it pooled, :meth:`Judgement.evidence`); for a plain threshold rule on a
    proportion, a Wilson interval over the latest window."""
    latest = judgement.latest
    metric = judgement.rule.metric
    evidence: dict[str, Any] = {
        "rule": judgement.rule.name,
        "metric": metric,
        "estimated": metric.startswith("estimated_"),
        "value": latest.value,
        "reference": judgement.reference,
        "reference_metric": judgement.rule.reference_metric_name,
        "delta": (
            None
            if judgement.reference is None or latest.value is None
            else round(latest.value - judgement.reference, 12)
        ),
        "threshold": judgement.threshold,
        "sample_size": latest.sample_size,
        "window_start": latest.window_start.isoformat(),
        "window_end": latest.window_end.isoformat(),
        "confidence_95": None,
        "significant": None,
    }
    test = judgement.evidence()
    if test is not None:
        evidence.update(
            confidence_95=test["interval"], significant=latest.breaching, test=test["test"],
            z=test["z"], pooled_windows=test["windows"], pooled_value=test["value"],
            sample_size=test["sample_size"])
    elif metric in PROPORTION_METRICS and latest.value is not None:
        low, high = wilson_interval(latest.value, latest.sample_size)
        evidence["confidence_95"] = [low, high]
        if judgement.reference is not None:
            evidence["significant"] = not (low <= judgement.reference <= high)
    return evidence


def drift_evidence(judgement: Judgement) -> dict[str, Any]:
    latest = judgement.latest
    return {
        "rule": judgement.rule.name,
        "metric": judgement.rule.metric,
        "feature": judgement.feature or None,
        "value": latest.value,
        "threshold": judgement.threshold,
        "sample_size": latest.sample_size,
        "consecutive_windows": judgement.streak,
        "since": judgement.windows[
            min(judgement.streak, len(judgement.windows)) - 1
        ].window_start.isoformat(),
    }


def top_drifted_features(
    session: Session,
    rule: RetrainingRule,
    model: str,
    version: str,
    window_start: datetime,
    lookback: int = 48,
) -> list[dict[str, Any]]:
    """The drifted features (score above the threshold) with the highest score at
    ``window_start``, their scores, and since when (over at most ``lookback`` earlier
    windows) their score has stayed above the threshold."""
    excluded = (PREDICTION_FEATURE,)
    ranked = top_feature_scores(
        session, model, version, window_start, rule.feature_score_metric,
        above=rule.feature_drift_threshold, limit=rule.top_features, excluded=excluded,
    )
    features = [feature for feature, _ in ranked]
    if not features:
        return []
    scores = feature_scores(
        session, model, version, window_start, features, FEATURE_SCORES, excluded=excluded
    )
    history = feature_score_history(
        session, model, version, features, rule.feature_score_metric,
        until=window_start, limit=lookback * len(features), excluded=excluded,
    )
    since: dict[str, datetime] = {}
    stopped: set[str] = set()
    for feature, start, value in history:
        if feature in stopped:
            continue
        if value is not None and value > rule.feature_drift_threshold:
            since[feature] = start
        else:
            stopped.add(feature)
    return [
        {
            "feature": feature,
            "score_metric": rule.feature_score_metric,
            "score": score,
            "scores": scores[feature],
            "drifting_since": since[feature].isoformat() if feature in since else None,
        }
        for feature, score in ranked
    ]


def summarise(
    model: str,
    version: str,
    drift: Sequence[Judgement],
    performance: Sequence[dict[str, Any]],
    features: Sequence[dict[str, Any]],
) -> str:
    """One line for a pager: what drifted and how much performance was lost."""
    parts = [f"Retraining recommended for {model} v{version}:"]
    for judgement in drift:
        target = judgement.rule.metric + (f"[{judgement.feature}]" if judgement.feature else "")
        parts.append(f"{target}={_fmt(judgement.latest.value)} for {judgement.streak} windows;")
    if features:
        top = ", ".join(f"{f['feature']} ({_fmt(f['score'])})" for f in features[:3])
        parts.append(f"top drifted: {top};")
    for item in performance:
        kind = "estimated " if item["estimated"] else ""
        ci = item["confidence_95"]
        interval = f", 95% CI {_fmt(ci[0])}-{_fmt(ci[1])}" if ci else ""
        pooled = item.get("pooled_windows")
        over = f" over {pooled} windows" if pooled and pooled > 1 else ""
        value = item.get("pooled_value", item["value"])
        delta = item["delta"] if not over or item["reference"] is None \
            else value - item["reference"]
        parts.append(
            f"{kind}{item['metric'].removeprefix('estimated_')} {_fmt(value)}{over} vs "
            f"reference {_fmt(item['reference'])} (delta {_fmt(delta)}, "
            f"n={item['sample_size']}{interval})."
        )
    return " ".join(parts)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"
