"""Categorical features: reference vocabulary and profile, mergeable window state.

Values are compared by a normalised string key (:func:`category_key`: ``True`` → ``"true"``,
``3``/``3.0`` → ``"3"``), so the same category read from a DataFrame, JSON or a CSV file is one
category. The reference keeps its top-``TOP_K`` categories; everything else is "other". If the
reference has at most ``MAX_TRACKED_EXTRA`` further categories they are remembered too, so a
window can tell values never seen in the reference ("new categories") from rare known ones.

Examples
--------
>>> profile = CategoricalProfile.from_values(["a", "a", "b", None])
>>> profile.vocabulary
['a', 'b']
>>> state = profile.new_state()
>>> state.update(["a", "z", None], profile)
>>> state.count, state.missing, state.unseen
(3, 1, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _codec
from .distances import Side

#: Size of the reference vocabulary (most frequent categories).
TOP_K = 50
#: Reference categories beyond the vocabulary remembered to detect new categories.
MAX_TRACKED_EXTRA = 1000

ArrayI = npt.NDArray[np.int64]


def category_key(value: Any) -> str:
    """Normalised string key of a category value.

    Examples
    --------
    >>> [category_key(v) for v in (True, 3, 3.0, 2.5, "x")]
    ['true', '3', '3', '2.5', 'x']
    """
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass(frozen=True, slots=True)
class Factorized:
    """A column already factorised (codes and keys), read once by every consumer of a batch."""

    codes: npt.NDArray[np.intp]
    keys: list[str]

    def __len__(self) -> int:
        return int(self.codes.size)


def factorize(values: Any) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Codes (-1 = missing) and the normalised keys of the distinct values.

    >>> factorize(["b", None, "a", "b"])
    (array([ 0, -1,  1,  0]), ['b', 'a'])
    >>> column = Factorized(*factorize(["b", "a"]))
    >>> factorize(column) == (column.codes, column.keys)
    True
    """
    if isinstance(values, Factorized):
        return values.codes, values.keys
    arr = values if isinstance(values, np.ndarray | pd.Series) else np.asarray(
        list(values) if not isinstance(values, Sequence) else values, dtype=object)
    if isinstance(arr, np.ndarray) and arr.ndim != 1:
        arr = arr.ravel()
    try:
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts): compare them by their text
        hashable = np.empty(len(arr), dtype=object)
        hashable[:] = [v if v is None or isinstance(v, str | int | float | bool) else repr(v)
                       for v in arr]
        codes, uniques = pd.factorize(hashable, use_na_sentinel=True)
    return np.asarray(codes), [category_key(u) for u in np.asarray(uniques, dtype=object)]


class CategoricalProfile:
    """Reference side of a categorical feature: vocabulary and counts."""

    def __init__(self, vocabulary: list[str], ref_counts: ArrayI, extra: list[str] | None,
                 count: int, missing: int) -> None:
        self.vocabulary = vocabulary   # top-K reference categories, most frequent first
        self.ref_counts = ref_counts   # counts of the vocabulary + "other"
        self.extra = extra             # further reference categories, or None if too many
        self.count = count
        self.missing = missing
        self._index = {key: i for i, key in enumerate(vocabulary)}
        self._extra = set(extra) if extra is not None else None

    @cached_property
    def side(self) -> Side:
        """The reference's side of the distances, derived on first use (a profile is never
        changed after it is built); needs a non-empty reference."""
        return Side(self.ref_counts.astype(np.float64))

    @classmethod
    def from_values(cls, values: Any, top_k: int = TOP_K) -> CategoricalProfile:
        """Profile a reference column (None/NaN are counted as missing)."""
        codes, keys = factorize(values)
        valid = codes[codes >= 0]
        per_key: dict[str, int] = {}
        for key, c in zip(keys, np.bincount(valid, minlength=len(keys)).tolist(), strict=True):
            per_key[key] = per_key.get(key, 0) + int(c)
        ranked = sorted(per_key.items(), key=lambda kv: (-kv[1], kv[0]))
        vocab = [k for k, _ in ranked[:top_k]]
        rest = ranked[top_k:]
        counts = np.array([c for _, c in ranked[:top_k]] + [sum(c for _, c in rest)],
                          dtype=np.int64)
        extra = sorted(k for k, _ in rest) if len(rest) <= MAX_TRACKED_EXTRA else None
        return cls(vocab, counts, extra, int(codes.size), int(codes.size - valid.size))

    def new_state(self) -> CategoricalState:
        """An empty window state over this vocabulary."""
        return CategoricalState(len(self.vocabulary))

    def slot(self, key: str) -> int:
        """Index of a key in a window's counts: vocabulary, K = known other, K+1 = unseen."""
        i = self._index.get(key)
        if i is not None:
            return i
        k = len(self.vocabulary)
        if self._extra is None or key in self._extra:
            return k
        return k + 1

    @property
    def tracks_new(self) -> bool:
        """Whether values never seen in the reference can be told apart."""
        return self._extra is not None

    def to_dict(self) -> dict[str, Any]:
        """Builtins for serialisation."""
        return {"vocabulary": self.vocabulary, "ref_counts": _codec.encode_counts(self.ref_counts),
                "extra": self.extra, "count": self.count, "missing": self.missing}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalProfile:
        """Inverse of :meth:`to_dict`."""
        extra = d["extra"]
        return cls([str(v) for v in d["vocabulary"]], _codec.decode_array(d["ref_counts"], np.int64),
                   None if extra is None else [str(v) for v in extra], int(d["count"]),
                   int(d["missing"]))


class CategoricalState:
    """Window side of a categorical feature: counts over vocabulary + other + unseen."""

    def __init__(self, vocabulary_size: int) -> None:
        self.counts = np.zeros(vocabulary_size + 2, dtype=np.int64)
        self.count = 0
        self.missing = 0

    @property
    def n(self) -> int:
        """Number of non-missing values."""
        return int(self.counts.sum())

    @property
    def unseen(self) -> int:
        """Values never seen in the reference."""
        return int(self.counts[-1])

    def binned(self) -> ArrayI:
        """Counts over the vocabulary + "other" (known other and unseen together)."""
        out = self.counts[:-1].copy()
        out[-1] += self.counts[-1]
        return out

    def update(self, values: Any, profile: CategoricalProfile) -> None:
        """Add a column of category values (None/NaN = missing)."""
        codes, keys = factorize(values)
        self.count += int(codes.size)
        valid = codes[codes >= 0]
        self.missing += int(codes.size - valid.size)
        if valid.size == 0:
            return
        slots = np.array([profile.slot(k) for k in keys], dtype=np.int64)
        self.counts += np.bincount(slots, weights=np.bincount(valid, minlength=len(keys)),
                                   minlength=self.counts.size).astype(np.int64)

    def merge(self, other: CategoricalState) -> None:
        """Add another state over the same vocabulary into this one."""
        if other.counts.size != self.counts.size:
            raise ValueError("cannot merge categorical states over different vocabularies")
        self.counts += other.counts
        self.count += other.count
        self.missing += other.missing

    def to_dict(self) -> dict[str, Any]:
        """Builtins for serialisation."""
        return {"c": _codec.encode_counts(self.counts), "count": self.count,
                "missing": self.missing}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        counts = _codec.decode_array(d["c"], np.int64)
        state = cls(counts.size - 2)
        state.counts = counts.copy()
        state.count, state.missing = int(d["count"]), int(d["missing"])
        return state
