"""DDM: the drift detection method of Gama et al. (2004) on a stream of prediction errors."""

from __future__ import annotations

import math
from typing import Any, Self

from ._base import (
    DriftAndWarningDetector,
    StateReader,
    binary_input,
    check_float,
    check_int,
    encode_float,
)


class DDM(DriftAndWarningDetector):
    r"""Drift Detection Method, alarm for alarm the same as ``river.drift.binary.DDM``.

    Input is an error stream: 1 (or True) for a wrong prediction, 0 (or False) for a right one.
    DDM tracks the error rate :math:`p_i` and its standard deviation
    :math:`s_i = \sqrt{p_i (1 - p_i) / i}`, remembers :math:`p_{min}, s_{min}` where
    :math:`p_i + s_i` was lowest, and after ``warm_start`` values signals a warning when
    :math:`p_i + s_i > p_{min} + w \cdot s_{min}` and a drift when
    :math:`p_i + s_i > p_{min} + d \cdot s_{min}`. The detector starts afresh after a drift.

    Parameters
    ----------
    warm_start
        Values to see before a warning or drift may be signalled.
    warning_threshold
        :math:`w` above, in standard deviations (2.0: about 95 % confidence).
    drift_threshold
        :math:`d` above, in standard deviations (3.0: about 99 % confidence).

    Examples
    --------
    >>> import random
    >>> from infersight.drift.detectors import DDM
    >>> rng = random.Random(42)
    >>> errors = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> ddm = DDM()
    >>> first_warning = None
    >>> for i, error in enumerate(errors):
    ...     _ = ddm.update(error)
    ...     if ddm.warning_detected and first_warning is None:
    ...         first_warning = i
    ...     if ddm.drift_detected:
    ...         print(f"warning from {first_warning}, drift at {i}")
    ...         first_warning = None
    warning from 1084, drift at 1334
    """

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        super().__init__()
        self.warm_start = check_int(warm_start, "warm_start", 0)
        self.warning_threshold = check_float(warning_threshold, "warning_threshold", low=0.0)
        self.drift_threshold = check_float(drift_threshold, "drift_threshold", low=0.0)
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._warning_detected = False
        self._n = 0.0
        self._error_rate = 0.0
        self._p_min = 0.0
        self._s_min = 0.0
        self._ps_min = math.inf

    @property
    def error_rate(self) -> float:
        """Share of errors since the detector last started afresh."""
        return self._error_rate

    def update(self, x: float) -> Self:
        """Feed one outcome.

        Parameters
        ----------
        x
            1 (or True) for an error, 0 (or False) for a correct prediction.

        Returns
        -------
        DDM
            The detector itself; read ``drift_detected`` and ``warning_detected``.
        """
        error = binary_input(x, "DDM")
        if self._drift_detected:
            self._reset()
        self._n += 1.0
        self._error_rate += (1.0 / self._n) * (error - self._error_rate)
        p_i, n = self._error_rate, self._n
        s_i = math.sqrt(p_i * (1 - p_i) / n)
        if n > self.warm_start:
            if p_i + s_i <= self._ps_min:
                self._p_min, self._s_min = p_i, s_i
                self._ps_min = self._p_min + self._s_min
            level = p_i + s_i
            self._warning_detected = level > self._p_min + self.warning_threshold * self._s_min
            if level > self._p_min + self.drift_threshold * self._s_min:
                self._drift_detected = True
                self._warning_detected = False
        return self

    def _params(self) -> dict[str, Any]:
        return {
            "warm_start": self.warm_start,
            "warning_threshold": self.warning_threshold,
            "drift_threshold": self.drift_threshold,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "error_rate": self._error_rate,
            "p_min": self._p_min,
            "s_min": self._s_min,
            "ps_min": encode_float(self._ps_min),
        }

    def _load_state(self, state: StateReader) -> None:
        self._n = state.read_float("n")
        self._error_rate = state.read_float("error_rate")
        self._p_min = state.read_float("p_min")
        self._s_min = state.read_float("s_min")
        self._ps_min = state.read_float("ps_min", finite=False)
