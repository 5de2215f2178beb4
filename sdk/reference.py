"""``upload_reference``: send a model version's training/validation data to the API.

A small stdlib (urllib) client: ``POST {api_url}/v1/models/{model}/versions/{version}/reference``
with a JSON body of columns and ``Authorization: Bearer <INFERSIGHT_API_KEY>``::

    {"features": {"amount": [12.5, 3.0, ...], "country": ["FR", "DE", ...]},
     "predictions": [...] | null, "labels": [...] | null,
     "task": "binary" | "multiclass" | "regression" | null,
     "positive_class": ... | null, "threshold": 0.5 | null}

Values are cleaned as for events (NaN becomes null); redacted and hashed fields are
treated exactly as ``init``/``monitor`` treat them, so the reference matches live traffic.
Unlike the logging functions this is an explicit request: it raises
:class:`ReferenceUploadError` with the server's answer when the upload fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .config import build_config, field_names

__all__ = ["ReferenceUploadError", "reference_body", "upload_reference"]

TASKS = ("binary", "multiclass", "regression", "embedding")
"""The model tasks a reference (and a model's settings) may declare."""


class ReferenceUploadError(Exception):
    """The API refused the reference upload, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def _columns(features: Any) -> dict[str, list[Any]]:
    """Columns from a DataFrame, a mapping name -> sequence/array, or a sequence of row mappings."""
    from .extract import clean_value, feature_rows

    if hasattr(features, "columns") and hasattr(features, "to_dict"):
        raw = features.to_dict(orient="list")
        return {str(name): [clean_value(value) for value in values] for name, values in raw.items()}
    if isinstance(features, Mapping):
        columns: dict[str, list[Any]] = {}
        for name, values in features.items():
            if hasattr(values, "tolist"):
                values = values.tolist()
            if isinstance(values, str | bytes) or not isinstance(values, Sequence | Iterable):
                raise ValueError(f"feature {name!r} must be a column of values, got {type(values).__name__}")
            columns[str(name)] = [clean_value(value) for value in values]
        return columns
    rows, _ = feature_rows(features)
    names = sorted({name for row in rows for name in row})
    return {name: [row.get(name) for row in rows] for name in names}


def _sequence(values: Any, name: str, length: int) -> list[Any] | None:
    if values is None:
        return None
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a sequence, got {type(values).__name__}")
    from .extract import clean_prediction

    if len(values) != length:
        raise ValueError(f"{name} has {len(values)} values but the features have {length} rows")
    return [clean_prediction(value) for value in values]


def feature_columns(
    features: Any, redact: Iterable[str] = (), hash: Iterable[str] = (), hash_salt: bytes = b"",
) -> tuple[dict[str, list[Any]], int]:
    """Feature columns cleaned, redacted and hashed as ``init``/``monitor`` treat live
    events, and their length (``ValueError`` if they differ)."""
    from .events import hash_value

    columns = _columns(features)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"feature columns differ in length: {sorted(lengths)}")
    rows = lengths.pop() if lengths else 0
    for name in field_names(redact, "redact"):
        columns.pop(name, None)
    for name in field_names(hash, "hash"):
        if name in columns:
            columns[name] = [None if value is None else hash_value(value, hash_salt) for value in columns[name]]
    return columns, rows


def reference_body(
    features: Any, predictions: Any = None, labels: Any = None, *, task: str | None = None,
    positive_class: Any = None, threshold: float | None = None,
    redact: Iterable[str] = (), hash: Iterable[str] = (), hash_salt: bytes = b"",
    feature_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON document ``upload_reference`` posts (validated; raises ``ValueError`` with the reason).

    >>> reference_body({"amount": [1.0, float("nan")], "email": ["a@b.c", None]}, [0.2, 0.9],
    ...                hash=["email"])["features"]
    {'amount': [1.0, None], 'email': ['d648b243a3e817ea', None]}
    """
    from .extract import clean_value

    columns, rows = feature_columns(features, redact, hash, hash_salt)
    if rows == 0:
        raise ValueError("the reference has no rows")
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    body: dict[str, Any] = {
        "features": columns,
        "predictions": _sequence(predictions, "predictions", rows),
        "labels": _sequence(labels, "labels", rows),
        "task": task,
        "positive_class": clean_value(positive_class),
        "threshold": None if threshold is None else float(threshold),
    }
    if feature_types:
        body["feature_types"] = {str(name): str(kind) for name, kind in feature_types.items()}
    return body


def upload_reference(
    model: str, version: str, features: Any, predictions: Any = None, labels: Any = None, *,
    task: str | None = None, positive_class: Any = None, threshold: float | None = None,
    api_url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
    redact: Iterable[str] | None = None, hash: Iterable[str] | None = None,
    feature_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Upload the reference data of ``model`` / ``version``; returns the API's JSON answer.

    ``api_url`` and ``api_key`` default to ``INFERSIGHT_API_URL`` / ``INFERSIGHT_API_KEY``.
    Redaction and hashing default to what ``init`` configured for this model.
    ``feature_types`` overrides inferred kinds: ``{"zip": "categorical"}`` (``numeric``,
    ``categorical`` or ``embedding``).
    """
    url = version_url(model, version, "reference", api_url)
    names, hashed, salt = redaction(model, redact, hash)
    body = reference_body(
        features, predictions, labels, task=task, positive_class=positive_class, threshold=threshold,
        redact=names, hash=hashed, hash_salt=salt, feature_types=feature_types,
    )
    return post_json(url, body, api_key, timeout)


def redaction(model: str, redact: Iterable[str] | None, hash: Iterable[str] | None
              ) -> tuple[frozenset[str], frozenset[str], bytes]:
    """The fields to redact and to hash for ``model`` (what ``init`` configured, plus the
    given ones), and the hash salt."""
    from . import client as _client

    active = _client._current
    config = active.config if active is not None else build_config(transport="memory")
    defaults = config.model_defaults(model)
    return (frozenset(config.redact | defaults.redact | field_names(redact, "redact")),
            frozenset(config.hash | defaults.hash | field_names(hash, "hash")), config.hash_salt)


def version_url(model: str, version: str, path: str, api_url: str | None) -> str:
    """``{api_url}/v1/models/{model}/versions/{version}/{path}`` (``INFERSIGHT_API_URL``
    by default)."""
    from urllib.parse import quote

    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a non-empty string, got {model!r}")
    if version is None or str(version) == "":
        raise ValueError(f"version must be given (the {path} belongs to one model version)")
    base = (build_config(transport="memory").api_url if api_url is None else api_url).rstrip("/")
    return f"{base}/v1/models/{quote(model, safe='')}/versions/{quote(str(version), safe='')}/{path}"


def post_json(url: str, body: Any, api_key: str | None, timeout: float) -> dict[str, Any]:
    """POST ``body`` as JSON with the API key (``INFERSIGHT_API_KEY`` by default); the JSON
    answer, or :class:`ReferenceUploadError`."""
    import json
    import urllib.error
    import urllib.request

    key = api_key if api_key is not None else build_config(transport="memory").api_key
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        raise ReferenceUploadError(f"POST {url} returned {exc.code}: {detail}", exc.code, detail) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ReferenceUploadError(f"POST {url} failed: {exc}") from exc
    if not text.strip():
        return {}
    try:
        answer = json.loads(text)
    except ValueError:
        return {"response": text}
    return answer if isinstance(answer, dict) else {"response": answer}
