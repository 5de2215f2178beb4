"""Evidence pooled over a rule's latest windows: a fixed-effect (inverse-variance) estimate.

A drop of one standard error per window is invisible in any single window and plain over
twelve; a collapse is plain in one. A significance rule therefore tests its metric over the
latest ``h`` qualifying windows pooled, for each horizon ``h`` of its ``evidence_windows``.
With ``gapᵢ`` how much worse window ``i`` is than its baseline, ``seᵢ`` its standard error and
``se_bᵢ`` the baseline's when the baseline is a metric of the same window::

    wᵢ        = 1 / (seᵢ² + se_bᵢ²)
    gap       = Σ wᵢ gapᵢ / Σ wᵢ
    se(gap)   = √(1 / Σ wᵢ + se_ref²)     se_ref: the version reference's standard error, which
    z         = gap / se(gap)               every window shares, so it is counted once

This is Stouffer's weighted combination of the windows' z-scores (weights ``1/seᵢ``) when
there is no shared reference error; a shared reference error, unlike the windows' own,
does not shrink with more windows, so a biased reference cannot fire a rule by accumulation.

>>> windows = [Observation(value=0.86, stderr=0.01, limit=0.88, baseline=0.89),
...            Observation(value=0.87, stderr=0.01, limit=0.88, baseline=0.89)]
>>> evidence = pool(windows, worse=lambda v, b: b - v, reference_stderr=0.004)
>>> round(evidence.value, 3), round(evidence.z, 2), evidence.windows
(0.865, 3.08, 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

_TINY_VARIANCE = 1e-24
"""Floor of a window's variance: a zero standard error takes all the weight, not a NaN."""


@dataclass(frozen=True)
class Observation:
    """One qualifying window of the judged metric, with what its verdict compares."""

    value: float
    stderr: float
    limit: float
    """The threshold resolved against the baseline (the minimum effect's line)."""
    baseline: float
    """The reference value, or the same window's ``reference_metric``."""
    baseline_stderr: float = 0.0
    """The baseline's standard error when it is a metric of this window (else 0)."""
    sample_size: int = 0
    window_start: datetime | None = None
    window_end: datetime | None = None


@dataclass(frozen=True)
class Pooled:
    """The pooled evidence of the latest ``windows`` observations."""

    windows: int
    sample_size: int
    """Rows over the pooled windows."""
    value: float
    """Inverse-variance weighted mean of the windows' values."""
    value_stderr: float
    """Standard error of ``value``."""
    limit: float
    """The threshold, weighted like ``value`` (the same number for a version reference)."""
    baseline: float
    gap: float
    """How much worse than the baseline (positive: worse)."""
    stderr: float
    """Standard error of ``gap``, the shared reference's included."""
    z: float

    @property
    def interval(self) -> tuple[float, float]:
        """The 95 % interval of ``value``."""
        half = 1.959963984540054 * self.value_stderr
        return (self.value - half, self.value + half)


def pool(
    observations: Sequence[Observation],
    *,
    worse: Callable[[float, float], float],
    reference_stderr: float = 0.0,
) -> Pooled:
    """Pool ``observations`` (at least one); ``worse(value, baseline)`` is the signed gap,
    positive when the value is worse (``baseline - value`` for ``<`` rules)."""
    if not observations:
        raise ValueError("pool needs at least one observation")
    weights = [1.0 / max(o.stderr**2 + o.baseline_stderr**2, _TINY_VARIANCE)
               for o in observations]
    total = math.fsum(weights)

    def mean(values: Sequence[float]) -> float:
        if all(v == values[0] for v in values):  # a version reference: exactly itself
            return values[0]
        return math.fsum(w * v for w, v in zip(weights, values, strict=True)) / total

    value = mean([o.value for o in observations])
    value_variance = math.fsum(
        w * w * o.stderr**2 for w, o in zip(weights, observations, strict=True)) / total**2
    gap = mean([worse(o.value, o.baseline) for o in observations])
    stderr = math.sqrt(1.0 / total + reference_stderr**2)  # > 0: variances are floored
    z = gap / stderr
    return Pooled(
        windows=len(observations),
        sample_size=sum(o.sample_size for o in observations),
        value=value,
        value_stderr=math.sqrt(value_variance),
        limit=mean([o.limit for o in observations]),
        baseline=mean([o.baseline for o in observations]),
        gap=gap,
        stderr=stderr,
        z=z,
    )
