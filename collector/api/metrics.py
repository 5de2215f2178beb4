"""The API's own Prometheus metrics, on an explicit registry (served at ``/metrics``).

>>> from prometheus_client import generate_latest
>>> metrics = ApiMetrics()
>>> metrics.observe("GET", "/v1/models", 404, 0.002)
>>> b'infersight_api_errors_total{route="/v1/models",status="404"} 1.0' in generate_latest(metrics.registry)
True
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    """Requests, errors, latency and ingested events of one API process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "infersight_api_requests", "HTTP requests by method, route and status.",
            ["method", "route", "status"], registry=r,
        )
        self.errors = Counter(
            "infersight_api_errors", "HTTP responses with a 4xx or 5xx status.",
            ["route", "status"], registry=r,
        )
        self.request_seconds = Histogram(
            "infersight_api_request_seconds", "Time to answer a request.", ["route"],
            buckets=_SECONDS_BUCKETS, registry=r,
        )
        self.events_accepted = Counter(
            "infersight_api_events_accepted", "Events accepted by HTTP ingest and published.",
            ["topic"], registry=r,
        )
        self.events_rejected = Counter(
            "infersight_api_events_rejected", "Events refused by HTTP ingest, by reason.",
            ["reason"], registry=r,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.request_seconds.labels(route=route).observe(seconds)
        if status >= 400:
            self.errors.labels(route=route, status=str(status)).inc()
