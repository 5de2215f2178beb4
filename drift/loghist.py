"""Deterministic mergeable histogram over fixed log-spaced bins (for latencies in ms).

Bins are fixed for every histogram: an underflow bin ``[0, LOWEST)``, then ``NBINS``
log-spaced bins ``[e[i], e[i + 1])`` with ``e[0] = LOWEST = 0.001`` and ``e[i + 1] = e[i] *
GAMMA`` (``GAMMA = 1.01``, so each bin is 1 % wide relative to its lower edge), up to the first
edge at or above ``HIGHEST = 3.6e6`` (one hour in ms), and an overflow bin above that. The
edges are built by repeated IEEE multiplication, which is correctly rounded, so every platform
puts every value in the same bin. State is the integer count per bin plus the exact count,
minimum and maximum, so merging is addition (and min/max): any split of a stream, merged in
any order, gives the same histogram bit for bit.

Rank definition: ``quantile(q)`` estimates the lower quantile of the empirical distribution
(``numpy.quantile(x, q, method="inverted_cdf")``): the ``r``-th smallest value with
``r = max(1, ceil(q * n))``. The histogram finds the bin holding that value exactly and
reports the bin's geometric midpoint ``sqrt(e[i] * e[i + 1])``, clamped to ``[min, max]``;
ranks 1 and ``n`` report the exact minimum and maximum.

Error bound: for a value in ``[LOWEST, HIGHEST)`` the relative error is at most
``RELATIVE_ERROR = sqrt(GAMMA) - 1`` (≈ 0.499 %). In the underflow bin the absolute error is
below ``LOWEST`` (0.001 ms); in the overflow bin (beyond one hour) the estimate is the maximum.

Examples
--------
>>> h = LogHistogram()
>>> h.update([1.0, 2.0, 3.0, 4.0, 100.0])
>>> other = LogHistogram()
>>> other.update([5.0])
>>> h.merge(other)
>>> h.n, h.min, h.max
(6, 1.0, 100.0)
>>> abs(h.quantile(0.5) - 3.0) / 3.0 <= RELATIVE_ERROR
True
>>> LogHistogram.from_dict(h.to_dict()) == h
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _codec

#: Lower edge of the first log-spaced bin (ms); smaller values go to the underflow bin.
LOWEST = 0.001
#: Ratio of consecutive bin edges.
GAMMA = 1.01
#: Values at or above the last edge (the first one ≥ HIGHEST) go to the overflow bin.
HIGHEST = 3.6e6
#: Largest relative error of a quantile whose value lies in ``[LOWEST, HIGHEST)``.
RELATIVE_ERROR = math.sqrt(GAMMA) - 1.0


def _edges() -> npt.NDArray[np.float64]:
    edges = [LOWEST]
    while edges[-1] < HIGHEST:
        edges.append(edges[-1] * GAMMA)
    return np.array(edges, dtype=np.float64)


_EDGES = _edges()
#: Number of log-spaced bins (the underflow and overflow bins come on top).
NBINS = len(_EDGES) - 1
_SLOTS = NBINS + 2  # slot 0: underflow, 1..NBINS: log bins, NBINS + 1: overflow


class LogHistogram:
    """Counts of non-negative values over the fixed log-spaced bins of this module.

    ``n`` is the number of values, ``min``/``max`` their exact extremes (NaN when empty).

    Examples
    --------
    >>> h = LogHistogram()
    >>> h.is_empty()
    True
    >>> h.update(np.array([0.0, 10.0, 20.0]))
    >>> h.quantiles([0.0, 1.0])
    [0.0, 20.0]
    """

    __slots__ = ("counts", "max", "min", "n")

    def __init__(self) -> None:
        self.counts: npt.NDArray[np.int64] = np.zeros(_SLOTS, dtype=np.int64)
        self.n = 0
        self.min = math.nan
        self.max = math.nan

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogHistogram):
            return NotImplemented
        return (self.n == other.n and np.array_equal(self.counts, other.counts)
                and (self.n == 0 or (self.min, self.max) == (other.min, other.max)))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LogHistogram(n={self.n}, min={self.min}, max={self.max})"

    def is_empty(self) -> bool:
        """True when no value was added."""
        return self.n == 0

    def update(self, values: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> None:
        """Add values (finite, ≥ 0); ``weights`` (non-negative integers) repeat each value.

        Raises
        ------
        ValueError
            If a value is negative, NaN or infinite, or a weight is negative or not whole.

        Examples
        --------
        >>> h = LogHistogram()
        >>> h.update([2.0, 3.0], weights=[3, 1])
        >>> h.n
        4
        >>> h.update([-1.0])
        Traceback (most recent call last):
        ...
        ValueError: latency values must be finite and >= 0 (got -1.0)
        """
        try:
            x = np.asarray(values, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"latency values must be numbers: {exc}") from exc
        bad = ~(np.isfinite(x) & (x >= 0))
        if bad.any():
            raise ValueError(f"latency values must be finite and >= 0 (got {float(x[bad][0])!r})")
        if weights is None:
            w = np.ones(x.size, dtype=np.int64)
        else:
            wf = np.asarray(weights, dtype=np.float64).ravel()
            if wf.size != x.size or (wf < 0).any() or (wf != np.floor(wf)).any():
                raise ValueError("weights must be whole numbers >= 0, one per value")
            w = wf.astype(np.int64)
            x, w = x[w > 0], w[w > 0]
        if not x.size:
            return
        slots = np.searchsorted(_EDGES, x, side="right")  # 0 below LOWEST, NBINS + 1 above
        self.counts += np.bincount(slots, weights=w, minlength=_SLOTS).astype(np.int64)
        self.n += int(w.sum())
        lo, hi = float(x.min()), float(x.max())
        self.min = lo if math.isnan(self.min) else min(self.min, lo)
        self.max = hi if math.isnan(self.max) else max(self.max, hi)

    def merge(self, other: LogHistogram) -> None:
        """Add ``other`` into this histogram (exact: counts add, extremes combine)."""
        if not isinstance(other, LogHistogram):
            raise TypeError(f"cannot merge {type(other).__name__} into a LogHistogram")
        if other.n == 0:
            return
        self.counts += other.counts
        self.min = other.min if self.n == 0 else min(self.min, other.min)
        self.max = other.max if self.n == 0 else max(self.max, other.max)
        self.n += other.n

    def quantile(self, q: float) -> float:
        """Estimate of the ``q``-quantile (see the module's rank definition and error bound).

        Examples
        --------
        >>> h = LogHistogram()
        >>> h.update(np.arange(1.0, 101.0))
        >>> round(h.quantile(0.95), 2)  # the 95th smallest value is 95.0
        94.64
        >>> abs(h.quantile(0.95) - 95.0) / 95.0 <= RELATIVE_ERROR
        True
        """
        return self.quantiles([q])[0]

    def quantiles(self, qs: Iterable[float]) -> list[float]:
        """Estimates of several quantiles, in the order given."""
        qs = [float(q) for q in qs]
        if any(not 0.0 <= q <= 1.0 for q in qs):
            raise ValueError(f"quantile levels must lie in [0, 1] (got {qs})")
        if self.n == 0:
            raise ValueError("the histogram is empty: no quantile")
        cumulative = np.cumsum(self.counts)
        out = []
        for q in qs:
            rank = min(self.n, max(1, math.ceil(q * self.n)))
            slot = int(np.searchsorted(cumulative, rank, side="left"))
            if rank == 1:
                estimate = self.min
            elif rank == self.n:
                estimate = self.max
            elif slot == 0:
                estimate = 0.0
            elif slot == _SLOTS - 1:
                estimate = self.max
            else:
                estimate = math.sqrt(float(_EDGES[slot - 1]) * float(_EDGES[slot]))
            out.append(min(self.max, max(self.min, estimate)))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Sparse msgpack-able form: occupied slot indices and their counts, n, min, max."""
        occupied = np.flatnonzero(self.counts)
        return {"i": occupied.astype("<u2").tobytes(),
                "c": _codec.encode_counts(self.counts[occupied]),
                "n": self.n, "min": self.min, "max": self.max}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogHistogram:
        """Inverse of :meth:`to_dict`; raises :class:`ValueError` on an inconsistent payload."""
        try:
            slots = np.frombuffer(d["i"], dtype="<u2").astype(np.int64)
            counts = _codec.decode_array(d["c"], np.int64)
            n, lo, hi = int(d["n"]), float(d["min"]), float(d["max"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _codec.FormatError(f"corrupt latency histogram: {exc!r}") from exc
        if (slots.size != counts.size or (slots >= _SLOTS).any()
                or int(counts.sum()) != n or (n > 0 and not lo <= hi)):
            raise _codec.FormatError("corrupt latency histogram: inconsistent counts or extremes")
        h = cls()
        h.counts[slots] = counts
        h.n, h.min, h.max = n, lo, hi
        return h
