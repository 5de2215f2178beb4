"""Turn the call path's raw records into wire-format events, on the background thread.

The call path only builds a tuple (see :mod:`infersight.sdk.records`); everything that
costs time happens here: running extractors, cleaning values, redaction and hashing,
applying per-model defaults, formatting timestamps.

>>> from infersight.sdk.config import build_config
>>> from infersight.sdk.records import PREDICTION
>>> builder = EventBuilder(build_config(transport="memory", hash=["email"]))
>>> record = (PREDICTION, "fraud", "3", {"amount": 5, "email": "a@b.c"}, 0.9, 4.0, "id-1",
...           "2024-05-01T12:00:00Z", None, None, (), (), None, None)
>>> [(topic, event["features"]) for topic, event in builder.build(record)]
[('infersight.events', {'amount': 5, 'email': 'd648b243a3e817ea'})]
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .config import UNVERSIONED, SdkConfig
from .extract import (
    Scalar,
    clean_prediction,
    clean_value,
    feature_rows,
    prediction_rows,
)
from .records import CALL, LABEL, PREDICTION, QueueItem
from .wire import EVENTS_TOPIC, LABELS_TOPIC

__all__ = ["EventBuilder", "ExtractError", "InvalidEvent", "format_ts", "hash_value", "parse_ts"]

Event = dict[str, Any]
Routed = tuple[str, Event]  # (topic, event); the batch key is event["model"]

HASH_HEX_DIGITS = 16


class ExtractError(Exception):
    """A user extractor raised, or the input could not be read (dropped as ``extract_error``)."""


class InvalidEvent(Exception):
    """A logged event is malformed (dropped as ``invalid_event``)."""


def hash_value(value: Scalar, salt: bytes = b"") -> str:
    """SHA-256 of ``salt + str(value)`` in UTF-8, first 16 hex digits (64 bits).

    >>> hash_value("a@b.c")
    'd648b243a3e817ea'
    >>> hash_value("a@b.c", salt=b"pepper") != hash_value("a@b.c")
    True
    """
    return hashlib.sha256(salt + str(value).encode()).hexdigest()[:HASH_HEX_DIGITS]


_ts_cache: tuple[int, str] = (-1, "")


def format_ts(wall_ns: int) -> str:
    """RFC 3339 UTC with microseconds from nanoseconds since the epoch.

    >>> format_ts(1714564800_123456789)
    '2024-05-01T12:00:00.123456Z'
    """
    global _ts_cache
    seconds, rest = divmod(wall_ns, 1_000_000_000)
    cached_second, prefix = _ts_cache
    if seconds != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _ts_cache = (seconds, prefix)
    return f"{prefix}.{rest // 1000:06d}Z"


def parse_ts(value: Any) -> str:
    """A user-given event time (datetime, RFC 3339 string or epoch seconds) as RFC 3339 UTC.

    Naive datetimes are taken as UTC.

    >>> parse_ts("2024-05-01T14:00:00+02:00"), parse_ts(0)
    ('2024-05-01T12:00:00.000000Z', '1970-01-01T00:00:00.000000Z')
    """
    if isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidEvent(f"ts {value!r} is not an RFC 3339 / ISO 8601 time") from None
    elif isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InvalidEvent(f"ts must be finite, got {value!r}")
        return format_ts(int(value * 1_000_000_000))
    else:
        raise InvalidEvent(f"ts must be a datetime, RFC 3339 string or epoch seconds, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    moment = moment.astimezone(_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


MAX_NAME_CHARS = 256  # the wire format's bound on model, version and prediction id


def _required_str(value: Any, name: str) -> str:
    if isinstance(value, str):
        if not value:
            raise InvalidEvent(f"{name} must not be empty")
        if len(value) > MAX_NAME_CHARS:
            raise InvalidEvent(f"{name} is {len(value)} characters long, the limit is {MAX_NAME_CHARS}")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidEvent(f"{name} must be a string, got {type(value).__name__}")


def _run(extractor: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return extractor(*args, **kwargs)
    except Exception as exc:
        name = getattr(extractor, "__qualname__", repr(extractor))
        raise ExtractError(f"extractor {name} raised {type(exc).__name__}: {exc}") from exc


class EventBuilder:
    """Builds wire events from records with the client's configuration."""

    def __init__(self, config: SdkConfig) -> None:
        self._config = config

    def build(self, record: QueueItem) -> list[Routed]:
        """The events of one record; raises ExtractError or InvalidEvent to drop it."""
        kind = record[0]
        if kind == CALL:
            return self._from_call(record)
        if kind == PREDICTION:
            return self._from_prediction(record)
        if kind == LABEL:
            return self._from_label(record)
        raise InvalidEvent(f"unknown record kind {kind!r}")

    def _from_call(self, record: QueueItem) -> list[Routed]:
        _, spec, args, kwargs, result, error, latency_ns, wall_ns, prediction_id, user_ids = record
        call_args = args[1:] if spec.drops_self else args
        if spec.features is not None:
            features = _run(spec.features, *call_args, **kwargs)
        else:
            features = spec.default_features(call_args, kwargs)
        if error is None and spec.prediction is not None:
            prediction = _run(spec.prediction, result)
        else:
            prediction = result
        return self._predictions(
            model=spec.model, version=spec.version, features=features, prediction=prediction,
            latency_ms=latency_ns / 1e6, prediction_id=prediction_id, ts=format_ts(wall_ns),
            tags=spec.tags, feature_names=spec.feature_names, redact=spec.redact, hashed=spec.hash,
            error=error, user_ids=user_ids,
        )

    def _from_prediction(self, record: QueueItem) -> list[Routed]:
        (_, model, version, features, prediction, latency_ms, prediction_id, ts, tags,
         feature_names, redact, hashed, error, wall_ns) = record
        if latency_ms is not None:
            if isinstance(latency_ms, bool) or not isinstance(latency_ms, int | float):
                raise InvalidEvent(f"latency_ms must be a number, got {type(latency_ms).__name__}")
            if not math.isfinite(latency_ms) or latency_ms < 0:
                raise InvalidEvent(f"latency_ms must be finite and >= 0, got {latency_ms!r}")
        return self._predictions(
            model=model, version=version, features=features, prediction=prediction,
            latency_ms=None if latency_ms is None else float(latency_ms),
            prediction_id=_required_str(prediction_id, "prediction_id"),
            ts=parse_ts(ts) if ts is not None else format_ts(wall_ns if wall_ns else time.time_ns()),
            tags=tags, feature_names=feature_names, redact=redact, hashed=hashed,
            error=error, user_ids=None,
        )

    def _from_label(self, record: QueueItem) -> list[Routed]:
        _, model, prediction_id, label, ts, wall_ns = record
        event: Event = {
            "type": "label",
            "model": _required_str(model, "model"),
            "prediction_id": _required_str(prediction_id, "prediction_id"),
            "label": clean_prediction(label),
            "ts": parse_ts(ts) if ts is not None else format_ts(wall_ns),
        }
        return [(LABELS_TOPIC, event)]

    def _predictions(
        self, *, model: Any, version: Any, features: Any, prediction: Any, latency_ms: float | None,
        prediction_id: str, ts: str, tags: Mapping[str, str] | None,
        feature_names: Any, redact: Iterable[str], hashed: Iterable[str], error: str | None,
        user_ids: Any,
    ) -> list[Routed]:
        model = _required_str(model, "model")
        defaults = self._config.model_defaults(model)
        if version is None:
            version = defaults.version or UNVERSIONED
        version = _required_str(version, "version")
        merged_tags = {**self._config.tags, **defaults.tags, **(tags or {})}
        try:
            rows, is_batch = feature_rows(features if features is not None else {}, feature_names)
        except (ValueError, TypeError) as exc:
            raise ExtractError(str(exc)) from exc
        drop = self._config.redact | defaults.redact | frozenset(redact)
        hide = self._config.hash | defaults.hash | frozenset(hashed)
        if drop or hide:
            rows = [self._redact(row, drop, hide) for row in rows]
        if not is_batch:
            predictions = [None if error is not None else clean_prediction(prediction)]
            ids = [str(user_ids) if user_ids is not None else prediction_id]
        else:
            count = len(rows)
            try:
                predictions = [None] * count if error is not None else prediction_rows(prediction, count)
            except (ValueError, TypeError) as exc:
                raise ExtractError(str(exc)) from exc
            ids = _row_ids(prediction_id, user_ids, count)
        events: list[Routed] = []
        for row, row_prediction, row_id in zip(rows, predictions, ids, strict=True):
            event: Event = {
                "type": "prediction", "model": model, "version": version, "prediction_id": row_id,
                "ts": ts, "features": row, "prediction": row_prediction, "latency_ms": latency_ms,
                "tags": merged_tags,
            }
            if error is not None:
                event["error"] = error
            events.append((EVENTS_TOPIC, event))
        return events

    def _redact(self, row: dict[str, Scalar], drop: frozenset[str], hide: frozenset[str]) -> dict[str, Scalar]:
        salt = self._config.hash_salt
        cleaned = {name: value for name, value in row.items() if name not in drop}
        for name in hide:
            value = cleaned.get(name)
            if value is not None:
                cleaned[name] = hash_value(value, salt)
        return cleaned


def _row_ids(call_id: str, user_ids: Any, count: int) -> list[str]:
    """Ids of a batch call's rows: the user's (a sequence of ``count``), else ``{call_id}.{i}``."""
    if user_ids is None:
        return [f"{call_id}.{i}" for i in range(count)]
    if hasattr(user_ids, "tolist"):
        user_ids = user_ids.tolist()
    if isinstance(user_ids, str | bytes) or not hasattr(user_ids, "__len__"):
        raise ExtractError(f"a batch of {count} rows needs {count} prediction ids, got {type(user_ids).__name__}")
    if len(user_ids) != count:
        raise ExtractError(f"{count} feature rows but {len(user_ids)} prediction ids")
    return [str(clean_value(item)) for item in user_ids]
