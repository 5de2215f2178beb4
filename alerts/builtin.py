"""Built-in alert rules, active for every model unless disabled by name.

Thresholds and why:

- ``data_drift_share``: ``drift_share > 0.3`` for 2 windows, ≥ 500 rows (the window's
  ``count``: a drift_share point's own sample size is its number of tested features). Per-feature
  decisions are already corrected for multiple testing (Benjamini-Hochberg), so a third of
  the features moving is a real shift, not noise; 0.3 warns earlier than the common 0.5
  "dataset drift" cut-off, and two windows filter a single odd hour.
- ``multivariate_drift``: the window's reconstruction error (PCA over the standardised
  inputs, see :mod:`infersight.drift.multivariate`) significantly (0.001) and at least 2 %
  above the reference's, for 2 windows, ≥ 500 rows: correlations between inputs broke while
  each feature's own distribution may hold, which no per-feature test sees.
- ``embedding_drift``: an embedding feature's own decision (``embedding_drift``: the
  Benjamini-Hochberg global test over its principal components at 0.001, see
  :mod:`infersight.drift.embedding`) for 2 windows, ≥ 500 vectors, per embedding feature.
- ``schema_change``: a reference feature absent (or null) in every row of a window, or a
  name the reference never had carried by some row (``schema_change``: ``feature_missing``,
  or an unexpected feature), ≥ 100 rows, one alert per name: a column that vanished, was
  renamed or was added after a deploy, at once.
- ``missing_rate_increase``: a feature's ``missing_rate`` at least 5 points above the
  reference's **and** significantly so (one-sided two-proportion z-test at 0.001 over the
  window's ``missing_rate_stderr`` and the reference's, the larger of the window's, the
  reference's and the pooled rate's variance), ≥ 500 rows: a pipeline that started dropping
  a field. Computed exactly over the binomial, false alarms stay at about one per 1,000
  unchanged windows whatever the rate (at most 1.01e-3, near a 48 % rate; 1.10e-3 over the
  draws of a 50-row reference), below 1e-14 for a feature missing 1 % of the time, where
  the minimum effect decides.
- ``train_serve_skew``: a feature's ``skew_rate > 0.01``, ≥ 100 matched pairs (the point's
  sample size), one alert per feature: more than one request in a hundred whose served value
  differs (beyond the tolerances) from the one computed offline for the same id. Two
  pipelines computing the same feature should agree row by row; 1 % is a bug (a unit, a
  default, a stale join), not noise, and 100 pairs make a single odd request too small to fire.
- ``out_of_range``: ``out_of_range_rate > 0.05`` for 2 windows, ≥ 500 values: more than one
  value in twenty outside the reference's [min, max]; a reference of m rows leaves about 2/m
  of unchanged data outside it, so 5 % is a broken unit or pipeline, not noise.
- ``prediction_drift``: ``psi > 0.2`` on the prediction (``feature = "@prediction"``) for
  2 windows, ≥ 500 rows. 0.2 is the conventional PSI "significant shift" line (0.1 slight,
  0.25 major).
- ``performance_drop``: ``f1`` at least a point below the reference **and** significantly
  below it, over the latest 2 or the latest 12 windows of ≥ 200 labelled rows pooled
  (one-sided z-test at 0.001 shared by the two horizons, over the windows' ``f1_stderr`` and
  the reference's). A fixed five-point line cried wolf on small windows (a 600-row window's
  F1 moves ±0.05 by noise) and stayed silent on a sustained three-point drop over thousands
  of rows; the test scales with the sample. The 2-window horizon catches a collapse at its
  first window and a drop of about three standard errors per window at its second; the
  12-window horizon catches a sustained drop of about one standard error per window, which
  no single window shows. 0.001 bounds the false alarms at one per 1,000 windows.
- ``error_increase``, ``rmse_increase``, ``mape_increase``: the regression errors (MAE, RMSE,
  MAPE) at least 2 % above the reference and significantly so, pooled the same way, ≥ 200
  rows.
- ``estimated_performance_drop``: ``estimated_f1`` (label-free) at least a point below the
  reference ``f1`` and significantly so (``estimated_f1_stderr``), pooled the same way,
  ≥ 500 rows.
- ``concept_drift_suspected``: the realised ``f1`` at least two points below the same
  window's label-free estimate (``estimated_f1``, from the model's calibrated scores) and
  significantly so over both standard errors, pooled the same way, ≥ 200 labelled rows.
  Input-drift tests cannot see a change of P(y|x); the gap between what the scores promise
  and what the labels show can.
- ``label_coverage_low``: ``label_coverage < 0.05`` on windows that ended at least 24 h ago,
  ≥ 500 rows: labels usually arrive late, so fresh windows are not judged; below 5 %
  realised performance cannot be trusted.
- ``latency_p99_slo``: ``latency_p99_ms > 500`` for 3 windows, ≥ 100 rows: a generous
  online-serving SLO meant to be overridden per model.
- ``error_rate_high``: ``error_rate > 0.02`` for 3 windows, ≥ 200 calls: more than one call
  in fifty raising, three windows running. At a true rate of 1 % a 200-call window exceeds 2 %
  about 5 % of the time by chance, three in a row about once in 8,000 windows. No reference is
  needed: it judges from the first windows of a new model.
- ``cost_budget`` (opt-in, disabled): the running UTC-day total of ``cost`` over all the
  model's versions above a budget. Enable it per model with your own budget in the currency
  of the model's price (a rule of that name in the rules file or the API replaces this one).
- ``retraining_recommended``: sustained data or prediction drift plus a realised or
  estimated performance drop (see :mod:`infersight.alerts.recommendation`).

>>> [r.name for r in builtin_rules()][:3]
['data_drift_share', 'multivariate_drift', 'embedding_drift']
>>> builtin_retraining_rule().name
'retraining_recommended'
"""

from __future__ import annotations

from infersight.alerts.recommendation import RetrainingRule
from infersight.alerts.rules import PREDICTION_FEATURE, AlertRule

_POOLED: dict[str, object] = {"significance": 0.001, "evidence_windows": [2, 12], "for": 1}
"""The performance rules' test: pooled over the latest 2 or 12 windows, 0.001 in all."""

_BUILTIN_RULES: tuple[dict[str, object], ...] = (
    {
        "name": "data_drift_share",
        "metric": "drift_share",
        "op": ">",
        "threshold": 0.3,
        "for": 2,
        "min_samples": 500,
        "severity": "warning",
        "annotations": {"summary": "A large share of input features drifted from the reference"},
    },
    {
        "name": "multivariate_drift",
        "metric": "multivariate_drift",
        "op": ">",
        "threshold": 0.5,
        "for": 2,
        "min_samples": 500,
        "severity": "warning",
        "annotations": {"summary": "The joint distribution of the inputs moved from the "
                                   "reference (PCA reconstruction error)"},
    },
    {
        "name": "embedding_drift",
        "metric": "embedding_drift",
        "feature": "any",
        "op": ">",
        "threshold": 0.5,
        "for": 2,
        "min_samples": 500,
        "severity": "warning",
        "annotations": {"summary": "An embedding input (e.g. the prompts' topics) moved from "
                                   "the reference"},
    },
    {
        "name": "schema_change",
        "metric": "schema_change",
        "feature": "any",
        "op": ">",
        "threshold": 0.5,
        "min_samples": 100,
        "severity": "critical",
        "annotations": {"summary": "A feature of the reference is missing from every event, "
                                   "or events carry a feature the reference never had"},
    },
    {
        "name": "missing_rate_increase",
        "metric": "missing_rate",
        "feature": "any",
        "op": ">",
        "baseline": "window",
        "reference_metric": "reference_missing_rate",
        "threshold": "reference + 0.05",
        "significance": 0.001,
        "min_samples": 500,
        "severity": "warning",
        "annotations": {"summary": "A feature is missing significantly more often than in the "
                                   "reference"},
    },
    {
        "name": "train_serve_skew",
        "metric": "skew_rate",
        "feature": "any",
        "op": ">",
        "threshold": 0.01,
        "min_samples": 100,
        "severity": "warning",
        "annotations": {"summary": "Served feature values differ from the ones computed "
                                   "offline for the same requests (train/serve skew)"},
    },
    {
        "name": "out_of_range",
        "metric": "out_of_range_rate",
        "feature": "any",
        "op": ">",
        "threshold": 0.05,
        "for": 2,
        "min_samples": 500,
        "severity": "warning",
        "annotations": {"summary": "Many values of a feature lie outside the reference's range"},
    },
    {
        "name": "prediction_drift",
        "metric": "psi",
        "feature": PREDICTION_FEATURE,
        "op": ">",
        "threshold": 0.2,
        "for": 2,
        "min_samples": 500,
        "severity": "warning",
        "annotations": {"summary": "The model's output distribution moved from the reference"},
    },
    {
        "name": "performance_drop",
        "metric": "f1",
        "op": "<",
        "threshold": "reference - 0.01",
        **_POOLED,
        "min_samples": 200,
        "severity": "critical",
        "annotations": {"summary": "Realised F1 on labelled traffic is significantly below the "
                                   "reference"},
    },
    *(
        {
            "name": name,
            "metric": metric,
            "op": ">",
            "threshold": "reference * 1.02",
            **_POOLED,
            "min_samples": 200,
            "severity": "critical",
            "annotations": {"summary": f"Realised {metric.upper()} on labelled traffic is "
                                       "significantly above the reference"},
        }
        for name, metric in (("error_increase", "mae"), ("rmse_increase", "rmse"),
                             ("mape_increase", "mape"))
    ),
    {
        "name": "estimated_performance_drop",
        "metric": "estimated_f1",
        "op": "<",
        "threshold": "reference - 0.01",
        **_POOLED,
        "min_samples": 500,
        "severity": "warning",
        "annotations": {"summary": "Estimated F1 (before labels) is significantly below the "
                                   "reference F1"},
    },
    {
        "name": "concept_drift_suspected",
        "metric": "f1",
        "op": "<",
        "baseline": "window",
        "reference_metric": "estimated_f1",
        "threshold": "reference - 0.02",
        **_POOLED,
        "min_samples": 200,
        "severity": "warning",
        "annotations": {"summary": "Realised F1 is significantly below what the model's own "
                                   "scores predict: P(y|x) changed (concept drift)"},
    },
    {
        "name": "label_coverage_low",
        "metric": "label_coverage",
        "op": "<",
        "threshold": 0.05,
        "delay": "24h",
        "min_samples": 500,
        "severity": "info",
        "annotations": {"summary": "Too few predictions received a label to measure performance"},
    },
    {
        "name": "latency_p99_slo",
        "metric": "latency_p99_ms",
        "op": ">",
        "threshold": 500,
        "for": 3,
        "min_samples": 100,
        "severity": "warning",
        "annotations": {"summary": "p99 latency of monitored calls is above the SLO"},
    },
    {
        "name": "error_rate_high",
        "metric": "error_rate",
        "op": ">",
        "threshold": 0.02,
        "for": 3,
        "min_samples": 200,
        "severity": "critical",
        "annotations": {"summary": "More than 2 % of the model's calls raise"},
    },
    {
        "name": "cost_budget",
        "metric": "cost",
        "total": "day",
        "op": ">",
        "threshold": 100,
        "enabled": False,
        "severity": "warning",
        "annotations": {"summary": "The model's cost today is above its daily budget"},
    },
)


def builtin_rules() -> list[AlertRule]:
    """Fresh copies of the built-in threshold rules."""
    return [AlertRule.model_validate(spec) for spec in _BUILTIN_RULES]


def builtin_retraining_rule() -> RetrainingRule:
    """The built-in retraining recommendation."""
    return RetrainingRule(
        name="retraining_recommended",
        drift_rules=["data_drift_share", "multivariate_drift", "embedding_drift",
                     "prediction_drift"],
        performance_rules=["performance_drop", "error_increase", "rmse_increase",
                           "mape_increase", "estimated_performance_drop"],
    )
