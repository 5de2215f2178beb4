"""A reference from the first window, for model versions that never got one uploaded.

A window state's bins come from the reference, so a version without one cannot have window
states. Its predictions are *held in the prediction index* instead: the row's
``prediction`` keeps the whole event (``{"infersight_bootstrap_event": {...}}``), written in
the same transaction as the offsets, so holding is exactly-once like everything else and
needs no memory. Once the version's first window has closed (by the model's watermark),
or ``min_events`` predictions are held, a worker builds the reference from the held rows of
the first window (oldest first, at most ``max_rows``) and stores it with
``reference_source='first_window'`` (only if there is still none: a concurrent upload wins).
Then workers move the held rows into window states of a partition they own, join the
labels that arrived meanwhile, and restore the rows to plain index rows.

Which rows the reference is built from depends on timing when several workers or partitions
feed the version, so a bootstrapped reference is not reproducible run to run; an uploaded
reference is. Until a reference exists the version has no drift points; its health points
(requests, errors, latency, tokens, cost) come from every call as it is held, and a held call
is not added to them again when it moves into its window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec
from infersight.collector.worker import statistics
from infersight.collector.worker.concept import JoinedLabel
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.errors import DATABASE_ERRORS, short
from infersight.collector.worker.pipeline import BatchAggregator, BatchEffects
from infersight.collector.worker.positions import Positions
from infersight.collector.worker.statistics import ModelSettings
from infersight.collector.worker.watermarks import Watermarks
from infersight.collector.worker.writer import BatchWriter
from infersight.sdk import wire
from infersight.storage import held
from infersight.storage import offsets as offset_store
from infersight.storage.registry import set_reference
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def build_reference(
    session: Session, model: str, version: str, max_rows: int, settings: ModelSettings
) -> bool:
    """Build and store the version's reference from its first window's held predictions,
    with the model's task, positive class and threshold (``PUT /v1/models/{model}``) where
    set, else what the held predictions imply.

    Returns whether a reference was stored (False: one exists, or nothing is held).
    """
    if not held.lock_missing_reference(session, model, version):
        return False
    _count, first = held.held_summary(session, model, version)
    if first is None:
        return False
    rows = held.held_in_window(session, model, version, first, max_rows)
    events = [_event(stored) for stored, _label, _at in rows]
    names = sorted({name for event in events for name in event.features})
    columns = {name: [event.features.get(name) for event in events] for name in names}
    predictions = [msgspec.to_builtins(event.prediction) for event in events]
    labels = [label for _stored, label, at in rows if at is not None]
    reference = statistics.build_reference(
        columns, predictions,
        [label for _s, label, _a in rows] if len(labels) == len(rows) else None,
        settings,
    )
    stored = set_reference(session, model, version, reference.to_bytes(), "first_window")
    if stored:
        log.info("reference of %s/%s built from %d predictions of its first window %s",
                 model, version, len(events), first.isoformat())
    return bool(stored)


def _event(stored: Any) -> wire.Prediction:
    return msgspec.convert(stored[held.BOOTSTRAP_KEY], wire.Prediction)


HeldRow = tuple[str, datetime, datetime, wire.Prediction, Any, bool]
"""``(prediction_id, window_start, ts, event, label, labelled)``."""


def claim_held(session: Session, model: str, version: str, limit: int) -> list[HeldRow]:
    """Lock up to ``limit`` held predictions of the version (skipping rows another worker
    holds) and restore them to plain index rows; returns what they held."""
    claimed: list[HeldRow] = []
    for pid, start, ts, stored, label, labelled_at in held.lock_held(session, model, version,
                                                                       limit):
        event = _event(stored)
        claimed.append((pid, start, ts, event, label, labelled_at is not None))
    held.release_held(session, model, {pid: msgspec.to_builtins(event.prediction)
                                       for pid, _start, _ts, event, _label, _labelled in claimed})
    return claimed


def group_by_window(
    claimed: Sequence[HeldRow],
) -> dict[datetime, tuple[list[wire.Prediction], list[tuple[Any, Any, datetime, str]]]]:
    """Held events per window start, with the labels joined to them meanwhile."""
    out: dict[datetime, tuple[list[wire.Prediction], list[tuple[Any, Any, datetime, str]]]] = {}
    for pid, start, ts, event, label, labelled in claimed:
        events, labels = out.setdefault(start, ([], []))
        events.append(event)
        if labelled:
            labels.append((msgspec.to_builtins(event.prediction), label, ts, pid))
    return out


class Bootstrapper:
    """Builds first-window references for the versions it is told of, then moves their
    held predictions into window states (see the module docstring)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: WorkerConfig,
        aggregator: BatchAggregator,
        writer: BatchWriter,
        watermarks: Watermarks,
        positions: Positions,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.aggregator = aggregator
        self.catalog = aggregator.catalog
        self.cache = aggregator.cache
        self.writer = writer
        self.watermarks = watermarks
        self.positions = positions
        self.candidates: set[tuple[str, str]] = set()
        """Versions that may need a reference, or still hold predictions."""
        self._last = 0.0

    def add(self, versions: Iterable[tuple[str, str]]) -> None:
        self.candidates.update(versions)

    def due(self) -> None:
        """Every ``bootstrap_interval_s``: bootstrap the candidates that are ready."""
        now = time.monotonic()
        if not self.candidates or now - self._last < self.config.bootstrap_interval_s:
            return
        self._last = now
        for model, version in sorted(self.candidates):
            try:
                if self._reference(model, version):
                    self._move_held(model, version)
            except DATABASE_ERRORS as exc:
                log.warning("reference bootstrap of %s/%s failed: %s", model, version,
                            short(exc))
                self.cache.invalidate_dirty()
            except Exception:  # e.g. held data the engine cannot profile
                log.exception("reference bootstrap of %s/%s failed; retried after a restart",
                              model, version)
                self.cache.invalidate_dirty()
                self.candidates.discard((model, version))

    def _reference(self, model: str, version: str) -> bool:
        """Make sure the version has a reference (building one if due); False if not yet."""
        with self.sessions() as session, session.begin():
            if self.catalog.reference(session, model, version) is not None:
                return True
            count, first = held.held_summary(session, model, version)
            if count == 0 or first is None:
                self.candidates.discard((model, version))
                return False
            closed = self.watermarks.window_closed(model, first, self.watermarks.spec(model))
            if count < self.config.bootstrap_min_events and not closed:
                return False
            build_reference(session, model, version, self.config.bootstrap_max_rows,
                            self.catalog.settings(session, model))
        self.catalog.forget(model, version)
        return True

    def _move_held(self, model: str, version: str) -> None:
        """Move held predictions of a version that now has a reference into window states of
        a partition this worker owns (fenced by that partition's offset)."""
        owned = self.positions.owned(wire.EVENTS_TOPIC)
        if not owned:
            return
        tp = owned[0]
        pkey = f"{tp[0]}/{tp[1]}"
        effects = BatchEffects()
        try:
            with self.sessions() as session, session.begin():
                reference = self.catalog.reference(session, model, version)
                assert reference is not None  # _reference made sure of it
                claimed = claim_held(session, model, version, limit=5000)
                if not claimed:
                    self.candidates.discard((model, version))
                    return
                spec = self.watermarks.spec(model)
                groups = group_by_window(claimed)
                wanted = {(model, version, start, pkey): (reference, spec.end_of(start))
                          for start in groups}
                entries = self.cache.get_many(session, wanted)
                for start, (events, labels) in groups.items():
                    entry = entries[(model, version, start, pkey)]
                    if entry.stale:
                        effects.stale_reference_events += len(events) + len(labels)
                        continue
                    statistics.add_predictions(entry.state, events)
                    entry.event_count += len(events)
                    if labels:
                        statistics.add_labels(entry.state, [(p, label) for p, label, _t, _i
                                                            in labels])
                        effects.joined.extend(
                            JoinedLabel(model, version, ts, pid, p, label)
                            for p, label, ts, pid in labels
                        )
                        effects.labels_joined += len(labels)
                    entry.dirty = True
                    effects.touched.add((model, version, start))
                self.aggregator.detect_concept_drift(session, effects)
                fence = self.writer.write_fenced(session, tp)
        except offset_store.OffsetConflict as exc:
            self.cache.invalidate_dirty()
            log.warning("moving held predictions failed: %s", short(exc))
            return
        except Exception:
            self.cache.invalidate_dirty()
            raise
        log.info("moved %d held predictions of %s/%s into their windows", len(claimed), model,
                 version)
        self.writer.committed(fence, effects)
