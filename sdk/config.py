"""SDK configuration: named defaults, ``INFERSIGHT_*`` environment overrides, validation.

Precedence: an argument given to ``init`` wins over the environment, which wins over
the default. Invalid values raise ``ValueError`` naming the setting and the reason.

>>> config = build_config(transport="memory", environ={"INFERSIGHT_SDK_BATCH_SIZE": "100"})
>>> config.batch_size, config.queue_size, config.flush_interval
(100, 10000, 0.2)
>>> build_config(transport="memory", queue_size=0)
Traceback (most recent call last):
...
ValueError: queue_size must be at least 1, got 0
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .durations import parse_duration

__all__ = [
    "DEFAULT_API_URL",
    "ModelDefaults",
    "SdkConfig",
    "build_config",
]

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_BATCH_SIZE = 500
DEFAULT_BATCH_BYTES = 900_000  # per Kafka message / HTTP request; Kafka's default limit is 1 MiB
DEFAULT_FLUSH_INTERVAL = 0.2
DEFAULT_EXIT_TIMEOUT = 2.0
DEFAULT_MAX_BACKOFF = 2.0
UNVERSIONED = "unversioned"

_ENV = {
    "transport": "INFERSIGHT_TRANSPORT",
    "api_url": "INFERSIGHT_API_URL",
    "api_key": "INFERSIGHT_API_KEY",
    "queue_size": "INFERSIGHT_SDK_QUEUE_SIZE",
    "batch_size": "INFERSIGHT_SDK_BATCH_SIZE",
    "batch_bytes": "INFERSIGHT_SDK_BATCH_BYTES",
    "flush_interval": "INFERSIGHT_SDK_FLUSH_INTERVAL",
    "exit_timeout": "INFERSIGHT_SDK_EXIT_TIMEOUT",
    "sample_rate": "INFERSIGHT_SDK_SAMPLE_RATE",
    "hash_salt": "INFERSIGHT_HASH_SALT",
    "wire_format": "INFERSIGHT_SDK_WIRE_FORMAT",
}
WIRE_FORMATS = ("v1", "v2")
"""``infersight.events/v1`` (one object per event, the default) or ``/v2`` (columnar)."""


class ModelDefaults(NamedTuple):
    """Per-model defaults applied on the background thread when an event lacks them."""

    version: str | None = None
    tags: Mapping[str, str] = {}
    redact: frozenset[str] = frozenset()
    hash: frozenset[str] = frozenset()


class SdkConfig(NamedTuple):
    """Everything the client needs; built by :func:`build_config`."""

    transport: object  # a transport spec string or a Transport instance
    transport_from_default: bool
    api_url: str
    api_key: str | None
    queue_size: int = DEFAULT_QUEUE_SIZE
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_bytes: int = DEFAULT_BATCH_BYTES
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    exit_timeout: float = DEFAULT_EXIT_TIMEOUT
    max_backoff: float = DEFAULT_MAX_BACKOFF
    sample_rate: float = 1.0
    tags: Mapping[str, str] = {}
    redact: frozenset[str] = frozenset()
    hash: frozenset[str] = frozenset()
    hash_salt: bytes = b""
    models: Mapping[str, ModelDefaults] = {}
    wire_format: str = "v1"

    def model_defaults(self, model: str) -> ModelDefaults:
        return self.models.get(model, _NO_DEFAULTS)


_NO_DEFAULTS = ModelDefaults()


def _int_setting(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        number: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


def check_sample_rate(value: object, name: str = "sample_rate") -> float:
    """A sampling probability in [0, 1]."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return rate


def field_names(value: Iterable[str] | str | None, name: str) -> frozenset[str]:
    """A set of field names (``redact=``/``hash=``); a lone string is one name."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset([value])
    names = frozenset(value)
    bad = [item for item in names if not isinstance(item, str)]
    if bad:
        raise ValueError(f"{name} must list field names (strings), got {bad[0]!r}")
    return names


def tag_map(value: Mapping[str, Any] | None, name: str = "tags") -> dict[str, str]:
    """Tags as a ``str -> str`` dict."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping of tag name to value, got {type(value).__name__}")
    return {str(key): str(item) for key, item in value.items()}


def _model_defaults(models: Mapping[str, Any] | None) -> dict[str, ModelDefaults]:
    if models is None:
        return {}
    if not isinstance(models, Mapping):
        raise ValueError("models must map a model name to its defaults, e.g. {'fraud': {'version': '3'}}")
    result: dict[str, ModelDefaults] = {}
    allowed = {"version", "tags", "redact", "hash"}
    for model, spec in models.items():
        if isinstance(spec, ModelDefaults):
            result[str(model)] = spec
            continue
        if not isinstance(spec, Mapping):
            raise ValueError(f"models[{model!r}] must be a mapping, got {type(spec).__name__}")
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"models[{model!r}] has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        version = spec.get("version")
        result[str(model)] = ModelDefaults(
            version=None if version is None else str(version),
            tags=tag_map(spec.get("tags"), f"models[{model!r}].tags"),
            redact=field_names(spec.get("redact"), f"models[{model!r}].redact"),
            hash=field_names(spec.get("hash"), f"models[{model!r}].hash"),
        )
    return result


def build_config(
    transport: object = None,
    *,
    environ: Mapping[str, str] | None = None,
    api_url: str | None = None,
    api_key: str | None = None,
    queue_size: int | None = None,
    batch_size: int | None = None,
    batch_bytes: int | None = None,
    flush_interval: float | str | None = None,
    exit_timeout: float | str | None = None,
    max_backoff: float = DEFAULT_MAX_BACKOFF,
    sample_rate: float | None = None,
    tags: Mapping[str, Any] | None = None,
    redact: Iterable[str] | None = None,
    hash: Iterable[str] | None = None,
    hash_salt: str | bytes | None = None,
    models: Mapping[str, Any] | None = None,
    wire_format: str | None = None,
) -> SdkConfig:
    """Resolve arguments, then ``INFERSIGHT_*`` variables, then defaults; validate."""
    env = os.environ if environ is None else environ

    def pick(name: str, given: object, default: object = None) -> Any:
        if given is not None:
            return given
        from_env = env.get(_ENV[name])
        return default if from_env is None or from_env == "" else from_env

    chosen_transport = pick("transport", transport)
    from_default = chosen_transport is None
    resolved_api_url = str(pick("api_url", api_url, DEFAULT_API_URL)).rstrip("/")
    if from_default:
        chosen_transport = resolved_api_url
    salt = pick("hash_salt", hash_salt, b"")
    return SdkConfig(
        transport=chosen_transport,
        transport_from_default=from_default,
        api_url=resolved_api_url,
        api_key=_optional_str(pick("api_key", api_key)),
        queue_size=_int_setting(pick("queue_size", queue_size, DEFAULT_QUEUE_SIZE), "queue_size", 1),
        batch_size=_int_setting(pick("batch_size", batch_size, DEFAULT_BATCH_SIZE), "batch_size", 1),
        batch_bytes=_int_setting(
            pick("batch_bytes", batch_bytes, DEFAULT_BATCH_BYTES), "batch_bytes", 1024
        ),
        flush_interval=parse_duration(
            pick("flush_interval", flush_interval, DEFAULT_FLUSH_INTERVAL), "flush_interval"
        ),
        exit_timeout=parse_duration(
            pick("exit_timeout", exit_timeout, DEFAULT_EXIT_TIMEOUT), "exit_timeout"
        ),
        max_backoff=parse_duration(max_backoff, "max_backoff"),
        sample_rate=check_sample_rate(pick("sample_rate", sample_rate, 1.0)),
        tags=tag_map(tags),
        redact=field_names(redact, "redact"),
        hash=field_names(hash, "hash"),
        hash_salt=salt.encode() if isinstance(salt, str) else bytes(salt),
        models=_model_defaults(models),
        wire_format=_wire_format(pick("wire_format", wire_format, "v1")),
    )


def _wire_format(value: object) -> str:
    """
    >>> _wire_format("v3")
    Traceback (most recent call last):
    ...
    ValueError: wire_format must be 'v1' or 'v2', got 'v3'
    """
    if value not in WIRE_FORMATS:
        raise ValueError(f"wire_format must be 'v1' or 'v2', got {value!r}")
    return str(value)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
