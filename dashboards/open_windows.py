"""SQL conditions on ``metric_points`` rows for windows that are still open (provisional).

A window is closed once its model's watermark passed its end: the latest committed event
time (``watermarks.max_event_ts``) minus the allowed lateness, a share of the window's length
(:data:`~infersight.dashboards.thresholds.LATENESS_FRACTION`, the worker's default), is at or
after ``window_end`` — the worker's rule (``WindowSpec.is_closed``) and the API's
``provisional`` flag. An open window's drift scores are left out of the drift panels until
their sample reaches :data:`~infersight.dashboards.thresholds.DRIFT_MIN_ROWS` (the point's
``sample_size``; for ``drift_share`` the window's dataset-level ``count``), the minimum the
built-in drift rules judge, counted as they count it.

>>> "watermarks" in closed() and "metric_points.window_end" in closed()
True
>>> "p.sample_size >= 500" in drift_shown("p")
True
>>> "'count'" in drift_shown("p", rows_from_count=True)
True
"""

from __future__ import annotations

from infersight.dashboards.panels import PROVISIONAL_SUFFIX
from infersight.dashboards.thresholds import DRIFT_MIN_ROWS, LATENESS_FRACTION


def closed(row: str = "metric_points") -> str:
    """True when the window of the ``metric_points`` row ``row`` is closed.

    The first test, against the oldest watermark of all models (computed once per query),
    settles all but the newest windows without a lookup per row; the second is the exact
    rule for the row's own model. (A model with points but no watermark row would count as
    closed before the oldest watermark; the worker writes both in one transaction.)
    """
    lateness = f"{LATENESS_FRACTION} * ({row}.window_end - {row}.window_start)"
    return f"""({row}.window_end + {lateness} <= (SELECT min(max_event_ts) FROM watermarks)
  OR EXISTS (
    SELECT 1 FROM watermarks AS wm
    WHERE wm.model = {row}.model AND wm.max_event_ts - {lateness} >= {row}.window_end))"""


def drift_shown(row: str = "metric_points", *, rows_from_count: bool = False) -> str:
    """True unless the row's window is open and its sample is below ``DRIFT_MIN_ROWS``.

    The sample is the point's own ``sample_size`` (a feature's values, the predictions), as
    the alert rules count it; ``rows_from_count`` for ``drift_share``, whose sample size is
    the number of tested features: the window's rows (its dataset-level ``count``) instead.
    """
    if not rows_from_count:
        return f"({closed(row)}\n  OR {row}.sample_size >= {DRIFT_MIN_ROWS})"
    # a scalar subquery: looked up per row through an index, never a full scan
    return f"""({closed(row)}
  OR coalesce((
    SELECT max(rows_of.value) FROM metric_points AS rows_of
    WHERE rows_of.model = {row}.model AND rows_of.version = {row}.version
      AND rows_of.window_start = {row}.window_start AND rows_of.feature = ''
      AND rows_of.metric = 'count'), {DRIFT_MIN_ROWS}) >= {DRIFT_MIN_ROWS})"""


def series_name(name: str, row: str = "metric_points") -> str:
    """A series name expression: ``name``, or ``name (provisional)`` for an open window."""
    return f"CASE WHEN {closed(row)} THEN {name} ELSE {name} || '{PROVISIONAL_SUFFIX}' END"
