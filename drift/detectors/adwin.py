"""ADWIN: adaptive windowing over a stream of numbers (Bifet & Gavaldà, 2007)."""

from __future__ import annotations

import math
from typing import Any, Self

from ._base import DriftDetector, StateReader, check_float, check_int, numeric_input


class ADWIN(DriftDetector):
    r"""Adaptive Windowing drift detector, alarm for alarm the same as ``river.drift.ADWIN``.

    ADWIN keeps a window of recent values compressed into exponential buckets (row ``i`` holds up
    to ``max_buckets`` summaries of :math:`2^i` values each). Every ``clock`` updates it checks every
    split of the window into an older part :math:`W_0` and a newer part :math:`W_1`; when their
    means differ by more than a Hoeffding-style bound that depends on ``delta``, it drops the
    oldest bucket (repeating while a split still differs) and signals a drift. Like river, the
    detector starts from an empty window on the update that follows a drift.

    The arithmetic is done in the same order as river's implementation, so window width, total,
    variance and alarm positions are identical on the same stream.

    Parameters
    ----------
    delta
        Significance value of the test, in (0, 1): smaller means fewer, surer alarms.
    clock
        Check for a change every ``clock`` updates (1 checks after every value).
    max_buckets
        Buckets of each size kept before the two oldest of that size are merged (>= 2).
    min_window_length
        Smallest size of either sub-window for a split to be tested.
    grace_period
        No split is tested until the window holds more than this many values.

    Examples
    --------
    >>> import random
    >>> from infersight.drift.detectors import ADWIN
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> adwin = ADWIN()
    >>> for i, x in enumerate(stream):
    ...     if adwin.update(x).drift_detected:
    ...         print(f"drift at index {i}, value {x}")
    drift at index 1023, value 4

    The state survives a JSON round trip and the copy carries on identically:

    >>> import json
    >>> adwin = ADWIN()
    >>> for x in stream[:1010]:
    ...     _ = adwin.update(x)
    >>> copy = ADWIN.from_dict(json.loads(json.dumps(adwin.to_dict())))
    >>> copy.width, copy.estimation == adwin.estimation
    (1010, True)
    >>> [i for i, x in enumerate(stream[1010:], 1010) if copy.update(x).drift_detected]
    [1023]
    """

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        super().__init__()
        self.delta = check_float(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
        self.clock = check_int(clock, "clock", 1)
        self.max_buckets = check_int(max_buckets, "max_buckets", 2)
        self.min_window_length = check_int(min_window_length, "min_window_length", 1)
        self.grace_period = check_int(grace_period, "grace_period", 0)
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        # Row i of the two tables holds the sums and the variance sums (sum of squared deviations
        # from the bucket mean) of buckets of 2**i values, oldest first; row 0 is the newest.
        self._totals: list[list[float]] = [[]]
        self._variances: list[list[float]] = [[]]
        self._total = 0.0
        self._variance = 0.0  # sum of squared deviations over the whole window
        self._width = 0.0
        self._tick = 0
        self._n_detections = 0

    # -- public read-outs (river's names) ---------------------------------------------------

    @property
    def width(self) -> int:
        """Number of values in the current window."""
        return int(self._width)

    @property
    def total(self) -> float:
        """Sum of the values in the current window."""
        return self._total

    @property
    def variance(self) -> float:
        """Sum of squared deviations from the mean over the window (river's ``variance``)."""
        return self._variance

    @property
    def estimation(self) -> float:
        """Mean of the current window (0.0 when empty)."""
        return self._total / self._width if self._width else 0.0

    @property
    def n_detections(self) -> int:
        """Changes detected since the window was last started afresh."""
        return self._n_detections

    # -- updates -----------------------------------------------------------------------------

    def update(self, x: float) -> Self:
        """Add one value to the window and test for a change.

        Parameters
        ----------
        x
            A finite number (bools count as 0/1).

        Returns
        -------
        ADWIN
            The detector itself; read ``drift_detected`` for the outcome.
        """
        value = numeric_input(x, "ADWIN")
        if self._drift_detected:
            self._reset()
        self._insert(value)
        self._drift_detected = self._detect_change()
        return self

    def _insert(self, value: float) -> None:
        self._totals[0].append(value)
        self._variances[0].append(0.0)
        self._width += 1.0
        increment = 0.0
        if self._width > 1.0:
            deviation = value - self._total / (self._width - 1.0)
            increment = (self._width - 1.0) * deviation * deviation / self._width
        self._variance += increment
        self._total += value
        self._compress()

    def _compress(self) -> None:
        """Merge the two oldest buckets of every row that overflowed into the next row."""
        row = 0
        while len(self._totals[row]) == self.max_buckets + 1:
            size = float(1 << row)
            totals, variances = self._totals[row], self._variances[row]
            mean_1, mean_2 = totals[0] / size, totals[1] / size
            merged_total = totals[0] + totals[1]
            merged_variance = (
                variances[0] + variances[1] + size * 0.5 * (mean_1 - mean_2) * (mean_1 - mean_2)
            )
            if row + 1 == len(self._totals):
                self._totals.append([])
                self._variances.append([])
            self._totals[row + 1].append(merged_total)
            self._variances[row + 1].append(merged_variance)
            del totals[:2], variances[:2]
            if len(self._totals[row + 1]) <= self.max_buckets:
                break
            row += 1

    def _drop_oldest_bucket(self) -> None:
        last = len(self._totals) - 1
        size = float(1 << last)
        bucket_total, bucket_variance = self._totals[last][0], self._variances[last][0]
        bucket_mean = bucket_total / size
        self._width -= size
        self._total -= bucket_total
        window_mean = self._total / self._width
        self._variance -= bucket_variance + size * self._width * (bucket_mean - window_mean) * (
            bucket_mean - window_mean
        ) / (size + self._width)
        del self._totals[last][0], self._variances[last][0]
        if not self._totals[last]:
            self._totals.pop()
            self._variances.pop()

    def _detect_change(self) -> bool:
        change_detected = False
        self._tick += 1
        if self._tick % self.clock != 0 or not self._width > self.grace_period:
            return False
        shrink = True
        while shrink:
            shrink = False
            if self._find_cut():
                self._drop_oldest_bucket()
                shrink = change_detected = True
        if change_detected:
            self._n_detections += 1
        return change_detected

    def _find_cut(self) -> bool:
        """Whether some split (older W0 | newer W1) of the window has means too far apart."""
        n0, n1, u0, u1 = 0.0, self._width, 0.0, self._total
        minimum = self.min_window_length
        for row in range(len(self._totals) - 1, -1, -1):
            size = float(1 << row)
            totals = self._totals[row]
            last = len(totals) - 1
            for k, bucket_total in enumerate(totals):
                n0 += size
                n1 -= size
                u0 += bucket_total
                u1 -= bucket_total
                if row == 0 and k == last:
                    return False
                if n1 >= minimum and n0 >= minimum and self._cut_differs(n0, n1, u0 / n0 - u1 / n1):
                    return True
        return False

    def _cut_differs(self, n0: float, n1: float, delta_mean: float) -> bool:
        delta_prime = math.log(2.0 * math.log(self._width) / self.delta)
        m_recip = 1.0 / (n0 - self.min_window_length + 1.0) + 1.0 / (
            n1 - self.min_window_length + 1.0
        )
        radicand = 2.0 * m_recip * (self._variance / self._width) * delta_prime
        if not radicand >= 0.0:  # rounding can leave a tiny negative variance: no valid bound
            return False
        epsilon = math.sqrt(radicand) + 2.0 / 3.0 * delta_prime * m_recip
        return abs(delta_mean) > epsilon

    # -- serialisation -----------------------------------------------------------------------

    def _params(self) -> dict[str, Any]:
        return {
            "delta": self.delta,
            "clock": self.clock,
            "max_buckets": self.max_buckets,
            "min_window_length": self.min_window_length,
            "grace_period": self.grace_period,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "total": self._total,
            "variance": self._variance,
            "width": int(self._width),
            "tick": self._tick,
            "n_detections": self._n_detections,
            "bucket_totals": [list(row) for row in self._totals],
            "bucket_variances": [list(row) for row in self._variances],
        }

    def _load_state(self, state: StateReader) -> None:
        totals = self._read_rows(state, "bucket_totals")
        variances = self._read_rows(state, "bucket_variances")
        width = state.read_int("width")
        if [len(row) for row in totals] != [len(row) for row in variances]:
            raise ValueError("ADWIN state: bucket_totals and bucket_variances differ in shape")
        if sum(len(row) << i for i, row in enumerate(totals)) != width:
            raise ValueError(f"ADWIN state: the buckets do not add up to width={width}")
        if totals and not totals[-1] and len(totals) > 1:
            raise ValueError("ADWIN state: the oldest bucket row is empty")
        self._totals, self._variances = totals or [[]], variances or [[]]
        self._total = state.read_float("total")
        self._variance = state.read_float("variance")
        self._width = float(width)
        self._tick = state.read_int("tick")
        self._n_detections = state.read_int("n_detections")

    def _read_rows(self, state: StateReader, key: str) -> list[list[float]]:
        rows = state.read_list(key)
        parsed: list[list[float]] = []
        for row in rows:
            if not isinstance(row, list) or len(row) > self.max_buckets:
                raise ValueError(
                    f"ADWIN state: each {key} row must be a list of at most "
                    f"max_buckets={self.max_buckets} numbers, got {row!r}"
                )
            parsed.append([state.as_float(value, key) for value in row])
        return parsed
