"""The worker's periodic chores between batches: pending-label expiry, the raced-label join,
retention (prediction index, window and health states, metric points: partitions created
ahead, expired ones dropped, a closed day of the index compacted; dead letters), cache eviction, the stale-window sweep and the
lag gauge. Each runs in its own short transaction; the raced-label join writes window states
and fences itself with the offset of a labels partition the worker owns.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from infersight.collector.worker import skew_join
from infersight.collector.worker.bus import ConsumerBus, DeadLetterPublisher
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.errors import DATABASE_ERRORS, short
from infersight.collector.worker.pipeline import BatchAggregator, BatchEffects, RefusedInput
from infersight.collector.worker.positions import Positions
from infersight.collector.worker.scheduler import EvaluationScheduler
from infersight.collector.worker.self_metrics import WorkerMetrics
from infersight.collector.worker.watermarks import Watermarks
from infersight.collector.worker.writer import BatchWriter
from infersight.sdk import wire
from infersight.storage import labels as label_store
from infersight.storage import offsets as offset_store
from infersight.storage import partitions
from infersight.storage.deadletters import add_dead_letters
from infersight.storage.retention import (
    purge_dead_letters,
    purge_prediction_index,
    purge_windows,
)
from infersight.storage.types import utc_now
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


class Housekeeping:
    """Runs the chores when due (every ``housekeeping_interval_s``; the lag every 5 s)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: WorkerConfig,
        bus: ConsumerBus,
        deadletters: DeadLetterPublisher | None,
        metrics: WorkerMetrics,
        positions: Positions,
        aggregator: BatchAggregator,
        writer: BatchWriter,
        watermarks: Watermarks,
        scheduler: EvaluationScheduler,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.bus = bus
        self.deadletters = deadletters
        self.metrics = metrics
        self.positions = positions
        self.aggregator = aggregator
        self.cache = aggregator.cache
        self.writer = writer
        self.watermarks = watermarks
        self.scheduler = scheduler
        self._last_housekeeping = 0.0
        self._last_lag = 0.0

    def due(self) -> None:
        now = time.monotonic()
        if now - self._last_lag >= 5.0:
            self._last_lag = now
            self.update_lag()
        if now - self._last_housekeeping < self.config.housekeeping_interval_s:
            return
        self._last_housekeeping = now
        try:
            self.expire_pending_labels()
            self.join_raced_labels()
            skew_join.join_uploaded(self)
            self.apply_retention()
            with self.sessions() as session:
                self.watermarks.reload(session)
            self.cache.evict(self.watermarks.closed_before())
        except DATABASE_ERRORS as exc:
            log.warning("housekeeping failed: %s", short(exc))
            return
        self.scheduler.sweep_stale()

    def apply_retention(self) -> None:
        """Purge the prediction index and the dead letters past their retention (one
        transaction), then the window states, health states and metric points (a transaction
        each); on Postgres this also creates their partitions ahead, then compacts one
        closed day of the index."""
        now = utc_now()
        with self.sessions() as session, session.begin():
            indexed = purge_prediction_index(
                session, now - timedelta(seconds=self.config.prediction_retention_s)
            )
            letters = purge_dead_letters(
                session, now - timedelta(seconds=self.config.dead_letter_retention_s)
            )
        if indexed or letters:
            log.info("retention purged %d indexed predictions and %d dead letters", indexed,
                     letters)
        config = self.config
        for spec, retention_s in ((partitions.WINDOW_STATES, config.window_state_retention_s),
                                  (partitions.HEALTH_STATES, config.health_state_retention_s),
                                  (partitions.METRIC_POINTS, config.metric_retention_s)):
            cutoff = None if retention_s is None else now - timedelta(seconds=retention_s)
            with self.sessions() as session, session.begin():
                purged = purge_windows(session, spec, cutoff)
            if purged:
                log.info("retention purged %d rows of %s", purged, spec.table)
        self.compact_index()

    def compact_index(self) -> None:
        """Rebuild one closed day's prediction-index partition index full (Postgres; at most
        one a round, outside any transaction)."""
        engine = self.sessions.kw["bind"]
        if engine.dialect.name != "postgresql":
            return
        with self.sessions() as session:
            pending = partitions.uncompacted(session, utc_now())
        if pending:
            started = time.monotonic()
            partitions.compact(engine, pending[0])
            log.info("compacted %s in %.1f s", pending[0], time.monotonic() - started)

    def expire_pending_labels(self) -> None:
        """Dead-letter the pending labels whose prediction did not come within the TTL."""
        cutoff = utc_now() - timedelta(seconds=self.config.label_ttl_s)
        with self.sessions() as session, session.begin():
            expired = label_store.expire_pending_labels(session, cutoff)
            letters = [
                RefusedInput(
                    wire.LABELS_TOPIC, None, None, "unmatched_label",
                    f"no prediction {pid!r} of model {model!r} within the label TTL",
                    wire.encode_batch([wire.Label(model=model, prediction_id=pid, label=label,
                                                  ts=ts)]),
                )
                for model, pid, label, ts in expired
            ]
            add_dead_letters(session, [letter.record() for letter in letters])
        for letter in letters:
            self.metrics.events_deadlettered.labels(reason=letter.reason).inc()
            if self.deadletters is not None:
                self.deadletters.publish(letter.topic.encode(), letter.message())

    def join_raced_labels(self) -> None:
        """Join pending labels whose prediction was committed concurrently with them."""
        owned = self.positions.owned(wire.LABELS_TOPIC)
        if not owned:
            return
        tp = owned[0]
        effects = BatchEffects()
        try:
            with self.sessions() as session, session.begin():
                keys = label_store.claimable_pending_labels(session)
                if not keys:
                    return
                taken = label_store.take_pending_labels(session, keys)
                labels = [
                    wire.Label(model=m, prediction_id=pid, label=label, ts=ts)
                    for (m, pid), (label, ts) in taken.items()
                ]
                self.aggregator.labels(session, f"{tp[0]}/{tp[1]}", labels, effects)
                self.aggregator.detect_concept_drift(session, effects)
                fence = self.writer.write_fenced(session, tp)
        except (offset_store.OffsetConflict, *DATABASE_ERRORS) as exc:
            self.cache.invalidate_dirty()
            log.warning("joining raced labels failed: %s", short(exc))
            return
        self.writer.committed(fence, effects)

    def update_lag(self) -> None:
        """Set the lag gauge of every owned partition (informative only)."""
        owned = self.positions.owned()
        try:
            ends = self.bus.end_offsets(owned)
        except Exception as exc:  # lag is informative only
            log.debug("end offsets unavailable: %s", exc)
            return
        for tp, end in ends.items():
            position = self.positions.next_offset(tp)
            if position is None:
                continue
            if end < position:  # a recreated topic, or a broker's stale high watermark
                log.debug("%s/%s reports its end at %d, before the committed %d",
                          tp[0], tp[1], end, position)
            self.metrics.consumer_lag.labels(topic=tp[0], partition=str(tp[1])).set(
                max(0, end - position)
            )
