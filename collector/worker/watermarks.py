"""Event time as the worker sees it: each model's latest committed event time (its
watermark's source) and its window layout, to tell which windows are closed.

The latest event time is the model's over every partition (its messages are spread over
all of them): this worker's own commits, and every worker's as stored, re-read on assignment
and at housekeeping. A partition that lags finds windows closed already; closing only
decides when a window is evaluated, evicted or shown as the latest, and late events are
still counted (docs/pipeline.md §3).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.errors import DATABASE_ERRORS
from infersight.collector.worker.pipeline import WindowKey
from infersight.drift.windowing import WindowSpec
from infersight.storage.watermarks import load_watermarks
from sqlalchemy.orm import Session, sessionmaker


class Watermarks:
    """Per-model latest event times (committed) and window specs."""

    def __init__(
        self, sessions: sessionmaker[Session], catalog: ModelCatalog, lateness_fraction: float
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.lateness_fraction = lateness_fraction
        self.latest: dict[str, datetime] = {}

    def reload(self, session: Session) -> None:
        """Read every model's stored latest event time."""
        self.latest = load_watermarks(session)

    def advance(self, max_event_ts: Mapping[str, datetime]) -> None:
        """Committed events reached ``max_event_ts`` (per model)."""
        for model, ts in max_event_ts.items():
            if model not in self.latest or ts > self.latest[model]:
                self.latest[model] = ts

    def spec(self, model: str) -> WindowSpec:
        """The model's window layout (its window length, the worker's lateness)."""
        with self.sessions() as session:
            window_s = self.catalog.settings(session, model).window_s
        return WindowSpec(window_s, self.lateness_fraction)

    def window_closed(self, model: str, window_start: datetime, spec: WindowSpec) -> bool:
        """Whether the model's watermark has passed the end of the window."""
        latest = self.latest.get(model)
        return latest is not None and bool(spec.is_closed(window_start, spec.watermark(latest)))

    def is_closed(self, key: WindowKey) -> bool:
        """Whether window ``key`` is closed (False while the database cannot say)."""
        if self.latest.get(key[0]) is None:
            return False
        try:
            spec = self.spec(key[0])
        except DATABASE_ERRORS:
            return False
        return self.window_closed(key[0], key[2], spec)

    def closed_before(self) -> dict[str, datetime]:
        """Per model, the time before which windows are closed (the watermark)."""
        return {model: self.spec(model).watermark(ts) for model, ts in self.latest.items()}
