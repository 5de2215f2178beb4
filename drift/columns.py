"""Turn a batch (DataFrame, mapping name→array, or decoded wire-format events) into columns.

Examples
--------
>>> batch = to_columns([{"features": {"x": 1.5}, "prediction": 0.9, "latency_ms": 3.0},
...                     {"features": {"x": None}, "prediction": 0.2}], ["x"])
>>> batch.rows, list(batch.features["x"]), batch.latency_ms.tolist()
(2, [1.5, None], [3.0, nan])
>>> to_float([1, None, "abc", float("inf")])
(array([ 1., nan, nan, inf]), 1)
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

FeatureKind = Literal["numeric", "categorical", "embedding"]
ArrayF = npt.NDArray[np.float64]


@dataclass
class Columns:
    """A batch as columns: ``features[name]`` (absent names are all-missing), optional outputs."""

    rows: int
    features: dict[str, Any]
    predictions: Any = None
    latency_ms: ArrayF | None = None


def _column_length(name: str, column: Any) -> int:
    if isinstance(column, str | bytes) or not hasattr(column, "__len__"):
        raise TypeError(f"feature {name!r}: expected an array or sequence of values, "
                        f"got {type(column).__name__}")
    return len(column)


def to_columns(batch: Any, names: Iterable[str]) -> Columns:
    """Columns of ``names`` from a DataFrame, a mapping name→array, or a list of events.

    An event is a dict or an object with ``features`` (mapping), ``prediction`` and
    ``latency_ms``; a dict without a ``features`` mapping is read as one row of features.
    """
    wanted = list(names)
    if isinstance(batch, pd.DataFrame):
        cols = {n: batch[n].to_numpy() for n in wanted if n in batch.columns}
        return Columns(len(batch), cols)
    if isinstance(batch, Mapping):
        cols = {}
        lengths = {n: _column_length(n, batch[n]) for n in wanted if n in batch}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns have different lengths: {lengths}")
        for n in lengths:
            cols[n] = batch[n]
        rows = next(iter(lengths.values()), 0)
        if not lengths and batch:
            rows = _column_length(next(iter(batch)), next(iter(batch.values())))
        return Columns(rows, cols)
    if isinstance(batch, Sequence) and not isinstance(batch, str | bytes):
        return _events_to_columns(batch, wanted)
    raise TypeError(f"cannot read a batch from {type(batch).__name__}: pass a DataFrame, a "
                    "mapping name→array or a list of events")


def _features_of(events: Sequence[Any], first: Any) -> list[Any] | None:
    """The ``features`` mapping of each event, or None if these are rows, not events."""
    if type(first) is dict:
        if not isinstance(first.get("features"), Mapping):
            return None
        try:
            return list(map(operator.itemgetter("features"), events))
        except (KeyError, TypeError):
            return [e.get("features") if isinstance(e, Mapping) else None for e in events]
    if isinstance(first, Mapping):
        return None if not isinstance(first.get("features"), Mapping) else [
            e.get("features") if isinstance(e, Mapping) else None for e in events]
    if not isinstance(getattr(first, "features", None), Mapping):
        return None
    try:
        return list(map(operator.attrgetter("features"), events))
    except AttributeError:
        return [getattr(e, "features", None) for e in events]


def _field(events: Sequence[Any], first: Any, name: str) -> list[Any]:
    if type(first) is dict:
        try:
            return list(map(operator.itemgetter(name), events))
        except (KeyError, TypeError):
            pass
        return [e.get(name) if isinstance(e, Mapping) else None for e in events]
    try:
        return list(map(operator.attrgetter(name), events))
    except AttributeError:
        return [getattr(e, name, None) for e in events]


def _transpose(feats: list[Any], wanted: list[str]) -> dict[str, Any]:
    """Columns of ``wanted`` from a list of feature mappings (missing key/mapping → None)."""
    if not wanted:
        return {}
    try:
        getter = operator.itemgetter(*wanted)
        rows = list(map(getter, feats))
        if len(wanted) == 1:
            return {wanted[0]: rows}
        return dict(zip(wanted, zip(*rows, strict=True), strict=True)) if rows else {
            n: [] for n in wanted}
    except (KeyError, TypeError):  # some event lacks a feature, or is not a mapping
        safe = [f if isinstance(f, Mapping) else {} for f in feats]
        return {n: [f.get(n) for f in safe] for n in wanted}


def _events_to_columns(events: Sequence[Any], wanted: list[str]) -> Columns:
    rows = len(events)
    if rows == 0:
        return Columns(0, {})
    first = events[0]
    feats = _features_of(events, first)
    if feats is None:  # a list of feature rows
        return Columns(rows, _transpose(list(events), wanted))
    predictions = _field(events, first, "prediction")
    latency = _field(events, first, "latency_ms")
    has_pred = any(p is not None for p in predictions)
    lat = to_float(latency)[0] if any(v is not None for v in latency) else None
    return Columns(rows, _transpose(feats, wanted), predictions if has_pred else None, lat)


def to_float(column: Any) -> tuple[ArrayF, int]:
    """Column → float64 array (None/NaN → NaN) and the number of values that are not numbers."""
    if isinstance(column, pd.Series):
        column = column.to_numpy()
    try:
        arr = np.asarray(column, dtype=np.float64)
        if arr.ndim == 1:
            return arr, 0
    except (TypeError, ValueError, OverflowError):
        pass
    values = list(np.asarray(column, dtype=object).ravel()) if not isinstance(column, list) \
        else column
    out = np.empty(len(values), dtype=np.float64)
    invalid = 0
    for i, v in enumerate(values):
        if v is None:
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError, OverflowError):
            out[i] = np.nan
            invalid += 1
    return out, invalid


MAX_NON_NUMBER_SHARE = 0.02
"""A column of numbers with at most this share of other values (typos, ``"n/a"``) stays
numeric, those values counted as invalid; with more, and numbers still the majority, it is
refused as mixed."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_)


def _reads_as_number(value: Any) -> bool:
    """A number, or text holding a finite one (how a CSV column with a typo arrives)."""
    if _is_number(value):
        return True
    if not isinstance(value, str):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except ValueError:
        return False


def _present_non_numbers(column: Any) -> tuple[pd.Series, npt.NDArray[np.bool_],
                                                npt.NDArray[np.bool_], bool]:
    """The column as a Series, its missing rows (None, NaN, empty text), its present rows that
    are not numbers (text holding a finite number counts as one), and whether any value is a
    number proper (not text). Text columns are classified by their distinct values, so a
    100k-row column of a few categories costs a few checks, not 100k."""
    series = _as_series(column)
    rows = len(series)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series, series.isna().to_numpy(), ~series.isna().to_numpy(), False
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series, series.isna().to_numpy(), np.zeros(rows, dtype=bool), rows > 0
    if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        distinct = list(uniques)
        empty = np.array([v == "" for v in distinct] + [True], dtype=bool)
        number = np.array([_reads_as_number(v) for v in distinct] + [False], dtype=bool)
        missing = empty[codes]  # code -1 (None, NaN) takes the last entry
        return series, missing, ~missing & ~number[codes], False
    values = series.tolist()  # mixed types: value by value
    missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) or
                        (isinstance(v, str) and v == "") for v in values], dtype=bool)
    bad = np.array([not m and not _reads_as_number(v) for v, m in zip(values, missing,
                                                                      strict=True)], dtype=bool)
    return series, missing, bad, any(_is_number(v) for v in values)


def _as_series(column: Any) -> pd.Series:
    if isinstance(column, pd.Series):
        return column
    return pd.Series(column if isinstance(column, np.ndarray) else list(column))


def non_numbers(column: Any) -> list[tuple[int, Any]]:
    """``(row, value)`` of the present values of a column that are not numbers (text holding
    a number counts as one; None, NaN and empty cells count as missing).

    >>> non_numbers([1.5, "2", None, "abc", float("nan"), "n/a"])
    [(3, 'abc'), (5, 'n/a')]
    >>> non_numbers(["1", "x", "", None, "1", "x"])
    [(1, 'x'), (5, 'x')]
    """
    series, _, bad, _ = _present_non_numbers(column)
    return [(row, series.iat[row]) for row in np.flatnonzero(bad).tolist()]


def _numbers_or_text(column: Any) -> FeatureKind:
    """Text with a few numbers is categorical; numbers with a few other values (≤
    :data:`MAX_NON_NUMBER_SHARE`) numeric; numbers with more is refused as mixed."""
    series, missing, bad, typed_numbers = _present_non_numbers(column)
    refused = int(bad.sum())
    if not refused:  # numbers, some written as text; only text: numeric-looking codes, categories
        return "numeric" if typed_numbers else "categorical"
    present = int((~missing).sum())
    numbers = present - refused
    if numbers <= present / 2:
        return "categorical"
    if refused <= MAX_NON_NUMBER_SHARE * present:
        return "numeric"
    row = int(np.flatnonzero(bad)[0])
    raise ValueError(
        f"the column is mixed: {numbers} of {present} values are numbers and {refused} "
        f"are not (e.g. {series.iat[row]!r} at row {row + 1}); declare its kind with "
        f"feature_types (`infersight reference upload ... --feature-types NAME=numeric`: the "
        f"others count as missing; `NAME=categorical`: every value is a category)")


_VECTOR_TYPES = (list, tuple, np.ndarray)
_NUMBER_TYPES = frozenset({"integer", "floating", "mixed-integer-float"})
"""pandas' inferred types of an object column holding numbers only."""
_SCALAR_TYPES = frozenset({"string", "empty", "boolean", "bytes", "decimal", "complex",
                           "datetime", "datetime64", "date", "time", "timedelta", "timedelta64",
                           "period", "interval", *_NUMBER_TYPES})
"""Inferred types that cannot hold a vector (the rest, e.g. ``mixed``, are scanned)."""


def _is_sequence(value: Any) -> bool:
    return isinstance(value, _VECTOR_TYPES)


def infer_kind(column: Any) -> FeatureKind:
    """Numeric for numbers; categorical for text, booleans and two-valued integer flags (0/1);
    embedding for vectors (lists or arrays of numbers, all of one length, None allowed).

    Examples
    --------
    >>> infer_kind([1.5, 2.0, 3.25]), infer_kind(["a", "b"]), infer_kind([0, 1, 1, 0])
    ('numeric', 'categorical', 'categorical')
    >>> infer_kind([[0.1, 0.2], None, [0.3, 0.4]])
    'embedding'
    >>> infer_kind(["12.5", "3"] * 50 + ["abc"])  # a CSV column with one typo
    'numeric'
    >>> infer_kind([[0.1, 0.2], [0.3]])
    Traceback (most recent call last):
    ValueError: a column of vectors must hold vectors of one length (numbers only): found lengths 1, 2
    """
    if isinstance(column, np.ndarray) and column.ndim == 2:
        return "embedding"
    series = _as_series(column)
    if pd.api.types.is_bool_dtype(series.dtype):
        return "categorical"
    if not pd.api.types.is_numeric_dtype(series.dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred == "empty":
            return "categorical"
        if inferred not in _SCALAR_TYPES and any(_is_sequence(v) for v in series):
            return _vector_kind(series)
        if inferred not in _NUMBER_TYPES:
            return _numbers_or_text(series)
        series = series.dropna().astype(np.float64)
    values = series.dropna()
    if values.empty:
        return "numeric"
    arr = values.to_numpy(dtype=np.float64)
    if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) and np.unique(arr).size == 2:
        return "categorical"
    return "numeric"


def _vector_kind(series: pd.Series) -> FeatureKind:
    """``embedding`` when every present value is a vector of numbers of one length."""
    from .embedding import as_vector

    vectors = [as_vector(v) for v in series if v is not None]
    if any(v is None for v in vectors) or not all(_is_sequence(v) for v in series
                                                  if v is not None):
        raise ValueError("a column of vectors must hold vectors of numbers only (or None "
                         "for a missing one)")
    lengths = sorted({v.size for v in vectors if v is not None})
    if len(lengths) != 1:
        raise ValueError("a column of vectors must hold vectors of one length (numbers "
                         f"only): found lengths {', '.join(map(str, lengths[:5]))}")
    return "embedding"
