"""Threshold lines drawn on the dashboards, read from the code that decides (never copied).

>>> PSI_DRIFT, DRIFT_SHARE_ALERT, DRIFT_MIN_ROWS, round(MULTIVARIATE_DRIFT_Z, 2)
(0.2, 0.3, 500, 3.09)
"""

from __future__ import annotations

from infersight.alerts.builtin import builtin_rules
from infersight.drift.multivariate import DRIFT_Z
from infersight.drift.stattests import TESTS
from infersight.drift.windowing import DEFAULT_LATENESS_FRACTION


def _builtin_threshold(name: str) -> float:
    for rule in builtin_rules():
        if rule.name == name and not rule.threshold.relative:
            return float(rule.threshold.value)
    raise LookupError(f"no absolute built-in alert rule named {name!r}")


def _builtin_min_samples(name: str) -> int:
    for rule in builtin_rules():
        if rule.name == name:
            return rule.min_samples
    raise LookupError(f"no built-in alert rule named {name!r}")


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
DRIFT_MIN_ROWS = _builtin_min_samples("data_drift_share")
"""Rows an open window needs before its drift scores are drawn (the built-in drift rules')."""
LATENESS_FRACTION = DEFAULT_LATENESS_FRACTION
"""The worker's default allowed lateness (``INFERSIGHT_WORKER_LATENESS``), which closes windows."""
MULTIVARIATE_DRIFT_Z = DRIFT_Z
"""The reconstruction error's z (``reconstruction_error_drift``) from which a window's
``multivariate_drift`` can be 1 (its mean error must also be 2 % above the reference's)."""
