"""The public SDK functions: ``init``, ``log_prediction``, ``log_label``, ``flush``,
``shutdown``, ``stats``.

Only ``init`` raises (on invalid configuration, with the reason). The logging functions
never raise: a malformed event is dropped on the background thread, counted in
``stats()["dropped_by_reason"]`` and reported once in the ``infersight.sdk`` log.

>>> import infersight
>>> infersight.init(transport="memory", models={"fraud": {"version": "3"}})
>>> pid = infersight.log_prediction(model="fraud", features={"amount": 12.5}, prediction=0.93)
>>> infersight.log_label(model="fraud", prediction_id=pid, label=1)
>>> infersight.flush()
True
>>> stats = infersight.stats()
>>> stats["sent"], stats["dropped"], stats["queued"]
(2, 0, 0)
>>> infersight.shutdown()
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from time import perf_counter_ns
from typing import Any

from . import client as _client
from . import ids as _ids
from .config import build_config
from .records import LABEL, PREDICTION
from .transport import Transport

__all__ = ["active_transport", "flush", "init", "log_label", "log_prediction", "shutdown", "stats"]


def init(
    transport: str | Transport | None = None,
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    models: Mapping[str, Mapping[str, Any]] | None = None,
    tags: Mapping[str, Any] | None = None,
    sample_rate: float | None = None,
    redact: Iterable[str] | None = None,
    hash: Iterable[str] | None = None,
    hash_salt: str | bytes | None = None,
    queue_size: int | None = None,
    batch_size: int | None = None,
    batch_bytes: int | None = None,
    flush_interval: float | str | None = None,
    exit_timeout: float | str | None = None,
    wire_format: str | None = None,
) -> None:
    """Configure the SDK; arguments win over ``INFERSIGHT_*`` variables, which win over defaults.

    ``transport``: ``kafka://host:port[,host:port]``, ``http(s)://host:port``, ``local``,
    ``memory`` or a :class:`~infersight.sdk.Transport` (env ``INFERSIGHT_TRANSPORT``;
    default: HTTP to ``INFERSIGHT_API_URL``, ``http://127.0.0.1:8000``, with a warning).
    ``models``: per-model defaults, e.g. ``{"fraud": {"version": "3", "tags": {...},
    "redact": [...], "hash": [...]}}``. ``tags``, ``redact``, ``hash`` apply to every model.
    ``hash_salt`` (env ``INFERSIGHT_HASH_SALT``): prepended before hashing; keep it the
    same everywhere a model's data is hashed. Queue and batching: ``queue_size``
    (10,000 records), ``batch_size`` (500 events), ``batch_bytes`` (900 KB),
    ``flush_interval`` (200 ms), ``exit_timeout`` (2 s to flush at interpreter exit).
    ``wire_format`` (env ``INFERSIGHT_SDK_WIRE_FORMAT``): ``"v1"`` (default) or ``"v2"``, the
    columnar batches (smaller messages, more encoding work on the background thread; needs a
    collector that reads v2).
    Calling ``init`` again replaces the previous configuration (flushing it first).

    >>> import infersight
    >>> infersight.init(transport="pigeon")
    Traceback (most recent call last):
    ...
    ValueError: unknown transport 'pigeon': use kafka://host:port, http(s)://host:port, local or memory
    """
    config = build_config(
        transport, api_url=api_url, api_key=api_key, models=models, tags=tags, sample_rate=sample_rate,
        redact=redact, hash=hash, hash_salt=hash_salt, queue_size=queue_size, batch_size=batch_size,
        batch_bytes=batch_bytes, flush_interval=flush_interval, exit_timeout=exit_timeout,
        wire_format=wire_format,
    )
    _client.install(config)


def log_prediction(
    model: str,
    version: str | None = None,
    features: Any = None,
    prediction: Any = None,
    latency_ms: float | None = None,
    prediction_id: str | None = None,
    ts: Any = None,
    *,
    tags: Mapping[str, Any] | None = None,
    feature_names: Sequence[str] | None = None,
    redact: Iterable[str] = (),
    hash: Iterable[str] = (),
    usage: Any = None,
    error: str | BaseException | type[BaseException] | None = None,
    time_to_first_token_ms: float | None = None,
) -> str:
    """Log one prediction (or one per row of a DataFrame/2-D array); returns its prediction id.

    ``ts``: the event time (datetime, RFC 3339 string or epoch seconds; default now), for
    backfills and replays. ``usage``: token counts by name (``input_tokens``,
    ``output_tokens``, ``cached_input_tokens``, ``reasoning_tokens``) or a vendor's usage
    object (OpenAI or Anthropic ``response.usage``). ``error``: the exception (or its type's
    name) of a call that failed; the prediction is then ``null``. ``time_to_first_token_ms``:
    of a streamed response. Never sampled, never raises: a malformed value drops the event
    (``invalid_event``), a negative or NaN time to first token only that field.

    >>> import infersight
    >>> infersight.init(transport="memory")
    >>> infersight.log_prediction(model="fraud", version="3", features={"amount": 7},
    ...                           prediction=0.1, prediction_id="abc", ts="2024-05-01T12:00:00Z")
    'abc'
    >>> pid = infersight.log_prediction(model="chat", features={"prompt_chars": 80}, prediction="Hi!",
    ...                                 usage={"input_tokens": 20, "output_tokens": 3},
    ...                                 latency_ms=410.0, time_to_first_token_ms=95.5)
    >>> infersight.flush()
    True
    >>> event = infersight.sdk.active_transport().events[-1]
    >>> event["usage"], event["ttft_ms"]
    ({'input_tokens': 20, 'output_tokens': 3}, 95.5)
    >>> infersight.shutdown()
    """
    try:
        if prediction_id is None:
            prediction_id = _ids.new_prediction_id()
        _ids.LAST_PREDICTION_ID.set(prediction_id if isinstance(prediction_id, str) else str(prediction_id))
        _client.current().submit((
            PREDICTION, model, version, features, prediction, latency_ms, prediction_id, ts, tags,
            feature_names, redact, hash, error, perf_counter_ns(), usage, time_to_first_token_ms,
        ))
    except Exception:  # never raise into user code
        pass
    return prediction_id if isinstance(prediction_id, str) else str(prediction_id)


def log_label(model: str, prediction_id: str, label: Any, ts: Any = None) -> None:
    """Log the ground truth of an earlier prediction (sent to ``infersight.labels``).

    Labels may arrive before or after their prediction; ``ts`` defaults to now. Never raises.
    """
    try:  # noqa: SIM105 - a bare try costs nothing on the call path, suppress() does
        _client.current().submit((LABEL, model, prediction_id, label, ts, perf_counter_ns()))
    except Exception:  # never raise into user code
        pass


def flush(timeout: float = 5.0) -> bool:
    """Send everything logged so far; ``True`` if it all went out within ``timeout`` seconds."""
    try:
        return _client.current().flush(timeout)
    except Exception:
        return False


def shutdown(timeout: float = 5.0) -> None:
    """Flush (within ``timeout``), stop the background thread and close the transport.

    Events logged afterwards are dropped (counted as ``shutdown``) until ``init`` is called again.
    """
    with contextlib.suppress(Exception):
        _client.uninstall(timeout)


def stats() -> dict[str, Any]:
    """Counts: ``queued``, ``sent``, ``dropped`` (total) and ``dropped_by_reason``,
    ``dropped_fields`` (fields left out of events still sent: ``usage``, ``ttft_ms``),
    ``errors`` (failed send attempts, retried) and ``last_error``, plus the transport.
    Never raises."""
    try:
        return _client.current().stats()
    except Exception as exc:
        return {"queued": 0, "sent": 0, "dropped": 0, "dropped_by_reason": {}, "dropped_fields": {}, "errors": 1,
                "last_error": f"stats unavailable: {type(exc).__name__}: {exc}"}


def active_transport() -> Transport:
    """The current client's transport (e.g. the ``MemoryTransport`` of ``init(transport="memory")``)."""
    return _client.current().transport
