"""``infersight reference upload``: a CSV or Parquet file sent through the SDK's reference client.

The file is read with pandas (the same readers the API uses for a file body), its label,
prediction and score columns are taken out as the upload options name them, and the rest
goes to :func:`infersight.sdk.upload_reference` as feature columns — so values are cleaned,
redacted and hashed exactly as for a DataFrame uploaded from Python or a live event
(docs/sdk.md).

>>> split_columns(__import__("pandas").DataFrame({"x": [1, 2], "y": [0, 1]}), label_column="y")
({'x': [1, 2]}, None, [0, 1])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
"""File suffixes the command reads, and how."""


class ReferenceFileError(ValueError):
    """The file or an option naming one of its columns is unusable (the message says why)."""


def read_frame(path: Path) -> Any:
    """The file as a pandas DataFrame (CSV with a header row, or Parquet)."""
    import pandas as pd

    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise ReferenceFileError(f"{path}: expected a .csv or .parquet file")
    if not path.is_file():
        raise ReferenceFileError(f"{path}: no such file")
    try:
        return pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ReferenceFileError(
            f"{path}: not a readable {kind} file: {str(exc).splitlines()[0][:300]}"
        ) from None


def _values(frame: Any, name: str | None) -> list[Any] | None:
    if name is None:
        return None
    return [None if isinstance(v, float) and math.isnan(v) else v for v in frame[name].tolist()]


def split_columns(
    frame: Any, *, label_column: str | None = None, prediction_column: str | None = None,
    score_column: str | None = None,
) -> tuple[dict[str, list[Any]], list[Any] | None, list[Any] | None]:
    """``(features, predictions, labels)``: a prediction column and a score column together
    make ``{"label", "score"}`` predictions (the wire format's shape)."""
    frame.columns = [str(c) for c in frame.columns]
    named = {"label_column": label_column, "prediction_column": prediction_column,
             "score_column": score_column}
    for option, wanted in named.items():
        if wanted is not None and wanted not in frame.columns:
            shown = ", ".join(list(frame.columns)[:50])
            raise ReferenceFileError(f"{option}: no column {wanted!r} (columns: {shown})")
    used = {c for c in named.values() if c is not None}
    features = {c: frame[c].tolist() for c in frame.columns if c not in used}
    if not features:
        raise ReferenceFileError("no feature columns left besides the label/prediction/score ones")
    predicted, scores = _values(frame, prediction_column), _values(frame, score_column)
    if predicted is not None and scores is not None:
        predictions: list[Any] | None = [
            {"label": p, "score": s} for p, s in zip(predicted, scores, strict=True)
        ]
    else:
        predictions = predicted if predicted is not None else scores
    return features, predictions, _values(frame, label_column)


def upload_reference_file(
    model: str, version: str, path: Path, *, api_url: str, api_key: str | None,
    label_column: str | None = None, prediction_column: str | None = None,
    score_column: str | None = None, task: str | None = None, positive_class: Any = None,
    threshold: float | None = None, redact: Iterable[str] = (), hash: Iterable[str] = (),
    timeout: float = 600.0, feature_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read ``path`` and upload it as the reference of ``model`` / ``version``; returns the
    API's answer. Raises :class:`ReferenceFileError` or
    :class:`infersight.sdk.ReferenceUploadError`."""
    from infersight.sdk import upload_reference

    features, predictions, labels = split_columns(
        read_frame(path), label_column=label_column, prediction_column=prediction_column,
        score_column=score_column,
    )
    try:
        return upload_reference(
            model, version, features, predictions, labels, task=task,
            positive_class=positive_class, threshold=threshold, api_url=api_url,
            api_key=api_key, timeout=timeout, redact=redact, hash=hash,
            feature_types=feature_types,
        )
    except ValueError as exc:  # the SDK's own validation of the columns
        raise ReferenceFileError(str(exc)) from None


def upload_skew_file(
    model: str, version: str, path: Path, *, id_column: str, api_url: str,
    api_key: str | None, redact: Iterable[str] = (), hash: Iterable[str] = (),
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Read ``path`` (offline feature values, one row per served request) and upload it for
    the train/serve skew of ``model`` / ``version``, ids from ``id_column``; returns the API's
    answer. Raises :class:`ReferenceFileError` or :class:`infersight.sdk.ReferenceUploadError`."""
    from infersight.sdk import upload_skew_rows

    frame = read_frame(path)
    frame.columns = [str(c) for c in frame.columns]
    if id_column not in frame.columns:
        shown = ", ".join(list(frame.columns)[:50])
        raise ReferenceFileError(f"id_column: no column {id_column!r} (columns: {shown})")
    ids = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
           for v in frame[id_column].tolist()]
    features = {c: frame[c].tolist() for c in frame.columns if c != id_column}
    try:
        return upload_skew_rows(model, version, ids, features, api_url=api_url, api_key=api_key,
                                timeout=timeout, redact=redact, hash=hash)
    except ValueError as exc:  # the SDK's own validation of the columns
        raise ReferenceFileError(str(exc)) from None
