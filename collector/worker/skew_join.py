"""The train/serve skew join in the worker: served predictions meet the offline feature values
uploaded for the same ids (``storage/skew_rows.py``), in either order.

- Served after the upload: :func:`join_served`, in the batch's own transaction, looks the
  batch's new predictions up (one statement) and compares the pairs into the batch's window
  states (same partition key, committed with the offsets: exactly once).
- Served before the upload: the batch keeps the served values, and :func:`join_uploaded`, a
  housekeeping chore, compares the rows holding both sides into window states under an
  owned events partition, fenced with its offset as the raced-label join is; it also purges
  expired rows.

Only models with skew enabled (``PUT /v1/models/{model}`` ``{"skew": true}``, or their first
upload) take part; docs/statistics.md ("Train/serve skew by key") describes the join.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from infersight.collector.worker import statistics
from infersight.collector.worker.errors import DATABASE_ERRORS, short
from infersight.sdk import wire
from infersight.storage import offsets as offset_store
from infersight.storage import skew_rows
from infersight.storage.types import utc_now
from infersight.storage.windows import StateKey
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from infersight.collector.worker.housekeeping import Housekeeping
    from infersight.collector.worker.pipeline import BatchAggregator, BatchEffects
    from infersight.collector.worker.state_cache import CachedState

log = logging.getLogger(__name__)

Pair = tuple[str, Mapping[str, Any], Mapping[str, Any]]
"""(prediction_id, served features, offline features)."""


@dataclass(frozen=True, slots=True)
class Served:
    """A new prediction of a batch: its window state's key, the event, and whether that
    state can take skew pairs now (a current reference, not stale)."""

    key: StateKey
    prediction: wire.Prediction
    comparable: bool


def served_features(prediction: wire.Prediction) -> dict[str, Any]:
    """The served values kept for a later join (vectors left out: they are not compared)."""
    return {name: value for name, value in prediction.features.items()
            if type(value) is not list}


def join_served(session: Session, aggregator: BatchAggregator, served: Sequence[Served],
                entries: Mapping[StateKey, CachedState], effects: BatchEffects) -> None:
    """Compare a batch's new predictions of models with skew enabled with the offline rows
    uploaded for them, and keep the served values of those still to come (other models:
    nothing, not even the lookup)."""
    enabled = {model for model in {s.prediction.model for s in served}
               if aggregator.catalog.settings(session, model).skew}
    served = [s for s in served if s.prediction.model in enabled]
    if not served:
        return
    found = skew_rows.lookup(session, [(s.prediction.model, s.prediction.version,
                                        s.prediction.prediction_id) for s in served])
    pairs: dict[StateKey, list[Pair]] = defaultdict(list)
    compared: list[skew_rows.SkewKey] = []
    keep = []
    for s in served:
        p = s.prediction
        row = found.get((p.model, p.version, p.prediction_id))
        if row is not None and row.compared:
            continue
        if row is not None and row.offline is not None and s.comparable:
            pairs[s.key].append((p.prediction_id, p.features, row.offline))  # vectors skipped
            compared.append((p.model, p.version, p.prediction_id))
        elif row is None or row.offline is not None:  # served first, or no reference yet
            keep.append({"model": p.model, "version": p.version,
                         "prediction_id": p.prediction_id, "window_start": s.key[2],
                         "features": served_features(p)})
    add_pairs(pairs, entries, effects)
    skew_rows.mark_compared(session, compared)
    skew_rows.keep_served(session, keep, utc_now() + timedelta(seconds=aggregator.skew_ttl_s))


def add_pairs(pairs: Mapping[StateKey, Sequence[Pair]], entries: Mapping[StateKey, CachedState],
              effects: BatchEffects) -> None:
    """Add compared pairs to their (non-stale) window states."""
    for key, requests in pairs.items():
        entry = entries[key]
        if entry.stale:
            effects.stale_reference_events += len(requests)
            continue
        statistics.add_skew(entry.state, requests)
        entry.dirty = True
        effects.touched.add(key[:3])
        effects.skew_compared += len(requests)


def join_uploaded(chores: Housekeeping, limit: int = 5000) -> None:
    """Purge expired rows, then compare up to ``limit`` rows holding both sides (offline
    values uploaded after the prediction was served) into window states under the first
    owned events partition, fenced by its offset."""
    try:
        with chores.sessions() as session, session.begin():
            purged = skew_rows.purge_expired(session, utc_now())
    except DATABASE_ERRORS as exc:
        log.warning("purging expired skew rows failed: %s", short(exc))
        return
    if purged["offline"] or purged["served"]:
        log.info("skew TTL: %d offline rows never served, %d served rows never uploaded "
                 "expired", purged["offline"], purged["served"])
    owned = chores.positions.owned(wire.EVENTS_TOPIC)
    if not owned:
        return
    from infersight.collector.worker.pipeline import BatchEffects

    tp = owned[0]
    pkey = f"{tp[0]}/{tp[1]}"
    effects = BatchEffects()
    aggregator = chores.aggregator
    try:
        with chores.sessions() as session, session.begin():
            ready = skew_rows.claim_ready(session, limit)
            if not ready:
                return
            pairs: dict[StateKey, list[Pair]] = defaultdict(list)
            wanted = {}
            for row in ready:
                key = (row.model, row.version, row.window_start, pkey)
                pairs[key].append((row.prediction_id, row.served, row.offline))
                if key not in wanted:
                    reference = aggregator.catalog.reference(session, row.model, row.version)
                    if reference is None:  # claim_ready takes versions with a reference
                        continue
                    wanted[key] = (reference, aggregator.spec(session, row.model)
                                   .end_of(row.window_start))
            pairs = {key: requests for key, requests in pairs.items() if key in wanted}
            add_pairs(pairs, chores.cache.get_many(session, wanted), effects)
            skew_rows.mark_compared(session, [(k[0], k[1], pid) for k, requests in
                                              pairs.items() for pid, _s, _o in requests])
            fence = chores.writer.write_fenced(session, tp)
    except (offset_store.OffsetConflict, *DATABASE_ERRORS) as exc:
        chores.cache.invalidate_dirty()
        log.warning("joining uploaded skew rows failed: %s", short(exc))
        return
    chores.writer.committed(fence, effects)
