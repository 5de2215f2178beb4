"""Numeric features: reference bins and profile, mergeable window state, binned statistics.

Bins are fixed by the reference: ``FINE_BINS`` reference-quantile bins (with the deciles among
their edges) plus a bin for values equal to the reference maximum and two open-ended overflow
bins. The fine bins give KS within one fine bin's reference mass of the exact statistic and a
Wasserstein distance that is exact on discrete data; the deciles (and overflow bins) are summed
from them for PSI, JS distance, Hellinger and KL divergence.

Examples
--------
>>> import numpy as np
>>> profile = NumericProfile.from_values(np.arange(1000.0))
>>> state = profile.new_state()
>>> state.update(np.array([5.0, float("nan"), 2000.0]), profile)
>>> state.count, state.missing, int(state.counts[-1])
(3, 1, 1)
"""

from __future__ import annotations

from typing import Any, Self

import datasketches as ds
import numpy as np
import numpy.typing as npt

from . import _codec
from .binning import BinLookup
from .distances import Side

#: Number of reference-quantile bins (KS error ≤ 1/FINE_BINS on continuous data).
FINE_BINS = 500
#: A reference whose repeated values hold this share of its rows, with at most FINE_BINS
#: distinct values, is discrete: its bins are its values.
DISCRETE_SHARE = 0.9
#: Quantile bins used by PSI/JS/Hellinger/KL (deciles), plus the two overflow bins.
COARSE_BINS = 10
#: k of the reference's KLL sketch.
REFERENCE_KLL_K = 400

ArrayF = npt.NDArray[np.float64]
ArrayI = npt.NDArray[np.int64]


def _sorted_quantiles(ordered: ArrayF, probs: ArrayF) -> ArrayF:
    """``numpy.quantile(ordered, probs)`` (linear method) of already sorted values."""
    position = probs * (ordered.size - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, ordered.size - 1)
    frac = position - below
    lo, hi = ordered[below], ordered[above]
    # numpy's lerp: exact at both ends, monotone
    out: ArrayF = np.where(frac >= 0.5, hi - (hi - lo) * (1 - frac), lo + (hi - lo) * frac)
    return out


class NumericProfile:
    """Reference side of a numeric feature: bins, exact reference counts, moments, sketch."""

    def __init__(self, edges: ArrayF, ref_counts: ArrayI, bin_means: ArrayF,
                 coarse_starts: ArrayI, moments: dict[str, float], count: int, missing: int,
                 sketch: ds.kll_doubles_sketch) -> None:
        self.edges = edges                # unique reference quantiles, ascending
        self.ref_counts = ref_counts      # reference counts over the fine bins
        self.bin_means = bin_means        # mean reference value inside each fine bin (NaN if empty)
        self.coarse_starts = coarse_starts  # fine-bin index where each coarse bin starts
        self.moments = moments            # n, mean, std, min, max of the finite reference values
        self.count = count
        self.missing = missing
        self.sketch = sketch
        self._lookup: BinLookup | None = None
        if edges.size:
            self._lookup = BinLookup(np.append(edges, np.nextafter(edges[-1], np.inf)))
        self._sides: ReferenceSide | None = None

    @property
    def side(self) -> ReferenceSide:
        """What every comparison with this reference derives from its side alone (built on
        first use; a profile is never changed after it is built)."""
        if self._sides is None:
            self._sides = ReferenceSide(self)
        return self._sides

    @property
    def n_bins(self) -> int:
        """Number of fine bins (including the overflow bins)."""
        return int(self.edges.size + 2) if self.edges.size else 1

    @classmethod
    def from_values(cls, values: npt.ArrayLike, fine_bins: int = FINE_BINS) -> NumericProfile:
        """Profile a reference column (NaN/inf are counted as missing)."""
        raw = np.asarray(values, dtype=np.float64).ravel()
        finite = raw[np.isfinite(raw)]
        sketch = ds.kll_doubles_sketch(REFERENCE_KLL_K)
        if finite.size == 0:
            empty = np.zeros(0)
            return cls(empty, np.zeros(1, np.int64), np.full(1, np.nan), np.zeros(1, np.int64),
                       {"n": 0.0}, int(raw.size), int(raw.size), sketch)
        step = fine_bins // COARSE_BINS
        probs = np.linspace(0.0, 1.0, COARSE_BINS * step + 1)
        ordered = np.sort(finite)
        raw_edges = _sorted_quantiles(ordered, probs)
        edges = np.unique(raw_edges)
        values, counts = np.unique(ordered, return_counts=True)
        repeated = counts > 1
        if values.size <= fine_bins and counts[repeated].sum() >= DISCRETE_SHARE * ordered.size:
            edges = values  # discrete data: one bin per value, its mass at the bin's left edge
        elif 0 < np.count_nonzero(repeated) <= fine_bins:
            edges = np.union1d(edges, values[repeated])  # ties: each tied value starts a bin
        n_bins = edges.size + 2
        deciles = raw_edges[step:-step:step]
        deciles = deciles[deciles < edges[-1]]  # the maximum closes the last decile (np.histogram)
        starts = np.concatenate([[0, 1], np.searchsorted(edges, deciles) + 1, [n_bins - 1]])
        coarse_starts = np.unique(starts).astype(np.int64)
        search = np.append(edges, np.nextafter(edges[-1], np.inf))
        # bin j holds the values with j edges <= value: cut the sorted values at each edge
        cuts = np.concatenate([[0], np.searchsorted(ordered, search, side="left"),
                               [ordered.size]])
        ref_counts = np.diff(cuts).astype(np.int64)
        running = np.concatenate([[0.0], np.cumsum(ordered)])
        sums = running[cuts[1:]] - running[cuts[:-1]]
        with np.errstate(invalid="ignore", divide="ignore"):
            bin_means = np.where(ref_counts > 0, sums / np.maximum(ref_counts, 1), np.nan)
        sketch.update(finite)
        moments = {"n": float(finite.size), "mean": float(finite.mean()),
                   "std": float(finite.std()), "min": float(ordered[0]),
                   "max": float(ordered[-1])}
        return cls(edges, ref_counts, bin_means, coarse_starts, moments, int(raw.size),
                   int(raw.size - finite.size), sketch)

    def new_state(self) -> NumericState:
        """An empty window state over this profile's bins."""
        return NumericState(self.n_bins)

    def assign(self, finite: ArrayF) -> ArrayI:
        """Fine-bin index of each finite value."""
        if self._lookup is None:
            return np.zeros(finite.size, dtype=np.int64)
        return self._lookup.assign(finite)

    def coarse(self, fine_counts: npt.NDArray[Any]) -> ArrayF:
        """Sum fine-bin counts into the decile + overflow bins."""
        return np.add.reduceat(np.asarray(fine_counts, dtype=np.float64), self.coarse_starts)

    def max_bin_mass(self) -> float:
        """Largest reference proportion in one fine bin: the KS approximation bound."""
        total = self.ref_counts.sum()
        return float(self.ref_counts.max() / total) if total else 1.0

    def quantiles(self, probs: list[float]) -> list[float]:
        """Reference quantiles from the KLL sketch."""
        return [float(v) for v in self.sketch.get_quantiles(probs)] if not self.sketch.is_empty() else []

    def to_dict(self) -> dict[str, Any]:
        """Builtins for serialisation."""
        return {"edges": _codec.encode_floats(self.edges),
                "ref_counts": _codec.encode_counts(self.ref_counts),
                "bin_means": _codec.encode_floats(self.bin_means),
                "coarse_starts": _codec.encode_counts(self.coarse_starts),
                "moments": self.moments, "count": self.count, "missing": self.missing,
                "sketch": self.sketch.serialize()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NumericProfile:
        """Inverse of :meth:`to_dict`."""
        return cls(_codec.decode_array(d["edges"], np.float64),
                   _codec.decode_array(d["ref_counts"], np.int64),
                   _codec.decode_array(d["bin_means"], np.float64),
                   _codec.decode_array(d["coarse_starts"], np.int64),
                   {str(k): float(v) for k, v in d["moments"].items()}, int(d["count"]),
                   int(d["missing"]), ds.kll_doubles_sketch.deserialize(bytes(d["sketch"])))


class ReferenceSide:
    """The reference's half of :func:`wasserstein_binned`, the KS statistic and the coarse
    distances, computed once per profile instead of once per comparison (the same floats)."""

    def __init__(self, profile: NumericProfile) -> None:
        counts = profile.ref_counts
        self.total = int(counts.sum())
        self.coarse = Side(profile.coarse(counts)) if self.total else None
        """Coarse-bin side of ``all_distances`` (None for an empty reference)."""
        as_float = np.asarray(counts, dtype=np.float64)
        self.cdf: ArrayF = np.cumsum(as_float) / as_float.sum() if self.total else as_float
        """Reference CDF at the fine-bin boundaries (KS)."""
        edges, size = profile.edges, profile.edges.size
        if not self.total:
            return  # nothing to compare with: wasserstein_binned and compare stop first
        self.proportions: ArrayF = counts / counts.sum()
        self.cumulative: ArrayF = np.cumsum(self.proportions)
        if size <= 1:
            return
        lo, hi = edges[:-1], edges[1:]
        self.width: ArrayF = hi - lo
        self.interior: ArrayF = self.proportions[1:size]
        means = profile.bin_means[1:size]
        self.means: ArrayF = np.where(np.isnan(means), 0.5 * (lo + hi), means)
        self.mass_term: ArrayF = self.interior * (hi - self.means)
        on_edge = profile.bin_means[1 : size + 1] == edges
        repeated = on_edge & (counts[1 : size + 1] > 1)
        discrete = counts[1 : size + 1][repeated].sum() >= DISCRETE_SHARE * counts.sum()
        self.atom = (on_edge if discrete else repeated)[:-1]


class NumericState:
    """Window side of a numeric feature; merges exactly by addition (moments by Chan's formula).

    ``count`` is every row seen, ``missing`` the None/NaN ones, ``invalid`` the infinite or
    non-numeric ones; the statistics use the remaining ``n`` finite values.
    """

    def __init__(self, n_bins: int) -> None:
        self.counts = np.zeros(n_bins, dtype=np.int64)
        self._n = 0
        self.count = 0
        self.missing = 0
        self.invalid = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = np.inf
        self.max = -np.inf
        # sums of the values below the reference minimum, in the first and the last interior
        # bins (the widest ones on long-tailed data), and above the reference maximum
        self.tail_sums = np.zeros(4, dtype=np.float64)

    @property
    def n(self) -> int:
        """Number of finite values."""
        return self._n

    def update(self, values: ArrayF, profile: NumericProfile, invalid: int = 0) -> None:
        """Add a column of float64 values (NaN = missing, ±inf = invalid).

        ``invalid``: how many of the NaN values stand for non-numbers (counted as invalid).
        """
        size = int(values.size)
        self.count += size
        finite_mask = np.isfinite(values)
        n_finite = int(np.count_nonzero(finite_mask))
        x = values if n_finite == size else values[finite_mask]
        if n_finite < size:
            nan = int(np.count_nonzero(np.isnan(values)))
            self.missing += nan - invalid
            self.invalid += size - n_finite - nan + invalid
        if n_finite == 0:
            return
        idx = profile.assign(x)
        nb = self.counts.size
        self.counts += np.bincount(idx, minlength=nb)
        sums = np.bincount(idx, weights=x, minlength=nb)
        if nb >= 3:
            self.tail_sums += sums[[0, 1, nb - 3, nb - 1]]
        bmean = float(sums.sum()) / n_finite
        deviation = x - bmean
        bm2 = float(np.dot(deviation, deviation))
        self._combine(n_finite, bmean, bm2, float(np.minimum.reduce(x)),
                      float(np.maximum.reduce(x)), self._n)
        self._n += n_finite

    def _combine(self, nb: int, mb: float, m2b: float, lo: float, hi: float, na: int) -> None:
        total = na + nb
        delta = mb - self.mean
        self.mean += delta * nb / total
        self.m2 += m2b + delta * delta * na * nb / total
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)

    def merge(self, other: NumericState) -> None:
        """Add another state over the same bins into this one."""
        counts = other.counts
        if counts.size != self.counts.size:
            raise ValueError("cannot merge numeric states over different bins")
        na, nb = self._n, other._n
        self.counts += counts
        self._n = na + nb
        self.count += other.count
        self.missing += other.missing
        self.invalid += other.invalid
        self.tail_sums += other.tail_sums
        if nb:
            if na:
                self._combine(nb, other.mean, other.m2, other.min, other.max, na)
            else:
                self.mean, self.m2 = other.mean, other.m2
                self.min, self.max = other.min, other.max

    @property
    def std(self) -> float:
        """Population standard deviation of the finite values (NaN when empty)."""
        n = self.n
        return float(np.sqrt(self.m2 / n)) if n else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Builtins for serialisation (compact: counts in the narrowest integer type)."""
        d: dict[str, Any] = {"c": _codec.encode_counts(self.counts), "count": self.count,
                             "missing": self.missing, "invalid": self.invalid}
        if self.n:
            d.update(mean=self.mean, m2=self.m2, min=self.min, max=self.max,
                     tails=self.tail_sums.tolist())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        state = cls.__new__(cls)  # every field set below: no arrays allocated to be replaced
        state.counts = _codec.decode_array(d["c"], np.int64)  # a fresh, writable copy
        state._n = int(np.add.reduce(state.counts))
        state.count, state.missing, state.invalid = int(d["count"]), int(d["missing"]), int(d["invalid"])
        if "mean" in d:  # a state written before the window sketch went also holds a "kll"
            state.mean, state.m2 = float(d["mean"]), float(d["m2"])
            state.min, state.max = float(d["min"]), float(d["max"])
            state.tail_sums = np.array(d["tails"], dtype=np.float64)
        else:
            state.mean, state.m2, state.min, state.max = 0.0, 0.0, np.inf, -np.inf
            state.tail_sums = np.zeros(4, dtype=np.float64)
        return state


def wasserstein_binned(profile: NumericProfile, state: NumericState) -> float:
    """Wasserstein-1 distance between the window and the reference, from the fine bins.

    ``W1 = ∫ |F_cur(x) - F_ref(x)| dx``. Outside the reference range and in the first and last
    interior bins the window's exact sums are used; inside the other bins the window's values
    are taken to be spread like the reference's. Exact on discrete data and whenever the two
    CDFs do not cross inside a bin (a tied or discrete value starts a bin of its own); see
    docs/statistics.md for the measured accuracy.
    """
    n = state.n
    side = profile.side
    edges = profile.edges
    if n == 0 or side.total == 0:
        return float("nan")
    counts = state.counts
    pc = counts / n
    below, first, last, above = state.tail_sums.tolist()
    total = (counts[0] * edges[0] - below) / n + (above - counts[-1] * edges[-1]) / n
    size = edges.size
    if size > 1:
        a = (np.cumsum(pc) - side.cumulative)[: size - 1]  # F_cur - F_ref at each bin's left edge
        lo, hi = edges[:-1], edges[1:]
        width = side.width
        pcb, prb = pc[1:size], side.interior
        ref_means = side.means
        cur_means = ref_means.copy()
        if counts[1]:
            cur_means[0] = first / counts[1]
        if counts[size - 1]:
            cur_means[-1] = last / counts[size - 1]
        # ∫ over the bin of (F_cur - F_ref), using ∫ F(x) dx over [lo, hi] = p·(hi - mean)
        signed = a * width + pcb * (hi - cur_means) - side.mass_term
        b = pcb - prb
        # A bin whose mass (on both sides) sits at its left edge — discrete data: every value
        # is an edge — has F_cur - F_ref = a + b across the whole bin, so |signed| is exact
        # even when the CDFs cross; otherwise a crossing is taken to be linear within the bin.
        # ``side.atom``: bins (the maximum's included) whose reference values all equal their
        # left edge; on discrete data a value seen once is a point mass too, elsewhere it is a
        # sample.
        at_left_edge = side.atom & ((pcb == 0) | (cur_means == lo))
        no_crossing = (a * (a + b) >= 0) | at_left_edge
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing = width * (a * a + (a + b) ** 2) / (2.0 * np.abs(b))
        total += float(np.sum(np.where(no_crossing, np.abs(signed), crossing)))
    return float(total)
