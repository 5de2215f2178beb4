"""The demo's second model: a simulated generative support assistant (an LLM behind an API).

Each call classifies a customer message (``billing``, ``technical``, ``account``, ``other``)
and drafts a reply. What it reports is what serving teams watch first: token usage (input,
cached input, output), the time to the first streamed token, the latency, and failures. It
has a price (:data:`PRICING`) and no uploaded reference: its health metrics show from its
first window, and the worker takes its reference from that window (the automatic
reference). Each call's features include the message's embedding (:data:`EMBEDDING_DIM`
numbers: one topic direction per intent plus noise). For a few simulated minutes
(:class:`Outage`) its upstream times out and rate-limits about one call in eight, which the
built-in ``error_rate_high`` rule turns into an alert; from minute :data:`TOPIC_SHIFT_MIN` a
release brings a surge of technical questions, which ``embedding_drift`` sees in the
embeddings.

>>> import numpy as np
>>> calls = simulate_calls(np.random.default_rng(0), 2000, minute=0.0)
>>> len(calls), sorted({c.error for c in calls} - {None})
(2000, ['RateLimitError'])
>>> ok = [c for c in calls if c.error is None]
>>> all(c.usage["cached_input_tokens"] <= c.usage["input_tokens"] for c in ok)
True
>>> all(c.ttft_ms < c.latency_ms for c in ok)
True
>>> len(ok[0].features["message_embedding"])
16
>>> outage = simulate_calls(np.random.default_rng(0), 2000, minute=Outage().start_min)
>>> 0.08 < sum(c.error is not None for c in outage) / 2000 < 0.18
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MODEL = "support-assistant"
VERSION = "2"
RATE_PER_MINUTE = 520
"""Calls per simulated minute: enough for the 500-vector minimum of ``embedding_drift``."""
INTENTS = ("billing", "technical", "account", "other")
INTENT_MIX = (0.35, 0.3, 0.2, 0.15)
SHIFTED_MIX = (0.15, 0.65, 0.12, 0.08)
"""The intents after the release (simulated minute :data:`TOPIC_SHIFT_MIN` on)."""
TOPIC_SHIFT_MIN = 14.0
EMBEDDING_DIM = 16
_TOPICS = np.random.default_rng(42).normal(size=(len(INTENTS), EMBEDDING_DIM))
CHANNELS = ("web", "mobile", "email")
SYSTEM_PROMPT_TOKENS = 350
"""A fixed system prompt, served from the provider's prompt cache on most calls."""
PRICING: dict[str, Any] = {"currency": "USD", "input_per_million": 2.50,
                           "cached_input_per_million": 1.25, "output_per_million": 10.0}
"""A made-up price, in the shape of ``PUT /v1/models/{model}`` ``pricing``."""
DAILY_BUDGET = 60.0
"""USD per UTC day (``cost_budget``): at about 0.003 a call the assistant spends it in under
an hour and a half of simulated time."""
LATENCY_SLO_MS = 10_000.0
"""A p99 SLO for an LLM: seconds, not the built-in 500 ms of an online classifier."""


@dataclass(frozen=True)
class Outage:
    """Simulated minutes during which the upstream fails one call in eight."""

    start_min: float = 4.0
    end_min: float = 9.0

    def covers(self, minute: float) -> bool:
        return self.start_min <= minute < self.end_min


@dataclass(frozen=True, slots=True)
class Call:
    """One simulated call, ready for ``infersight.log_prediction``."""

    features: dict[str, Any]
    prediction: str | None
    latency_ms: float
    usage: dict[str, int] | None
    ttft_ms: float | None
    error: str | None


def simulate_calls(rng: np.random.Generator, n: int, minute: float,
                   outage: Outage | None = None) -> list[Call]:
    """``n`` calls at simulated ``minute``: 0.3 % rate-limited normally, about 12 % failing
    (timeouts and rate limits) during the outage."""
    outage = outage or Outage()
    chars = rng.lognormal(np.log(600.0), 0.6, n)
    channels = rng.choice(len(CHANNELS), n, p=[0.5, 0.35, 0.15])
    mix = SHIFTED_MIX if minute >= TOPIC_SHIFT_MIN else INTENT_MIX
    intents = rng.choice(len(INTENTS), n, p=list(mix))
    embeddings = _TOPICS[intents] + 0.9 * rng.normal(size=(n, EMBEDDING_DIM))
    embeddings = np.round(embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True), 4)
    cached = rng.random(n) < 0.7
    output = np.maximum(rng.lognormal(np.log(180.0), 0.5, n).round(), 1)
    ttft = rng.lognormal(np.log(320.0), 0.3, n)
    tokens_per_s = rng.normal(70.0, 8.0, n).clip(20.0)
    draw = rng.random(n)
    timeout_share, limit_share = (0.09, 0.03) if outage.covers(minute) else (0.0, 0.003)
    calls = []
    for i in range(n):
        features = {"channel": CHANNELS[channels[i]], "message_chars": round(float(chars[i])),
                    "message_embedding": embeddings[i].tolist()}
        if draw[i] < timeout_share:
            calls.append(Call(features, None, 30_000.0, None, None, "TimeoutError"))
            continue
        if draw[i] < timeout_share + limit_share:
            calls.append(Call(features, None, float(rng.uniform(5.0, 40.0)), None, None,
                              "RateLimitError"))
            continue
        prompt = SYSTEM_PROMPT_TOKENS + int(chars[i] / 4)
        usage = {"input_tokens": prompt, "output_tokens": int(output[i]),
                 "cached_input_tokens": SYSTEM_PROMPT_TOKENS if cached[i] else 0}
        latency = float(ttft[i]) + 1000.0 * float(output[i]) / float(tokens_per_s[i])
        calls.append(Call(features, INTENTS[intents[i]], latency, usage, float(ttft[i]), None))
    return calls
