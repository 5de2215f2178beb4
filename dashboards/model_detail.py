"""The model detail dashboard (Postgres data source): one model, its versions and features.

Its UID is the one alert links and Grafana annotations use (``INFERSIGHT_ALERT_DASHBOARD_UID``
defaults to it); alert links set ``var-model`` and ``var-version``.

>>> board = model_detail()
>>> board["uid"], [v["name"] for v in board["templating"]["list"]]
('infersight-model', ['model', 'version', 'feature'])
"""

from __future__ import annotations

from infersight.dashboards.health import HEIGHT, health_row
from infersight.dashboards.open_windows import drift_shown, series_name
from infersight.dashboards.panels import (
    Json,
    dashboard,
    grid,
    provisional_style,
    row,
    sql_target,
    sql_variable,
    stat,
    table,
    timeseries,
)
from infersight.dashboards.quality import HEIGHT as QUALITY_HEIGHT
from infersight.dashboards.quality import quality_row
from infersight.dashboards.scope import DATASET, SCOPE
from infersight.dashboards.thresholds import (
    DRIFT_MIN_ROWS,
    DRIFT_SHARE_ALERT,
    JS_DRIFT,
    LABEL_COVERAGE_ALERT,
    MULTIVARIATE_DRIFT_Z,
    PREDICTION_PSI_ALERT,
    PSI_DRIFT,
    PSI_WATCH,
    WASSERSTEIN_DRIFT,
)

UID = "infersight-model"
PREDICTION = "@prediction"
"""The ``feature`` under which prediction-drift metrics are stored."""


def per_feature_sql(metric: str, drift: bool = True) -> str:
    """One series per selected feature: the largest value of ``metric`` in each interval
    (a ``drift`` score leaves out open windows with too few rows)."""
    shown = f"\n  AND {drift_shown()}" if drift else ""
    return f"""
SELECT $__timeGroupAlias(window_start, $__interval), feature AS metric, max(value) AS value
FROM metric_points
WHERE {SCOPE} AND feature IN ($feature) AND metric = '{metric}'
  AND $__timeFilter(window_start){shown}
GROUP BY 1, 2
ORDER BY 1, 2
"""


def dataset_sql(metrics: tuple[str, ...], series: str = "metric", weighted: bool = True) -> str:
    """Dataset-level ``metrics`` over time (sample-size weighted mean, or the maximum)."""
    listed = ", ".join(f"'{m}'" for m in metrics)
    value = ("sum(value * sample_size) / nullif(sum(sample_size), 0)" if weighted
             else "max(value)")
    return f"""
SELECT $__timeGroupAlias(window_start, $__interval), {series} AS metric, {value} AS value
FROM metric_points
WHERE {DATASET} AND metric IN ({listed})
  AND $__timeFilter(window_start)
GROUP BY 1, 2
ORDER BY 1, 2
"""


def performance_sql(metric: str) -> str:
    """Realised ``metric`` and its label-free estimate, per version."""
    return dataset_sql(
        (metric, f"estimated_{metric}"),
        series="CASE WHEN metric LIKE 'estimated_%' THEN 'estimated ' ELSE 'realised ' END "
               "|| version",
    )


DRIFT_SHARE_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval), {series_name("'drift_share'")} AS metric,
  max(value) AS value
FROM metric_points
WHERE {DATASET} AND metric = 'drift_share' AND $__timeFilter(window_start)
  AND {drift_shown(rows_from_count=True)}
GROUP BY 1, 2
ORDER BY 1, 2
"""

LATEST_DRIFT_SHARE_SQL = f"""
SELECT window_start AS time, max(value) AS drift_share
FROM metric_points
WHERE {DATASET} AND metric = 'drift_share' AND $__timeFilter(window_start)
  AND {drift_shown(rows_from_count=True)}
GROUP BY 1
ORDER BY 1
"""

EVENTS_SQL = f"""
SELECT coalesce(sum(value), 0) AS events
FROM metric_points
WHERE {DATASET} AND metric = 'count' AND $__timeFilter(window_start)
"""

LATEST_LABEL_COVERAGE_SQL = f"""
SELECT window_start AS time,
  sum(value * sample_size) / nullif(sum(sample_size), 0) AS label_coverage
FROM metric_points
WHERE {DATASET} AND metric = 'label_coverage' AND $__timeFilter(window_start)
GROUP BY 1
ORDER BY 1
"""

FIRING_SQL = """
SELECT count(*) AS firing_alerts
FROM alert_states
WHERE model = '$model' AND version IN ($version) AND status = 'firing'
"""

TOP_DRIFTED_SQL = f"""
SELECT feature,
  max(value) FILTER (WHERE metric = 'psi') AS max_psi,
  avg(value) FILTER (WHERE metric = 'psi') AS mean_psi,
  count(*) FILTER (WHERE metric = 'psi' AND value > {PSI_DRIFT}) AS windows_over_psi_threshold,
  max(value) FILTER (WHERE metric = 'wasserstein_normed') AS max_wasserstein_normed,
  max(value) FILTER (WHERE metric = 'js_distance') AS max_js_distance,
  min(value) FILTER (WHERE metric IN ('ks_pvalue', 'chi2_pvalue')) AS min_pvalue
FROM metric_points
WHERE {SCOPE} AND feature NOT IN ('', '{PREDICTION}')
  AND metric IN ('psi', 'wasserstein_normed', 'js_distance', 'ks_pvalue', 'chi2_pvalue')
  AND $__timeFilter(window_start)
  AND {drift_shown()}
GROUP BY feature
ORDER BY max_psi DESC NULLS LAST, feature
LIMIT 25
"""

PREDICTION_DRIFT_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval), metric, max(value) AS value
FROM metric_points
WHERE {SCOPE} AND feature = '{PREDICTION}'
  AND metric IN ('psi', 'js_distance', 'wasserstein_normed')
  AND $__timeFilter(window_start)
  AND {drift_shown()}
GROUP BY 1, 2
ORDER BY 1, 2
"""

MULTIVARIATE_DRIFT_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval),
  CASE metric WHEN 'reconstruction_error' THEN 'mean error ' ELSE 'z ' END || version AS metric,
  CASE metric WHEN 'reconstruction_error'
    THEN sum(value * sample_size) / nullif(sum(sample_size), 0)
    ELSE max(value) END AS value
FROM metric_points
WHERE {DATASET} AND metric IN ('reconstruction_error', 'reconstruction_error_drift')
  AND $__timeFilter(window_start)
  AND {drift_shown()}
GROUP BY 1, metric_points.metric, version
ORDER BY 1, 2
"""
"""Per version: the z (largest in each interval) and the mean error (row-weighted)."""

EMBEDDING_DRIFT_SQL = f"""
SELECT $__timeGroupAlias(window_start, $__interval),
  feature || CASE metric WHEN 'embedding_drifted_components' THEN ' drifted components'
                         ELSE ' mean distance' END AS metric,
  max(value) AS value
FROM metric_points
WHERE {SCOPE} AND metric IN ('embedding_drifted_components', 'embedding_mean_distance')
  AND $__timeFilter(window_start)
  AND {drift_shown()}
GROUP BY 1, 2
ORDER BY 1, 2
"""
"""Every embedding feature of the model (only embeddings have these metrics)."""

ALERT_STATES_SQL = """
SELECT rule, version, nullif(feature, '') AS feature, severity, status, value, threshold,
  streak, pending_since, firing_since, resolved_at, window_start AS last_window
FROM alert_states
WHERE model = '$model' AND version IN ($version) AND status <> 'inactive'
ORDER BY CASE status WHEN 'firing' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, updated_at DESC
"""

ALERT_ANNOTATIONS_SQL = """
SELECT coalesce(firing_since, pending_since) AS time, resolved_at AS timeend,
  rule || ' ' || status || coalesce(' (' || nullif(feature, '') || ')', '')
    || ': value ' || coalesce(round(value::numeric, 4)::text, 'n/a')
    || ', threshold ' || coalesce(round(threshold::numeric, 4)::text, 'n/a') AS text,
  'infersight,' || severity || ',' || rule AS tags
FROM alert_states
WHERE model = '$model' AND version IN ($version)
  AND coalesce(firing_since, pending_since) IS NOT NULL
  AND coalesce(firing_since, pending_since) <= $__timeTo()
  AND (resolved_at IS NULL OR resolved_at >= $__timeFrom())
"""

MODEL_VARIABLE_SQL = "SELECT name FROM models ORDER BY name"
VERSION_VARIABLE_SQL = (
    "SELECT version FROM model_versions WHERE model = '$model' ORDER BY created_at DESC"
)
FEATURE_VARIABLE_SQL = f"""
SELECT DISTINCT feature FROM metric_points
WHERE model = '$model' AND metric = 'count' AND feature NOT IN ('', '{PREDICTION}')
  AND $__timeFilter(window_start)
ORDER BY 1
"""


def _annotations() -> list[Json]:
    grafana_channel = {
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "iconColor": "red",
        "name": "infersight alerts (annotation channel)",
        "target": {"limit": 100, "matchAny": False, "tags": ["infersight", "model:$model"],
                   "type": "tags"},
    }
    alert_states = {
        "datasource": sql_target("")["datasource"],
        "enable": True,
        "iconColor": "orange",
        "name": "infersight alert states",
        "target": {**sql_target(ALERT_ANNOTATIONS_SQL, "table", "Anno")},
    }
    return [grafana_channel, alert_states]


def _summary() -> list[Json]:
    return [
        stat("Drift share (latest window)", sql_target(LATEST_DRIFT_SHARE_SQL), grid(0, 0, 6, 4),
             unit="percentunit", threshold_steps=((DRIFT_SHARE_ALERT, "red"),)),
        stat("Events in range", sql_target(EVENTS_SQL, "table"), grid(6, 0, 6, 4), unit="short"),
        stat("Label coverage (latest window)", sql_target(LATEST_LABEL_COVERAGE_SQL),
             grid(12, 0, 6, 4), unit="percentunit"),
        stat("Firing alerts", sql_target(FIRING_SQL, "table"), grid(18, 0, 6, 4),
             threshold_steps=((1, "red"),)),
    ]


def _drift() -> list[Json]:
    return [
        row("Data drift", 4),
        timeseries("Dataset drift share", [sql_target(DRIFT_SHARE_SQL)],
                   grid(0, 5, 12, 8), unit="percentunit", minimum=0, maximum=1,
                   threshold_steps=((DRIFT_SHARE_ALERT, "red"),), overrides=[provisional_style()],
                   description="Share of drifted features (Benjamini-Hochberg controlled where "
                               "p-values decide); the line is the built-in alert threshold. "
                               "Still-open windows are the dashed 'provisional' series, drawn "
                               f"once they hold {DRIFT_MIN_ROWS} rows."),
        table("Top drifted features (selected range)", sql_target(TOP_DRIFTED_SQL, "table"),
              grid(12, 5, 12, 8), sort_by="max_psi",
              description="Per-window drift statistics aggregated over the range (largest, "
                          "mean, windows over the PSI threshold). The API's /drift ranking "
                          "merges window states instead and is the exact figure for a range."),
        timeseries("PSI per feature", [sql_target(per_feature_sql("psi"))], grid(0, 13, 12, 8),
                   minimum=0, threshold_steps=((PSI_WATCH, "orange"), (PSI_DRIFT, "red"))),
        timeseries("Wasserstein distance (normed) per feature",
                   [sql_target(per_feature_sql("wasserstein_normed"))], grid(12, 13, 12, 8),
                   minimum=0, threshold_steps=((WASSERSTEIN_DRIFT, "red"),),
                   description="Numeric features: Wasserstein-1 over the reference std."),
        timeseries("Jensen-Shannon distance per feature",
                   [sql_target(per_feature_sql("js_distance"))], grid(0, 21, 12, 8),
                   minimum=0, maximum=1, threshold_steps=((JS_DRIFT, "red"),)),
        timeseries("Missing rate per feature",
                   [sql_target(per_feature_sql("missing_rate", drift=False))],
                   grid(12, 21, 12, 8), unit="percentunit", minimum=0, maximum=1),
    ]


def right_axis(pattern: str, unit: str = "none") -> Json:
    """A field override: series whose name matches ``pattern`` on a right axis of ``unit``,
    without the panel's threshold lines (they belong to the left axis)."""
    return {
        "matcher": {"id": "byRegexp", "options": pattern},
        "properties": [
            {"id": "custom.axisPlacement", "value": "right"},
            {"id": "unit", "value": unit},
            {"id": "min", "value": 0},
            {"id": "custom.thresholdsStyle", "value": {"mode": "off"}},
        ],
    }


def _joint_drift(y: int) -> list[Json]:
    """Multivariate drift of the tabular features and drift of each embedding feature."""
    return [
        timeseries("Multivariate drift", [sql_target(MULTIVARIATE_DRIFT_SQL)],
                   grid(0, y, 12, 8), threshold_steps=((MULTIVARIATE_DRIFT_Z, "red"),),
                   overrides=[right_axis("^mean error .*")],
                   description="PCA reconstruction error of the tabular features together: "
                               "the z of each window's mean error against the reference's "
                               "(left; the line is the z from which multivariate_drift can "
                               "be 1, when the mean is also 2 % above the reference's) and the "
                               "mean error itself (right). Empty for models with fewer than "
                               "two tabular features."),
        timeseries("Embedding drift", [sql_target(EMBEDDING_DRIFT_SQL)], grid(12, y, 12, 8),
                   unit="percentunit", minimum=0,
                   overrides=[right_axis(".* mean distance$")],
                   description="Per embedding feature: the share of its principal components "
                               "whose test drifted (left) and the distance between the "
                               "window's and the reference's mean vectors, over the "
                               "reference's spread (right). Empty for models without "
                               "embeddings."),
    ]


def _prediction_and_performance() -> list[Json]:
    return [
        row("Prediction drift and performance", 29),
        timeseries("Prediction drift", [sql_target(PREDICTION_DRIFT_SQL)], grid(0, 30, 12, 8),
                   minimum=0, threshold_steps=((PREDICTION_PSI_ALERT, "red"),),
                   description="Drift of the model's output; the line is the PSI alert threshold."),
        timeseries("Label coverage", [sql_target(dataset_sql(("label_coverage",), "version"))],
                   grid(12, 30, 12, 8), unit="percentunit", minimum=0, maximum=1,
                   threshold_steps=((LABEL_COVERAGE_ALERT, "orange"),)),
        timeseries("Precision: realised vs estimated", [sql_target(performance_sql("precision"))],
                   grid(0, 38, 12, 8), unit="percentunit", minimum=0, maximum=1),
        timeseries("Recall: realised vs estimated", [sql_target(performance_sql("recall"))],
                   grid(12, 38, 12, 8), unit="percentunit", minimum=0, maximum=1),
        timeseries("F1: realised vs estimated", [sql_target(performance_sql("f1"))],
                   grid(0, 46, 12, 8), unit="percentunit", minimum=0, maximum=1),
        timeseries("ROC AUC: realised vs estimated", [sql_target(performance_sql("roc_auc"))],
                   grid(12, 46, 12, 8), unit="percentunit", minimum=0, maximum=1),
        timeseries("Regression error", [sql_target(dataset_sql(("mae", "rmse")))],
                   grid(0, 54, 24, 8), minimum=0,
                   description="MAE and RMSE of regression models (empty for classifiers)."),
        table("Alert states", sql_target(ALERT_STATES_SQL, "table"), grid(0, 62, 24, 8)),
    ]


def _below(rows: int, panels: list[Json]) -> list[Json]:
    """``panels`` moved down by ``rows`` grid rows."""
    return [{**p, "gridPos": {**p["gridPos"], "y": p["gridPos"]["y"] + rows}} for p in panels]


def model_detail() -> Json:
    """One model: inference health (rate, errors, latency, tokens, cost), drift per feature,
    multivariate and embedding drift, data quality, prediction drift, performance and
    alerts."""
    variables = [
        sql_variable("model", "Model", MODEL_VARIABLE_SQL),
        sql_variable("version", "Version", VERSION_VARIABLE_SQL, multi=True),
        sql_variable("feature", "Feature", FEATURE_VARIABLE_SQL, multi=True, on_time_change=True),
    ]
    panels = (_summary() + health_row(4)
              + _below(HEIGHT, _drift() + _joint_drift(29) + quality_row(37)
                       + _below(8 + QUALITY_HEIGHT, _prediction_and_performance())))
    return dashboard(UID, "infersight: model detail", panels, variables=variables,
                     annotations=_annotations(), builtin_annotations=False,
                     description="Inference health, drift, performance and alerts of one "
                                 "model.")
