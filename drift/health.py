"""Reference-free, mergeable health of model calls: requests, errors, latency, tokens, cost.

A :class:`HealthState` holds what one window (or any merge of windows and partitions) saw
of its calls: counts, error counts per type, :class:`~.loghist.LogHistogram` s of latency,
latency of failed calls, tokens per request, output tokens per second and time to first
token, token sums, the exact sum of latencies and the exact sum of the calls' costs. Every
part merges by addition (integers, histogram counts, exact sums), so any split of a stream,
merged in any order, gives the same state bit for bit.

Error types are bounded: a state keeps at most :data:`MAX_ERROR_TYPES` names, those with the
smallest hash of their name (a rule that does not depend on the order calls arrive in); the
failed calls of every other type are counted under :data:`OTHER_ERRORS`.

Examples
--------
>>> a, b = HealthState(), HealthState()
>>> a.update([{"latency_ms": 120.0, "usage": {"input_tokens": 10, "output_tokens": 5}}],
...          costs=[0.25])
>>> b.update([{"latency_ms": 30000.0, "error": "TimeoutError"}])
>>> a.merge(b)
>>> a.calls, a.errors, a.error_types, a.usage["input_tokens"], a.cost
(2, 1, {'TimeoutError': 1}, 10, 0.25)
>>> HealthState.from_bytes(a.to_bytes()) == a
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _codec
from ._exact_sum import exact_int_sum, exact_to_float, exact_to_floats
from .loghist import LogHistogram

USAGE_KEYS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")
"""The token counts a call may report (the wire format's ``usage`` keys the service reads)."""
MAX_ERROR_TYPES = 50
"""Distinct error types a state keeps by name; the rest are counted under OTHER_ERRORS."""
OTHER_ERRORS = "@other"
"""The error type of failed calls whose type is beyond the MAX_ERROR_TYPES kept."""
ERROR_NAME_CHARS = 255
"""Error type names are cut to this many characters."""

MetricRow = tuple[str | None, str, float, int]
"""``(feature or None, metric, value, sample_size)``."""

_MAGIC = b"ISHL"
_VERSION = 1
_HISTOGRAMS = ("latency", "error_latency", "tokens_per_request", "output_tokens_per_s", "ttft")


def _rank(name: str) -> tuple[bytes, str]:
    return hashlib.blake2b(name.encode(), digest_size=8).digest(), name


def _fields(call: Any) -> tuple[Any, Any, Any, Any]:
    """``latency_ms``, ``error``, ``ttft_ms`` and ``usage`` of a call (None when absent)."""
    if isinstance(call, Mapping):
        return call.get("latency_ms"), call.get("error"), call.get("ttft_ms"), call.get("usage")
    return (getattr(call, "latency_ms", None), getattr(call, "error", None),
            getattr(call, "ttft_ms", None), getattr(call, "usage", None))


class HealthState:
    """Health statistics of a set of calls (see the module docstring).

    ``calls`` counts the calls; ``errors`` the failed ones, ``error_types`` them by type
    (at most MAX_ERROR_TYPES names) and ``errors_other`` those of the other types;
    ``usage[key]`` sums each token count over ``usage_calls`` calls that reported usage;
    ``cost`` is the exact sum of the given costs over ``priced_calls`` calls.
    """

    __slots__ = ("_cost", "_latency_sum", "calls", "error_latency", "error_types", "errors",
                 "errors_other", "latency", "output_tokens_per_s", "priced_calls",
                 "tokens_per_request", "ttft", "usage", "usage_calls")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.error_types: dict[str, int] = {}
        self.errors_other = 0
        self.latency = LogHistogram()
        """Latency (ms) of every call that reported one."""
        self.error_latency = LogHistogram()
        """Latency (ms) of the failed calls that reported one."""
        self.tokens_per_request = LogHistogram()
        """input + output tokens of each call that reported usage."""
        self.output_tokens_per_s = LogHistogram()
        """output tokens / generation seconds (latency - ttft when ttft is known)."""
        self.ttft = LogHistogram()
        """Time to first token (ms)."""
        self.usage: dict[str, int] = dict.fromkeys(USAGE_KEYS, 0)
        self.usage_calls = 0
        self.priced_calls = 0
        self._latency_sum = 0
        self._cost = 0

    @property
    def latency_ms_sum(self) -> float:
        """The exact sum of the latencies (ms), rounded once to a double."""
        return exact_to_float(self._latency_sum)

    @property
    def cost(self) -> float:
        """The exact sum of the calls' costs, rounded once to a double."""
        return exact_to_float(self._cost)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HealthState):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def update(self, calls: Sequence[Any], costs: Sequence[float | None] | None = None) -> None:
        """Add calls: objects or mappings with ``latency_ms``, ``error``, ``usage`` and
        ``ttft_ms`` (any may be missing or None); ``costs`` (aligned, None = unpriced).

        Examples
        --------
        >>> h = HealthState()
        >>> h.update([{"latency_ms": 1000.0, "ttft_ms": 200.0, "usage": {"output_tokens": 40}}])
        >>> h.output_tokens_per_s.max  # 40 tokens in 0.8 s of generation
        50.0
        """
        if costs is not None and len(costs) != len(calls):
            raise ValueError(f"{len(costs)} costs for {len(calls)} calls")
        latency: list[float] = []
        failed: list[float] = []
        tokens: list[float] = []
        speed: list[float] = []
        ttft: list[float] = []
        priced: list[float] = []
        for i, call in enumerate(calls):
            ms, error, first, usage = _fields(call)
            if ms is not None:
                latency.append(float(ms))
            if error is not None:
                self.errors += 1
                name = str(error)[:ERROR_NAME_CHARS]
                self.error_types[name] = self.error_types.get(name, 0) + 1
                if ms is not None:
                    failed.append(float(ms))
            if first is not None:
                ttft.append(float(first))
            if usage:
                counts = {key: int(usage[key]) for key in USAGE_KEYS if key in usage}
                if counts:
                    self._add_usage(counts, ms, first, tokens, speed)
            cost = None if costs is None else costs[i]
            if cost is not None:
                priced.append(float(cost))
        self.calls += len(calls)
        for histogram, values in ((self.latency, latency), (self.error_latency, failed),
                                  (self.tokens_per_request, tokens),
                                  (self.output_tokens_per_s, speed), (self.ttft, ttft)):
            if values:
                histogram.update(values)
        self._latency_sum += exact_int_sum(np.array(latency))
        self._cost += exact_int_sum(np.array(priced))
        self.priced_calls += len(priced)
        self._bound_error_types()

    def _add_usage(self, counts: dict[str, int], ms: float | None, first: float | None,
                   tokens: list[float], speed: list[float]) -> None:
        self.usage_calls += 1
        for key, count in counts.items():
            self.usage[key] += count
        output = counts.get("output_tokens")
        tokens.append(float(counts.get("input_tokens", 0) + (output or 0)))
        if output is not None and ms is not None:
            generation_s = (float(ms) - (float(first) if first is not None else 0.0)) / 1000.0
            if generation_s > 0:
                speed.append(output / generation_s)

    def _bound_error_types(self) -> None:
        if len(self.error_types) <= MAX_ERROR_TYPES:
            return
        for name in sorted(self.error_types, key=_rank)[MAX_ERROR_TYPES:]:
            self.errors_other += self.error_types.pop(name)

    def merge(self, other: HealthState) -> None:
        """Add ``other`` into this state (exact: any split and order give the same state)."""
        if not isinstance(other, HealthState):
            raise TypeError(f"cannot merge {type(other).__name__} into a HealthState")
        self.calls += other.calls
        self.errors += other.errors
        for name, count in other.error_types.items():
            self.error_types[name] = self.error_types.get(name, 0) + count
        self.errors_other += other.errors_other
        for name in _HISTOGRAMS:
            getattr(self, name).merge(getattr(other, name))
        for key in USAGE_KEYS:
            self.usage[key] += other.usage[key]
        self.usage_calls += other.usage_calls
        self.priced_calls += other.priced_calls
        self._latency_sum += other._latency_sum
        self._cost += other._cost
        self._bound_error_types()

    def metrics(self, window_s: float, cost: float | None = None) -> list[MetricRow]:
        """The window's health metric rows (docs/metrics.md); ``cost`` replaces the accrued
        cost (a recomputation), else the accrued one is reported when some call was priced.

        Examples
        --------
        >>> h = HealthState()
        >>> h.update([{"latency_ms": 10.0}, {"latency_ms": 20.0, "error": "ValueError"}])
        >>> rows = {(f, m): (v, n) for f, m, v, n in h.metrics(60.0)}
        >>> rows[(None, "error_rate")], rows[("ValueError", "error_count")]
        ((0.5, 2), (1.0, 2))
        >>> rows[("@error", "latency_p50_ms")]
        (20.0, 1)
        """
        n = self.calls
        rows: list[MetricRow] = [
            (None, "request_count", float(n), n),
            (None, "request_rate", n / window_s, n),
            (None, "error_count", float(self.errors), n),
        ]
        if n:
            rows.append((None, "error_rate", self.errors / n, n))
        rows += [(name, "error_count", float(count), n)
                 for name, count in sorted(self.error_types.items())]
        if self.errors_other:
            rows.append((OTHER_ERRORS, "error_count", float(self.errors_other), n))
        rows += _quantiles(None, "latency", "_ms", self.latency, (0.5, 0.95, 0.99))
        rows += _quantiles("@error", "latency", "_ms", self.error_latency, (0.5, 0.95, 0.99))
        if self.usage_calls:
            rows += [(None, key, float(self.usage[key]), self.usage_calls) for key in USAGE_KEYS]
            rows += _quantiles(None, "tokens_per_request", "", self.tokens_per_request,
                               (0.5, 0.95))
            rows += _quantiles(None, "output_tokens_per_s", "", self.output_tokens_per_s, (0.5,))
        rows += _quantiles(None, "time_to_first_token", "_ms", self.ttft, (0.5, 0.95, 0.99))
        if cost is None and self.priced_calls:
            cost = self.cost
        if cost is not None:
            rows.append((None, "cost", cost, n))
            if n:
                rows.append((None, "cost_per_request", cost / n, n))
        return rows

    def to_bytes(self) -> bytes:
        """Compact versioned binary form."""
        body: dict[str, Any] = {
            "calls": self.calls, "errors": self.errors,
            "types": dict(sorted(self.error_types.items())), "other": self.errors_other, "usage": self.usage, "usage_calls": self.usage_calls,
            "priced": self.priced_calls, "latency_sum": exact_to_floats(self._latency_sum),
            "cost": exact_to_floats(self._cost),
        }
        for name in _HISTOGRAMS:
            histogram = getattr(self, name)
            body[name] = None if histogram.is_empty() else histogram.to_dict()
        return _codec.pack(_MAGIC, _VERSION, body)

    @classmethod
    def from_bytes(cls, data: bytes) -> HealthState:
        """Inverse of :meth:`to_bytes`; raises :class:`~._codec.FormatError` if corrupt."""
        _version, body = _codec.unpack(data, _MAGIC, (_VERSION,))
        state = cls()
        try:
            state.calls, state.errors = int(body["calls"]), int(body["errors"])
            state.error_types = {str(k): int(v) for k, v in body["types"].items()}
            state.errors_other = int(body["other"])
            state.usage = {key: int(body["usage"][key]) for key in USAGE_KEYS}
            state.usage_calls, state.priced_calls = int(body["usage_calls"]), int(body["priced"])
            state._latency_sum = exact_int_sum(np.array(body["latency_sum"], dtype=np.float64))
            state._cost = exact_int_sum(np.array(body["cost"], dtype=np.float64))
            for name in _HISTOGRAMS:
                if body[name] is not None:
                    setattr(state, name, LogHistogram.from_dict(body[name]))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, _codec.FormatError):
                raise
            raise _codec.FormatError(f"corrupt health payload: {exc!r}") from exc
        return state


def _quantiles(feature: str | None, name: str, unit: str, histogram: LogHistogram,
               levels: tuple[float, ...]) -> list[MetricRow]:
    if histogram.is_empty():
        return []
    values = histogram.quantiles(levels)
    return [(feature, f"{name}_p{round(q * 100)}{unit}", value, histogram.n)
            for q, value in zip(levels, values, strict=True)]
