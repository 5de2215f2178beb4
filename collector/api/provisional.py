"""Which windows are still open (provisional) and how many rows a drift score needs.

A window is *closed* once the model's watermark — its latest committed event time minus the
allowed lateness, a share of the window's length — has passed the window's end: the rule the
worker applies (:meth:`infersight.drift.windowing.WindowSpec.is_closed`) and the Grafana
dashboards' SQL repeats. Until then its points are *provisional*: evaluated from the events
so far, and overwritten as more arrive.

The page leaves out the drift scores of an open window until it holds as many rows as the
drift rules in force need to judge one (:func:`drift_min_rows`): a 33-row window's PSI is
noise next to full windows, and the alert rules skip it too.

>>> from datetime import UTC, datetime, timedelta
>>> closing = WindowClosing(datetime(2026, 1, 1, 12, 1, 6, tzinfo=UTC), 0.1)
>>> start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
>>> closing.provisional(start, start + timedelta(minutes=1))  # 6 s late events allowed
False
>>> closing.provisional(start + timedelta(minutes=1), start + timedelta(minutes=2))
True
>>> WindowClosing(None, 0.1).provisional(start, start + timedelta(minutes=1))
True
>>> drift_min_rows([], "fraud")
500
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from infersight.alerts.builtin import builtin_rules
from infersight.alerts.rules import AlertRule
from infersight.drift.windowing import WindowSpec
from infersight.storage.watermarks import load_watermarks
from sqlalchemy.orm import Session

DRIFT_RULE = "data_drift_share"
"""The built-in rule whose ``min_samples`` is the default minimum of a drift score."""
DRIFT_METRIC = "drift_share"
BUILTIN_DRIFT_MIN_ROWS = next(r.min_samples for r in builtin_rules() if r.name == DRIFT_RULE)
"""500: rows a window needs before the built-in drift rules judge it (``alerts/builtin.py``)."""


@dataclass(frozen=True, slots=True)
class WindowClosing:
    """A model's latest committed event time and the allowed lateness (share of a window)."""

    max_event_ts: datetime | None
    lateness_fraction: float

    def closed_until(self, window_s: float) -> datetime | None:
        """The watermark for windows of ``window_s`` seconds: those ending at or before it
        are closed (None before the model's first event)."""
        if self.max_event_ts is None:
            return None
        return WindowSpec(window_s, self.lateness_fraction).watermark(_aware(self.max_event_ts))

    def provisional(self, window_start: datetime, window_end: datetime) -> bool:
        """Whether the window ``[window_start, window_end)`` is still open (for one window;
        over many, compare each end with :meth:`closed_until` once, see :func:`is_open`)."""
        length = (window_end - window_start).total_seconds()
        return is_open(window_end, self.closed_until(max(length, 1e-6)))


def is_open(window_end: datetime, closed_until: datetime | None) -> bool:
    """Whether a window ending at ``window_end`` is still open under the watermark."""
    return closed_until is None or window_end > closed_until


def window_closing(session: Session, model: str, lateness_fraction: float) -> WindowClosing:
    """``model``'s stored watermark source (``watermarks`` table) with the lateness."""
    return WindowClosing(load_watermarks(session, [model]).get(model), lateness_fraction)


def drift_min_rows(rules: Iterable[AlertRule], model: str) -> int:
    """Rows a window of ``model`` needs before a drift score is drawn for it while it is open:
    the smallest ``min_samples`` of the rules in force on ``drift_share`` for the model, or
    the built-in ``data_drift_share``'s (500) when none is."""
    sizes = [r.min_samples for r in rules if r.metric == DRIFT_METRIC and r.matches_model(model)]
    return min(sizes) if sizes else BUILTIN_DRIFT_MIN_ROWS


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
