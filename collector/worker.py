"""The collector worker loop: poll → decode → aggregate → persist with offsets → evaluate.

Exactly-once in effect (docs/pipeline.md): per polled batch, one transaction holds the window
states, the prediction-index and label-join effects, the dead-letter rows, the watermarks
and the consumed offsets. On assignment the worker seeks to the offsets stored in the
database. If the database fails, the worker pauses its partitions, rolls its memory back
to what is committed, seeks back and retries with backoff: it loses and repeats nothing.

>>> WorkerConfig(window_s=60).eval_interval_s
10.0
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from infersight.collector import bootstrap
from infersight.collector.bus import ConsumerBus, DeadLetterPublisher, Record, TopicPartition
from infersight.collector.catalog import ModelCatalog
from infersight.collector.config import WorkerConfig
from infersight.collector.errors import DATABASE_ERRORS, short
from infersight.collector.evaluation import evaluate_window
from infersight.collector.maintenance import Maintenance
from infersight.collector.pipeline import (
    BatchAggregator,
    BatchEffects,
    DeadLetter,
    WindowKey,
    decode,
)
from infersight.collector.self_metrics import WorkerMetrics
from infersight.collector.state_cache import StateCache
from infersight.drift.windowing import WindowSpec
from infersight.storage import offsets as offset_store
from infersight.storage.deadletters import add_dead_letters
from infersight.storage.types import utc_now
from infersight.storage.watermarks import advance_watermarks, load_watermarks
from infersight.storage.windows import WindowStateRecord, upsert_window_states
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

__all__ = ["WindowObserver", "Worker", "WorkerConfig"]


class WindowObserver(Protocol):
    """Called in the transaction that wrote a window's points (the alert engine:
    :class:`infersight.alerts.service.Alerting`)."""

    def judge(
        self, session: Session, model: str, version: str,
        reference_performance: Mapping[str, float], now: datetime,
    ) -> Any: ...


class Worker(Maintenance):  # type: ignore[misc]
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
        self.engine = engine
        self.config = config
        self.deadletters = deadletters
        self.metrics = metrics or WorkerMetrics()
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.catalog = ModelCatalog(config.window_s)
        self.cache = StateCache(config.max_cached_states)
        self.aggregator = BatchAggregator(self.catalog, self.cache, config.lateness_fraction)
        self.positions: dict[TopicPartition, int] = {}
        """Next offset to process per owned partition: always what the database holds."""
        self.stored: dict[TopicPartition, int | None] = {}
        self.unsought: set[TopicPartition] = set()
        self.dirty_windows: dict[WindowKey, float] = {}
        self.watermarks: dict[str, datetime] = {}
        self._gaps: dict[TopicPartition, tuple[int, int]] = {}
        self.bootstrap_candidates: set[tuple[str, str]] = set()
        self._last_bootstrap = 0.0
        self._retry_s = 0.0
        self._last_eval = time.monotonic()
        self._last_housekeeping = 0.0
        self._last_lag = 0.0

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
        self.unsought.update(self.positions)
        self.positions.clear()
        self.stored.clear()
        self.bus.pause(self.unsought)

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
        if self.unsought:
            self._seek_unsought()
        records = self.bus.poll(self.config.poll_timeout_s, self.config.max_records)
        records = self._expected(records)
        committed = 0
        if records:
            committed = self._process(records)
        self._evaluate_due()
        self._bootstrap_due()
        self._housekeeping()
        return committed

    # -- assignment -------------------------------------------------------------------------

    def _handle_assignment(self) -> None:
        change = self.bus.take_assignment_changes()
        if not change:
            return
        if change.revoked:
            log.info("partitions revoked: %s", sorted(change.revoked))
            for tp in change.revoked:
                self.positions.pop(tp, None)
                self.stored.pop(tp, None)
                self.unsought.discard(tp)
            self.cache.invalidate(f"{t}/{p}" for t, p in change.revoked)
        if change.assigned:
            log.info("partitions assigned: %s", sorted(change.assigned))
            self.unsought.update(change.assigned)

    def _seek_unsought(self) -> None:
        tps = sorted(self.unsought)
        try:
            with self.sessions() as session:
                offsets = offset_store.load_offsets(session, self.config.group, tps)
                self.watermarks = load_watermarks(session)
                self.bootstrap_candidates.update(bootstrap.versions_to_bootstrap(session))
        except DATABASE_ERRORS as exc:
            self._database_failed(exc)
            return
        for tp in tps:
            offset = offsets.get(tp)
            self.stored[tp] = offset
            self.positions[tp] = offset or 0
            self.bus.seek(tp, offset or 0)
        self.unsought.clear()
        self.bus.resume(tps)
        log.info("sought to stored offsets: %s", {f"{t}/{p}": o for (t, p), o in offsets.items()})
        self._sweep_stale()

    def _expected(self, records: Sequence[Record]) -> list[Record]:
        """Keep, in order, the records that continue each owned partition exactly where its
        committed position is.

        Earlier offsets were already processed. A later offset (a gap) usually means records
        fetched before a seek arrived after it: the partition is sought back to its position
        and the batch's records of it are dropped. If the same gap shows up again right
        after that seek, the offsets really are missing (e.g. compacted) and it is accepted.
        """
        kept: list[Record] = []
        following: dict[TopicPartition, int] = {}
        rewound: set[TopicPartition] = set()
        for record in records:
            tp = record.topic_partition
            position = self.positions.get(tp)
            if position is None or tp in rewound:
                continue
            expected = following.get(tp, position)
            if record.offset < expected:
                continue
            if record.offset > expected:
                if self._gaps.get(tp) != (expected, record.offset):
                    log.info("offset gap on %s/%s: expected %d, got %d; seeking back",
                             tp[0], tp[1], expected, record.offset)
                    self._gaps[tp] = (expected, record.offset)
                    self.bus.seek(tp, position)
                    rewound.add(tp)
                    kept = [r for r in kept if r.topic_partition != tp]
                    continue
                log.warning("offsets %d..%d of %s/%s are missing on the bus; skipping them",
                            expected, record.offset - 1, tp[0], tp[1])
            self._gaps.pop(tp, None)
            kept.append(record)
            following[tp] = record.offset + 1
        return kept

    # -- one batch --------------------------------------------------------------------------

    def _process(self, records: list[Record]) -> int:
        started = time.perf_counter()
        decoded, dead = decode(records)
        stage = self.metrics.stage_seconds
        decoded_at = time.perf_counter()
        stage.labels(stage="decode").inc(decoded_at - started)
        effects = BatchEffects(dead_letters=dead)
        if dead and self.deadletters is not None:
            for letter in dead:
                self.deadletters.publish(letter.topic.encode(), letter.message())
            self.deadletters.flush(5.0)
        next_offsets: dict[TopicPartition, int] = {}
        for record in records:
            next_offsets[record.topic_partition] = record.offset + 1
        try:
            with self.sessions() as session, session.begin():
                self.aggregator.apply(session, decoded, effects)
                db_started = time.perf_counter()
                stage.labels(stage="aggregate").inc(db_started - decoded_at)
                states = self._dump_states()
                serialised_at = time.perf_counter()
                stage.labels(stage="serialise").inc(serialised_at - db_started)
                add_dead_letters(session, [letter.record() for letter in dead])
                advance_watermarks(session, effects.max_event_ts)
                upsert_window_states(session, states)
                offset_store.save_offsets(
                    session,
                    self.config.group,
                    {tp: (self.stored.get(tp), offset) for tp, offset in next_offsets.items()},
                )
            committed_at = time.perf_counter()
            self.metrics.db_transaction_seconds.observe(committed_at - db_started)
            stage.labels(stage="write").inc(committed_at - serialised_at)
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
                if record.offset != self.positions.get(record.topic_partition):
                    break  # an earlier record of its partition is not committed: stop here
                committed = self._process([record])
                if committed == 0:
                    break  # the database failed: the rest waits for the rewind
                done += committed
            return done
        self._committed(next_offsets, effects)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        return len(records)

    def _dead_letter_record(self, record: Record, exc: Exception) -> int:
        """Dead-letter a whole message whose processing raised, and move past it."""
        log.exception("message %s@%d could not be processed; dead-lettering it",
                      record.partition_key, record.offset, exc_info=exc)
        letter = DeadLetter(record.topic, record.partition, record.offset, "processing_error",
                            f"{type(exc).__name__}: {exc}", record.value)
        if self.deadletters is not None:
            self.deadletters.publish(letter.topic.encode(), letter.message())
            self.deadletters.flush(5.0)
        tp = record.topic_partition
        try:
            with self.sessions() as session, session.begin():
                add_dead_letters(session, [letter.record()])
                offset_store.save_offsets(
                    session, self.config.group, {tp: (self.stored.get(tp), record.offset + 1)}
                )
        except offset_store.OffsetConflict:
            self._rollback({tp: record.offset + 1}, fenced=True)
            return 0
        except DATABASE_ERRORS as db_exc:
            self._rollback({tp: record.offset + 1})
            self._database_failed(db_exc)
            return 0
        effects = BatchEffects(dead_letters=[letter])
        self._committed({tp: record.offset + 1}, effects)
        return 1

    def _dump_states(self) -> list[WindowStateRecord]:
        return [
            WindowStateRecord(model, version, start, entry.window_end, pkey,
                              _dump(entry.state), entry.event_count)
            for (model, version, start, pkey), entry in self.cache.dirty()
        ]

    def _save_states(self, session: Session) -> None:
        upsert_window_states(session, self._dump_states())

    def _committed(self, next_offsets: dict[TopicPartition, int], effects: BatchEffects) -> None:
        self._retry_s = 0.0
        for tp, offset in next_offsets.items():
            self.positions[tp] = offset
            self.stored[tp] = offset
        self.cache.mark_clean()
        if len(self.cache) > self.cache.max_entries:
            self.cache.evict({})
        self.catalog.registered()
        now = time.monotonic()
        for key in effects.touched:
            self.dirty_windows.setdefault(key, now)
        self.bootstrap_candidates.update(effects.bootstrapped)
        for model, ts in effects.max_event_ts.items():
            if model not in self.watermarks or ts > self.watermarks[model]:
                self.watermarks[model] = ts
        m = self.metrics
        for topic, count in effects.consumed.items():
            m.events_consumed.labels(topic=topic).inc(count)
        for letter in effects.dead_letters:
            m.events_deadlettered.labels(reason=letter.reason).inc()
        m.labels_joined.inc(effects.labels_joined)
        m.labels_duplicate.inc(effects.labels_duplicate)
        m.stale_reference_events.inc(effects.stale_reference_events)

    def _rollback(self, next_offsets: dict[TopicPartition, int], fenced: bool = False) -> None:
        """Forget uncommitted memory and rewind the consumer to the committed positions."""
        self.cache.invalidate_dirty()
        for tp in next_offsets:
            if fenced:
                self.positions.pop(tp, None)
                self.stored.pop(tp, None)
                self.cache.invalidate([f"{tp[0]}/{tp[1]}"])
                self.unsought.add(tp)
                self.bus.pause([tp])
            elif tp in self.positions:
                self.bus.seek(tp, self.positions[tp])

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
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except DATABASE_ERRORS as exc:
            self._database_failed(exc)
            return False
        log.info("database reachable again; resuming")
        self._retry_s = 0.0
        self.cache.invalidate()
        owned = [tp for tp in self.positions if tp not in self.unsought]
        for tp in owned:
            self.bus.seek(tp, self.positions[tp])
        self.bus.resume(owned)
        return True

    # -- evaluation -------------------------------------------------------------------------

    def _evaluate_due(self) -> None:
        if not self.dirty_windows:
            return
        now = time.monotonic()
        provisional = now - self._last_eval >= self.config.eval_interval_s
        due = []
        for key in sorted(self.dirty_windows):
            if provisional or self._is_closed(key):
                due.append(key)
        if provisional:
            self._last_eval = now
        if due:
            self.evaluate(due)

    def _spec(self, model: str) -> WindowSpec:
        with self.sessions() as session:
            window_s = self.catalog.settings(session, model).window_s
        return WindowSpec(window_s, self.config.lateness_fraction)

    def _is_closed(self, key: WindowKey) -> bool:
        watermark = self.watermarks.get(key[0])
        if watermark is None:
            return False
        try:
            spec = self._spec(key[0])
        except DATABASE_ERRORS:
            return False
        return bool(spec.is_closed(key[2], spec.watermark(watermark)))

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
                self.dirty_windows.pop(key, None)
                continue
            self.dirty_windows.pop(key, None)
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

def _dump(state: object) -> bytes:
    from infersight.collector import engine

    return bytes(engine.dump_state(state))
