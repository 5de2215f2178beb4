"""Compact histograms of a reference's features and prediction: a few bins per column.

A segment (:mod:`~infersight.drift.segments`) keeps, per column, counts over these bins
instead of a full window state: a numeric column's decile + overflow bins (the coarse bins
PSI already uses), a categorical column's :data:`CATEGORY_BINS` most frequent reference
categories plus one bin for every other value, and one last bin for missing values (None,
NaN, infinity, text that is not a number). Embedding columns are left out.

A :class:`CompactLayout` places the columns side by side: ``offsets[name]`` is where a
column's bins start, so one row of integer counts holds a segment's histograms.

Examples
--------
>>> import numpy as np
>>> from infersight.drift import Reference
>>> ref = Reference.from_data({"x": np.arange(100.0), "c": ["a", "b"] * 50})
>>> layout = CompactLayout.of(ref)
>>> layout.names, layout.sizes, layout.width
(['x', 'c'], [13, 4], 17)
>>> layout.assign({"x": [5.0, None], "c": ["b", "z"]}, 2).tolist()
[[1, 14], [12, 15]]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .categorical import CategoricalProfile, factorize
from .columns import to_float
from .numeric import NumericProfile
from .predictions import PredictionSpec, ReadPredictions

if TYPE_CHECKING:
    from .reference import Profile, Reference

#: Categories of a categorical column kept apart in a segment (the rest share one bin).
CATEGORY_BINS = 10
#: Name of the model output's column in a layout.
PREDICTION_COLUMN = "@prediction"

ArrayI = npt.NDArray[np.int64]
Binnable = NumericProfile | CategoricalProfile


def value_bins(profile: Binnable) -> int:
    """Number of value bins of a column (its missing bin not included)."""
    if isinstance(profile, NumericProfile):
        return int(profile.coarse_starts.size)
    return min(len(profile.vocabulary), CATEGORY_BINS) + 1


def _numeric_bins(profile: NumericProfile, column: Any) -> ArrayI:
    values, _ = to_float(column)
    out = np.full(values.size, profile.coarse_starts.size, dtype=np.int64)  # missing
    finite = np.isfinite(values)
    if profile.edges.size:  # fine bin j holds the values with j search edges <= value
        search = np.append(profile.edges, np.nextafter(profile.edges[-1], np.inf))
        out[finite] = np.searchsorted(search[profile.coarse_starts[1:] - 1], values[finite],
                                      side="right")
    else:
        out[finite] = 0
    return out


def _categorical_bins(profile: CategoricalProfile, column: Any) -> ArrayI:
    codes, keys = factorize(column)
    kept = min(len(profile.vocabulary), CATEGORY_BINS)
    slots = np.array([min(profile.slot(k), kept) for k in keys] + [kept + 1], dtype=np.int64)
    return slots[codes]  # code -1 (missing) takes the last entry


def column_bins(profile: Binnable, column: Any, rows: int) -> ArrayI:
    """Bin of each row of ``column`` (None: every row missing) in ``[0, value_bins]``."""
    if column is None:
        return np.full(rows, value_bins(profile), dtype=np.int64)
    if len(column) != rows:
        raise ValueError(f"column has {len(column)} values, the batch has {rows} rows")
    if isinstance(profile, NumericProfile):
        return _numeric_bins(profile, column)
    return _categorical_bins(profile, column)


def reference_counts(profile: Binnable) -> ArrayI:
    """The whole reference's counts over a column's bins (its missing bin last)."""
    if isinstance(profile, NumericProfile):
        values = np.add.reduceat(profile.ref_counts, profile.coarse_starts)
    else:
        kept = min(len(profile.vocabulary), CATEGORY_BINS)
        values = np.append(profile.ref_counts[:kept], profile.ref_counts[kept:].sum())
    return np.append(values, profile.missing).astype(np.int64)


def prediction_column(spec: PredictionSpec, read: ReadPredictions) -> Any:
    """The per-row model output a prediction profile is built on (None for embeddings)."""
    if spec.kind == "score":
        return read.scores
    if spec.kind == "value":
        return read.values
    return None if spec.kind == "embedding" else read.labels


@dataclass(frozen=True)
class CompactLayout:
    """The binned columns of a reference, side by side (the prediction last)."""

    names: list[str]
    profiles: list[Binnable]
    sizes: list[int]
    """Bins of each column, its missing bin included."""

    @classmethod
    def of(cls, reference: Reference) -> CompactLayout:
        """Layout of every numeric and categorical feature, then the prediction if binnable."""
        items: list[tuple[str, Profile]] = list(reference.features.items())
        if reference.prediction is not None:
            items.append((PREDICTION_COLUMN, reference.prediction))
        kept = [(n, p) for n, p in items if isinstance(p, NumericProfile | CategoricalProfile)]
        return cls([n for n, _ in kept], [p for _, p in kept],
                   [value_bins(p) + 1 for _, p in kept])

    @property
    def width(self) -> int:
        """Total number of bins."""
        return sum(self.sizes)

    @property
    def offsets(self) -> dict[str, int]:
        """Where each column's bins start."""
        starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(int).tolist()
        return dict(zip(self.names, starts, strict=True))

    def fingerprint(self) -> bytes:
        """Bytes that change whenever the layout does."""
        return "\0".join(f"{n}:{s}" for n, s in zip(self.names, self.sizes, strict=True)).encode()

    def assign(self, columns: Mapping[str, Any], rows: int) -> ArrayI:
        """``(rows, columns given)`` global bin indices of the columns present in ``columns``
        (a feature absent from it counts as missing; an absent prediction is not binned)."""
        out = []
        for name, profile, offset in zip(self.names, self.profiles, self.offsets.values(),
                                         strict=True):
            if name == PREDICTION_COLUMN and name not in columns:
                continue
            out.append(column_bins(profile, columns.get(name), rows) + offset)
        return np.stack(out, axis=1) if out else np.zeros((rows, 0), dtype=np.int64)

    def whole_reference(self) -> ArrayI:
        """The whole reference's counts over every bin."""
        if not self.profiles:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([reference_counts(p) for p in self.profiles])


def segment_histogram(slots: ArrayI, bins: ArrayI, segments: int, width: int) -> ArrayI:
    """``(segments, 1 + width)`` counts: per segment its rows (column 0), then its rows in
    each bin (``bins`` from :meth:`CompactLayout.assign`, aligned with ``slots``)."""
    stride = width + 1
    flat = (slots[:, None] * stride + 1 + bins).ravel()
    counts = np.bincount(flat, minlength=segments * stride)
    counts[::stride] += np.bincount(slots, minlength=segments)
    return counts.reshape(segments, stride).astype(np.int64)
