"""SQL conditions on ``metric_points`` rows for windows that are still open (provisional).

A window is closed once its model's watermark passed its end: the latest committed event
time (``watermarks.max_event_ts``) minus the allowed lateness, a share of the window's length
(:data:`~infersight.dashboards.thresholds.LATENESS_FRACTION`, the worker's default), is at or
after ``window_end`` — the worker's rule (``WindowSpec.is_closed``) and the API's
``provisional`` flag. An open window's drift scores are left out of the drift panels until
the window holds :data:`~infersight.dashboards.thresholds.DRIFT_MIN_ROWS` rows (its
dataset-level ``count``), the minimum the built-in drift rules judge.

>>> "watermarks" in closed() and "metric_points.window_end" in closed()
True
>>> ">= 500" in drift_shown("p")
True
"""

from __future__ import annotations

from infersight.dashboards.panels import PROVISIONAL_SUFFIX
from infersight.dashboards.thresholds import DRIFT_MIN_ROWS, LATENESS_FRACTION


def closed(row: str = "metric_points") -> str:
    """True when the window of the ``metric_points`` row ``row`` is closed."""
    return f"""EXISTS (
    SELECT 1 FROM watermarks AS wm
    WHERE wm.model = {row}.model
      AND wm.max_event_ts - {LATENESS_FRACTION} * ({row}.window_end - {row}.window_start)
          >= {row}.window_end)"""


def drift_shown(row: str = "metric_points") -> str:
    """True unless the row's window is open and has fewer than ``DRIFT_MIN_ROWS`` rows."""
    # a scalar subquery: looked up per row through the primary key, never a full scan
    return f"""({closed(row)}
  OR coalesce((
    SELECT max(rows_of.value) FROM metric_points AS rows_of
    WHERE rows_of.model = {row}.model AND rows_of.version = {row}.version
      AND rows_of.window_start = {row}.window_start AND rows_of.feature = ''
      AND rows_of.metric = 'count'), {DRIFT_MIN_ROWS}) >= {DRIFT_MIN_ROWS})"""


def series_name(name: str, row: str = "metric_points") -> str:
    """A series name expression: ``name``, or ``name (provisional)`` for an open window."""
    return f"CASE WHEN {closed(row)} THEN {name} ELSE {name} || '{PROVISIONAL_SUFFIX}' END"
