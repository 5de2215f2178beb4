"""The worker's side tasks, run between batches: the first-window reference bootstrap,
the stale-window sweep, pending-label expiry and the raced-label join, retention (prediction
index, dead letters), cache eviction and the lag gauge. A mixin of
:class:`~infersight.collector.worker.Worker`; each task runs in its own short transaction
and, when it writes window states, fences itself with the offset of a partition the worker
owns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from infersight.collector import bootstrap
from infersight.collector import engine as engine_api
from infersight.collector.bus import ConsumerBus, DeadLetterPublisher, TopicPartition
from infersight.collector.catalog import ModelCatalog
from infersight.collector.concept import JoinedLabel
from infersight.collector.config import WorkerConfig
from infersight.collector.errors import DATABASE_ERRORS, short
from infersight.collector.pipeline import BatchAggregator, BatchEffects, DeadLetter, WindowKey
from infersight.collector.self_metrics import WorkerMetrics
from infersight.collector.state_cache import StateCache
from infersight.drift.windowing import WindowSpec
from infersight.sdk import wire
from infersight.storage import labels as label_store
from infersight.storage import offsets as offset_store
from infersight.storage.deadletters import add_dead_letters
from infersight.storage.retention import purge_dead_letters, purge_prediction_index
from infersight.storage.types import utc_now
from infersight.storage.watermarks import load_watermarks
from infersight.storage.windows import stale_windows
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("infersight.collector.worker")


class Maintenance:
    """Side tasks of the worker (see the module docstring)."""

    if TYPE_CHECKING:  # provided by Worker
        bus: ConsumerBus
        config: WorkerConfig
        deadletters: DeadLetterPublisher | None
        metrics: WorkerMetrics
        sessions: sessionmaker[Session]
        catalog: ModelCatalog
        cache: StateCache
        aggregator: BatchAggregator
        positions: dict[TopicPartition, int]
        stored: dict[TopicPartition, int | None]
        dirty_windows: dict[WindowKey, float]
        watermarks: dict[str, datetime]
        bootstrap_candidates: set[tuple[str, str]]
        _last_bootstrap: float
        _last_housekeeping: float
        _last_lag: float

        def _spec(self, model: str) -> WindowSpec: ...

        def evaluate(self, keys: Iterable[WindowKey]) -> int: ...

        def _save_states(self, session: Session) -> None: ...

        def _committed(
            self, next_offsets: dict[TopicPartition, int], effects: BatchEffects
        ) -> None: ...

    def _sweep_stale(self) -> None:
        """Evaluate windows committed but not evaluated (e.g. a worker killed in between)."""
        since = utc_now() - timedelta(seconds=max(self.config.label_ttl_s, 86400.0))
        try:
            with self.sessions() as session:
                stale = stale_windows(session, since, margin_s=30.0)
        except DATABASE_ERRORS as exc:
            log.warning("stale-window sweep failed: %s", short(exc))
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
                            short(exc))
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
                    if entry.stale:
                        effects.stale_reference_events += len(events) + len(labels)
                        continue
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
                offset_store.save_offsets(
                    session, self.config.group, {tp: (self.stored.get(tp), self.positions[tp])}
                )
        except offset_store.OffsetConflict as exc:
            self.cache.invalidate_dirty()
            log.warning("moving held predictions failed: %s", short(exc))
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
            self._apply_retention()
            with self.sessions() as session:
                self.watermarks = load_watermarks(session)
            self.cache.evict(self._closed_before())
        except DATABASE_ERRORS as exc:
            log.warning("housekeeping failed: %s", short(exc))
            return
        self._sweep_stale()

    def _apply_retention(self) -> None:
        """Purge the prediction index and the dead letters past their retention (one
        transaction)."""
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

    def _closed_before(self) -> dict[str, datetime]:
        """Per model, the time before which windows are closed (the watermark)."""
        closed: dict[str, datetime] = {}
        for model, ts in self.watermarks.items():
            closed[model] = self._spec(model).watermark(ts)
        return closed

    def _expire_pending_labels(self) -> None:
        cutoff = utc_now() - timedelta(seconds=self.config.label_ttl_s)
        with self.sessions() as session, session.begin():
            expired = label_store.expire_pending_labels(session, cutoff)
            letters = [
                DeadLetter(
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

    def _join_raced_labels(self) -> None:
        """Join pending labels whose prediction was committed concurrently with them."""
        owned = sorted(tp for tp in self.positions if tp[0] == wire.LABELS_TOPIC)
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
                self._save_states(session)
                fence = {tp: self.positions[tp]}  # unchanged: only proves we still own it
                offset_store.save_offsets(
                    session, self.config.group, {tp: (self.stored.get(tp), self.positions[tp])}
                )
        except (offset_store.OffsetConflict, *DATABASE_ERRORS) as exc:
            self.cache.invalidate_dirty()
            log.warning("joining raced labels failed: %s", short(exc))
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


