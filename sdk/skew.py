"""``upload_skew_rows``: send the offline feature values of served requests to the API, for the
train/serve skew by key (docs/statistics.md).

``POST {api_url}/v1/models/{model}/versions/{version}/skew-rows`` with a JSON body of columns
(in requests of at most ``chunk_rows`` rows)::

    {"prediction_ids": ["p-1", "p-2"], "features": {"amount": [12.5, 3.0], ...}}

Values are cleaned, redacted and hashed exactly as ``init``/``monitor`` treat live events
(as :func:`~infersight.sdk.upload_reference` does), so equal values compare equal. Raises
:class:`~infersight.sdk.ReferenceUploadError` with the server's answer when a request fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .reference import feature_columns, post_json, redaction, version_url

__all__ = ["skew_bodies", "upload_skew_rows"]

CHUNK_ROWS = 50_000
"""Rows per request (the API takes at most 100,000)."""


def skew_bodies(
    prediction_ids: Any, features: Any, *, redact: Iterable[str] = (), hash: Iterable[str] = (),
    hash_salt: bytes = b"", chunk_rows: int = CHUNK_ROWS,
) -> Iterator[dict[str, Any]]:
    """The JSON documents ``upload_skew_rows`` posts (validated; ``ValueError`` says why).

    >>> next(skew_bodies(["a", "b"], {"amount": [1.0, float("nan")], "email": ["x@y.z", None]},
    ...                  redact=["email"]))
    {'prediction_ids': ['a', 'b'], 'features': {'amount': [1.0, None]}}
    """
    ids = prediction_ids.tolist() if hasattr(prediction_ids, "tolist") else list(prediction_ids)
    bad = next((pid for pid in ids if not isinstance(pid, str) or not pid), None)
    if bad is not None or not ids:
        raise ValueError("prediction ids must be non-empty strings"
                         + ("" if bad is None and ids else f", got {bad!r}" if ids else
                            ": there are none"))
    columns, rows = feature_columns(features, redact, hash, hash_salt)
    if not columns:
        raise ValueError("no feature columns (after redaction)")
    if rows != len(ids):
        raise ValueError(f"{len(ids)} prediction ids but the features have {rows} rows")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    for start in range(0, len(ids), chunk_rows):
        yield {"prediction_ids": ids[start : start + chunk_rows],
               "features": {name: values[start : start + chunk_rows]
                            for name, values in columns.items()}}


def upload_skew_rows(
    model: str, version: str, prediction_ids: Any, features: Any, *,
    api_url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
    redact: Iterable[str] | None = None, hash: Iterable[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> dict[str, Any]:
    """Upload offline feature values of ``model`` / ``version`` by prediction id; returns the
    API's answers summed (``rows``, ``stored``, ``duplicates``) with the last one's other
    fields. ``api_url``/``api_key`` default to ``INFERSIGHT_API_URL``/``INFERSIGHT_API_KEY``;
    redaction and hashing to what ``init`` configured for this model."""
    url = version_url(model, version, "skew-rows", api_url)
    names, hashed, salt = redaction(model, redact, hash)
    total: dict[str, Any] = {}
    for body in skew_bodies(prediction_ids, features, redact=names, hash=hashed,
                            hash_salt=salt, chunk_rows=chunk_rows):
        answer = post_json(url, body, api_key, timeout)
        counts = {name: int(total.get(name, 0)) + int(answer.get(name, 0))
                  for name in ("rows", "stored", "duplicates")}
        total = {**answer, **counts}
    return total
