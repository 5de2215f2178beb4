"""Embedding features: a fixed-length vector of floats per row (a prompt, document or image
embedding), monitored as one feature.

Reference side (:class:`EmbeddingProfile`, fitted once at reference upload): the dimension,
the reference mean vector, the root of the total variance (the scale of distances), and the
top :data:`COMPONENTS` principal components (eigenvectors of the covariance of a seeded half of
the reference, sign fixed so that each one's largest loading is positive), each with a
:class:`~infersight.drift.numeric.NumericProfile` of the *other* half's projections onto it
(:data:`COMPONENT_BINS` reference-quantile bins plus overflow bins): projections of the rows a
component was fitted on are spread wider than those of new rows, which would read as drift.

Window side (:class:`EmbeddingState`): the row count, the exact per-dimension sums (for the
mean: integers in units of 2**-1126, so any split of a window merges to the same state bit for
bit) and, per component, the counts of the window's projections over the reference bins.
Nothing grows with the number of rows: a 384-dimension embedding's state is about 20 KB.

Metrics (:meth:`EmbeddingProfile.metrics`):

- ``embedding_mean_distance``: ``‖mean_window - mean_reference‖ / sqrt(trace(Σ_reference))``,
  the distance between the means in units of the reference's spread (about
  ``sqrt(1/n + 1/m)`` without drift, for ``n`` window and ``m`` reference rows);
- ``embedding_mean_cosine_distance``: ``1 - cos(mean_window, mean_reference)``;
- ``embedding_drifted_components``: the share of components whose binned KS test (as for a
  numeric feature) rejects at :data:`SIGNIFICANCE` after Benjamini-Hochberg over the components;
- ``embedding_drift``: 1 when the Benjamini-Hochberg (Simes) global test over the
  components rejects at :data:`DECISION_SIGNIFICANCE`, i.e. some component's adjusted p-value
  is below it, else 0: the feature's drift decision, which joins the dataset
  ``drift_share``. Under no drift it is wrong at most once in 1,000 windows, the alert
  budget; a shift confined to the few components that carry the change (a topic mix moving
  between four topics lives in three) is still caught.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> profile = EmbeddingProfile.fit(rng.normal(size=(4000, 32)))
>>> state = profile.new_state()
>>> state.update(rng.normal(size=(500, 32)), profile)
>>> m = profile.metrics(state)
>>> m["embedding_drift"], m["embedding_mean_distance"] < 0.1
(0.0, True)
>>> moved = profile.new_state()
>>> moved.update(rng.normal(size=(500, 32)) + 0.5 * profile.components[0], profile)
>>> profile.metrics(moved)["embedding_drift"]
1.0
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt

from . import _codec
from ._exact_sum import exact_column_sums, exact_to_float, pack_exact, unpack_exact
from .numeric import NumericProfile
from .stattests import benjamini_hochberg, ks_pvalues, ks_statistic_binned

COMPONENTS = 16
"""Principal components tested per embedding (fewer when the dimension or the reference is
smaller)."""
COMPONENT_BINS = 100
"""Reference-quantile bins per component (KS within 1 % of the exact statistic)."""
SIGNIFICANCE = 0.05
"""Level of the per-component tests, after Benjamini-Hochberg over the components."""
DECISION_SIGNIFICANCE = 0.001
"""Level of the embedding's drift decision (the global test over its components)."""
MAX_DIMENSION = 4096
"""Longest accepted vector."""
FIT_ROWS = 50_000
"""Reference rows used to fit the components (a seeded sample beyond that)."""

ArrayF = npt.NDArray[np.float64]


class EmbeddingProfile:
    """Reference side of one embedding feature."""

    def __init__(self, mean: ArrayF, scale: float, components: ArrayF,
                 projections: list[NumericProfile], count: int) -> None:
        self.mean = mean
        self.scale = scale
        self.components = components
        self.projections = projections
        self.count = count

    @property
    def dimension(self) -> int:
        return int(self.mean.size)

    @classmethod
    def fit(cls, vectors: npt.ArrayLike, seed: int = 0) -> EmbeddingProfile:
        """Fit on the reference's vectors (``rows by dimension``, finite values): the mean on
        every row, the components on a seeded half of them (at most :data:`FIT_ROWS`), the
        reference's projection bins on the other half."""
        matrix = np.asarray(vectors, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] < 2 or not 1 <= matrix.shape[1] <= MAX_DIMENSION:
            raise ValueError(f"an embedding reference needs at least 2 vectors of 1 to "
                             f"{MAX_DIMENSION} components, got shape {matrix.shape}")
        if not np.isfinite(matrix).all():
            raise ValueError("embedding vectors must hold finite numbers only")
        order = np.random.default_rng(seed).permutation(matrix.shape[0])
        half = matrix.shape[0] // 2
        rows, held_out = matrix[np.sort(order[:half][:FIT_ROWS])], matrix[np.sort(order[half:])]
        mean = matrix.mean(axis=0)
        centred = rows - rows.mean(axis=0)
        covariance = centred.T @ centred / max(rows.shape[0] - 1, 1)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        keep = min(COMPONENTS, matrix.shape[1], max(rows.shape[0] - 1, 1))
        components = eigenvectors[:, ::-1][:, :keep].T.copy()
        largest = np.argmax(np.abs(components), axis=1)
        components *= np.sign(components[np.arange(keep), largest])[:, None]
        scale = float(np.sqrt(max(float(np.sum(eigenvalues)), 0.0)))
        # The reference's projections come from the rows the components were NOT fitted on:
        # on its own fitting rows a component's spread is inflated (it is the direction of
        # largest sample variance), which new data from the same distribution does not share.
        projected = (held_out - mean) @ components.T
        profiles = [NumericProfile.from_values(projected[:, k], fine_bins=COMPONENT_BINS)
                    for k in range(keep)]
        return cls(mean, scale, components, profiles, int(matrix.shape[0]))

    def new_state(self) -> EmbeddingState:
        return EmbeddingState(self.dimension, [p.n_bins for p in self.projections])

    def project(self, vectors: ArrayF) -> ArrayF:
        """Coordinates of ``vectors`` on the components (``rows by components``)."""
        return (vectors - self.mean) @ self.components.T

    def metrics(self, state: EmbeddingState) -> dict[str, float]:
        """The window's embedding metrics: ``count`` and ``missing_rate`` (None, and invalid
        values) with every row, the drift metrics once a vector is valid."""
        if state.count == 0:
            return {}
        rates = {"count": float(state.count),
                 "missing_rate": (state.missing + state.invalid) / state.count}
        if state.n == 0:
            return rates
        window_mean = state.mean()
        gap = float(np.linalg.norm(window_mean - self.mean))
        norms = float(np.linalg.norm(window_mean)) * float(np.linalg.norm(self.mean))
        cosine = float(window_mean @ self.mean) / norms if norms > 0 else 1.0
        adjusted = self.component_pvalues(state)
        return {
            **rates,
            "embedding_mean_distance": gap / self.scale if self.scale > 0 else gap,
            "embedding_mean_cosine_distance": 1.0 - cosine,
            "embedding_drifted_components": float(np.mean(adjusted < SIGNIFICANCE))
            if adjusted.size else 0.0,
            "embedding_drift": float(bool(adjusted.size)
                                     and float(adjusted.min()) < DECISION_SIGNIFICANCE),
        }

    def component_pvalues(self, state: EmbeddingState) -> ArrayF:
        """Each component's binned KS p-value, Benjamini-Hochberg adjusted."""
        if not self.projections or state.n == 0:
            return np.zeros(0)
        statistics = [ks_statistic_binned(counts, profile.ref_counts)
                      for counts, profile in zip(state.counts, self.projections, strict=True)]
        raw = ks_pvalues(statistics, [state.n] * len(statistics),
                         [int(p.ref_counts.sum()) for p in self.projections])
        return benjamini_hochberg(raw)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": _codec.encode_floats(self.mean), "scale": self.scale,
                "components": _codec.encode_floats(self.components.ravel()),
                "projections": [p.to_dict() for p in self.projections], "count": self.count}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EmbeddingProfile:
        mean = _codec.decode_array(d["mean"], np.float64)
        components = _codec.decode_array(d["components"], np.float64).reshape(-1, mean.size)
        return cls(mean, float(d["scale"]), components,
                   [NumericProfile.from_dict(p) for p in d["projections"]], int(d["count"]))


def as_vector(value: Any) -> ArrayF | None:
    """A feature value as a 1-D float vector (a list, tuple or array of numbers), else None.

    >>> as_vector([0.5, 1]).tolist(), as_vector("0.5"), as_vector([[1.0]])
    ([0.5, 1.0], None, None)
    """
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__len__"):
        return None
    try:
        vector = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return vector if vector.ndim == 1 and vector.size else None


def vectors_of(column: Any) -> ArrayF | None:
    """A reference column of vectors (None allowed) as a matrix of its non-missing rows, or
    None when it is not such a column (a scalar, text, vectors of different lengths).

    >>> vectors_of([[1.0, 2.0], None, (3, 4)]).tolist(), vectors_of([1.0, 2.0])
    ([[1.0, 2.0], [3.0, 4.0]], None)
    """
    if isinstance(column, np.ndarray) and column.ndim == 2:
        return column.astype(np.float64)
    rows = [value for value in column if value is not None]
    if not rows:
        return None
    vectors = [as_vector(value) for value in rows]
    if any(v is None for v in vectors) or len({v.size for v in vectors if v is not None}) != 1:
        return None
    return np.vstack(vectors)  # type: ignore[arg-type]


class EmbeddingState:
    """Window side of one embedding feature; merges exactly by addition."""

    def __init__(self, dimension: int, bins: list[int]) -> None:
        self.count = 0
        """Rows seen, valid or not."""
        self.missing = 0
        """Rows without a vector (None)."""
        self.invalid = 0
        """Rows whose value is not a finite vector of the reference's dimension."""
        self.sums = [0] * dimension
        self.counts = [np.zeros(n, dtype=np.int64) for n in bins]

    @property
    def n(self) -> int:
        """Valid vectors: what the statistics use."""
        return self.count - self.missing - self.invalid

    def update_column(self, column: Any, profile: EmbeddingProfile) -> None:
        """Add one batch's column: a vector (list, tuple or array of numbers) or None per row;
        anything else, or a vector of another dimension or with a non-finite number, counts as
        invalid."""
        values = list(column)
        dimension = profile.dimension
        try:
            matrix = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            matrix = np.zeros((0,))
        if matrix.ndim == 2 and matrix.shape == (len(values), dimension) \
                and np.isfinite(matrix).all():
            self.count += len(values)
            self._add(matrix, profile)
            return
        valid, missing, invalid = [], 0, 0
        for value in values:
            if value is None:
                missing += 1
                continue
            vector = as_vector(value)
            if vector is None or vector.size != dimension or not np.isfinite(vector).all():
                invalid += 1
            else:
                valid.append(vector)
        self.count += len(values)
        self.missing += missing
        self.invalid += invalid
        if valid:
            self._add(np.vstack(valid), profile)

    def update(self, vectors: npt.ArrayLike, profile: EmbeddingProfile) -> None:
        """Add valid rows (``rows by dimension``, finite, of the profile's dimension)."""
        matrix = np.asarray(vectors, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != profile.dimension:
            raise ValueError(f"expected vectors of {profile.dimension} components, got shape "
                             f"{matrix.shape}")
        self.count += int(matrix.shape[0])
        self._add(matrix, profile)

    def _add(self, matrix: ArrayF, profile: EmbeddingProfile) -> None:
        if matrix.shape[0] == 0:
            return
        self.sums = [a + b for a, b in zip(self.sums, exact_column_sums(matrix), strict=True)]
        projected = profile.project(matrix)
        for k, component in enumerate(profile.projections):
            self.counts[k] += np.bincount(component.assign(projected[:, k]),
                                          minlength=component.n_bins)

    def merge(self, other: EmbeddingState) -> None:
        self.count += other.count
        self.missing += other.missing
        self.invalid += other.invalid
        self.sums = [a + b for a, b in zip(self.sums, other.sums, strict=True)]
        for mine, theirs in zip(self.counts, other.counts, strict=True):
            mine += theirs

    def mean(self) -> ArrayF:
        return np.array([exact_to_float(total) for total in self.sums]) / self.n

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.count, "missing": self.missing, "invalid": self.invalid, "sums": [pack_exact(total) for total in self.sums],
                "counts": [_codec.encode_counts(c) for c in self.counts]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        state = cls(0, [])
        state.count = int(d["n"])
        state.missing, state.invalid = int(d.get("missing", 0)), int(d.get("invalid", 0))
        state.sums = [unpack_exact(int(zeros), bytes(data)) for zeros, data in d["sums"]]
        state.counts = [_codec.decode_array(c, np.int64) for c in d["counts"]]
        return state

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EmbeddingState) and self.count == other.count \
            and (self.missing, self.invalid) == (other.missing, other.invalid) \
            and self.sums == other.sums \
            and all(np.array_equal(a, b) for a, b in zip(self.counts, other.counts, strict=True))
