"""The model dashboard's "Data quality" row: per feature, the latest closed window's
missing (with the reference's rate), invalid, out-of-range and new-category rates and its
schema state; and the schema changes of the range (features missing from whole windows,
names the reference never had).

>>> [p["title"] for p in quality_row(37)]
['Data quality', 'Data quality per feature (latest closed window)', 'Schema changes (selected range)']
"""

from __future__ import annotations

from infersight.dashboards.open_windows import closed
from infersight.dashboards.panels import Json, grid, row, sql_target, table
from infersight.dashboards.scope import DATASET, SCOPE

HEIGHT = 9
"""Grid rows the quality row takes (its header and one line of panels)."""
PREDICTION = "@prediction"

RATES = ("missing_rate", "reference_missing_rate", "invalid_rate", "out_of_range_rate",
         "new_category_rate")

_COLUMNS = ",\n  ".join(f"max(p.value) FILTER (WHERE p.metric = '{m}') AS {m}" for m in RATES)
_METRICS = ", ".join(f"'{m}'" for m in (*RATES, "feature_missing", "unexpected_feature"))

LATEST_QUALITY_SQL = f"""
WITH latest AS (
  SELECT version, max(window_start) AS window_start
  FROM metric_points
  WHERE {DATASET} AND metric = 'count' AND $__timeFilter(window_start)
    AND {closed()}
  GROUP BY version),
rates AS (
SELECT p.feature, p.version, latest.window_start AS window,
  {_COLUMNS},
  CASE WHEN bool_or(p.metric = 'unexpected_feature') THEN 'unexpected'
       WHEN max(p.value) FILTER (WHERE p.metric = 'feature_missing') = 1 THEN 'missing'
       ELSE 'ok' END AS schema,
  max(p.value) FILTER (WHERE p.metric = 'unexpected_feature') AS unexpected_rows
FROM metric_points AS p
JOIN latest ON latest.version = p.version AND latest.window_start = p.window_start
WHERE p.model = '$model' AND p.feature NOT IN ('', '{PREDICTION}')
  AND p.metric IN ({_METRICS})
GROUP BY p.feature, p.version, latest.window_start)
SELECT * FROM rates
ORDER BY schema = 'ok', version, feature
"""
"""Per (feature, version): the rates of the version's latest closed window in the range;
``schema`` is ``missing`` (absent from every row), ``unexpected`` (the reference never had
it; ``unexpected_rows`` carried it) or ``ok``. Schema changes first."""

SCHEMA_CHANGES_SQL = f"""
SELECT feature, version,
  CASE WHEN bool_or(metric = 'unexpected_feature') THEN 'unexpected' ELSE 'missing' END
    AS change,
  count(*) FILTER (WHERE metric = 'schema_change') AS windows,
  sum(value) FILTER (WHERE metric = 'unexpected_feature') AS rows_carried,
  min(window_start) AS first_window, max(window_start) AS last_window
FROM metric_points
WHERE {SCOPE} AND feature NOT IN ('', '{PREDICTION}') AND $__timeFilter(window_start)
  AND ((metric = 'schema_change' AND value = 1) OR metric = 'unexpected_feature')
GROUP BY feature, version
ORDER BY last_window DESC, feature, version
"""
"""Each feature with a schema change in the range: how many windows, and for a name the
reference never had the rows that carried it (``@other``: names beyond the 50 a window
keeps)."""


def quality_row(y: int) -> list[Json]:
    """The row's header at grid row ``y`` and its two tables below it."""
    percent = dict.fromkeys(RATES, "percentunit")
    return [
        row("Data quality", y),
        table("Data quality per feature (latest closed window)",
              sql_target(LATEST_QUALITY_SQL, "table"), grid(0, y + 1, 14, 8), units=percent,
              description="Per feature, the latest closed window of each selected version: "
                          "missing or invalid values (beside the reference's missing rate; "
                          "missing_rate_increase fires 5 points above it, significantly), "
                          "values of the wrong type, numbers outside the reference's "
                          "[min, max], categories the reference never had, and the schema: "
                          "missing from every row, or a name the reference never had."),
        table("Schema changes (selected range)", sql_target(SCHEMA_CHANGES_SQL, "table"),
              grid(14, y + 1, 10, 8), sort_by="last_window",
              description="Features missing from whole windows and names the reference "
                          "never had (rows that carried them), with the windows they were "
                          "seen in; the built-in schema_change alert fires on each."),
    ]
