"""The service health dashboard (Prometheus data source): workers and API.

Metric names are those of :mod:`infersight.collector.worker.self_metrics` (workers, scrape job
``infersight-worker``) and the API's ``/metrics`` (scrape job ``infersight-api``).

>>> board = service_health()
>>> board["uid"], board["panels"][0]["targets"][0]["expr"]
('infersight-service', 'sum(up{job="infersight-worker"})')
"""

from __future__ import annotations

from infersight.dashboards.panels import (
    PROMETHEUS,
    Json,
    dashboard,
    grid,
    prom_target,
    stat,
    timeseries,
)

UID = "infersight-service"
WORKER_JOB = "infersight-worker"
API_JOB = "infersight-api"
RATE = "$__rate_interval"


def quantiles(histogram: str, by: str = "") -> list[Json]:
    """p50, p95 and p99 of a Prometheus histogram, as three queries."""
    group = f"le{', ' + by if by else ''}"
    legend_by = f" {{{{{by}}}}}" if by else ""
    return [
        prom_target(
            f"histogram_quantile({q}, sum by ({group}) (rate({histogram}_bucket[{RATE}])))",
            legend=f"p{int(q * 100)}{legend_by}", ref=ref,
        )
        for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))
    ]


def service_health() -> Json:
    """Consumer lag, throughput, dead letters, evaluation and API latency."""
    panels = [
        stat("Workers up", prom_target(f'sum(up{{job="{WORKER_JOB}"}})'), grid(0, 0, 6, 4),
             description="Worker processes answering Prometheus scrapes."),
        stat("API up", prom_target(f'sum(up{{job="{API_JOB}"}})'), grid(6, 0, 6, 4)),
        stat("Consumer lag (messages)", prom_target("sum(infersight_consumer_lag)"),
             grid(12, 0, 6, 4), unit="short", threshold_steps=((10_000, "orange"),)),
        stat("Dead letters (last hour)",
             prom_target("sum(increase(infersight_events_deadlettered_total[1h]))"),
             grid(18, 0, 6, 4), unit="short", threshold_steps=((1, "orange"),)),
        timeseries("Consumer lag by topic",
                   [prom_target("sum by (topic) (infersight_consumer_lag)", "{{topic}}")],
                   grid(0, 4, 12, 8), unit="short",
                   description="Messages (each a batch of events) between the workers' "
                               "positions and the ends of the partitions."),
        timeseries("Events consumed per second",
                   [prom_target(f"sum by (topic) (rate(infersight_events_consumed_total[{RATE}]))",
                                "{{topic}}")],
                   grid(12, 4, 12, 8), unit="reqps"),
        timeseries("Dead letters per second by reason",
                   [prom_target("sum by (reason) "
                                f"(rate(infersight_events_deadlettered_total[{RATE}]))",
                                "{{reason}}")],
                   grid(0, 12, 12, 8), unit="reqps"),
        timeseries("Window evaluations and label joins per second",
                   [prom_target(f"sum(rate(infersight_window_evaluations_total[{RATE}]))",
                                "evaluations", "A"),
                    prom_target(f"sum(rate(infersight_labels_joined_total[{RATE}]))",
                                "labels joined", "B"),
                    prom_target(f"sum(rate(infersight_db_failures_total[{RATE}]))",
                                "database failures", "C")],
                   grid(12, 12, 12, 8), unit="reqps"),
        timeseries("Batch processing time", quantiles("infersight_batch_seconds"),
                   grid(0, 20, 12, 8), unit="s",
                   description="From decode to commit of one polled batch, all workers."),
        timeseries("Database transaction time", quantiles("infersight_db_transaction_seconds"),
                   grid(12, 20, 12, 8), unit="s"),
        timeseries("API request latency", quantiles("infersight_api_request_seconds"),
                   grid(0, 28, 12, 8), unit="s"),
        timeseries("API requests per second by status",
                   [prom_target("sum by (status) "
                                f"(rate(infersight_api_requests_total[{RATE}]))",
                                "{{status}}")],
                   grid(12, 28, 12, 8), unit="reqps"),
        timeseries("HTTP ingest: events accepted and rejected per second",
                   [prom_target("sum by (topic) "
                                f"(rate(infersight_api_events_accepted_total[{RATE}]))",
                                "accepted {{topic}}", "A"),
                    prom_target("sum by (reason) "
                                f"(rate(infersight_api_events_rejected_total[{RATE}]))",
                                "rejected {{reason}}", "B")],
                   grid(0, 36, 24, 8), unit="reqps"),
    ]
    for panel in panels:
        panel["datasource"] = PROMETHEUS
    return dashboard(UID, "infersight: service health", panels, time_from="now-6h",
                     refresh="30s",
                     description="The infersight workers' and API's own metrics (Prometheus).")
