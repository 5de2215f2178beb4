"""Which windows to evaluate, and when: a window a commit touched is *dirty*; it is
evaluated once closed (by its model's watermark), and provisionally every
``eval_interval_s`` while open. Windows committed but never evaluated (a worker killed in
between) are found by the stale-window sweep. Each evaluation runs in its own short
transaction, with the alert rules judged in it (:class:`WindowObserver`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.errors import DATABASE_ERRORS, short
from infersight.collector.worker.evaluation import evaluate_window
from infersight.collector.worker.pipeline import WindowKey
from infersight.collector.worker.self_metrics import WorkerMetrics
from infersight.collector.worker.watermarks import Watermarks
from infersight.storage.types import utc_now
from infersight.storage.windows import stale_windows
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


class WindowObserver(Protocol):
    """Called in the transaction that wrote a window's points (the alert engine:
    :class:`infersight.alerts.service.Alerting`)."""

    def judge(
        self, session: Session, model: str, version: str,
        reference_performance: Mapping[str, float], now: datetime,
    ) -> Any: ...


class EvaluationScheduler:
    """Dirty windows, and evaluating those that are due."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        catalog: ModelCatalog,
        watermarks: Watermarks,
        config: WorkerConfig,
        metrics: WorkerMetrics,
        alerting: WindowObserver | None = None,
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.watermarks = watermarks
        self.config = config
        self.metrics = metrics
        self.alerting = alerting
        self.dirty: dict[WindowKey, float] = {}
        """Windows to evaluate, with when they were first touched (monotonic)."""
        self._last_eval = time.monotonic()

    def touch(self, keys: Iterable[WindowKey]) -> None:
        """Windows a commit changed."""
        now = time.monotonic()
        for key in keys:
            self.dirty.setdefault(key, now)

    def evaluate_due(self) -> None:
        """Evaluate closed dirty windows, and every dirty one each ``eval_interval_s``."""
        if not self.dirty:
            return
        now = time.monotonic()
        provisional = now - self._last_eval >= self.config.eval_interval_s
        due = []
        for key in sorted(self.dirty):
            if provisional or self.watermarks.is_closed(key):
                due.append(key)
        if provisional:
            self._last_eval = now
        if due:
            self.evaluate(due)

    def sweep_stale(self) -> None:
        """Evaluate windows committed but not evaluated (e.g. a worker killed in between)."""
        since = utc_now() - timedelta(seconds=max(self.config.label_ttl_s, 86400.0))
        try:
            with self.sessions() as session:
                stale = stale_windows(session, since, margin_s=30.0)
        except DATABASE_ERRORS as exc:
            log.warning("stale-window sweep failed: %s", short(exc))
            return
        self.touch(stale)
        self.evaluate(stale)

    def evaluate(self, keys: Iterable[WindowKey]) -> int:
        """Evaluate windows now (each in its own short transaction)."""
        done = 0
        for key in keys:
            try:
                with self.sessions() as session, session.begin():
                    if evaluate_window(session, self.catalog, *key,
                                       on_stale=self.metrics.stale_reference_states.inc):
                        self._judge_alerts(session, key)
            except DATABASE_ERRORS as exc:
                log.warning("evaluation of %s failed (%s); will retry", key, short(exc))
                continue
            except Exception:  # a state the engine cannot compare: report, do not loop
                log.exception("evaluation of %s failed; skipping it until it changes", key)
                self.dirty.pop(key, None)
                continue
            self.dirty.pop(key, None)
            self.metrics.window_evaluations.inc()
            done += 1
        return done

    def _judge_alerts(self, session: Session, key: WindowKey) -> None:
        """Alert rules over the points just written, in the same transaction; a failing
        rule is logged and rolled back to its savepoint, never losing the points."""
        if self.alerting is None:
            return
        model, version, _window_start = key
        try:
            reference = self.catalog.reference(session, model, version)
            performance = {} if reference is None else reference.performance
            with session.begin_nested():  # released on success, rolled back on any exception
                self.alerting.judge(session, model, version, performance, utc_now())
        except DATABASE_ERRORS:
            raise
        except Exception:
            log.exception("alert evaluation of %s failed; its writes are rolled back", key)
