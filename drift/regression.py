"""Labelled performance of a regression model: mergeable exact error sums, MAE, RMSE, MAPE.

Examples
--------
>>> a, b = RegressionState(), RegressionState()
>>> a.update([1.0, 2.0], [1.5, 2.0])
>>> b.update([4.0], [3.0])
>>> a.merge(b)
>>> regression_metrics(a)["mae"]
0.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._exact_sum import exact_int_sum, exact_to_float, exact_to_floats
from .scores import finite_floats

__all__ = ["RegressionState", "regression_metrics"]


class RegressionState:
    """Mergeable labelled-outcome state of a regression model: exact error sums.

    Holds ``count``, Σ|e|, Σe² (e = y_pred - y_true) and Σ|e / y_true| over rows with
    ``y_true != 0`` (``percentage_count`` of them; ``zero_target_count`` rows with
    ``y_true == 0``, or so near 0 that the ratio overflows, are left out of it), and for the
    metrics' standard errors Σe⁴ and Σ(e / y_true)² (``None`` once a value overflows, or in
    a state written before they were kept). The sums are exact (kept as integers in units
    of 2**-1126), so merged states equal one state fed all rows, whatever the split.

    Examples
    --------
    >>> state = RegressionState()
    >>> state.update([1.0, 2.0, 0.0], [1.5, 2.0, 1.0])
    >>> copy = RegressionState.from_dict(state.to_dict())
    >>> copy.count, copy.zero_target_count, regression_metrics(copy)["mae"]
    (3, 1, 0.5)
    """

    def __init__(self) -> None:
        self.count: int = 0
        self.percentage_count: int = 0
        self.zero_target_count: int = 0
        self._absolute = 0
        self._squared = 0
        self._percentage = 0
        self._fourth: int | None = 0
        self._percentage_squared: int | None = 0

    @property
    def sum_absolute_error(self) -> float:
        return exact_to_float(self._absolute)

    @property
    def sum_squared_error(self) -> float:
        return exact_to_float(self._squared)

    @property
    def sum_absolute_percentage_error(self) -> float:
        return exact_to_float(self._percentage)

    @property
    def sum_fourth_power_error(self) -> float | None:
        """Σe⁴ (``None`` when not kept)."""
        return None if self._fourth is None else exact_to_float(self._fourth)

    @property
    def sum_squared_percentage_error(self) -> float | None:
        """Σ(e / y_true)² over the rows with ``y_true != 0`` (``None`` when not kept)."""
        return None if self._percentage_squared is None else exact_to_float(
            self._percentage_squared)

    def update(self, y_true: ArrayLike, y_pred: ArrayLike) -> None:
        """Add rows of true and predicted values (finite numbers; nothing added if bad)."""
        truth = np.ravel(finite_floats(y_true, "y_true"))
        predicted = np.ravel(finite_floats(y_pred, "y_pred"))
        if truth.shape != predicted.shape:
            raise ValueError(f"y_true has {truth.size} values but y_pred has {predicted.size}")
        with np.errstate(over="ignore"):
            error = np.abs(predicted - truth)
            squared = error * error
            ratio = error / np.where(truth == 0, 1.0, np.abs(truth))
        if not np.isfinite(squared).all():
            raise ValueError("errors too large to square in double precision (overflow)")
        nonzero = (truth != 0) & np.isfinite(ratio)  # y_true ~ 1e-308 overflows like y_true == 0
        percentage = ratio[nonzero]
        absolute, squared_sum = exact_int_sum(error), exact_int_sum(squared)
        percentage_sum = exact_int_sum(percentage)
        try:
            exact_to_float(self._squared + squared_sum)
            exact_to_float(self._percentage + percentage_sum)
        except OverflowError:
            raise ValueError("sums of errors overflow double precision") from None
        self.count += int(truth.size)
        self.percentage_count += int(nonzero.sum())
        self.zero_target_count += int(truth.size - nonzero.sum())
        self._absolute += absolute
        self._squared += squared_sum
        self._percentage += percentage_sum
        with np.errstate(over="ignore"):
            self._fourth = _add_exact(self._fourth, squared * squared)
            self._percentage_squared = _add_exact(self._percentage_squared,
                                                  percentage * percentage)

    def merge(self, other: RegressionState) -> None:
        """Add another regression state into this one (exactly)."""
        if not isinstance(other, RegressionState):
            raise TypeError(f"cannot merge {type(other).__name__} into RegressionState")
        self.count += other.count
        self.percentage_count += other.percentage_count
        self.zero_target_count += other.zero_target_count
        self._absolute += other._absolute
        self._squared += other._squared
        self._percentage += other._percentage
        self._fourth = _add_optional(self._fourth, other._fourth)
        self._percentage_squared = _add_optional(self._percentage_squared,
                                                 other._percentage_squared)

    def to_dict(self) -> dict[str, Any]:
        """A JSON- and msgpack-safe dict; each exact sum is a short list of floats."""
        data: dict[str, Any] = {
            "kind": "regression",
            "count": self.count,
            "percentage_count": self.percentage_count,
            "zero_target_count": self.zero_target_count,
            "sum_absolute_error": exact_to_floats(self._absolute),
            "sum_squared_error": exact_to_floats(self._squared),
            "sum_absolute_percentage_error": exact_to_floats(self._percentage),
        }
        if self._fourth is not None:
            data["sum_fourth_power_error"] = exact_to_floats(self._fourth)
        if self._percentage_squared is not None:
            data["sum_squared_percentage_error"] = exact_to_floats(self._percentage_squared)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegressionState:
        """Rebuild a state from :meth:`to_dict` output; ``ValueError`` if it is malformed."""
        state = cls()
        try:
            for name in ("count", "percentage_count", "zero_target_count"):
                value = data[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
                setattr(state, name, value)
            if state.percentage_count + state.zero_target_count != state.count:
                raise ValueError("percentage_count + zero_target_count must equal count")
            for key, attribute in (
                ("sum_absolute_error", "_absolute"),
                ("sum_squared_error", "_squared"),
                ("sum_absolute_percentage_error", "_percentage"),
            ):
                parts = finite_floats(data[key], key)
                total = exact_int_sum(parts) if parts.ndim == 1 else -1
                if total < 0:
                    raise ValueError(f"{key} must be a list of numbers with a non-negative sum")
                setattr(state, attribute, total)
            for key, attribute in (("sum_fourth_power_error", "_fourth"),
                                   ("sum_squared_percentage_error", "_percentage_squared")):
                kept = finite_floats(data[key], key) if key in data else None
                setattr(state, attribute, None if kept is None else exact_int_sum(kept))
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed regression state: {error!r}") from None
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegressionState):
            return NotImplemented
        return vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RegressionState(count={self.count})"


def _add_exact(total: int | None, values: np.ndarray) -> int | None:
    """``total`` plus the exact sum of ``values``; ``None`` once anything overflows."""
    if total is None or not np.isfinite(values).all():
        return None
    added = total + exact_int_sum(values)
    try:
        exact_to_float(added)
    except OverflowError:
        return None
    return added


def _add_optional(left: int | None, right: int | None) -> int | None:
    return None if left is None or right is None else left + right


def regression_metrics(state: RegressionState) -> dict[str, float]:
    """MAE, RMSE and MAPE of a regression state (empty dict when it has no rows).

    ``mape`` is a fraction (0.1 = 10 %), like scikit-learn's
    ``mean_absolute_percentage_error``, but rows with ``y_true == 0`` are left out (their
    percentage error is infinite); it is omitted when every row has ``y_true == 0``.

    Examples
    --------
    >>> state = RegressionState()
    >>> state.update([2.0, 4.0], [3.0, 1.0])
    >>> regression_metrics(state)
    {'mae': 2.0, 'rmse': 2.23606797749979, 'mape': 0.625}
    """
    if state.count == 0:
        return {}
    metrics = {
        "mae": state.sum_absolute_error / state.count,
        "rmse": math.sqrt(state.sum_squared_error / state.count),
    }
    if state.percentage_count:
        metrics["mape"] = state.sum_absolute_percentage_error / state.percentage_count
    return metrics
