"""Alert evaluation and delivery for one process: the configuration source, the judgement,
the dispatcher thread. Built from the settings by ``infersight/alerting.py``.

The worker::

    alerting = alerting_from_settings(settings, sessions)   # infersight.alerting
    alerting.start_dispatcher()                       # or run `Dispatcher` in its own process
    ...
    with sessions.begin() as session:                 # the transaction that wrote the points
        upsert_metric_points(session, points)
        alerting.judge(session, model, version, reference.performance, now)

The HTTP routes are ``collector/api/routes/alerts.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime

from infersight.alerts.dispatcher import Dispatcher
from infersight.alerts.judge import Transition, judge_window
from infersight.alerts.rules_file import AlertConfigSource
from sqlalchemy.orm import Session, sessionmaker


class Alerting:
    """Alert evaluation and delivery for one process, reloading the rules file on change;
    the dispatcher thread polls the outbox every ``dispatch_interval_s`` seconds."""

    def __init__(
        self,
        source: AlertConfigSource,
        sessions: sessionmaker[Session],
        dispatch_interval_s: float,
    ) -> None:
        self.source = source
        self.sessions = sessions
        self.dispatch_interval_s = dispatch_interval_s
        self._dispatcher: Dispatcher | None = None
        self._thread: threading.Thread | None = None

    def judge(
        self,
        session: Session,
        model: str,
        version: str,
        reference_performance: Mapping[str, float],
        now: datetime,
    ) -> list[Transition]:
        """Judge the rules for (model, version) in the caller's transaction;
        ``reference_performance`` is the reference's own metrics (``Reference.performance``)."""
        return judge_window(
            session, model, version, reference_performance, now, self.source.current()
        )

    def start_dispatcher(self) -> Dispatcher:
        """Deliver the outbox from a background thread of this process."""
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(self.sessions, self.source.current)
            self._thread = self._dispatcher.run_in_thread(self.dispatch_interval_s)
        return self._dispatcher

    def close(self, timeout: float = 5.0) -> None:
        if self._dispatcher is not None:
            self._dispatcher.stop()  # let a round in flight finish before its client closes
            if self._thread is not None:
                self._thread.join(timeout)
            self._dispatcher.close()
            self._dispatcher = None
