"""EDDM: the early drift detection method of Baena-García et al. (2006) on an error stream."""

from __future__ import annotations

from typing import Any, Self

from ._base import DriftAndWarningDetector, StateReader, binary_input, check_float, check_int


class EDDM(DriftAndWarningDetector):
    r"""Early Drift Detection Method, alarm for alarm the same as ``river.drift.binary.EDDM``.

    Input is an error stream: 1 (or True) for a wrong prediction, 0 (or False) for a right one.
    EDDM follows the distance between consecutive errors: its running mean :math:`p'_i` and
    standard deviation :math:`s'_i`. It remembers the maximum of :math:`p'_i + 2 s'_i`; once more
    than ``warm_start`` values and errors were seen, each new error compares
    :math:`(p'_i + 2 s'_i) / \max(p' + 2 s')` with ``beta`` (drift below it) and ``alpha``
    (warning below it). Errors that come closer together mean a rising error rate. As in river,
    the flags are re-evaluated at errors only, and the detector starts afresh after a drift.

    Parameters
    ----------
    warm_start
        Values, and errors, to see before a warning or drift may be signalled.
    alpha
        Warning level, in (0, 1]; must be >= ``beta``.
    beta
        Drift level, in (0, 1].

    Examples
    --------
    >>> import random
    >>> from infersight.drift.detectors import EDDM
    >>> rng = random.Random(42)
    >>> errors = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> eddm = EDDM(alpha=0.8, beta=0.75)
    >>> first_warning = None
    >>> for i, error in enumerate(errors):
    ...     _ = eddm.update(error)
    ...     if eddm.warning_detected and first_warning is None:
    ...         first_warning = i
    ...     if eddm.drift_detected:
    ...         print(f"warning from {first_warning}, drift at {i}")
    ...         first_warning = None
    warning from 1059, drift at 1278
    """

    def __init__(self, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        super().__init__()
        self.warm_start = check_int(warm_start, "warm_start", 0)
        self.alpha = check_float(alpha, "alpha", low=0.0, high=1.0, low_open=True)
        self.beta = check_float(beta, "beta", low=0.0, high=1.0, low_open=True)
        if self.alpha < self.beta:
            raise ValueError(f"alpha must be >= beta, got alpha={alpha}, beta={beta}")
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._warning_detected = False
        self._n = 0  # values seen
        self._last_error = 0  # position (1-based) of the last error
        self._n_errors = 0
        # Running mean and sum of squared deviations (Welford) of the distances between errors.
        self._distance_count = 0.0
        self._distance_mean = 0.0
        self._distance_m2 = 0.0
        self._p2s_max = -1.0

    def update(self, x: float) -> Self:
        """Feed one outcome.

        Parameters
        ----------
        x
            1 (or True) for an error, 0 (or False) for a correct prediction.

        Returns
        -------
        EDDM
            The detector itself; read ``drift_detected`` and ``warning_detected``.
        """
        error = binary_input(x, "EDDM")
        if self._drift_detected:
            self._reset()
        self._n += 1
        if error == 1.0:
            self._n_errors += 1
            self._add_distance(float(self._n - self._last_error))
            if self._n > self.warm_start:
                self._check_level()
            self._last_error = self._n
        return self

    def _add_distance(self, distance: float) -> None:
        mean_old = self._distance_mean
        self._distance_count += 1.0
        self._distance_mean += (1.0 / self._distance_count) * (distance - self._distance_mean)
        self._distance_m2 += 1.0 * (distance - mean_old) * (distance - self._distance_mean)

    def _check_level(self) -> None:
        variance = (
            self._distance_m2 / (self._distance_count - 1) if self._distance_count > 1 else 0.0
        )
        p2s = self._distance_mean + 2 * max(variance, 0.0) ** 0.5
        if p2s > self._p2s_max:
            self._p2s_max = p2s
        elif self._n_errors > self.warm_start:
            level = p2s / self._p2s_max
            if level < self.beta:
                self._drift_detected = True
            elif level < self.alpha:
                self._warning_detected = True
            else:
                self._warning_detected = False

    def _params(self) -> dict[str, Any]:
        return {"warm_start": self.warm_start, "alpha": self.alpha, "beta": self.beta}

    def _state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "last_error": self._last_error,
            "n_errors": self._n_errors,
            "distance_count": self._distance_count,
            "distance_mean": self._distance_mean,
            "distance_m2": self._distance_m2,
            "p2s_max": self._p2s_max,
        }

    def _load_state(self, state: StateReader) -> None:
        self._n = state.read_int("n")
        self._last_error = state.read_int("last_error")
        self._n_errors = state.read_int("n_errors")
        self._distance_count = state.read_float("distance_count")
        self._distance_mean = state.read_float("distance_mean")
        self._distance_m2 = state.read_float("distance_m2")
        self._p2s_max = state.read_float("p2s_max")
