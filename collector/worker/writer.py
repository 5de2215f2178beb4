"""One batch's whole effect, written in one transaction (docs/pipeline.md).

The transaction holds the window and health states, the prediction-index and label-join effects, the
dead-letter rows, the watermarks and the consumed offsets (a compare-and-set that fences a
worker that lost its partition). Only after the commit does memory move on: the positions,
the cache (clean), the catalog's registered versions, the watermarks and the self-metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from infersight.collector.worker import statistics
from infersight.collector.worker.bus import TopicPartition
from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.pipeline import (
    BatchAggregator,
    BatchEffects,
    Decoded,
    RefusedInput,
)
from infersight.collector.worker.positions import Positions
from infersight.collector.worker.self_metrics import WorkerMetrics
from infersight.collector.worker.state_cache import StateCache
from infersight.collector.worker.watermarks import Watermarks
from infersight.storage import offsets as offset_store
from infersight.storage.deadletters import add_dead_letters
from infersight.storage.models import HealthState
from infersight.storage.watermarks import advance_watermarks
from infersight.storage.windows import WindowStateRecord, upsert_window_states
from sqlalchemy.orm import Session, sessionmaker


class BatchWriter:
    """Writes batches (and the side tasks' window states) with their offsets."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        group: str,
        aggregator: BatchAggregator,
        positions: Positions,
        watermarks: Watermarks,
        metrics: WorkerMetrics,
        on_commit: Callable[[BatchEffects], None],
    ) -> None:
        self.sessions = sessions
        self.group = group
        self.aggregator = aggregator
        self.cache: StateCache = aggregator.cache
        self.catalog: ModelCatalog = aggregator.catalog
        self.positions = positions
        self.watermarks = watermarks
        self.metrics = metrics
        self.on_commit = on_commit
        """Called with the effects of every commit (evaluation and bootstrap scheduling)."""

    def write(
        self,
        decoded: Sequence[Decoded],
        dead: list[RefusedInput],
        next_offsets: Mapping[TopicPartition, int],
        decoded_at: float,
    ) -> None:
        """Aggregate and write one decoded batch and commit; raises what the transaction
        raised (:class:`~infersight.storage.offsets.OffsetConflict`, database errors, …)."""
        stage = self.metrics.stage_seconds
        effects = BatchEffects(dead_letters=dead)
        with self.sessions() as session, session.begin():
            self.aggregator.apply(session, decoded, effects)
            db_started = time.perf_counter()
            stage.labels(stage="aggregate").inc(db_started - decoded_at)
            states, health = self._dump_states()
            serialised_at = time.perf_counter()
            stage.labels(stage="serialise").inc(serialised_at - db_started)
            add_dead_letters(session, [letter.record() for letter in dead])
            advance_watermarks(session, effects.max_event_ts)
            upsert_window_states(session, states)
            upsert_window_states(session, health, HealthState)
            offset_store.save_offsets(session, self.group,
                                      self.positions.transitions(next_offsets))
        committed_at = time.perf_counter()
        self.metrics.db_transaction_seconds.observe(committed_at - db_started)
        stage.labels(stage="write").inc(committed_at - serialised_at)
        self.committed(next_offsets, effects)

    def write_dead_letter(self, letter: RefusedInput, tp: TopicPartition, next_offset: int) -> None:
        """Store a dead letter in place of a whole message and move past it."""
        with self.sessions() as session, session.begin():
            add_dead_letters(session, [letter.record()])
            offset_store.save_offsets(session, self.group,
                                      self.positions.transitions({tp: next_offset}))
        self.committed({tp: next_offset}, BatchEffects(dead_letters=[letter]))

    def write_fenced(self, session: Session, tp: TopicPartition) -> dict[TopicPartition, int]:
        """Write the dirty window (and health) states, fenced by ``tp``'s unchanged offset
        (proving we still own a partition); returns that offset, for :meth:`committed`."""
        states, health = self._dump_states()
        upsert_window_states(session, states)
        upsert_window_states(session, health, HealthState)
        fence = self.positions.fence(tp)
        offset_store.save_offsets(session, self.group, fence)
        return {tp: offset for tp, (_previous, offset) in fence.items()}

    def committed(self, next_offsets: Mapping[TopicPartition, int], effects: BatchEffects) -> None:
        """Move memory on after a commit."""
        self.positions.advance(next_offsets)
        self.cache.mark_clean()
        if len(self.cache) > self.cache.max_entries:
            self.cache.evict({})
        self.catalog.registered()
        self.watermarks.advance(effects.max_event_ts)
        self.on_commit(effects)
        m = self.metrics
        for topic, count in effects.consumed.items():
            m.events_consumed.labels(topic=topic).inc(count)
        for letter in effects.dead_letters:
            m.events_deadlettered.labels(reason=letter.reason).inc()
        m.labels_joined.inc(effects.labels_joined)
        m.labels_duplicate.inc(effects.labels_duplicate)
        m.skew_pairs.inc(effects.skew_compared)
        m.stale_reference_events.inc(effects.stale_reference_events)
        m.count_calls(effects.calls, effects.errors, effects.tokens, effects.cost)

    def _dump_states(self) -> tuple[list[WindowStateRecord], list[WindowStateRecord]]:
        """The dirty window states and health states."""
        states = [
            WindowStateRecord(model, version, start, entry.window_end, pkey,
                              statistics.dump_state(entry.state), entry.event_count)
            for (model, version, start, pkey), entry in self.cache.dirty()
        ]
        health = [
            WindowStateRecord(model, version, start, entry.window_end, pkey,
                              statistics.dump_health(entry.state), entry.state.calls)
            for (model, version, start, pkey), entry in self.cache.dirty_health()
        ]
        return states, health
