"""The worker's own Prometheus metrics, on an explicit registry (never the global one).

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> metrics = WorkerMetrics(CollectorRegistry())
>>> metrics.events_consumed.labels(topic="infersight.events").inc(3)
>>> b'infersight_events_consumed_total{topic="infersight.events"} 3.0' in generate_latest(metrics.registry)
True
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

MAX_ERROR_TYPES = 50
"""Error types a worker labels by name per (model, version); later ones count as @other."""
OTHER_ERRORS = "@other"

_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WorkerMetrics:
    """Counters, gauges and histograms of one worker process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events_consumed = Counter(
            "infersight_events_consumed", "Events decoded from the bus.", ["topic"], registry=r
        )
        self.events_deadlettered = Counter(
            "infersight_events_deadlettered",
            "Events sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.window_evaluations = Counter(
            "infersight_window_evaluations", "Window evaluations written.", registry=r
        )
        self.alert_judgements = Counter(
            "infersight_alert_judgements",
            "Alert-rule judgements of a (model, version), one per evaluation round that wrote "
            "its points.",
            registry=r,
        )
        self.labels_joined = Counter(
            "infersight_labels_joined", "Labels joined to their prediction.", registry=r
        )
        self.skew_pairs = Counter(
            "infersight_skew_pairs", "Served predictions compared with the offline feature "
            "values uploaded for them (train/serve skew).", registry=r
        )
        self.labels_duplicate = Counter(
            "infersight_labels_duplicate",
            "Labels ignored because their prediction was already labelled.",
            registry=r,
        )
        self.stale_reference_events = Counter(
            "infersight_stale_reference_events",
            "Predictions and labels not added to a window state because that state was built "
            "on a reference since replaced.",
            registry=r,
        )
        self.stale_reference_states = Counter(
            "infersight_stale_reference_states",
            "Window-state rows left out of an evaluation because they were built on a "
            "reference since replaced.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "infersight_consumer_lag",
            "Messages between the worker's position and the end of each partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "infersight_batch_seconds",
            "Time to process one polled batch, from decode to commit.",
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self.db_transaction_seconds = Histogram(
            "infersight_db_transaction_seconds",
            "Time of the database transaction that persists a batch.",
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Counter(
            "infersight_stage_seconds",
            "Time spent per processing stage: decode, aggregate (window states, prediction "
            "index, label join), serialise (window states), write (upserts, offsets, commit), "
            "evaluate (window evaluations), judge (alert rules).",
            ["stage"],
            registry=r,
        )
        self.db_failures = Counter(
            "infersight_db_failures",
            "Database transactions that failed and were retried.",
            registry=r,
        )

        self.model_requests = Counter(
            "infersight_model_requests", "Monitored model calls, counted once each at commit.",
            ["model", "version"], registry=r,
        )
        self.model_errors = Counter(
            "infersight_model_errors",
            f"Monitored calls that failed, by error type (at most {MAX_ERROR_TYPES} types per "
            f"model version, the others as {OTHER_ERRORS}).",
            ["model", "version", "error_type"], registry=r,
        )
        self.model_tokens = Counter(
            "infersight_model_tokens",
            "Tokens reported by monitored calls, by type (input, output, cached_input, "
            "reasoning).",
            ["model", "version", "token_type"], registry=r,
        )
        self.model_cost = Counter(
            "infersight_model_cost",
            "Cost of monitored calls at the price in force at their time, by currency.",
            ["model", "version", "currency"], registry=r,
        )
        self._error_types: dict[tuple[str, str], set[str]] = {}

    def count_calls(self, calls: Mapping[tuple[str, str], int],
                    errors: Mapping[tuple[str, str, str], int],
                    tokens: Mapping[tuple[str, str, str], int],
                    cost: Mapping[tuple[str, str, str], float]) -> None:
        """Add a commit's calls, errors by type, tokens by type and cost by currency."""
        for (model, version), n in calls.items():
            self.model_requests.labels(model, version).inc(n)
        for (model, version, error_type), n in errors.items():
            seen = self._error_types.setdefault((model, version), set())
            if error_type not in seen and len(seen) < MAX_ERROR_TYPES:
                seen.add(error_type)
            label = error_type if error_type in seen else OTHER_ERRORS
            self.model_errors.labels(model, version, label).inc(n)
        for (model, version, token_type), n in tokens.items():
            self.model_tokens.labels(model, version, token_type).inc(n)
        for (model, version, currency), amount in cost.items():
            self.model_cost.labels(model, version, currency).inc(amount)

    def serve(self, port: int, host: str = "0.0.0.0") -> tuple[WSGIServer, threading.Thread]:
        """Expose ``/metrics`` on ``host:port`` from a daemon thread."""
        return start_http_server(port, addr=host, registry=self.registry)
