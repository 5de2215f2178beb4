"""Which windows to evaluate, and when: a window a commit touched is *dirty*; it is
evaluated once closed (by its model's watermark), and provisionally every
``eval_interval_s`` while open. Windows committed but never evaluated (a worker killed in
between) are found by the stale-window sweep.

Evaluation runs in *rounds*, not after every commit: a round takes every due dirty window
once, however many batches, partitions and late labels touched it since the last round, so
a backlog or a stream of labels for old windows costs one evaluation per window per round.
Closed windows get a round as soon as the worker is idle (its last poll was empty) or
``eval_round_s`` after the previous round. A round evaluates the windows of each (model,
version) in one short transaction and judges that version's alert rules once in it
(:class:`WindowObserver`), after its last window.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.errors import DATABASE_ERRORS, short
from infersight.collector.worker.evaluation import window_points
from infersight.collector.worker.pipeline import WindowKey
from infersight.collector.worker.self_metrics import WorkerMetrics
from infersight.collector.worker.watermarks import Watermarks
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from infersight.storage.types import utc_now
from infersight.storage.windows import stale_windows
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


BUSY_SHARE = 5
"""A busy worker (its last poll returned records) spends at most about one part in this many
of its time in evaluation rounds: the next round waits four times the last one's duration."""


class WindowObserver(Protocol):
    """Called in the transaction that wrote a window's points (the alert engine:
    :class:`infersight.alerts.service.Alerting`)."""

    def judge(
        self, session: Session, model: str, version: str,
        reference_performance: Mapping[str, float], now: datetime,
    ) -> Any: ...


class EvaluationScheduler:
    """Dirty windows, and evaluation rounds over those that are due."""

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
        """When the last provisional round (every dirty window) ran."""
        self._last_round = float("-inf")
        """When the last round of any kind ended."""
        self._last_round_s = 0.0
        """How long it took."""

    def touch(self, keys: Iterable[WindowKey]) -> None:
        """Windows a commit changed."""
        now = time.monotonic()
        for key in keys:
            self.dirty.setdefault(key, now)

    def evaluate_due(self, idle: bool = True) -> int:
        """Run a round if one is due: every dirty window each ``eval_interval_s``, else the
        closed dirty ones when ``idle`` (nothing was polled) or ``eval_round_s`` after the
        last round. While busy, rounds are also spaced so that they take at most a
        ``1 / BUSY_SHARE`` of the time (a backlog coalesces more per round). Returns the
        number of windows evaluated."""
        if not self.dirty:
            return 0
        now = time.monotonic()
        if not idle and now - self._last_round < self._last_round_s * (BUSY_SHARE - 1):
            return 0
        if now - self._last_eval >= self.config.eval_interval_s:
            self._last_eval = now
            return self._round(sorted(self.dirty), now)
        if not idle and now - self._last_round < self.config.eval_round_s:
            return 0
        due = [key for key in sorted(self.dirty) if self.watermarks.is_closed(key)]
        return self._round(due, now) if due else 0

    def _round(self, keys: list[WindowKey], now: float) -> int:
        try:
            return self.evaluate(keys)
        finally:
            self._last_round = time.monotonic()
            self._last_round_s = self._last_round - now

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
        """Evaluate windows now: those of one (model, version) in one transaction (in window
        order, so concurrent workers lock them in the same order) with one judgement of its
        alert rules. Returns the number of windows evaluated."""
        groups: dict[tuple[str, str], list[WindowKey]] = defaultdict(list)
        for key in sorted(set(keys)):
            groups[key[:2]].append(key)
        return sum(self._evaluate_version(version, windows)
                   for version, windows in groups.items())

    def _evaluate_version(self, version: tuple[str, str], keys: list[WindowKey]) -> int:
        done: list[WindowKey] = []
        started = time.perf_counter()
        judge_s = 0.0
        try:
            with self.sessions() as session, session.begin():
                points: list[MetricPointRecord] = []
                for key in keys:
                    try:
                        points += window_points(session, self.catalog, *key,
                                                on_stale=self.metrics.stale_reference_states.inc)
                    except DATABASE_ERRORS:
                        raise
                    except Exception:  # a state the engine cannot compare: report, do not loop
                        log.exception("evaluation of %s failed; skipping it until it changes",
                                      key)
                        self.dirty.pop(key, None)
                        continue
                    done.append(key)
                written = upsert_metric_points(session, points) > 0  # one upsert per version and round
                if written:
                    judging = time.perf_counter()
                    self._judge_alerts(session, *version)
                    judge_s = time.perf_counter() - judging
        except DATABASE_ERRORS as exc:
            log.warning("evaluation of %s (%d windows) failed (%s); will retry", version,
                        len(keys), short(exc))
            return 0
        finally:
            stage = self.metrics.stage_seconds
            stage.labels(stage="evaluate").inc(time.perf_counter() - started - judge_s)
            stage.labels(stage="judge").inc(judge_s)
        for key in done:
            self.dirty.pop(key, None)
        self.metrics.window_evaluations.inc(len(done))
        return len(done)

    def _judge_alerts(self, session: Session, model: str, version: str) -> None:
        """Alert rules of (model, version) over the points just written, in the same
        transaction; a failing rule is logged and rolled back to its savepoint, never losing
        the points."""
        if self.alerting is None:
            return
        try:
            reference = self.catalog.reference(session, model, version)
            performance = {} if reference is None else reference.performance
            with session.begin_nested():  # released on success, rolled back on any exception
                self.alerting.judge(session, model, version, performance, utc_now())
            self.metrics.alert_judgements.inc()
        except DATABASE_ERRORS:
            raise
        except Exception:
            log.exception("alert evaluation of %s/%s failed; its writes are rolled back",
                          model, version)
