"""Data quality of a window beyond each feature's own state: unexpected features, and the
missing-rate test against the reference.

*Unexpected features* are names a batch carries that the reference never had (a column added
or renamed upstream). :class:`UnexpectedFeatures` counts, per name, the rows that carried it
with a value (not None or NaN). It is bounded: at most :data:`MAX_UNEXPECTED_FEATURES` names
are kept, those with the smallest hash of their name (a rule that does not depend on the
order rows or partitions arrive in, so merges are exact in any order); the values of every
other name are counted under :data:`OTHER_FEATURES`.

The *missing-rate test* compares a window's ``missing_rate`` with the reference's by a
one-sided two-proportion z-test; :func:`missing_rate_points` gives the standard errors it
needs as metric points (``missing_rate_stderr``, ``reference_missing_rate`` and its
``reference_missing_rate_stderr``), which the alert rules' significance machinery reads.

Examples
--------
>>> a, b = UnexpectedFeatures(), UnexpectedFeatures()
>>> a.update({"zip": 2}); b.update({"zip": 1, "device": 3})
>>> a.merge(b)
>>> a.listed(), a.other
({'device': 3, 'zip': 3}, 0)
>>> unexpected_counts([{"features": {"x": 1, "new": None}}, {"features": {"new": "v"}}], {"x"})
{'new': 1}
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

MAX_UNEXPECTED_FEATURES = 50
"""Distinct unexpected names a window state keeps; the rest are counted under OTHER_FEATURES."""
OTHER_FEATURES = "@other"
"""The name under which the values of unexpected names beyond the kept ones are counted."""
NAME_CHARS = 255
"""Unexpected names are cut to this many characters."""


def _rank(name: str) -> tuple[bytes, str]:
    return hashlib.blake2b(name.encode(), digest_size=8).digest(), name


class UnexpectedFeatures:
    """Rows carrying each unexpected name (``counts``), and those beyond the kept names
    (``other``); merging adds the counts and keeps the same names whatever the order."""

    __slots__ = ("counts", "other")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.other = 0

    def __bool__(self) -> bool:
        return bool(self.counts) or self.other > 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UnexpectedFeatures):
            return NotImplemented
        return self.counts == other.counts and self.other == other.other

    __hash__ = None  # type: ignore[assignment]

    def update(self, counts: Mapping[str, int]) -> None:
        """Add ``{name: rows carrying it}``."""
        for name, count in counts.items():
            if count > 0:
                key = name[:NAME_CHARS]
                self.counts[key] = self.counts.get(key, 0) + int(count)
        self._bound()

    def merge(self, other: UnexpectedFeatures) -> None:
        """Add ``other`` (exact: any split and order give the same state)."""
        self.update(other.counts)
        self.other += other.other

    def _bound(self) -> None:
        if len(self.counts) <= MAX_UNEXPECTED_FEATURES:
            return
        for name in sorted(self.counts, key=_rank)[MAX_UNEXPECTED_FEATURES:]:
            self.other += self.counts.pop(name)

    def listed(self) -> dict[str, int]:
        """``{name: rows}``, the names sorted, with ``@other`` last when some were not kept."""
        out = dict(sorted(self.counts.items()))
        if self.other:
            out[OTHER_FEATURES] = self.other
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"names": dict(sorted(self.counts.items())), "other": self.other}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UnexpectedFeatures:
        state = cls()
        state.counts = {str(k): int(v) for k, v in d["names"].items()}
        state.other = int(d["other"])
        return state


def _present(column: Any) -> int:
    """Values of a column that are not None or NaN."""
    if isinstance(column, pd.Series):
        return int(column.notna().sum())
    if isinstance(column, np.ndarray) and column.dtype.kind in "fc":
        return int(np.count_nonzero(~np.isnan(column))) if column.ndim == 1 else len(column)
    if isinstance(column, np.ndarray) and column.dtype.kind in "iub":
        return len(column)
    return sum(1 for v in column if v is not None and not (isinstance(v, float) and v != v))


def _feature_mappings(events: Sequence[Any]) -> list[Any]:
    """Each event's features mapping (events as in :func:`~.columns.to_columns`), or the
    rows themselves when the batch is a list of feature rows."""
    first = events[0]
    try:
        if isinstance(first, Mapping):
            if not isinstance(first.get("features"), Mapping):
                return list(events)
            return list(map(operator.itemgetter("features"), events))
        return list(map(operator.attrgetter("features"), events))
    except (KeyError, TypeError, AttributeError):  # a batch of mixed shapes: the slow way
        return [e.get("features") if isinstance(e, Mapping) else getattr(e, "features", None)
                for e in events]


def unexpected_counts(batch: Any, known: Collection[str]) -> dict[str, int]:
    """``{name: rows with a value}`` of the names in ``batch`` that ``known`` lacks.

    ``batch`` is a DataFrame, a mapping name→array, or a list of events or feature rows.
    """
    if isinstance(batch, pd.DataFrame):
        return {str(c): _present(batch[c]) for c in batch.columns if c not in known}
    if isinstance(batch, Mapping):
        return {str(n): _present(v) for n, v in batch.items() if n not in known}
    if not isinstance(batch, Sequence) or isinstance(batch, str | bytes) or not batch:
        return {}
    feats = _feature_mappings(batch)
    try:
        names = set().union(*feats).difference(known)
    except TypeError:  # some event without a features mapping
        feats = [f for f in feats if isinstance(f, Mapping)]
        names = set().union(*feats).difference(known)
    if not names:
        return {}
    return {str(name): sum(1 for f in feats if f.get(name) is not None and not (
        isinstance(f.get(name), float) and f[name] != f[name])) for name in sorted(names)}


def _variance(rate: float) -> float:
    return rate * (1.0 - rate)


def missing_rate_points(missing: int, count: int, reference_missing: int,
                        reference_count: int) -> dict[str, float]:
    """The missing-rate test's points for a window of ``count`` rows (``missing`` of them
    missing or invalid) against a reference of ``reference_count`` rows.

    The test's variance v is the largest of p·(1-p), q·(1-q) and p̄·(1-p̄), at the window's
    rate p, the reference's q and the two pooled p̄ (the classic two-proportion test's
    estimate under an unchanged rate): ``missing_rate_stderr`` = √(v / n) and
    ``reference_missing_rate_stderr`` = √(v / m). Each single estimate is too small
    somewhere: the window's own (Wald) when its rate happens to sit nearer 1 than q, the
    reference's when a small reference happens to hold few missing values, the pooled one
    near a rate of 0; the largest keeps the false-alarm rate at the test's level.

    >>> points = missing_rate_points(50, 500, 100, 10_000)
    >>> points["reference_missing_rate"], round(points["missing_rate_stderr"], 4)
    (0.01, 0.0134)
    """
    if count <= 0 or reference_count <= 0:
        return {}
    p, q = missing / count, reference_missing / reference_count
    pooled = (missing + reference_missing) / (count + reference_count)
    v = max(_variance(p), _variance(q), _variance(pooled))
    return {
        "missing_rate_stderr": math.sqrt(v / count),
        "reference_missing_rate": q,
        "reference_missing_rate_stderr": math.sqrt(v / reference_count),
    }
