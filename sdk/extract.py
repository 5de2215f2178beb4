"""Feature and prediction extraction, by duck typing, on the background thread.

Never imports pandas, numpy or pydantic: a DataFrame is recognised by ``columns`` and
``to_dict``, an array by ``ndim`` and ``tolist``, a pydantic model by ``model_dump``.
Values become what the wire format carries: numbers, strings, booleans, vectors of numbers
(lists, tuples and 1-D arrays: embeddings) or ``None`` (missing); NaN and infinities count as
missing, and a vector holding one is missing as a whole.

>>> rows, is_batch = feature_rows({"amount": 12.5, "country": "FR", "age": float("nan")})
>>> rows, is_batch
([{'amount': 12.5, 'country': 'FR', 'age': None}], False)
>>> feature_rows([[1, 2], [3, 4]], feature_names=["a", "b"])[0]
[{'a': 1, 'b': 2}, {'a': 3, 'b': 4}]
>>> feature_rows({"prompt_embedding": (0.12, -0.5, 1)})[0]
[{'prompt_embedding': [0.12, -0.5, 1.0]}]
>>> clean_prediction({"label": "fraud", "score": 0.93})
{'label': 'fraud', 'score': 0.93}
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "MAX_STRING_LENGTH",
    "MAX_VECTOR_LENGTH",
    "Scalar",
    "Value",
    "clean_prediction",
    "clean_value",
    "feature_rows",
    "is_data_like",
    "prediction_rows",
]

Scalar = float | int | str | bool | None
Value = Scalar | list[float]
"""A feature value as sent: a scalar, or a vector of finite numbers (an embedding)."""
MAX_STRING_LENGTH = 1024
"""Longer string values are cut to this many characters (keeps events bounded)."""
MAX_VECTOR_LENGTH = 4096
"""Longer vectors are sent as missing (the wire format's bound)."""

_PLAIN = (int, str, bool, type(None))


def clean_value(value: Any) -> Value:
    """One feature value as the wire format carries it.

    >>> clean_value(float("inf")), clean_value("x" * 2000)[-3:], clean_value(_dt.date(2024, 5, 1))
    (None, 'xxx', '2024-05-01')
    >>> clean_value([0.5, 2]), clean_value([0.5, float("nan")]), clean_value(["a", "b"])
    ([0.5, 2.0], None, "['a', 'b']")
    """
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return value if -_INT64 <= value < _INT64 else _int64(value)
    if kind in _PLAIN:
        if kind is str and len(value) > MAX_STRING_LENGTH:
            return str(value[:MAX_STRING_LENGTH])
        return value  # type: ignore[no-any-return]
    return _clean_other(value)


_INT64 = 2**63


def _int64(value: int) -> Scalar:
    """Integers beyond 64 bits travel as floats (the wire format's integers are int64)."""
    if -_INT64 <= value < _INT64:
        return value
    number = float(value) if abs(value) < 2**1023 else math.inf
    return number if math.isfinite(number) else None


def _vector(items: Sequence[Any]) -> Value:
    """Numbers as a vector (missing if one is not finite, or beyond the length bound); other
    items as their text, as before vectors existed."""
    vector: list[float] = []
    for item in items:
        if isinstance(item, bool | str | bytes) or not hasattr(item, "__float__"):
            return str(list(items))[:MAX_STRING_LENGTH]
        try:
            vector.append(float(item))
        except (TypeError, ValueError, OverflowError):
            return None
    if len(vector) > MAX_VECTOR_LENGTH or not all(math.isfinite(v) for v in vector):
        return None
    return vector


def _clean_other(value: Any) -> Value:
    if isinstance(value, list | tuple):
        return _vector(value)
    if _is_missing_marker(value):
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _int64(int(value))
    if isinstance(value, float):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return str(value)[:MAX_STRING_LENGTH]
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:  # a numpy scalar or 0-d array
        return clean_value(item())
    if getattr(value, "ndim", None) == 1 and callable(getattr(value, "tolist", None)):
        return _vector(value.tolist())  # a 1-D array
    number_like = getattr(value, "__float__", None)
    if number_like is not None and not isinstance(value, complex):
        try:
            number = float(value)  # Decimal, Fraction
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        return number if math.isfinite(number) else None
    return str(value)[:MAX_STRING_LENGTH]


def _is_missing_marker(value: Any) -> bool:
    """pandas' NA and NaT (recognised by name, without importing pandas)."""
    return type(value).__name__ in {"NAType", "NaTType"}


def _row(mapping: Mapping[Any, Any]) -> dict[str, Value]:
    """One cleaned row; the common types are handled inline (this is the worker's hot loop)."""
    row: dict[str, Value] = {}
    for key, value in mapping.items():
        if type(key) is not str:
            key = str(key)
        kind = type(value)
        if kind is float:
            row[key] = value if value - value == 0.0 else None  # NaN and ±inf give NaN
        elif kind is str:
            row[key] = value if len(value) <= MAX_STRING_LENGTH else value[:MAX_STRING_LENGTH]
        elif kind is bool or value is None:
            row[key] = value
        elif kind is int:
            row[key] = value if -_INT64 <= value < _INT64 else _int64(value)
        else:
            row[key] = clean_value(value)
    return row


def _names(count: int, feature_names: Sequence[str] | None) -> Sequence[str]:
    if feature_names is None:
        return [f"x{i}" for i in range(count)]
    if len(feature_names) != count:
        raise ValueError(f"{count} values but {len(feature_names)} feature_names")
    return feature_names


def _is_frame(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "to_dict") and hasattr(value, "iloc")


def _is_series(value: Any) -> bool:
    return hasattr(value, "index") and hasattr(value, "to_dict") and hasattr(value, "iloc")


def _is_array(value: Any) -> bool:
    return hasattr(value, "ndim") and hasattr(value, "tolist") and hasattr(value, "shape")


def _is_dataclass_instance(value: Any) -> bool:
    return hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type)


def _dataclass_field_names(value: Any) -> list[str]:
    import dataclasses  # on the background thread only: it imports inspect, which is slow

    return [field.name for field in dataclasses.fields(value)]


def is_data_like(value: Any) -> bool:
    """Whether ``value`` looks like model input (the default extractor looks for one).

    >>> is_data_like({"a": 1}), is_data_like(3), is_data_like("text")
    (True, False, False)
    """
    if isinstance(value, Mapping):
        return True
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return False
    if _is_frame(value) or _is_series(value) or _is_array(value):
        return True
    if callable(getattr(value, "model_dump", None)):
        return True
    if _is_dataclass_instance(value):
        return True
    return isinstance(value, list | tuple) and bool(value) and isinstance(value[0], Mapping)


def feature_rows(
    value: Any, feature_names: Sequence[str] | None = None
) -> tuple[list[dict[str, Value]], bool]:
    """Feature rows of one call and whether it was a batch (one event per row).

    Accepts a mapping, a pandas DataFrame (batch) or Series, a numpy array or list of
    values named by ``feature_names`` (default ``x0, x1, ...``; 1-D: one row, 2-D: a
    batch), a list of mappings (batch), a pydantic model, a dataclass or a named tuple.
    Raises ``ValueError`` for anything else.
    """
    if isinstance(value, Mapping):
        return [_row(value)], False
    if _is_frame(value):
        records = value.to_dict(orient="records")
        return [_row(record) for record in records], True
    if _is_series(value):
        return [_row(value.to_dict())], False
    if _is_array(value):
        if value.ndim == 1:
            values = value.tolist()
            return [dict(zip(_names(len(values), feature_names), map(clean_value, values), strict=True))], False
        if value.ndim == 2:
            rows = value.tolist()
            names = _names(len(rows[0]) if rows else 0, feature_names)
            return [dict(zip(names, map(clean_value, row), strict=True)) for row in rows], True
        raise ValueError(f"feature arrays must be 1-D or 2-D, got {value.ndim}-D")
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return [_row(dump())], False
    if _is_dataclass_instance(value):
        return [{name: clean_value(getattr(value, name)) for name in _dataclass_field_names(value)}], False
    as_dict = getattr(value, "_asdict", None)
    if callable(as_dict):
        return [_row(as_dict())], False
    if isinstance(value, list | tuple):
        if value and isinstance(value[0], Mapping):
            return [_row(item) for item in value], True
        if value and isinstance(value[0], list | tuple):
            names = _names(len(value[0]), feature_names)
            return [dict(zip(names, map(clean_value, row), strict=True)) for row in value], True
        if feature_names is not None:
            return [dict(zip(_names(len(value), feature_names), map(clean_value, value), strict=True))], False
    raise ValueError(
        f"cannot read features from {type(value).__name__}: give a mapping, DataFrame, "
        "array with feature_names, pydantic model or dataclass, or a features= extractor"
    )


def clean_prediction(value: Any) -> Any:
    """One prediction in wire shape: a number, class label, probability list or label/score dict.

    >>> clean_prediction((0.2, 0.8)), clean_prediction({"label": 1, "score": {"a": 0.4, "b": 0.6}})
    ([0.2, 0.8], {'label': 1, 'score': {'a': 0.4, 'b': 0.6}})
    """
    if type(value) in _PLAIN or type(value) is float:
        return clean_value(value)
    if _is_array(value) or _is_series(value):
        return clean_prediction(value.tolist())
    if isinstance(value, Mapping):
        return {str(key): clean_prediction(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(item) for item in value]
    return clean_value(value)


def prediction_rows(value: Any, count: int) -> list[Any]:
    """``count`` predictions from a batch call's output (a sequence, array, Series or DataFrame)."""
    if _is_frame(value):
        value = value.to_numpy().tolist()
    elif _is_array(value) or _is_series(value):
        value = value.tolist()
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise ValueError(f"a batch of {count} rows needs a sequence of predictions, got {type(value).__name__}")
    if len(value) != count:
        raise ValueError(f"{count} feature rows but {len(value)} predictions")
    return [clean_prediction(item) for item in value]
