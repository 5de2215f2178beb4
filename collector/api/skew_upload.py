"""Skew-row uploads: the offline feature values of served requests, as JSON columns::

    {"prediction_ids": ["p-1", "p-2"], "features": {"amount": [12.5, 3.0], "country": ["FR", "DE"]}}

what :func:`infersight.sdk.upload_skew_rows` (and ``infersight skew upload``) sends. Every
problem is an :class:`~infersight.collector.api.reference_upload.UploadProblem` naming the
field, so the route answers 4xx, never 500. An id given twice keeps its first row.

>>> parse_skew_rows(b'{"prediction_ids": ["a", "b", "a"], "features": {"x": [1, 2, 3]}}')
({'a': {'x': 1}, 'b': {'x': 2}}, 1)
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from infersight.collector.api.reference_upload import UploadProblem

MAX_ROWS = 100_000
"""Rows per request (the SDK sends larger uploads in several)."""

Scalar = str | int | float | bool | None
_SCALARS = (str, int, float, bool, type(None))


class _SkewRows(msgspec.Struct, forbid_unknown_fields=True):
    prediction_ids: list[str]
    features: dict[str, list[Any]]


def parse_skew_rows(body: bytes) -> tuple[dict[str, dict[str, Any]], int]:
    """``({prediction_id: {feature: value}}, duplicates)``; NaN and null are missing values."""
    try:
        doc = msgspec.json.decode(body, type=_SkewRows)
    except msgspec.ValidationError as exc:
        path = str(exc).rsplit("at `$", 1)
        where = "body" + (path[1].rstrip("`").replace("[", ".").replace("]", "")
                          if len(path) > 1 else "")
        raise UploadProblem(where, str(exc).split(" - at ")[0]) from None
    except msgspec.DecodeError as exc:
        raise UploadProblem("body", f"not valid JSON: {exc}") from None
    ids = doc.prediction_ids
    if not ids:
        raise UploadProblem("body.prediction_ids", "no rows")
    if len(ids) > MAX_ROWS:
        raise UploadProblem("body.prediction_ids",
                            f"{len(ids)} rows, at most {MAX_ROWS:,} a request")
    bad = next((i for i, pid in enumerate(ids) if not pid or len(pid) > 255 or "\x00" in pid),
               None)
    if bad is not None:
        raise UploadProblem(f"body.prediction_ids.{bad}",
                            "an id must have 1 to 255 characters and no NUL")
    if not doc.features:
        raise UploadProblem("body.features", "no feature columns")
    for name, column in doc.features.items():
        if len(column) != len(ids):
            raise UploadProblem(f"body.features.{name}",
                                f"has {len(column)} values, prediction_ids has {len(ids)}")
        bad = next((i for i, value in enumerate(column) if type(value) not in _SCALARS), None)
        if bad is not None:
            raise UploadProblem(f"body.features.{name}.{bad}", "a value must be a number, a "
                                "string, a boolean or null (vectors are not compared)")
    rows: dict[str, dict[str, Any]] = {}
    for i, pid in enumerate(ids):
        if pid not in rows:
            rows[pid] = {name: _clean(column[i]) for name, column in doc.features.items()}
    return rows, len(ids) - len(rows)


def _clean(value: Scalar) -> Scalar:
    return None if isinstance(value, float) and not math.isfinite(value) else value
