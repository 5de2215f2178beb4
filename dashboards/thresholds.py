"""Threshold lines drawn on the dashboards, read from the code that decides (never copied).

>>> PSI_DRIFT, DRIFT_SHARE_ALERT
(0.2, 0.3)
"""

from __future__ import annotations

from infersight.alerts.builtin import builtin_rules
from infersight.drift.stattests import TESTS


def _builtin_threshold(name: str) -> float:
    for rule in builtin_rules():
        if rule.name == name and not rule.threshold.relative:
            return float(rule.threshold.value)
    raise LookupError(f"no absolute built-in alert rule named {name!r}")


PSI_DRIFT = TESTS["psi"].default_threshold
"""PSI above which a feature counts as drifted (default rule for large samples)."""
PSI_WATCH = 0.1
"""The customary "moderate shift" level of PSI, drawn as a warning line."""
WASSERSTEIN_DRIFT = TESTS["wasserstein_normed"].default_threshold
JS_DRIFT = TESTS["js_distance"].default_threshold
DRIFT_SHARE_ALERT = _builtin_threshold("data_drift_share")
PREDICTION_PSI_ALERT = _builtin_threshold("prediction_drift")
LABEL_COVERAGE_ALERT = _builtin_threshold("label_coverage_low")
LATENCY_P99_ALERT_MS = _builtin_threshold("latency_p99_slo")
