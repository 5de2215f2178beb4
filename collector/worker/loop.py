"""The collector worker loop: poll → decode → aggregate → persist with offsets → evaluate.

Exactly-once in effect (docs/pipeline.md): per polled batch, one transaction holds the window
states, the prediction-index and label-join effects, the dead-letter rows, the watermarks
and the consumed offsets (:mod:`infersight.collector.worker.writer`). On assignment the
worker seeks to the offsets stored in the database. If the database fails, the worker pauses
its partitions, rolls its memory back to what is committed, seeks back and retries with
backoff: it loses and repeats nothing.

:class:`Worker` composes the parts, each with one job: :class:`Positions` (next offsets),
:class:`BatchWriter` (one batch's transaction), :class:`EvaluationScheduler` (dirty and due
windows), :class:`Bootstrapper` (first-window references) and :class:`Housekeeping`.

>>> WorkerConfig(window_s=60).eval_interval_s
10.0
"""

from __future__ import annotations

import logging
import random
import threading
import time

from infersight.collector.worker.bootstrap import Bootstrapper
from infersight.collector.worker.bus import ConsumerBus, DeadLetterPublisher, Record, TopicPartition
from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.errors import DATABASE_ERRORS, short
from infersight.collector.worker.housekeeping import Housekeeping
from infersight.collector.worker.pipeline import BatchAggregator, BatchEffects, RefusedInput, decode
from infersight.collector.worker.positions import Positions
from infersight.collector.worker.scheduler import EvaluationScheduler, WindowObserver
from infersight.collector.worker.self_metrics import WorkerMetrics
from infersight.collector.worker.state_cache import StateCache
from infersight.collector.worker.watermarks import Watermarks
from infersight.collector.worker.writer import BatchWriter
from infersight.storage import offsets as offset_store
from infersight.storage.db import ping
from infersight.storage.held import versions_to_bootstrap
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

log = logging.getLogger(__name__)


class Worker:
    """One collector worker on a :class:`ConsumerBus` and a database engine."""

    def __init__(
        self,
        bus: ConsumerBus,
        engine: Engine,
        config: WorkerConfig,
        *,
        deadletters: DeadLetterPublisher | None = None,
        metrics: WorkerMetrics | None = None,
        alerting: WindowObserver | None = None,
    ) -> None:
        self.bus = bus
        self.alerting = alerting
        """The alert engine judging each evaluated window (see :class:`WindowObserver`)."""
        self.engine = engine
        self.config = config
        self.deadletters = deadletters
        self.metrics = metrics or WorkerMetrics()
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.catalog = ModelCatalog(config.window_s)
        self.cache = StateCache(config.max_cached_states)
        self.aggregator = BatchAggregator(self.catalog, self.cache, config.lateness_fraction,
                                          window_state_retention_s=config.window_state_retention_s,
                                          skew_ttl_s=config.skew_ttl_s)
        self.positions = Positions()
        self.watermarks = Watermarks(self.sessions, self.catalog, config.lateness_fraction)
        self.evaluations = EvaluationScheduler(self.sessions, self.catalog, self.watermarks,
                                               config, self.metrics, alerting)
        self.writer = BatchWriter(self.sessions, config.group, self.aggregator, self.positions,
                                  self.watermarks, self.metrics, self._after_commit)
        self.bootstrap = Bootstrapper(self.sessions, config, self.aggregator, self.writer,
                                      self.watermarks, self.positions)
        self.housekeeping = Housekeeping(
            self.sessions, config, bus, deadletters, self.metrics, self.positions,
            self.aggregator, self.writer, self.watermarks, self.evaluations,
        )
        self._retry_s = 0.0

    # -- loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Process until ``stop`` is set, then close the bus."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    self.step()
                    failures = 0
                except Exception:  # never die: forget memory, rewind, back off, go on
                    failures += 1
                    log.exception("worker step failed (%d in a row); rewinding", failures)
                    self._rewind_all()
                    stop.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
        finally:
            self.close()

    def _rewind_all(self) -> None:
        """Back to what the database holds: empty cache, every partition re-sought."""
        self.cache.invalidate()
        self.bus.pause(self.positions.rewind_all())

    def close(self) -> None:
        if self.deadletters is not None:
            self.deadletters.flush(5.0)
            self.deadletters.close()
        self.bus.close()

    def step(self) -> int:
        """One iteration; returns the number of records committed."""
        if self._retry_s and not self._database_ready():
            return 0
        self._handle_assignment()
        if self.positions.unsought:
            self._seek_unsought()
        records = self.bus.poll(self.config.poll_timeout_s, self.config.max_records)
        records = self.positions.expected(records, self.bus.seek)
        committed = 0
        if records:
            committed = self._process(records)
        self.evaluations.evaluate_due(idle=not records)
        self.bootstrap.due()
        self.housekeeping.due()
        return committed

    def _after_commit(self, effects: BatchEffects) -> None:
        self._retry_s = 0.0
        self.evaluations.touch(effects.touched)
        self.bootstrap.add(effects.bootstrapped)

    # -- assignment -------------------------------------------------------------------------

    def _handle_assignment(self) -> None:
        change = self.bus.take_assignment_changes()
        if not change:
            return
        if change.revoked:
            log.info("partitions revoked: %s", sorted(change.revoked))
            self.positions.revoke(change.revoked)
            self.cache.invalidate(f"{t}/{p}" for t, p in change.revoked)
        if change.assigned:
            log.info("partitions assigned: %s", sorted(change.assigned))
            self.positions.assign(change.assigned)

    def _seek_unsought(self) -> None:
        tps = sorted(self.positions.unsought)
        try:
            with self.sessions() as session:
                offsets = offset_store.load_offsets(session, self.config.group, tps)
                self.watermarks.reload(session)
                self.bootstrap.add(versions_to_bootstrap(session))
        except DATABASE_ERRORS as exc:
            self._database_failed(exc)
            return
        for tp in tps:
            self.bus.seek(tp, offsets.get(tp) or 0)
        self.positions.sought(offsets, tps)
        self.bus.resume(tps)
        log.info("sought to stored offsets: %s", {f"{t}/{p}": o for (t, p), o in offsets.items()})
        self.evaluations.sweep_stale()

    # -- one batch --------------------------------------------------------------------------

    def _process(self, records: list[Record]) -> int:
        started = time.perf_counter()
        decoded, dead = decode(records)
        decoded_at = time.perf_counter()
        self.metrics.stage_seconds.labels(stage="decode").inc(decoded_at - started)
        if dead and self.deadletters is not None:
            for letter in dead:
                self.deadletters.publish(letter.topic.encode(), letter.message())
            self.deadletters.flush(5.0)
        next_offsets: dict[TopicPartition, int] = {}
        for record in records:
            next_offsets[record.topic_partition] = record.offset + 1
        refused_at_decode = len(dead)
        try:
            self.writer.write(decoded, dead, next_offsets, decoded_at)
        except offset_store.OffsetConflict as exc:
            log.warning("lost partitions to another worker (%s); dropping their state", exc)
            self._rollback(next_offsets, fenced=True)
            return 0
        except DATABASE_ERRORS as exc:
            self._rollback(next_offsets)
            self._database_failed(exc)
            return 0
        except Exception as exc:  # a bug or an input the engine refuses: isolate it
            self._rollback(next_offsets)
            if len(records) == 1:
                return self._dead_letter_record(records[0], exc)
            log.warning("batch failed (%s); processing its records one by one", short(exc))
            done = 0
            for record in records:
                if record.offset != self.positions.next_offset(record.topic_partition):
                    break  # an earlier record of its partition is not committed: stop here
                committed = self._process([record])
                if committed == 0:
                    break  # the database failed: the rest waits for the rewind
                done += committed
            return done
        if len(dead) > refused_at_decode and self.deadletters is not None:
            for letter in dead[refused_at_decode:]:  # refused while aggregating (committed)
                self.deadletters.publish(letter.topic.encode(), letter.message())
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        return len(records)

    def _dead_letter_record(self, record: Record, exc: Exception) -> int:
        """Dead-letter a whole message whose processing raised, and move past it."""
        log.exception("message %s@%d could not be processed; dead-lettering it",
                      record.partition_key, record.offset, exc_info=exc)
        letter = RefusedInput(record.topic, record.partition, record.offset, "processing_error",
                            f"{type(exc).__name__}: {exc}", record.value)
        if self.deadletters is not None:
            self.deadletters.publish(letter.topic.encode(), letter.message())
            self.deadletters.flush(5.0)
        tp = record.topic_partition
        try:
            self.writer.write_dead_letter(letter, tp, record.offset + 1)
        except offset_store.OffsetConflict:
            self._rollback({tp: record.offset + 1}, fenced=True)
            return 0
        except DATABASE_ERRORS as db_exc:
            self._rollback({tp: record.offset + 1})
            self._database_failed(db_exc)
            return 0
        return 1

    def _rollback(self, next_offsets: dict[TopicPartition, int], fenced: bool = False) -> None:
        """Forget uncommitted memory and rewind the consumer to the committed positions."""
        self.cache.invalidate_dirty()
        for tp in next_offsets:
            position = self.positions.next_offset(tp)
            if fenced:
                self.positions.lose(tp)
                self.cache.invalidate([f"{tp[0]}/{tp[1]}"])
                self.bus.pause([tp])
            elif position is not None:
                self.bus.seek(tp, position)

    # -- database outage --------------------------------------------------------------------

    def _database_failed(self, exc: BaseException) -> None:
        self.metrics.db_failures.inc()
        self._retry_s = min(
            self.config.retry_max_s, max(self.config.retry_initial_s, self._retry_s * 2)
        )
        log.warning("database unavailable (%s); pausing for %.1fs", short(exc), self._retry_s)
        self.bus.pause(self.bus.assignment())
        time.sleep(self._retry_s * (0.5 + random.random() / 2))

    def _database_ready(self) -> bool:
        """While backing off: keep the group membership alive and probe the database."""
        self.bus.poll(0.0, 1)
        try:
            ping(self.engine)
        except DATABASE_ERRORS as exc:
            self._database_failed(exc)
            return False
        log.info("database reachable again; resuming")
        self._retry_s = 0.0
        self.cache.invalidate()
        owned = self.positions.ready()
        for tp in owned:
            position = self.positions.next_offset(tp)
            assert position is not None
            self.bus.seek(tp, position)
        self.bus.resume(owned)
        return True
