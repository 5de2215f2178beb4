"""The collector worker loop: poll → decode → aggregate → persist with offsets → evaluate.

Exactly-once in effect (DESIGN §9): per polled batch, one transaction holds the window
states, the prediction-index and label-join effects, the dead-letter rows, the watermarks
and the consumed offsets. On assignment the worker seeks to the offsets stored in the
database. If the database fails, the worker pauses its partitions, rolls its memory back
to what is committed, seeks back and retries with backoff: it loses and repeats nothing.

>>> WorkerConfig(window_s=60).lateness_fraction
0.1
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from infersight.collector import bootstrap, persistence
from infersight.collector import engine as engine_api
from infersight.collector.bus import ConsumerBus, DeadLetterPublisher, Record, TopicPartition
from infersight.collector.catalog import ModelCatalog
from infersight.collector.concept import JoinedLabel
from infersight.collector.evaluation import evaluate_window
from infersight.collector.pipeline import (
    BatchAggregator,
    BatchEffects,
    DeadLetter,
    WindowKey,
    decode,
)
from infersight.collector.self_metrics import WorkerMetrics
from infersight.collector.state_cache import StateCache
from infersight.collector.windows import WindowSpec
from infersight.sdk import wire
from infersight.storage.types import utc_now
from sqlalchemy import Engine, Table
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, DBAPIError, OSError)


class WindowObserver(Protocol):
    """Called in the transaction that wrote a window's points (the alert engine:
    :class:`infersight.alerts.service.Alerting`)."""

    def evaluate_window(
        self, session: Session, model: str, version: str, window_start: datetime, now: datetime
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Tunables of one worker (the CLI fills them from ``INFERSIGHT_*`` settings)."""

    window_s: float = 3600.0
    eval_interval_s: float = 10.0
    group: str = "infersight-workers"
    lateness_fraction: float = 0.1
    label_ttl_s: float = 7 * 86400.0
    prediction_retention_s: float = 30 * 86400.0
    poll_timeout_s: float = 0.5
    max_records: int = 200
    max_cached_states: int = 5000
    housekeeping_interval_s: float = 60.0
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
    bootstrap_min_events: int = 1000
    """Build a first-window reference once this many predictions are held (or the window
    closed)."""
    bootstrap_max_rows: int = 20_000
    bootstrap_interval_s: float = 1.0


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
                offsets = persistence.load_offsets(session, self.config.group, tps)
                self.watermarks = persistence.read_watermarks(session)
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
                persistence.add_dead_letters(session, [letter.row() for letter in dead])
                persistence.advance_watermarks(session, effects.max_event_ts)
                persistence.save_states(session, states)
                persistence.save_offsets(
                    session,
                    self.config.group,
                    {tp: (self.stored.get(tp), offset) for tp, offset in next_offsets.items()},
                )
            committed_at = time.perf_counter()
            self.metrics.db_transaction_seconds.observe(committed_at - db_started)
            stage.labels(stage="write").inc(committed_at - serialised_at)
        except persistence.OffsetConflict as exc:
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
            log.warning("batch failed (%s); processing its records one by one", _short(exc))
            return sum(self._process([record]) for record in records)
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
                persistence.add_dead_letters(session, [letter.row()])
                persistence.save_offsets(
                    session, self.config.group, {tp: (self.stored.get(tp), record.offset + 1)}
                )
        except persistence.OffsetConflict:
            self._rollback({tp: record.offset + 1}, fenced=True)
            return 0
        except DATABASE_ERRORS as db_exc:
            self._rollback({tp: record.offset + 1})
            self._database_failed(db_exc)
            return 0
        effects = BatchEffects(dead_letters=[letter])
        self._committed({tp: record.offset + 1}, effects)
        return 1

    def _dump_states(self) -> list[tuple[persistence.StateKey, datetime, bytes, int]]:
        return [
            (key, entry.window_end, _dump(entry.state), entry.event_count)
            for key, entry in self.cache.dirty()
        ]

    def _save_states(self, session: Session) -> None:
        persistence.save_states(session, self._dump_states())

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
        log.warning("database unavailable (%s); pausing for %.1fs", _short(exc), self._retry_s)
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
                    if evaluate_window(session, self.catalog, *key):
                        self._judge_alerts(session, key)
            except DATABASE_ERRORS as exc:
                log.warning("evaluation of %s failed (%s); will retry", key, _short(exc))
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
        try:
            with session.begin_nested():
                model, version, window_start = key
            self.alerting.evaluate_window(session, model, version, window_start, utc_now())
        except DATABASE_ERRORS:
            raise
        except Exception:
            log.exception("alert evaluation of %s failed", key)

    def _sweep_stale(self) -> None:
        """Evaluate windows committed but not evaluated (e.g. a worker killed in between)."""
        since = utc_now() - timedelta(seconds=max(self.config.label_ttl_s, 86400.0))
        try:
            with self.sessions() as session:
                stale = persistence.stale_windows(session, _metric_points(), since, margin_s=30.0)
        except DATABASE_ERRORS as exc:
            log.warning("stale-window sweep failed: %s", _short(exc))
            return
        now = time.monotonic()
        for key in stale:
            self.dirty_windows.setdefault(key, now)
        self.evaluate(stale)

    # -- reference bootstrap ----------------------------------------------------------------

    def _bootstrap_due(self) -> None:
        now = time.monotonic()
        if not self.bootstrap_candidates or now - self._last_bootstrap < (
            self.config.bootstrap_interval_s
        ):
            return
        self._last_bootstrap = now
        for model, version in sorted(self.bootstrap_candidates):
            try:
                if self._bootstrap_reference(model, version):
                    self._move_held(model, version)
            except DATABASE_ERRORS as exc:
                log.warning("reference bootstrap of %s/%s failed: %s", model, version,
                            _short(exc))
                self.cache.invalidate_dirty()
            except Exception:  # e.g. held data the engine cannot profile
                log.exception("reference bootstrap of %s/%s failed; retried after a restart",
                              model, version)
                self.cache.invalidate_dirty()
                self.bootstrap_candidates.discard((model, version))

    def _bootstrap_reference(self, model: str, version: str) -> bool:
        """Make sure the version has a reference (building one if due); False if not yet."""
        with self.sessions() as session, session.begin():
            if self.catalog.reference(session, model, version) is not None:
                return True
            count, first = bootstrap.held_summary(session, model, version)
            if count == 0 or first is None:
                self.bootstrap_candidates.discard((model, version))
                return False
            spec = self._spec(model)
            watermark = self.watermarks.get(model)
            closed = watermark is not None and spec.is_closed(first, spec.watermark(watermark))
            if count < self.config.bootstrap_min_events and not closed:
                return False
            bootstrap.build_reference(session, model, version, self.config.bootstrap_max_rows)
        self.catalog.forget_missing(model, version)
        return True

    def _move_held(self, model: str, version: str) -> None:
        """Move held predictions of a version that now has a reference into window states of
        a partition this worker owns (fenced by that partition's offset)."""
        owned = sorted(tp for tp in self.positions if tp[0] == wire.EVENTS_TOPIC)
        if not owned:
            return
        tp = owned[0]
        pkey = f"{tp[0]}/{tp[1]}"
        effects = BatchEffects()
        try:
            with self.sessions() as session, session.begin():
                reference = self.catalog.reference(session, model, version)
                claimed = bootstrap.claim_held(session, model, version, limit=5000)
                if not claimed:
                    self.bootstrap_candidates.discard((model, version))
                    return
                spec = self._spec(model)
                groups = bootstrap.group_by_window(claimed)
                wanted = {(model, version, start, pkey): (reference, spec.end_of(start))
                          for start in groups}
                entries = self.cache.get_many(session, wanted)
                settings = self.catalog.settings(session, model)
                for start, (events, labels) in groups.items():
                    entry = entries[(model, version, start, pkey)]
                    engine_api.add_predictions(entry.state, events)
                    entry.event_count += len(events)
                    if labels:
                        engine_api.add_labels(entry.state, [(p, label) for p, label, _t, _i
                                                            in labels], settings)
                        effects.joined.extend(
                            JoinedLabel(model, version, ts, pid, p, label)
                            for p, label, ts, pid in labels
                        )
                        effects.labels_joined += len(labels)
                    entry.dirty = True
                    effects.touched.add((model, version, start))
                self.aggregator.detect_concept_drift(session, effects)
                self._save_states(session)
                fence = {tp: self.positions[tp]}  # unchanged: only proves we still own it
                persistence.save_offsets(
                    session, self.config.group, {tp: (self.stored.get(tp), self.positions[tp])}
                )
        except persistence.OffsetConflict as exc:
            self.cache.invalidate_dirty()
            log.warning("moving held predictions failed: %s", _short(exc))
            return
        except Exception:
            self.cache.invalidate_dirty()
            raise
        log.info("moved %d held predictions of %s/%s into their windows", len(claimed), model,
                 version)
        self._committed(fence, effects)

    # -- housekeeping -----------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_lag >= 5.0:
            self._last_lag = now
            self._update_lag()
        if now - self._last_housekeeping < self.config.housekeeping_interval_s:
            return
        self._last_housekeeping = now
        try:
            self._expire_pending_labels()
            self._join_raced_labels()
            with self.sessions() as session, session.begin():
                persistence.purge_prediction_index(
                    session, utc_now() - timedelta(seconds=self.config.prediction_retention_s)
                )
            with self.sessions() as session:
                self.watermarks = persistence.read_watermarks(session)
            self.cache.evict(self._closed_before())
        except DATABASE_ERRORS as exc:
            log.warning("housekeeping failed: %s", _short(exc))
            return
        self._sweep_stale()

    def _closed_before(self) -> dict[str, datetime]:
        """Per model, the time before which windows are closed (the watermark)."""
        closed: dict[str, datetime] = {}
        for model, ts in self.watermarks.items():
            closed[model] = self._spec(model).watermark(ts)
        return closed

    def _expire_pending_labels(self) -> None:
        cutoff = utc_now() - timedelta(seconds=self.config.label_ttl_s)
        with self.sessions() as session, session.begin():
            expired = persistence.expire_pending_labels(session, cutoff)
            letters = [
                DeadLetter(
                    wire.LABELS_TOPIC, None, None, "unmatched_label",
                    f"no prediction {pid!r} of model {model!r} within the label TTL",
                    wire.encode_batch([wire.Label(model=model, prediction_id=pid, label=label,
                                                  ts=ts)]),
                )
                for model, pid, label, ts in expired
            ]
            persistence.add_dead_letters(session, [letter.row() for letter in letters])
        for letter in letters:
            self.metrics.events_deadlettered.labels(reason=letter.reason).inc()
            if self.deadletters is not None:
                self.deadletters.publish(letter.topic.encode(), letter.message())

    def _join_raced_labels(self) -> None:
        """Join pending labels whose prediction was committed concurrently with them."""
        owned = sorted(tp for tp in self.positions if tp[0] == wire.LABELS_TOPIC)
        if not owned:
            return
        tp = owned[0]
        effects = BatchEffects()
        try:
            with self.sessions() as session, session.begin():
                keys = persistence.claimable_pending_labels(session)
                if not keys:
                    return
                taken = persistence.take_pending_labels(session, keys)
                labels = [
                    wire.Label(model=m, prediction_id=pid, label=label, ts=ts)
                    for (m, pid), (label, ts) in taken.items()
                ]
                self.aggregator.labels(session, f"{tp[0]}/{tp[1]}", labels, effects)
                self.aggregator.detect_concept_drift(session, effects)
                self._save_states(session)
                fence = {tp: self.positions[tp]}  # unchanged: only proves we still own it
                persistence.save_offsets(
                    session, self.config.group, {tp: (self.stored.get(tp), self.positions[tp])}
                )
        except (persistence.OffsetConflict, *DATABASE_ERRORS) as exc:
            self.cache.invalidate_dirty()
            log.warning("joining raced labels failed: %s", _short(exc))
            return
        self._committed(fence, effects)

    def _update_lag(self) -> None:
        owned = sorted(self.positions)
        try:
            ends = self.bus.end_offsets(owned)
        except Exception as exc:  # lag is informative only
            log.debug("end offsets unavailable: %s", exc)
            return
        for tp, end in ends.items():
            if tp in self.positions:
                position = self.positions[tp]
                if end < position:  # a recreated topic, or a broker's stale high watermark
                    log.debug("%s/%s reports its end at %d, before the committed %d",
                              tp[0], tp[1], end, position)
                self.metrics.consumer_lag.labels(topic=tp[0], partition=str(tp[1])).set(
                    max(0, end - position)
                )


def _dump(state: object) -> bytes:
    from infersight.collector import engine

    return bytes(engine.dump_state(state))


def _metric_points() -> Table:
    from infersight.storage.models import MetricPoint

    table = MetricPoint.__table__
    assert isinstance(table, Table)
    return table


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
