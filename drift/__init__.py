"""Pure drift statistics: reference profiles, mergeable window state, comparisons.

Examples
--------
>>> import numpy as np
>>> from infersight.drift import Reference, compare
>>> rng = np.random.default_rng(1)
>>> ref = Reference.from_data({"amount": rng.lognormal(3, 1, 10_000)})
>>> window = ref.new_window()
>>> window.update({"amount": rng.lognormal(3, 1, 10_000)})
>>> compare(ref, window).drifted("amount")
False
"""

from __future__ import annotations

from ._codec import FormatError
from .compare import compare, compare_configured
from .config import DriftConfig, Rule
from .estimation import CBPE
from .performance import (
    ClassificationState,
    RegressionState,
    classification_metrics,
    regression_metrics,
)
from .reference import Reference
from .report import PREDICTION, DriftReport, FeatureDrift, MetricRow, TestResult
from .segments import SegmentResult, SegmentRow, compare_segments, rank_segments
from .window import WindowState

__all__ = [
    "CBPE",
    "PREDICTION",
    "ClassificationState",
    "DriftConfig",
    "DriftReport",
    "FeatureDrift",
    "FormatError",
    "MetricRow",
    "Reference",
    "RegressionState",
    "Rule",
    "SegmentResult",
    "SegmentRow",
    "TestResult",
    "WindowState",
    "classification_metrics",
    "compare",
    "compare_configured",
    "compare_segments",
    "rank_segments",
    "regression_metrics",
]
