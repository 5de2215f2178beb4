"""Inference-health points of two models without a reference, shaped like the worker's
(request, error and latency metrics of every model; tokens and cost of a priced generative
one), for the page's health row. Hourly windows across a UTC midnight, all closed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infersight.storage.db import session_factory
from infersight.storage.held import BOOTSTRAP_KEY
from infersight.storage.labels import insert_predictions
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from infersight.storage.registry import configure_model, ensure_model_versions
from infersight.storage.watermarks import advance_watermarks
from sqlalchemy import Engine

START = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
WINDOW = timedelta(hours=1)
PLAIN = ("ranker", "1")
"""A model with request, error and latency metrics only."""
GENERATIVE = ("support-bot", "2")
"""A priced generative model: tokens and cost too."""
CALLS = (1000, 1200, 800, 1000)
ERRORS = {"TimeoutError": (12, 20, 5, 25), "ValueError": (8, 9, 4, 12), "KeyError": (0, 1, 1, 3)}
COST = (0.5, 0.75, 1.25, 2.0)
"""Cost per window: 1.25 on 2026-03-01 (22:00, 23:00), 3.25 on 2026-03-02."""
INPUT_TOKENS, OUTPUT_TOKENS, TTFT_P95_MS = 400, 120, 850.0
HELD = 412
"""Predictions of the generative model held for its first-window reference (none of the
plain one's)."""


def _points(model: str, version: str, generative: bool) -> list[MetricPointRecord]:
    points: list[MetricPointRecord] = []
    for i, calls in enumerate(CALLS):
        start = START + i * WINDOW
        failed = sum(counts[i] for counts in ERRORS.values())

        def add(metric: str, value: float, feature: str | None = None, size: int = calls,
                start: datetime = start) -> None:
            points.append(MetricPointRecord(model, version, start, start + WINDOW, feature,
                                            metric, value, size))

        add("request_count", calls)
        add("request_rate", calls / WINDOW.total_seconds())
        add("error_count", failed)
        add("error_rate", failed / calls)
        for error, counts in ERRORS.items():
            add("error_count", counts[i], error, failed)
        for quantile, ms in (("p50", 40.0), ("p95", 90.0 + i), ("p99", 150.0 + i)):
            add(f"latency_{quantile}_ms", ms)
        add("latency_p95_ms", 900.0 + i, "@error", failed)
        if generative:
            add("input_tokens", INPUT_TOKENS * calls)
            add("output_tokens", OUTPUT_TOKENS * calls)
            add("time_to_first_token_p95_ms", TTFT_P95_MS + i)
            add("cost", COST[i])
            add("cost_per_request", COST[i] / calls)
    return points


def _held(model: str, version: str) -> list[dict[str, object]]:
    """Prediction-index rows holding whole events, as the worker writes them (pipeline §5)."""
    return [{"model": model, "prediction_id": f"held-{i}", "version": version,
             "window_start": START, "ts": START + timedelta(seconds=i),
             "prediction": {BOOTSTRAP_KEY: {"prediction_id": f"held-{i}"}}}
            for i in range(HELD)]


def seed_health(engine: Engine) -> None:
    """Both models, their versions (no reference), points and held predictions; a watermark
    past them all."""
    end = START + len(CALLS) * WINDOW
    with session_factory(engine).begin() as session:
        for model, _version in (PLAIN, GENERATIVE):
            configure_model(session, model, window_seconds=int(WINDOW.total_seconds()))
        ensure_model_versions(session, [PLAIN, GENERATIVE])
        upsert_metric_points(session, _points(*PLAIN, generative=False)
                             + _points(*GENERATIVE, generative=True))
        insert_predictions(session, _held(*GENERATIVE))
        advance_watermarks(session, {PLAIN[0]: end + WINDOW, GENERATIVE[0]: end + WINDOW})
