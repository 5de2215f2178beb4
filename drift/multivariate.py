"""Multivariate drift by PCA reconstruction error: correlations that break while every
feature's own distribution holds.

At reference time the features are encoded (numeric as they are; a categorical feature whose
reference categories all fit in the vocabulary by its reference frequency, as NannyML's
count encoding), missing values imputed (numeric: the reference mean; categorical: its most
frequent category), standardised, and a PCA keeps the fewest components explaining more than
:data:`VARIANCE_KEPT` of the variance. A row's *reconstruction error* is the euclidean
distance, in standardised units, between the row and its projection back from those
components. The reference's own error distribution is measured out of fold (each fifth of the
reference projected by a PCA fitted on the other four fifths), so a small reference does not
make new data look worse than it is.

A window keeps the count, the exact sum and sum of squares of its rows' errors and a histogram
over reference-defined edges (nothing per row): any split of a window merges to the same
state, bit for bit, because each row's error is computed by element-wise operations in a fixed
order, whatever batch it arrives in.

    reconstruction_error        the window's mean error
    reconstruction_error_drift  z = (mean - μ_ref) / (sd_ref · √(1/n + 1/n_ref)), one-sided
    multivariate_drift          1 when z ≥ 3.09 (0.001) and the mean is ≥ 2 % above μ_ref

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> s = rng.normal(size=5000)
>>> columns = {"a": s + rng.normal(size=5000) / 8, "b": s + rng.normal(size=5000) / 8}
>>> profile = ReconstructionProfile.fit(columns, {"a": None, "b": None})
>>> profile.features, profile.components.shape
(['a', 'b'], (1, 2))
>>> t = rng.normal(size=2000)
>>> broken = {"a": t + rng.normal(size=2000) / 8, "b": -t + rng.normal(size=2000) / 8}
>>> state = profile.new_state()
>>> state.update(profile.errors(broken, 2000), profile.edges)
>>> metrics = profile.metrics(state)
>>> metrics["multivariate_drift"], metrics["reconstruction_error"] > 5 * profile.reference_mean
(1.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _codec
from ._exact_sum import exact_int_sum, exact_to_float, exact_to_floats
from .categorical import CategoricalProfile, factorize
from .columns import to_float

ArrayF = npt.NDArray[np.float64]

VARIANCE_KEPT = 0.65
"""Share of the standardised reference variance the kept components explain (NannyML's
default)."""
MIN_FEATURES = 2
"""Fewer features than this: no multivariate statistic."""
MIN_REFERENCE_ROWS = 50
"""Fewer reference rows than this: no multivariate statistic (five folds of ten rows)."""
ERROR_BINS = 30
"""Histogram bins of the per-row error, at the reference's out-of-fold quantiles."""
FOLDS = 5
MAX_FIT_ROWS = 50_000
"""Rows the transform is fitted on: a larger reference is sampled by an even stride."""
DRIFT_Z = 3.090232306167813
"""The one-sided 0.001 quantile: ``multivariate_drift`` needs at least this z …"""
MIN_RELATIVE_INCREASE = 0.02
"""… and a mean error at least 2 % above the reference's."""


class ReconstructionProfile:
    """The fitted encoding, standardisation and PCA, and the reference's error distribution."""

    def __init__(self, numeric: list[str], categorical: dict[str, dict[str, float]],
                 fill: dict[str, float], center: ArrayF, scale: ArrayF, pca_mean: ArrayF,
                 components: ArrayF, edges: ArrayF, reference_mean: float,
                 reference_std: float, reference_rows: int,
                 residual: ArrayF | None = None) -> None:
        self.numeric = numeric
        self.categorical = categorical
        """``{feature: {category: reference frequency}}``; unseen categories encode as 0."""
        self.fill = fill
        """Encoded value imputed for a missing value of each feature."""
        self.center, self.scale = center, scale
        self.pca_mean, self.components = pca_mean, components
        self.residual = residual
        """The discarded axes, kept when fewer than the components: the error is then the
        norm of the row's projection on them (fewer products per row)."""
        self.edges = edges
        self.reference_mean, self.reference_std = reference_mean, reference_std
        self.reference_rows = reference_rows

    @property
    def features(self) -> list[str]:
        """The features taking part, in the order of the transform's columns."""
        return [*self.numeric, *self.categorical]

    @classmethod
    def fit(cls, columns: Mapping[str, Any],
            categorical: Mapping[str, CategoricalProfile | None]) -> ReconstructionProfile | None:
        """Fit on reference ``columns``; ``categorical[name]`` is a categorical feature's
        profile (None for a numeric feature). None when fewer than :data:`MIN_FEATURES`
        features or :data:`MIN_REFERENCE_ROWS` rows can take part, or when keeping
        :data:`VARIANCE_KEPT` of the variance takes as many components as features (inputs
        nearly uncorrelated: every row reconstructs exactly, its error is round-off)."""
        numeric = [n for n, p in categorical.items() if p is None]
        encodings: dict[str, dict[str, float]] = {}
        for name, categories in categorical.items():
            if categories is not None and categories.vocabulary \
                    and int(categories.ref_counts[-1]) == 0:
                total = float(categories.ref_counts.sum())
                encodings[name] = {key: float(c) / total for key, c in
                                   zip(categories.vocabulary, categories.ref_counts.tolist(),
                                       strict=False)}
        rows = len(next(iter(columns.values()))) if columns else 0
        if len(numeric) + len(encodings) < MIN_FEATURES or rows < MIN_REFERENCE_ROWS:
            return None
        fill = {name: max(frequencies.values()) for name, frequencies in encodings.items()}
        data = _encode(columns, rows, numeric, encodings, fill)  # numeric gaps still NaN
        for j, name in enumerate(numeric):  # impute them with the reference mean
            column = data[:, j]
            missing = np.isnan(column)
            if not missing.any():
                fill[name] = float(column.mean())
                continue
            fill[name] = 0.0 if missing.all() else float(column[~missing].mean())
            column[missing] = fill[name]
        center = data.mean(axis=0)
        data -= center  # standardised in place, column by column
        std = np.sqrt(np.einsum("ij,ij->j", data, data) / rows)
        scale = np.where(std > 0, std, 1.0)
        if not (np.isfinite(center).all() and np.isfinite(scale).all()):
            return None  # values near the float limits: their moments overflow
        data /= scale
        scaled = np.clip(data, -_BOUND, _BOUND, out=data)
        scaled = scaled[::-(-rows // MAX_FIT_ROWS)]  # every row, or an even stride of them
        try:
            pca_mean, components, residual, held_out = _fit(scaled)
        except np.linalg.LinAlgError:  # degenerate data (e.g. values near the float limits)
            return None
        if components.shape[0] >= scaled.shape[1]:
            return None  # the kept variance needs every axis: nothing is left to reconstruct
        edges = np.unique(np.quantile(held_out, np.linspace(0.0, 1.0, ERROR_BINS + 1)[1:-1]))
        return cls(numeric, encodings, fill, center, scale, pca_mean, components, edges,
                   float(held_out.mean()), float(held_out.std(ddof=1)), int(held_out.size),
                   residual)

    def errors(self, columns: Mapping[str, Any], rows: int) -> ArrayF:
        """Each row's reconstruction error (element-wise in a fixed order: a row's value does
        not depend on the batch it came in)."""
        centred = _encode(columns, rows, self.numeric, self.categorical, self.fill,
                          (self.center, self.scale, self.pca_mean))
        return _reconstruction_errors(centred, self.components, self.residual)

    def new_state(self) -> ReconstructionState:
        """An empty window state over this profile's error histogram."""
        return ReconstructionState(self.edges.size + 1)

    def metrics(self, state: ReconstructionState) -> dict[str, float]:
        """The window's ``reconstruction_error``, its drift z and the decision."""
        if state.count == 0:
            return {}
        mean = state.mean
        spread = self.reference_std * math.sqrt(1.0 / state.count + 1.0 / self.reference_rows)
        z = (mean - self.reference_mean) / spread if spread > 0 else 0.0
        drifted = z >= DRIFT_Z and mean >= self.reference_mean * (1 + MIN_RELATIVE_INCREASE)
        return {"reconstruction_error": mean, "reconstruction_error_drift": z,
                "multivariate_drift": float(drifted)}

    def fingerprint(self) -> bytes:
        """What a window state's layout depends on: the features and the number of bins (not
        the edges' values, which follow the reference's rows to the last bit of a sum, so that
        the same data profiled twice, in another order, still merges)."""
        return b"mv" + str(self.edges.size).encode() + b"\0" + "\0".join(sorted(self.features)).encode()

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": self.numeric, "categorical": self.categorical, "fill": self.fill,
            "center": _codec.encode_floats(self.center), "scale": _codec.encode_floats(self.scale),
            "pca_mean": _codec.encode_floats(self.pca_mean),
            "components": _codec.encode_floats(self.components.ravel()),
            "k": int(self.components.shape[0]),
            "edges": _codec.encode_floats(self.edges),
            "mean": self.reference_mean, "std": self.reference_std, "rows": self.reference_rows,
            **({} if self.residual is None else
               {"residual": _codec.encode_floats(self.residual.ravel())}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReconstructionProfile:
        center = _codec.decode_array(d["center"], np.float64).copy()
        components = _codec.decode_array(d["components"], np.float64).copy()
        return cls(
            [str(n) for n in d["numeric"]],
            {str(n): {str(k): float(v) for k, v in f.items()} for n, f in d["categorical"].items()},
            {str(k): float(v) for k, v in d["fill"].items()},
            center, _codec.decode_array(d["scale"], np.float64).copy(),
            _codec.decode_array(d["pca_mean"], np.float64).copy(),
            components.reshape(int(d["k"]), center.size),
            _codec.decode_array(d["edges"], np.float64).copy(),
            float(d["mean"]), float(d["std"]), int(d["rows"]),
            None if "residual" not in d else _codec.decode_array(
                d["residual"], np.float64).reshape(-1, center.size).copy())


class ReconstructionState:
    """A window's reconstruction errors: count, exact sum and sum of squares, histogram."""

    def __init__(self, bins: int) -> None:
        self.count = 0
        self.total = 0   # exact, in units of 2**-1126 (see _exact_sum)
        self.squares = 0
        self.counts = np.zeros(bins, dtype=np.int64)

    @property
    def mean(self) -> float:
        return exact_to_float(self.total) / self.count if self.count else float("nan")

    def update(self, errors: ArrayF, edges: ArrayF) -> None:
        """Add rows' errors, binned over the reference's ``edges``."""
        self.count += int(errors.size)
        self.total += exact_int_sum(errors)
        self.squares += exact_int_sum(errors * errors)
        self.counts += np.bincount(np.searchsorted(edges, errors, side="right"),
                                   minlength=self.counts.size)

    def merge(self, other: ReconstructionState) -> None:
        if other.counts.size != self.counts.size:
            raise ValueError("cannot merge reconstruction states of different references")
        self.count += other.count
        self.total += other.total
        self.squares += other.squares
        self.counts += other.counts

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.count, "sum": exact_to_floats(self.total),
                "sq": exact_to_floats(self.squares), "counts": _codec.encode_counts(self.counts)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReconstructionState:
        counts = _codec.decode_array(d["counts"], np.int64).copy()
        state = cls(counts.size)
        state.count = int(d["n"])
        state.total = exact_int_sum(np.array(d["sum"], dtype=np.float64))
        state.squares = exact_int_sum(np.array(d["sq"], dtype=np.float64))
        state.counts = counts
        return state


def _encode(columns: Mapping[str, Any], rows: int, numeric: list[str],
            categorical: dict[str, dict[str, float]], fill: dict[str, float],
            standardise: tuple[ArrayF, ArrayF, ArrayF] | None = None) -> ArrayF:
    """The encoded matrix; a missing value takes ``fill[name]`` (NaN for a numeric feature
    without one). With ``standardise = (center, scale, pca_mean)`` each column is written
    standardised, bounded (:data:`_BOUND`) and centred on the PCA's mean, in the same pass."""
    # column-major: each feature is written, and later read, contiguously
    out = np.empty((rows, len(numeric) + len(categorical)), dtype=np.float64, order="F")
    for j, name in enumerate(numeric):
        column = columns.get(name)
        values = np.full(rows, np.nan) if column is None else to_float(column)[0]
        encoded = out[:, j]
        np.copyto(encoded, values)
        finite = np.isfinite(values)
        if not finite.all():
            np.copyto(encoded, fill.get(name, np.nan), where=~finite)
        if standardise is not None:
            _standardised(encoded, standardise, j)
    for j, (name, frequencies) in enumerate(categorical.items(), len(numeric)):
        column = columns.get(name)
        if column is None:
            table = np.array([fill[name]])
            codes = np.zeros(rows, dtype=np.intp)
        else:
            codes, keys = factorize(column)
            table = np.array([frequencies.get(key, 0.0) for key in keys] + [fill[name]])
            codes = np.where(codes >= 0, codes, len(keys))  # -1: missing
        if standardise is not None:  # standardise the few distinct values, not every row
            table = _standardised(table, standardise, j)
        np.take(table, codes, out=out[:, j])
    return out


def _standardised(values: ArrayF, standardise: tuple[ArrayF, ArrayF, ArrayF],
                  j: int) -> ArrayF:
    """Column ``j``'s finite ``values`` standardised, bounded and centred, in place."""
    center, scale, pca_mean = standardise
    values -= center[j]
    values /= scale[j]
    np.clip(values, -_BOUND, _BOUND, out=values)  # finite in, so no NaN out
    values -= pca_mean[j]
    return values


_BOUND = 1e100
"""Standardised values are clipped to ±this: squares and sums of a few hundred stay finite."""


def _pca(gram: ArrayF, total: ArrayF, rows: int) -> tuple[ArrayF, ArrayF, ArrayF | None]:
    """Mean, the fewest principal axes explaining more than :data:`VARIANCE_KEPT`
    (scikit-learn's rule for a fractional ``n_components``) and, when they are fewer, the
    discarded axes; from the rows' moments ``gram = Σ x xᵀ`` and ``total = Σ x``: a features x
    features problem, whatever the rows."""
    mean = total / rows
    variance, axes = np.linalg.eigh(gram - rows * np.outer(mean, mean))
    order = np.argsort(variance)[::-1]
    variance, axes = np.clip(variance[order], 0.0, None), axes[:, order].T
    explained = variance.sum()
    ratio = np.cumsum(variance) / explained if explained > 0 else np.ones(variance.size)
    keep = min(int(np.searchsorted(ratio, VARIANCE_KEPT, side="right")) + 1, axes.shape[0])
    residual = np.ascontiguousarray(axes[keep:]) if axes.shape[0] - keep < keep + 1 else None
    return mean, np.ascontiguousarray(axes[:keep]), residual


def _reconstruction_errors(centred: ArrayF, components: ArrayF,
                           residual: ArrayF | None = None) -> ArrayF:
    """Per-row distances to the reconstruction of rows ``x`` centred on the PCA's mean: the
    norm of ``x``'s projection on the ``residual`` axes when given, else √(‖x‖² -
    ‖projection‖²), the axes being orthonormal. Computed features x rows (each feature
    contiguous, as :func:`_encode` lays them out); ``einsum`` without ``optimize`` sums each
    output element by itself over the features, in a fixed order: unlike a BLAS matrix
    product, a row's error does not depend on the rows batched with it. A single row is
    computed as two: alone, its sums would run along the features' contiguous axis, in
    another order."""
    if centred.shape[0] == 1:
        return _reconstruction_errors(np.repeat(centred, 2, axis=0), components, residual)[:1]
    columns = np.asfortranarray(centred).T
    if residual is not None:
        away = np.einsum("kf,fn->kn", residual, columns, optimize=False)
        distances: ArrayF = np.sqrt(np.einsum("kn,kn->n", away, away, optimize=False))
        return distances
    projected = np.einsum("kf,fn->kn", components, columns, optimize=False)
    squares: ArrayF = (np.einsum("fn,fn->n", columns, columns, optimize=False)
                       - np.einsum("kn,kn->n", projected, projected, optimize=False))
    return np.sqrt(np.clip(squares, 0.0, None))


def _fit(scaled: ArrayF) -> tuple[ArrayF, ArrayF, ArrayF | None, ArrayF]:
    """The PCA of all rows, and each row's error under a PCA fitted without its fold (every
    fifth row): the folds' moments are computed once; each fit takes all but its own."""
    folds = [np.asfortranarray(scaled[fold::FOLDS]) for fold in range(FOLDS)]
    grams = [part.T @ part for part in folds]
    totals = [part.sum(axis=0) for part in folds]
    gram: ArrayF = np.sum(grams, axis=0)
    total: ArrayF = np.sum(totals, axis=0)
    rows = scaled.shape[0]
    errors = np.empty(rows)
    for fold, part in enumerate(folds):
        mean, components, residual = _pca(gram - grams[fold], total - totals[fold],
                                          rows - part.shape[0])
        errors[fold::FOLDS] = _reconstruction_errors(part - mean, components, residual)
    return (*_pca(gram, total, rows), errors)
