"""The overview dashboard: every model at a glance (Postgres data source).

>>> board = overview()
>>> board["uid"], [p["title"] for p in board["panels"]][:2]
('infersight-overview', ['Models', 'Firing and pending alerts'])
"""

from __future__ import annotations

from infersight.dashboards.open_windows import drift_shown, series_name
from infersight.dashboards.panels import (
    Json,
    dashboard,
    grid,
    provisional_style,
    sql_target,
    sql_variable,
    table,
    timeseries,
)
from infersight.dashboards.thresholds import (
    DRIFT_MIN_ROWS,
    DRIFT_SHARE_ALERT,
    LABEL_COVERAGE_ALERT,
)

UID = "infersight-overview"

MODELS_SQL = f"""
WITH latest AS (
  SELECT DISTINCT ON (model, metric) model, metric, value
  FROM metric_points
  WHERE model IN ($model) AND feature = ''
    AND metric IN ('drift_share', 'f1', 'estimated_f1', 'label_coverage')
    AND $__timeFilter(window_start)
    AND (metric <> 'drift_share' OR {drift_shown(rows_from_count=True)})
  ORDER BY model, metric, window_start DESC
), events AS (
  SELECT model, sum(value) AS events
  FROM metric_points
  WHERE model IN ($model) AND feature = '' AND metric = 'count'
    AND $__timeFilter(window_start)
  GROUP BY model
), alerts AS (
  SELECT model,
    count(*) FILTER (WHERE status = 'firing') AS firing,
    count(*) FILTER (WHERE status = 'pending') AS pending
  FROM alert_states
  WHERE model IN ($model)
  GROUP BY model
)
SELECT m.name AS model,
  (SELECT value FROM latest l WHERE l.model = m.name AND l.metric = 'drift_share') AS drift_share,
  (SELECT value FROM latest l WHERE l.model = m.name AND l.metric = 'f1') AS f1,
  (SELECT value FROM latest l WHERE l.model = m.name AND l.metric = 'estimated_f1') AS estimated_f1,
  (SELECT value FROM latest l WHERE l.model = m.name AND l.metric = 'label_coverage') AS label_coverage,
  coalesce(e.events, 0) AS events,
  coalesce(a.firing, 0) AS firing_alerts,
  coalesce(a.pending, 0) AS pending_alerts
FROM models m
LEFT JOIN events e ON e.model = m.name
LEFT JOIN alerts a ON a.model = m.name
WHERE m.name IN ($model)
ORDER BY firing_alerts DESC, drift_share DESC NULLS LAST, model
"""

ALERTS_SQL = """
SELECT model, version, rule, nullif(feature, '') AS feature, severity, status,
  value, threshold, coalesce(firing_since, pending_since) AS since, window_start AS last_window
FROM alert_states
WHERE model IN ($model) AND status IN ('firing', 'pending')
ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, since
"""

DRIFT_SHARE_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval), {series_name("model")} AS metric,
  max(value) AS value
FROM metric_points
WHERE model IN ($model) AND feature = '' AND metric = 'drift_share'
  AND $__timeFilter(window_start)
  AND {drift_shown(rows_from_count=True)}
GROUP BY 1, 2
ORDER BY 1, 2
"""

PERFORMANCE_SQL = """
SELECT $__timeGroupAlias(window_start, $__interval),
  model || CASE WHEN metric = 'f1' THEN ' realised' ELSE ' estimated' END AS metric,
  sum(value * sample_size) / nullif(sum(sample_size), 0) AS value
FROM metric_points
WHERE model IN ($model) AND feature = '' AND metric IN ('f1', 'estimated_f1')
  AND $__timeFilter(window_start)
GROUP BY 1, 2
ORDER BY 1, 2
"""

LABEL_COVERAGE_SQL = """
SELECT $__timeGroupAlias(window_start, $__interval), model AS metric,
  sum(value * sample_size) / nullif(sum(sample_size), 0) AS value
FROM metric_points
WHERE model IN ($model) AND feature = '' AND metric = 'label_coverage'
  AND $__timeFilter(window_start)
GROUP BY 1, 2
ORDER BY 1, 2
"""

EVENT_RATE_SQL = """
SELECT $__timeGroupAlias(window_start, $__interval), model AS metric,
  avg(events_per_second) AS value
FROM (
  SELECT model, window_start,
    sum(value) / nullif(max(extract(epoch FROM window_end - window_start)), 0) AS events_per_second
  FROM metric_points
  WHERE model IN ($model) AND feature = '' AND metric = 'count'
    AND $__timeFilter(window_start)
  GROUP BY model, window_start
) AS windows
GROUP BY 1, 2
ORDER BY 1, 2
"""

MODEL_VARIABLE_SQL = "SELECT name FROM models ORDER BY name"


def overview() -> Json:
    """All models: drift share, realised and estimated F1, label coverage, alerts, event rate."""
    panels = [
        table("Models", sql_target(MODELS_SQL, "table"), grid(0, 0, 14, 8),
              description="Latest window in the selected range of each model; events are "
                          "summed over the range; alerts are the current alert states.",
              units={"drift_share": "percentunit", "f1": "percentunit",
                     "estimated_f1": "percentunit", "label_coverage": "percentunit",
                     "events": "short"}),
        table("Firing and pending alerts", sql_target(ALERTS_SQL, "table"), grid(14, 0, 10, 8),
              description="Alert states of the selected models that are firing or pending."),
        timeseries("Data drift share", [sql_target(DRIFT_SHARE_SQL)], grid(0, 8, 12, 8),
                   unit="percentunit", minimum=0, maximum=1,
                   threshold_steps=((DRIFT_SHARE_ALERT, "red"),), overrides=[provisional_style()],
                   description="Share of drifted input features per window (largest in each "
                               "interval); the line is the built-in alert threshold. "
                               "Still-open windows are the dashed 'provisional' series, drawn "
                               f"once they hold {DRIFT_MIN_ROWS} rows."),
        timeseries("F1: realised vs estimated", [sql_target(PERFORMANCE_SQL)],
                   grid(12, 8, 12, 8), unit="percentunit", minimum=0, maximum=1,
                   description="Realised F1 from joined labels and label-free estimated F1, "
                               "weighted by sample size."),
        timeseries("Label coverage", [sql_target(LABEL_COVERAGE_SQL)], grid(0, 16, 12, 8),
                   unit="percentunit", minimum=0, maximum=1,
                   threshold_steps=((LABEL_COVERAGE_ALERT, "orange"),),
                   description="Share of predictions with a joined label."),
        timeseries("Event rate", [sql_target(EVENT_RATE_SQL)], grid(12, 16, 12, 8),
                   unit="reqps",
                   description="Predictions per second: events of each window over its length."),
    ]
    model = sql_variable("model", "Model", MODEL_VARIABLE_SQL, multi=True)
    return dashboard(UID, "infersight: overview", panels, variables=[model],
                     description="Every monitored model: drift, performance, labels, alerts.")
