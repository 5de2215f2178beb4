"""Streaming concept-drift detectors with river's parameters and alarms, serialisable as JSON.

>>> from infersight.drift.detectors import DDM
>>> d = DDM()
>>> d.update(0) is d, d.drift_detected, d.warning_detected
(True, False, False)

``to_dict()`` gives a JSON-safe state; ``DriftDetector.from_dict()`` rebuilds any detector from
it, and the rebuilt detector continues exactly where the original stopped:

>>> import json
>>> from infersight.drift.detectors import DriftDetector
>>> restored = DriftDetector.from_dict(json.loads(json.dumps(d.to_dict())))
>>> type(restored).__name__, restored.to_dict() == d.to_dict()
('DDM', True)
"""

from __future__ import annotations

from ._base import DriftAndWarningDetector, DriftDetector
from .adwin import ADWIN
from .ddm import DDM
from .eddm import EDDM
from .evaluation import DetectionReport, alarm_positions, evaluate, match_alarms
from .page_hinkley import PageHinkley

__all__ = [
    "ADWIN",
    "DDM",
    "EDDM",
    "DetectionReport",
    "DriftAndWarningDetector",
    "DriftDetector",
    "PageHinkley",
    "alarm_positions",
    "evaluate",
    "match_alarms",
]
