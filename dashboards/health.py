"""The model dashboard's "Inference health" row: request rate, errors (rate and by type),
latency of all and of failed calls, tokens, time to first token and cost per UTC day.

The worker computes these per window with no reference needed, so they show from a model's
first window; tokens and cost exist for generative and priced models only (their panels stay
empty for the others).

>>> [p["title"] for p in health_row(4)][:3]
['Inference health', 'Request rate', 'Error rate']
"""

from __future__ import annotations

from infersight.dashboards.panels import Json, grid, row, sql_target, timeseries
from infersight.dashboards.scope import DATASET, SCOPE
from infersight.dashboards.thresholds import LATENCY_P99_ALERT_MS

HEIGHT = 17
"""Grid rows the health row takes (its header and two lines of panels)."""
ERROR = "@error"
"""The ``feature`` of latency percentiles over failed calls only."""

REQUEST_RATE_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval), version AS metric, avg(value) AS value
FROM metric_points
WHERE {DATASET} AND metric = 'request_rate' AND $__timeFilter(window_start)
GROUP BY 1, 2
ORDER BY 1, 2
"""

ERROR_RATE_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval), version AS metric,
  sum(value) FILTER (WHERE metric = 'error_count')
    / nullif(sum(value) FILTER (WHERE metric = 'request_count'), 0) AS value
FROM metric_points
WHERE {DATASET} AND metric IN ('error_count', 'request_count')
  AND $__timeFilter(window_start)
GROUP BY 1, 2
ORDER BY 1, 2
"""

ERRORS_BY_TYPE_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval), feature AS metric, sum(value) AS value
FROM metric_points
WHERE {SCOPE} AND feature <> '' AND metric = 'error_count' AND $__timeFilter(window_start)
GROUP BY 1, 2
ORDER BY 1, 2
"""

LATENCY_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval),
  replace(replace(metric, 'latency_', ''), '_ms', '')
    || CASE WHEN feature = '{ERROR}' THEN ' failed calls' ELSE '' END AS metric,
  max(value) AS value
FROM metric_points
WHERE {SCOPE} AND feature IN ('', '{ERROR}')
  AND metric IN ('latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms')
  AND $__timeFilter(window_start)
GROUP BY 1, 2
ORDER BY 1, 2
"""

TOKENS_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval), replace(metric, '_tokens', '') AS metric,
  sum(value) AS value
FROM metric_points
WHERE {DATASET}
  AND metric IN ('input_tokens', 'output_tokens', 'cached_input_tokens', 'reasoning_tokens')
  AND $__timeFilter(window_start)
GROUP BY 1, 2
ORDER BY 1, 2
"""

TTFT_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval),
  replace(replace(metric, 'time_to_first_token_', ''), '_ms', '') AS metric, max(value) AS value
FROM metric_points
WHERE {DATASET}
  AND metric IN ('time_to_first_token_p50_ms', 'time_to_first_token_p95_ms',
                 'time_to_first_token_p99_ms')
  AND $__timeFilter(window_start)
GROUP BY 1, 2
ORDER BY 1, 2
"""

COST_PER_DAY_SQL = f"""
SELECT $__timeGroupAlias(window_start, 1d), 'cost' AS metric, sum(value) AS value
FROM metric_points
WHERE {DATASET} AND metric = 'cost'
  AND window_start >= to_timestamp(floor(extract(epoch FROM $__timeFrom()::timestamptz)
                                         / 86400) * 86400)
  AND window_start <= $__timeTo()
GROUP BY 1, 2
ORDER BY 1, 2
"""
"""Whole UTC days (by window start), the first one from its midnight even when the range
starts later in the day."""


def health_row(y: int) -> list[Json]:
    """The row's header at ``y`` and its panels below it (``HEIGHT`` grid rows in all)."""
    return [
        row("Inference health", y),
        timeseries("Request rate", [sql_target(REQUEST_RATE_SQL)], grid(0, y + 1, 6, 8),
                   unit="reqps", minimum=0,
                   description="Calls per second of each window, per version (every monitored "
                               "call; no reference needed)."),
        timeseries("Error rate", [sql_target(ERROR_RATE_SQL)], grid(6, y + 1, 6, 8),
                   unit="percentunit", minimum=0,
                   description="Failed calls over all calls in each interval, per version."),
        timeseries("Errors by type", [sql_target(ERRORS_BY_TYPE_SQL)], grid(12, y + 1, 6, 8),
                   minimum=0, draw_style="bars",
                   description="Failed calls per error type (e.g. TimeoutError), all selected "
                               "versions together."),
        timeseries("Latency: all and failed calls", [sql_target(LATENCY_SQL)],
                   grid(18, y + 1, 6, 8), unit="ms", minimum=0,
                   threshold_steps=((LATENCY_P99_ALERT_MS, "red"),),
                   description="Per-window percentiles of all calls and of failed calls "
                               "(largest in each interval: percentiles do not average)."),
        timeseries("Tokens", [sql_target(TOKENS_SQL)], grid(0, y + 9, 8, 8), minimum=0,
                   description="Input, output, cached input and reasoning tokens summed per "
                               "interval (generative models only)."),
        timeseries("Time to first token", [sql_target(TTFT_SQL)], grid(8, y + 9, 8, 8),
                   unit="ms", minimum=0,
                   description="Per-window percentiles of streamed calls (generative models "
                               "only; largest in each interval)."),
        timeseries("Cost per day", [sql_target(COST_PER_DAY_SQL)], grid(16, y + 9, 8, 8),
                   minimum=0, draw_style="bars",
                   description="Cost summed over each UTC day (by window start), in the "
                               "currency of the model's price (GET /v1/models/{model}: "
                               "pricing.currency); priced models only."),
    ]
