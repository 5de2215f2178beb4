"""Turn the call path's raw records into wire-format events, on the background thread.

The call path only builds a tuple (see :mod:`infersight.sdk.records`); everything that
costs time happens here: running extractors, cleaning values, redaction and hashing,
applying per-model defaults, formatting timestamps.

>>> from infersight.sdk.config import build_config
>>> from infersight.sdk.records import PREDICTION
>>> builder = EventBuilder(build_config(transport="memory", hash=["email"]))
>>> record = (PREDICTION, "fraud", "3", {"amount": 5, "email": "a@b.c"}, 0.9, 4.0, "id-1",
...           "2024-05-01T12:00:00Z", None, None, (), (), None, 0, {"input_tokens": 12.0}, None)
>>> [(topic, event["features"], event["usage"]) for topic, event in builder.build(record)]
[('infersight.events', {'amount': 5, 'email': 'd648b243a3e817ea'}, {'input_tokens': 12})]
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from .config import UNVERSIONED, SdkConfig
from .counters import Counters
from .extract import (
    Value,
    clean_prediction,
    clean_value,
    feature_rows,
    prediction_rows,
)
from .ids import id_of
from .records import CALL, LABEL, PREDICTION, QueueItem
from .usage import checked_usage, usage_of
from .wire import EVENTS_TOPIC, LABELS_TOPIC

__all__ = ["EventBuilder", "ExtractError", "InvalidEvent", "format_ts", "hash_value", "parse_ts"]

Event = dict[str, Any]
Routed = tuple[str, Event]  # (topic, event); the batch key is event["model"]

HASH_HEX_DIGITS = 16


class ExtractError(Exception):
    """A user extractor raised, or the input could not be read (dropped as ``extract_error``)."""


class InvalidEvent(Exception):
    """A logged event is malformed (dropped as ``invalid_event``)."""


def hash_value(value: Value, salt: bytes = b"") -> str:
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


def _error_name(error: Any) -> str | None:
    """``log_prediction(error=...)``: an exception type's name, or the exception (or its type)."""
    if error is None:
        return None
    if isinstance(error, str):
        return _required_str(error, "error")
    if isinstance(error, BaseException):
        return type(error).__name__
    if isinstance(error, type) and issubclass(error, BaseException):
        return error.__name__
    raise InvalidEvent(f"error must be an exception type's name, got {type(error).__name__}")


class EventBuilder:
    """Builds wire events from records with the client's configuration.

    ``counters`` receives the fields dropped from events that are still sent (a usage the
    extractor could not give, a negative or NaN ``ttft_ms``).
    """

    def __init__(self, config: SdkConfig, counters: Counters | None = None) -> None:
        self._config = config
        self._counters = counters if counters is not None else Counters()
        self._wall_offset_ns = 0
        self.sync_clock()

    def sync_clock(self) -> None:
        """Re-read the wall clock that ``perf_counter_ns`` readings are converted with."""
        self._wall_offset_ns = time.time_ns() - time.perf_counter_ns()

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
        _, spec, args, kwargs, result, error, start_ns, end_ns, number, user_ids = record
        call_args = args[1:] if spec.drops_self else args
        if spec.features is not None:
            features = _run(spec.features, *call_args, **kwargs)
        else:
            features = spec.default_features(call_args, kwargs)
        if error is None and spec.prediction is not None:
            prediction = _run(spec.prediction, result)
        else:
            prediction = result
        usage = None
        if error is None and spec.usage is not None:
            usage = self._extracted_usage(spec.usage, result)
        return self._predictions(
            model=spec.model, version=spec.version, features=features, prediction=prediction,
            latency_ms=(end_ns - start_ns) / 1e6, prediction_id=id_of(number),
            ts=format_ts(end_ns + self._wall_offset_ns), tags=spec.tags,
            feature_names=spec.feature_names, redact=spec.redact, hashed=spec.hash,
            error=error, user_ids=user_ids, usage=usage, ttft_ms=None,
        )

    def _extracted_usage(self, extractor: Callable[[Any], Any] | bool, result: Any) -> dict[str, int] | None:
        """What the usage extractor gives (``True``: the default one, whose counts need no
        further check), checked; a failure drops the usage, not the event."""
        try:
            if extractor is True:
                return usage_of(result)
            found = cast(Callable[[Any], Any], extractor)(result)
            return None if found is None else checked_usage(found)
        except Exception as exc:
            name = getattr(extractor, "__qualname__", repr(extractor))
            self._counters.dropped_field("usage", f"usage extractor {name}: {type(exc).__name__}: {exc}")
            return None

    def _from_prediction(self, record: QueueItem) -> list[Routed]:
        (_, model, version, features, prediction, latency_ms, prediction_id, ts, tags,
         feature_names, redact, hashed, error, at_ns, usage, ttft_ms) = record
        if latency_ms is not None:
            if isinstance(latency_ms, bool) or not isinstance(latency_ms, int | float):
                raise InvalidEvent(f"latency_ms must be a number, got {type(latency_ms).__name__}")
            if not math.isfinite(latency_ms) or latency_ms < 0:
                raise InvalidEvent(f"latency_ms must be finite and >= 0, got {latency_ms!r}")
        return self._predictions(
            model=model, version=version, features=features, prediction=prediction,
            latency_ms=None if latency_ms is None else float(latency_ms),
            prediction_id=_required_str(prediction_id, "prediction_id"),
            ts=parse_ts(ts) if ts is not None else format_ts(at_ns + self._wall_offset_ns),
            tags=tags, feature_names=feature_names, redact=redact, hashed=hashed,
            error=_error_name(error), user_ids=None, usage=self._given_usage(usage),
            ttft_ms=self._ttft(ttft_ms),
        )

    @staticmethod
    def _given_usage(usage: Any) -> dict[str, int] | None:
        """A usage passed explicitly: a malformed one is the caller's bug, the event is refused."""
        if usage is None:
            return None
        try:
            return checked_usage(usage)
        except ValueError as exc:
            raise InvalidEvent(str(exc)) from None

    def _ttft(self, ttft_ms: Any) -> float | None:
        """A time to first token: not a number refuses the event, a negative or NaN one is dropped."""
        if ttft_ms is None:
            return None
        if isinstance(ttft_ms, bool) or not isinstance(ttft_ms, int | float):
            raise InvalidEvent(f"time to first token (ttft_ms) must be a number, got {type(ttft_ms).__name__}")
        if not math.isfinite(ttft_ms) or ttft_ms < 0:
            self._counters.dropped_field("ttft_ms", f"time to first token must be finite and >= 0, got {ttft_ms!r}")
            return None
        return float(ttft_ms)

    def _from_label(self, record: QueueItem) -> list[Routed]:
        _, model, prediction_id, label, ts, at_ns = record
        event: Event = {
            "type": "label",
            "model": _required_str(model, "model"),
            "prediction_id": _required_str(prediction_id, "prediction_id"),
            "label": clean_prediction(label),
            "ts": parse_ts(ts) if ts is not None else format_ts(at_ns + self._wall_offset_ns),
        }
        return [(LABELS_TOPIC, event)]

    def _predictions(
        self, *, model: Any, version: Any, features: Any, prediction: Any, latency_ms: float | None,
        prediction_id: str, ts: str, tags: Mapping[str, str] | None,
        feature_names: Any, redact: Iterable[str], hashed: Iterable[str], error: str | None,
        user_ids: Any, usage: dict[str, int] | None, ttft_ms: float | None,
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
            if ttft_ms is not None:
                event["ttft_ms"] = ttft_ms
            events.append((EVENTS_TOPIC, event))
        if usage and events:  # once per call: a batch call's usage goes on its first row, so sums stay right
            events[0][1]["usage"] = usage
        return events

    def _redact(self, row: dict[str, Value], drop: frozenset[str], hide: frozenset[str]) -> dict[str, Value]:
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
