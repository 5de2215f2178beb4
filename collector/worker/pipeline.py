"""One polled batch, from bytes to a committed transaction (arroyo-style small steps).

``decode`` turns records into events and dead letters; ``BatchAggregator`` adds the events
to the cached health states (every new call, reference or not) and window states and does the
label join, all inside the caller's transaction;
the worker then writes the touched states and the offsets in that same transaction and
commits. Nothing here commits.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from infersight.collector.worker import skew_join, statistics
from infersight.collector.worker.bus import Record
from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.concept import JoinedLabel, update_detectors
from infersight.collector.worker.state_cache import CachedState, StateCache
from infersight.drift.windowing import WindowSpec
from infersight.sdk import wire
from infersight.storage import labels as label_store
from infersight.storage.deadletters import DeadLetterRecord
from infersight.storage.held import BOOTSTRAP_KEY
from infersight.storage.types import utc_now
from infersight.storage.windows import StateKey
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from infersight.drift import Reference

log = logging.getLogger(__name__)

WindowKey = tuple[str, str, datetime]
"""``(model, version, window_start)``."""


@dataclass(slots=True)
class RefusedInput:
    """An event or message the worker refused: its dead-letter row (the record of truth) and
    topic message."""

    topic: str
    partition: int | None
    offset: int | None
    reason: str
    detail: str
    raw: bytes

    def record(self) -> DeadLetterRecord:
        return DeadLetterRecord(
            reason=self.reason, payload=self.raw, detail=self.detail[:4000],
            topic=self.topic, partition=self.partition, offset=self.offset,
            created_at=utc_now(),
        )

    def message(self) -> bytes:
        return bytes(
            wire.encode_deadletter(
                self.raw, self.reason, self.detail,
                topic=self.topic, partition=self.partition, offset=self.offset,
            )
        )


@dataclass(slots=True)
class Decoded:
    """Events of one record, with its place in the stream."""

    record: Record
    predictions: list[wire.Prediction]
    labels: list[wire.Label]


def decode(records: Sequence[Record]) -> tuple[list[Decoded], list[RefusedInput]]:
    """Decode every record with the shared codec (which never raises)."""
    decoded: list[Decoded] = []
    dead: list[RefusedInput] = []
    for record in records:
        batch = wire.decode_batch(record.value)
        decoded.append(Decoded(record, batch.predictions, batch.labels))
        for rejected in batch.rejected:
            detail = rejected.detail if rejected.index is None else (
                f"event {rejected.index}: {rejected.detail}"
            )
            dead.append(RefusedInput(
                record.topic, record.partition, record.offset, rejected.reason, detail,
                bytes(rejected.raw),
            ))
    return decoded, dead


_PLAIN = (float, int, str, bool, type(None))


def prediction_value(prediction: wire.Prediction) -> Any:
    """The prediction as JSON-able builtins (what the label join stores)."""
    value = prediction.prediction
    return value if type(value) in _PLAIN else msgspec.to_builtins(value)


def bootstrap_value(prediction: wire.Prediction) -> dict[str, Any]:
    """The index value of a prediction held for the reference bootstrap: the whole event."""
    return {BOOTSTRAP_KEY: msgspec.to_builtins(prediction)}


def is_bootstrap(stored: Any) -> bool:
    return isinstance(stored, dict) and BOOTSTRAP_KEY in stored


@dataclass(slots=True)
class BatchEffects:
    """What a batch did, for metrics and evaluation scheduling after the commit."""

    touched: set[WindowKey] = field(default_factory=set)
    max_event_ts: dict[str, datetime] = field(default_factory=dict)
    predictions: int = 0
    labels_joined: int = 0
    labels_duplicate: int = 0
    dead_letters: list[RefusedInput] = field(default_factory=list)
    bootstrapped: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Predictions held in the index because their version has no reference yet."""
    joined: list[JoinedLabel] = field(default_factory=list)
    """Labels joined in this batch, for the concept-drift detectors."""
    consumed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skew_compared: int = 0
    """Served predictions compared with their offline values (train/serve skew)."""
    stale_reference_events: int = 0
    """Predictions and labels not added to a window state built on a replaced reference."""
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    """New calls per (model, version), for the self-metrics (as the next three)."""
    errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    tokens: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    cost: dict[tuple[str, str, str], float] = field(default_factory=lambda: defaultdict(float))


def _refused_prediction(pkey: str, p: wire.Prediction, problem: str) -> RefusedInput:
    """A prediction dead-lettered as ``invalid_value`` from the state partition ``pkey``."""
    topic, _, partition = pkey.rpartition("/")
    return RefusedInput(
        topic, int(partition) if partition.isdigit() else None, None, "invalid_value",
        f"prediction {p.prediction_id!r} of {p.model!r} v{p.version}: {problem}",
        bytes(wire.encode_batch([p])))


class BatchAggregator:
    """Adds a batch's predictions and labels to window states, within one transaction."""

    def __init__(
        self, catalog: ModelCatalog, cache: StateCache, lateness_fraction: float = 0.1,
        window_state_retention_s: float | None = None, skew_ttl_s: float = 7 * 86400.0,
    ) -> None:
        self.catalog = catalog
        self.cache = cache
        self.lateness_fraction = lateness_fraction
        self.window_state_retention_s = window_state_retention_s
        """Predictions older than this (by event time) are refused: their window's states
        may already be dropped, and one late event must not restart a window afresh."""
        self.skew_ttl_s = skew_ttl_s
        """How long a side of the train/serve skew join waits for the other."""

    def spec(self, session: Session, model: str) -> WindowSpec:
        settings = self.catalog.settings(session, model)
        return WindowSpec(settings.window_s, self.lateness_fraction)

    def apply(self, session: Session, decoded: Sequence[Decoded], effects: BatchEffects) -> None:
        by_partition: dict[str, tuple[list[wire.Prediction], list[wire.Label]]] = defaultdict(
            lambda: ([], []))
        for item in decoded:
            predictions, labels = by_partition[item.record.partition_key]
            predictions.extend(item.predictions)
            labels.extend(item.labels)
            effects.consumed[item.record.topic] += len(item.predictions) + len(item.labels)
        versions = {(p.model, p.version) for preds, _ in by_partition.values() for p in preds}
        self.catalog.register(session, versions)
        for pkey, (predictions, labels) in sorted(by_partition.items()):
            predictions = self._refuse_expired(pkey, predictions, effects)
            predictions = self._refuse_bad_vectors(session, pkey, predictions, effects)
            if predictions:
                self._predictions(session, pkey, predictions, effects)
            if labels:
                self.labels(session, pkey, labels, effects)
        self.detect_concept_drift(session, effects)

    def _refuse_expired(
        self, pkey: str, predictions: list[wire.Prediction], effects: BatchEffects,
    ) -> list[wire.Prediction]:
        """Dead-letter (``invalid_value``) the predictions older than the window-state
        retention; the others go on."""
        if self.window_state_retention_s is None:
            return predictions
        cutoff = utc_now() - timedelta(seconds=self.window_state_retention_s)
        if all(p.ts >= cutoff for p in predictions):
            return predictions
        kept = []
        for p in predictions:
            if p.ts >= cutoff:
                kept.append(p)
                continue
            effects.dead_letters.append(_refused_prediction(
                pkey, p, f"event time {p.ts.isoformat()} is before the window-state retention "
                f"(INFERSIGHT_WINDOW_STATE_RETENTION, {self.window_state_retention_s / 86400:g} "
                "days): its window's states may be dropped"))
        return kept

    def _refuse_bad_vectors(
        self, session: Session, pkey: str, predictions: list[wire.Prediction],
        effects: BatchEffects,
    ) -> list[wire.Prediction]:
        """Dead-letter (``invalid_value``) the predictions holding a vector that does not fit
        their version's reference: a feature's of another length than its embedding, an
        embedding model's output of another length, class probabilities outside [0, 1].
        The others go on."""
        outputs = any(type(p.prediction) is list for p in predictions)
        references: dict[tuple[str, str], Reference | None] = {}
        dimensions: dict[tuple[str, str], dict[str, int]] = {}
        for key in {(p.model, p.version) for p in predictions}:
            references[key] = reference = self.catalog.reference(session, *key)
            dimensions[key] = {} if reference is None else statistics.vector_dimensions(reference)
        if not outputs and not any(dimensions.values()):
            return predictions  # no vector to check: nothing to do per event
        kept = []
        for p in predictions:
            key = (p.model, p.version)
            problem = next((
                f"features[{name!r}]: a vector of {len(value)} numbers, but the reference's "
                f"embedding has {size}"
                for name, size in dimensions[key].items()
                if type(value := p.features.get(name)) is list and len(value) != size), None)
            reference = references[key]
            if problem is None and reference is not None and type(p.prediction) is list:
                problem = statistics.prediction_problem(reference, p.prediction)
            if problem is None:
                kept.append(p)
                continue
            effects.dead_letters.append(_refused_prediction(pkey, p, problem))
        return kept

    def detect_concept_drift(self, session: Session, effects: BatchEffects) -> None:
        """Feed the batch's joined labels to the concept-drift detectors (same transaction)."""
        if not effects.joined:
            return
        references = {
            version: self.catalog.reference(session, *version)
            for version in {(j.model, j.version) for j in effects.joined}
        }
        update_detectors(session, references, effects.joined)

    # -- predictions ------------------------------------------------------------------------

    def _predictions(
        self, session: Session, pkey: str, predictions: list[wire.Prediction],
        effects: BatchEffects,
    ) -> None:
        unique: dict[tuple[str, str], wire.Prediction] = {}
        for p in predictions:
            unique.setdefault((p.model, p.prediction_id), p)
        references: dict[tuple[str, str], Reference | None] = {}
        specs: dict[str, WindowSpec] = {}
        starts: dict[tuple[str, datetime], datetime] = {}
        index_rows = []
        for (model, pid), p in unique.items():
            version_key = (model, p.version)
            if version_key not in references:
                references[version_key] = self.catalog.reference(session, model, p.version)
            if model not in specs:
                specs[model] = self.spec(session, model)
            start = starts.get((model, p.ts))
            if start is None:
                start = starts[(model, p.ts)] = specs[model].start_of(p.ts)
            reference = references[version_key]
            stored = (bootstrap_value(p) if reference is None
                      else None if reference.task == "embedding"  # no label join: keep no vector
                      else prediction_value(p))
            index_rows.append({
                "model": model, "prediction_id": pid, "version": p.version,
                "window_start": start, "ts": p.ts, "prediction": stored,
            })
            current = effects.max_event_ts.get(model)
            if current is None or p.ts > current:
                effects.max_event_ts[model] = p.ts
        new = label_store.insert_predictions(session, index_rows)
        groups: dict[StateKey, list[wire.Prediction]] = defaultdict(list)
        health: dict[StateKey, list[wire.Prediction]] = defaultdict(list)
        wanted: dict[StateKey, tuple[Reference, datetime]] = {}
        for row in index_rows:
            key_id = (row["model"], row["prediction_id"])
            if key_id not in new:
                continue
            health[(row["model"], row["version"], row["window_start"], pkey)].append(
                unique[key_id])
            reference = references[(row["model"], row["version"])]
            if reference is None:  # held in the index until a reference exists (bootstrap)
                effects.bootstrapped[(row["model"], row["version"])] += 1
                continue
            key = (row["model"], row["version"], row["window_start"], pkey)
            groups[key].append(unique[key_id])
            if key not in wanted:
                wanted[key] = (reference, specs[row["model"]].end_of(row["window_start"]))
        self._add_health(session, health, specs, effects)
        entries = self.cache.get_many(session, wanted)
        for key, events in groups.items():
            entry = entries[key]
            if entry.stale:
                effects.stale_reference_events += len(events)
                continue
            statistics.add_predictions(entry.state, events)
            entry.event_count += len(events)
            entry.dirty = True
            effects.touched.add(key[:3])
            effects.predictions += len(events)
        skew_join.join_served(session, self, [
            skew_join.Served(key, p, key in entries and not entries[key].stale)
            for key, events in health.items() for p in events], entries, effects)
        # Labels that were waiting for these predictions join now, into the same rows.
        taken = label_store.take_pending_labels_of_incoming(session, sorted(unique))
        if taken:
            joined: dict[StateKey, list[tuple[Any, Any]]] = defaultdict(list)
            marks = []
            by_id = {(r["model"], r["prediction_id"]): r for r in index_rows}
            for key_id, (label, _ts) in taken.items():
                row = by_id[key_id]
                marks.append((key_id[0], key_id[1], label))
                if is_bootstrap(row["prediction"]):
                    continue  # joined when the held prediction enters its window
                key = (row["model"], row["version"], row["window_start"], pkey)
                joined[key].append((row["prediction"], label))
                effects.joined.append(JoinedLabel(row["model"], row["version"], row["ts"],
                                                  key_id[1], row["prediction"], label))
            self._add_labels(session, joined, entries, effects)
            label_store.mark_labelled(session, marks, utc_now())

    def _add_health(
        self, session: Session, groups: dict[StateKey, list[wire.Prediction]],
        specs: dict[str, WindowSpec], effects: BatchEffects,
    ) -> None:
        """Add new calls (held ones included) to their windows' health states: once each,
        since only predictions the index took as new get here."""
        wanted = {key: specs[key[0]].end_of(key[2]) for key in groups}
        entries = self.cache.health_many(session, wanted)
        for key, events in groups.items():
            entry = entries[key]
            model, version = key[:2]
            cost = statistics.add_calls(entry.state, events, self.catalog.prices(session, model))
            entry.dirty = True
            effects.touched.add(key[:3])
            effects.calls[(model, version)] += len(events)
            if cost is not None:
                effects.cost[(model, version, cost[1])] += cost[0]
            for p in events:
                if p.error is not None:
                    effects.errors[(model, version, p.error)] += 1
                for name, count in p.usage.items():
                    if name in wire.USAGE_KEYS:
                        effects.tokens[(model, version, name.removesuffix("_tokens"))] += count

    # -- labels -----------------------------------------------------------------------------

    def labels(
        self, session: Session, pkey: str, labels: list[wire.Label], effects: BatchEffects
    ) -> None:
        """Join labels (from partition ``pkey``) to indexed predictions, or keep them pending."""
        unique: dict[tuple[str, str], wire.Label] = {}
        for label in labels:
            unique.setdefault((label.model, label.prediction_id), label)
        effects.labels_duplicate += len(labels) - len(unique)
        found = label_store.lookup_predictions(session, sorted(unique))
        joined: dict[StateKey, list[tuple[Any, Any]]] = defaultdict(list)
        marks = []
        pending = []
        now = utc_now()
        for key_id, label in unique.items():
            indexed = found.get(key_id)
            value = msgspec.to_builtins(label.label)
            if indexed is None:
                pending.append({
                    "model": key_id[0], "prediction_id": key_id[1], "label": value,
                    "ts": label.ts, "received_at": now,
                })
            elif indexed.labelled:
                effects.labels_duplicate += 1
            elif is_bootstrap(indexed.prediction):
                marks.append((key_id[0], key_id[1], value))  # joined when it enters its window
            else:
                key = (key_id[0], indexed.version, indexed.window_start, pkey)
                joined[key].append((indexed.prediction, value))
                marks.append((key_id[0], key_id[1], value))
                effects.joined.append(JoinedLabel(key_id[0], indexed.version, indexed.ts,
                                                  key_id[1], indexed.prediction, value))
        label_store.add_pending_labels(session, pending)
        self._add_labels(session, joined, None, effects)
        label_store.mark_labelled(session, marks, now)

    def _add_labels(
        self,
        session: Session,
        joined: dict[StateKey, list[tuple[Any, Any]]],
        entries: dict[StateKey, CachedState] | None,
        effects: BatchEffects,
    ) -> None:
        if not joined:
            return
        if entries is None or any(key not in entries for key in joined):
            wanted = {}
            for key in joined:
                reference = self.catalog.reference(session, key[0], key[1])
                spec = self.spec(session, key[0])
                wanted[key] = (reference, spec.end_of(key[2]))
            entries = self.cache.get_many(session, wanted)
        for key, pairs in joined.items():
            entry = entries[key]
            if entry.stale:
                effects.stale_reference_events += len(pairs)
                continue
            statistics.add_labels(entry.state, pairs)
            entry.dirty = True
            effects.touched.add(key[:3])
            effects.labels_joined += len(pairs)
