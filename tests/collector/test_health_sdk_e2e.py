"""Inference health from the SDK's own calls: a decorated function returning OpenAI-shaped
responses (usage read by the default extractor), calls that raise, and ``log_prediction`` with
usage, an error and a time to first token, sent onto the real broker and evaluated by the real
worker into Postgres, for a priced model without a reference: counts, error types, token sums
and the cost (to the cent) equal what the test computes from the same calls."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.prices import add_price_revision

import infersight
from tests.collector.harness import create_topics, metric_snapshot
from tests.collector.inprocess import consume_all
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MODEL, GROUP = "chat", "health-sdk"
PRICE = {"currency": "USD", "input_per_million": 3.0, "output_per_million": 15.0,
         "cached_input_per_million": 0.3}
CALLS = 60


def _response(i: int) -> SimpleNamespace:
    """An OpenAI chat-completion-like result: usage as attributes."""
    return SimpleNamespace(choices=["ok"], usage=SimpleNamespace(
        prompt_tokens=100 + i, completion_tokens=20 + i % 7,
        prompt_tokens_details=SimpleNamespace(cached_tokens=50 if i % 2 else 0)))


@pytest.fixture(scope="module")
def points(module_broker: TansuBroker) -> Iterator[dict[tuple[str, str], tuple[float, int]]]:
    bootstrap = module_broker.bootstrap
    create_topics(bootstrap, {EVENTS_TOPIC: 2, LABELS_TOPIC: 1})
    with temporary_database("infersight_health_sdk") as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            add_price_revision(session, MODEL, datetime(2020, 1, 1, tzinfo=UTC), PRICE)
        infersight.init(transport=f"kafka://{bootstrap}", batch_size=20, flush_interval=0.05)
        try:
            @infersight.monitor(model=MODEL, version="1",
                                prediction=lambda response: response.choices[0])
            def answer(prompt: str, i: int) -> Any:
                if i % 10 == 9:
                    raise TimeoutError("upstream")
                return _response(i)

            for i in range(CALLS):
                with contextlib.suppress(TimeoutError):  # re-raised unchanged by the wrapper
                    answer(f"question {i}", i)
            infersight.log_prediction(MODEL, "1", features={"prompt": "streamed"},
                                      prediction="ok", latency_ms=900.0,
                                      usage={"input_tokens": 1000, "output_tokens": 400},
                                      time_to_first_token_ms=250.0)
            infersight.log_prediction(MODEL, "1", features={"prompt": "refused"},
                                      error="RateLimitError", latency_ms=3.0)
            assert infersight.flush(timeout=60)
        finally:
            infersight.shutdown(timeout=10)
        try:
            consume_all(bootstrap, engine, url, GROUP, window_s=3600)
        finally:
            engine.dispose()
        snapshot = metric_snapshot(url)
        by_metric: dict[tuple[str, str], list[tuple[float, int]]] = {}
        for (model, _v, _start, feature, metric), value in snapshot.items():
            if model == MODEL:
                by_metric.setdefault((feature, metric), []).append(value)
        yield {key: _sum(values) for key, values in by_metric.items()}


def _sum(values: list[tuple[float | None, int]]) -> tuple[float, int]:
    """The calls may straddle two hourly windows: additive metrics add up over them."""
    return sum(v or 0.0 for v, _ in values), sum(n for _, n in values)


def test_counts_and_error_types_are_the_calls_made(points) -> None:
    raised = sum(1 for i in range(CALLS) if i % 10 == 9)
    assert points[("", "request_count")][0] == CALLS + 2
    assert points[("", "error_count")][0] == raised + 1
    assert points[("TimeoutError", "error_count")][0] == raised
    assert points[("RateLimitError", "error_count")][0] == 1


def test_tokens_and_cost_equal_the_responses_usage_priced(points) -> None:
    ok = [i for i in range(CALLS) if i % 10 != 9]
    prompt = sum(100 + i for i in ok) + 1000
    completion = sum(20 + i % 7 for i in ok) + 400
    cached = sum(50 for i in ok if i % 2)
    assert points[("", "input_tokens")][0] == prompt
    assert points[("", "output_tokens")][0] == completion
    assert points[("", "cached_input_tokens")][0] == cached
    cost = ((prompt - cached) * 3.0 + cached * 0.3 + completion * 15.0) / 1e6
    assert points[("", "cost")][0] == pytest.approx(cost, abs=0.005)  # to the cent
    assert points[("", "cost")][0] == pytest.approx(cost, rel=1e-9)
    assert ("", "time_to_first_token_p50_ms") in points
