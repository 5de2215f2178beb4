"""Page-Hinkley: a CUSUM test on the deviations from the running mean of a stream."""

from __future__ import annotations

import math
from typing import Any, Literal, Self

from ._base import (
    DriftDetector,
    StateReader,
    check_float,
    check_int,
    encode_float,
    numeric_input,
)

Mode = Literal["up", "down", "both"]
_MODES: tuple[Mode, ...] = ("up", "down", "both")


class PageHinkley(DriftDetector):
    """Page-Hinkley drift detector, alarm for alarm the same as ``river.drift.PageHinkley``.

    It accumulates the deviations of each value from the running mean, with a fading factor
    ``alpha`` and a tolerance ``delta``; a drift is signalled when the cumulative sum rises
    (``mode="up"``), falls (``"down"``) or does either (``"both"``) by more than ``threshold``
    from its extreme so far. No warnings. The detector starts afresh after a drift.

    Parameters
    ----------
    min_instances
        Values to see before a drift may be signalled.
    delta
        Magnitude of change tolerated per value.
    threshold
        Change detection threshold (lambda).
    alpha
        Fading factor of the cumulative sums, in (0, 1].
    mode
        ``"up"``, ``"down"`` or ``"both"``: which direction of change in the mean to watch.

    Examples
    --------
    >>> import random
    >>> from infersight.drift.detectors import PageHinkley
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> ph = PageHinkley()
    >>> for i, x in enumerate(stream):
    ...     if ph.update(x).drift_detected:
    ...         print(f"drift at index {i}, value {x}")
    drift at index 1006, value 5
    """

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: Mode = "both",
    ) -> None:
        super().__init__()
        self.min_instances = check_int(min_instances, "min_instances", 0)
        self.delta = check_float(delta, "delta")
        self.threshold = check_float(threshold, "threshold")
        self.alpha = check_float(alpha, "alpha", low=0.0, high=1.0, low_open=True)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {', '.join(_MODES)}; got {mode!r}")
        self.mode: Mode = mode
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._n = 0.0
        self._mean = 0.0
        self._sum_increase = 0.0
        self._sum_decrease = 0.0
        self._min_increase = math.inf
        self._max_decrease = -1.0

    def update(self, x: float) -> Self:
        """Feed one value.

        Parameters
        ----------
        x
            A finite number.

        Returns
        -------
        PageHinkley
            The detector itself; read ``drift_detected`` for the outcome.
        """
        value = numeric_input(x, "PageHinkley")
        if self._drift_detected:
            self._reset()
        self._n += 1.0
        self._mean += (1.0 / self._n) * (value - self._mean)
        deviation = value - self._mean
        self._sum_increase = self.alpha * self._sum_increase + deviation - self.delta
        self._sum_decrease = self.alpha * self._sum_decrease + deviation + self.delta
        self._min_increase = min(self._min_increase, self._sum_increase)
        self._max_decrease = max(self._max_decrease, self._sum_decrease)
        if self._n >= self.min_instances:
            rise = self._sum_increase - self._min_increase
            fall = self._max_decrease - self._sum_decrease
            if self.mode == "up":
                self._drift_detected = rise > self.threshold
            elif self.mode == "down":
                self._drift_detected = fall > self.threshold
            else:
                self._drift_detected = rise > self.threshold or fall > self.threshold
        return self

    def _params(self) -> dict[str, Any]:
        return {
            "min_instances": self.min_instances,
            "delta": self.delta,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "mode": self.mode,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "mean": self._mean,
            "sum_increase": self._sum_increase,
            "sum_decrease": self._sum_decrease,
            "min_increase": encode_float(self._min_increase),
            "max_decrease": self._max_decrease,
        }

    def _load_state(self, state: StateReader) -> None:
        self._n = state.read_float("n")
        self._mean = state.read_float("mean")
        self._sum_increase = state.read_float("sum_increase")
        self._sum_decrease = state.read_float("sum_decrease")
        self._min_increase = state.read_float("min_increase", finite=False)
        self._max_decrease = state.read_float("max_decrease")
