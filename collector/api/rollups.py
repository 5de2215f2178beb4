"""Merging the window states of any time range fast: rollups of epoch-aligned buckets.

A 30-day range of 1-minute windows is 43,200 window states per partition; loading and
merging each (100 features) costs about 2 ms, so the naive merge takes minutes. Instead,
the range is cut into the largest epoch-aligned buckets it fully contains (7 d, 1 d, 6 h,
1 h, 10 min) plus raw windows at the ragged edges, and each bucket is read from its
pre-merged rollup (:mod:`infersight.storage.rollups`). A 30-day range then merges a few
dozen states instead of tens of thousands, and the result is *exactly* the merge of the
window states: state merges by addition, so the grouping does not matter.

A rollup is used only while its source signature (rows, latest ``updated_at``) equals the
window states' current one; otherwise the bucket is split into smaller buckets, down to
the raw window states. :mod:`~infersight.collector.api.rollup_maintainer` keeps rollups of complete buckets fresh
in the background (smallest buckets first, each built from the level below).

>>> from datetime import UTC, datetime
>>> t = lambda h, m=0: datetime(2026, 1, 1, h, m, tzinfo=UTC)
>>> [(p.seconds, p.start.strftime("%H:%M"), p.end.strftime("%H:%M"))
...  for p in plan_range(t(9, 55), t(11, 15), (3600, 600))]
[(None, '09:55', '10:00'), (3600, '10:00', '11:00'), (600, '11:00', '11:10'), (None, '11:10', '11:15')]
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from infersight.storage.rollups import (
    Signature,
    bucket_of,
    load_rollups,
    split_window_signatures,
    window_signatures,
)
from infersight.storage.windows import read_window_states
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

LEVELS: tuple[int, ...] = (604_800, 86_400, 21_600, 3_600, 600)
"""Rollup bucket lengths in seconds, largest first; all divide one another."""
FINEST = LEVELS[-1]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Piece:
    """Part of a range: a whole bucket of ``seconds``, or raw windows (``seconds`` None)."""

    seconds: int | None
    start: datetime
    end: datetime


def _ceil(ts: datetime, seconds: int) -> datetime:
    floor: datetime = bucket_of(ts, seconds)
    return floor if floor == ts else floor + timedelta(seconds=seconds)


def plan_range(start: datetime, end: datetime, levels: Sequence[int] = LEVELS) -> list[Piece]:
    """Cut ``[start, end)`` into the largest whole buckets of ``levels`` and raw edges."""
    if start >= end:
        return []
    if not levels:
        return [Piece(None, start, end)]
    size, rest = levels[0], levels[1:]
    first, last = _ceil(start, size), bucket_of(end, size)
    if first >= last:
        return plan_range(start, end, rest)
    step = timedelta(seconds=size)
    middle = []
    bucket = first
    while bucket < last:
        middle.append(Piece(size, bucket, bucket + step))
        bucket += step
    return [*plan_range(start, first, rest), *middle, *plan_range(last, end, rest)]


def lower_levels(seconds: int, levels: Sequence[int]) -> tuple[int, ...]:
    return tuple(level for level in levels if level < seconds)


RollupKey = tuple[str, str, int, datetime, Signature, bytes]
"""``(model, version, bucket seconds, bucket start, source signature, reference fingerprint)``."""


class RollupStateCache:
    """Decoded rollup states, least recently used out (``size`` entries).

    The key holds the rollup's source signature and the reference's fingerprint, so an
    entry can never stand for other data: a changed bucket has another signature. The
    largest buckets (days, weeks) recur in every long range, so they are decoded once.
    Entries are only read by merging them into a new state (never changed).
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[RollupKey, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: RollupKey) -> Any | None:
        with self._lock:
            state = self._items.get(key)
            if state is not None:
                self._items.move_to_end(key)
            return state

    def put(self, key: RollupKey, state: Any) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._items[key] = state
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@dataclass
class MergeResult:
    """A merged state and how it was obtained."""

    state: Any
    """The merged :class:`~infersight.drift.WindowState` (empty when nothing matched)."""
    window_rows: int = 0
    """Window-state rows covered (through rollups or read directly)."""
    rollups_used: int = 0
    raw_rows_read: int = 0
    skipped: int = 0
    """States left out: built for another reference of the version, or unreadable."""
    first_window: datetime | None = None
    last_window: datetime | None = None
    parts: list[tuple[RollupKey | None, Any]] = field(default_factory=list, repr=False)
    """``(cache key or None, serialised or already decoded state)``."""
    cache_hits: int = 0


def bucket_signature(
    fine: dict[datetime, Signature], start: datetime, end: datetime
) -> Signature | None:
    """Combined signature of the finest buckets in ``[start, end)``; None when empty."""
    out: Signature | None = None
    bucket = bucket_of(start, FINEST)
    step = timedelta(seconds=FINEST)
    while bucket < end:
        sig = fine.get(bucket)
        if sig is not None:
            out = sig if out is None else out.combine(sig)
        bucket += step
    return out


class SignatureIndex:
    """:func:`bucket_signature` of many ranges over one map of bucket signatures: each range
    is a slice of the sorted buckets (a sum of rows and a ``max`` of updates instead of a
    walk over every 10-minute step of a 7-day piece)."""

    def __init__(self, buckets: dict[datetime, Signature]) -> None:
        self._starts = sorted(buckets)
        self._updated = [buckets[b].updated_at for b in self._starts]
        self._rows = [0, *accumulate(buckets[b].rows for b in self._starts)]

    def signature(self, start: datetime, end: datetime) -> Signature | None:
        """Combined signature of the buckets starting in ``[bucket_of(start, FINEST), end)``;
        None when there are none."""
        lo = bisect_left(self._starts, bucket_of(start, FINEST))
        hi = bisect_left(self._starts, end, lo)
        if lo >= hi:
            return None
        return Signature(self._rows[hi] - self._rows[lo], max(self._updated[lo:hi]))


DAY = 86_400


class RangeSignatures:
    """The window-state signatures of one version over a range, read in one query by whole
    days in its middle and by finest buckets at its ragged edges
    (:func:`~infersight.storage.rollups.split_window_signatures`; a 30-day range has ~170
    groups instead of ~4,300).

    :meth:`signature` of a range is exactly :func:`bucket_signature` over the finest
    buckets. A range that cuts a day (a stale day or week rollup split into smaller
    buckets) first reads that day's finest signatures (:meth:`refine`): they are still read
    before any state of the day, as :func:`collect_parts` requires.
    """

    def __init__(self, fine: dict[datetime, Signature], days: dict[datetime, Signature],
                 first: datetime, last: datetime,
                 refine: Callable[[datetime, datetime], dict[datetime, Signature]] | None = None
                 ) -> None:
        self.fine = fine
        """Finest buckets outside the whole days (and inside the refined days)."""
        self.days = days
        """Whole days not refined."""
        self.first = first
        """The first finest bucket holding a window state."""
        self.last = last
        """The last finest bucket holding a window state."""
        self._refine = refine
        self._fine_index = SignatureIndex(fine)
        self._day_index = SignatureIndex(days)

    def signature(self, start: datetime, end: datetime) -> Signature | None:
        """Combined signature of the window states' buckets in ``[start, end)`` (finest-bucket
        aligned, as :func:`bucket_signature`); None when empty."""
        for cut in (start, end):
            day = bucket_of(cut, DAY)
            if day != cut and day in self.days:
                self.refine(day)
        out = self._fine_index.signature(start, end)
        if self.days:
            whole = self._day_index.signature(start, end)
            if whole is not None:
                out = whole if out is None else out.combine(whole)
        return out

    def refine(self, day: datetime) -> None:
        """Replace the signature of ``day`` by those of its finest buckets."""
        if self._refine is None:
            raise ValueError("these signatures cannot be refined")
        del self.days[day]
        self.fine.update(self._refine(day, day + timedelta(seconds=DAY)))
        self._fine_index = SignatureIndex(self.fine)
        self._day_index = SignatureIndex(self.days)

    @classmethod
    def of(cls, fine: dict[datetime, Signature]) -> RangeSignatures:
        """Signatures of finest buckets only (as :func:`fine_signatures` gives them)."""
        return cls(fine, {}, min(fine, default=EPOCH), max(fine, default=EPOCH))


def range_signatures(
    session: Session, model: str, start: datetime, end: datetime, version: str | None = None
) -> dict[str, RangeSignatures]:
    """``{version: RangeSignatures}`` of the window states in ``[start, end)``: what
    :func:`fine_signatures` tells, read by whole days where ``[start, end)`` holds them."""
    lo, hi = bucket_of(start, FINEST), _ceil(end, FINEST)
    days_lo, days_hi = _ceil(start, DAY), bucket_of(end, DAY)
    if days_lo >= days_hi:  # no whole day: all finest
        days_lo = days_hi = lo
    fine: dict[str, dict[datetime, Signature]] = {}
    days: dict[str, dict[datetime, Signature]] = {}
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    for row in split_window_signatures(session, model, lo, hi, FINEST, DAY, days_lo, days_hi,
                                       version):
        level = days if row.seconds == DAY else fine
        level.setdefault(row.version, {})[row.bucket] = row.signature
        first[row.version] = min(first.get(row.version, row.first), row.first)
        last[row.version] = max(last.get(row.version, row.last), row.last)

    def refiner(name: str) -> Callable[[datetime, datetime], dict[datetime, Signature]]:
        def refine(day_start: datetime, day_end: datetime) -> dict[datetime, Signature]:
            return fine_signatures(session, model, day_start, day_end, name).get(name, {})
        return refine

    return {
        name: RangeSignatures(fine.get(name, {}), days.get(name, {}),
                              bucket_of(first[name], FINEST), bucket_of(last[name], FINEST),
                              refiner(name))
        for name in sorted(first)
    }


def collect_parts(
    session: Session,
    model: str,
    version: str,
    pieces: Sequence[Piece],
    fine: dict[datetime, Signature] | RangeSignatures,
    levels: Sequence[int] = LEVELS,
    cache: RollupStateCache | None = None,
    fingerprint: bytes = b"",
) -> MergeResult:
    """The states whose merge is exactly the merge of the pieces' window states.

    ``fine`` holds the finest-bucket signatures of ``version`` (or its
    :class:`RangeSignatures`) read *before* this call (so a rollup is never judged fresh
    against data newer than the signature). Rollups found in ``cache`` (for the reference
    with ``fingerprint``) are not read again.
    """
    result = MergeResult(state=None)
    wanted: dict[tuple[str, int, datetime], Signature] = {}
    raw_ranges: list[tuple[datetime, datetime]] = []
    todo = list(pieces)
    index = fine if isinstance(fine, RangeSignatures) else RangeSignatures.of(fine)
    while todo:  # one round per level of fallback; usually a single round
        candidates: list[tuple[Piece, Signature]] = []
        for piece in todo:
            sig = index.signature(piece.start, piece.end)
            if sig is None:
                continue  # no windows there
            if piece.seconds is None:
                raw_ranges.append((piece.start, piece.end))
                continue
            state_key = (model, version, piece.seconds, piece.start, sig, fingerprint)
            state = cache.get(state_key) if cache is not None else None
            if state is not None:  # decoded from a rollup with this very signature
                result.parts.append((state_key, state))
                result.rollups_used += 1
                result.cache_hits += 1
                result.window_rows += sig.rows
                _extend(result, piece.start, piece.start)
                continue
            candidates.append((piece, sig))
        todo = []
        if not candidates:
            break
        keys = [(version, int(p.seconds or 0), p.start) for p, _sig in candidates]
        stored = {
            (r.version, r.bucket_seconds, r.bucket_start): r.signature
            for r in load_rollups(session, model, min(k[2] for k in keys),
                                  max(k[2] for k in keys) + timedelta(seconds=1),
                                  version=version, keys=keys)
        }
        for piece, sig in candidates:
            key = (version, int(piece.seconds or 0), piece.start)
            if stored.get(key) == sig:
                wanted[key] = sig
                result.window_rows += sig.rows
            else:
                todo.extend(plan_range(piece.start, piece.end,
                                       lower_levels(int(piece.seconds or 0), levels)))
    if wanted:
        for record in load_rollups(
            session, model, min(k[2] for k in wanted), max(k[2] for k in wanted)
            + timedelta(seconds=1), version=version, with_state=True, keys=wanted,
        ):
            state_key = (model, version, record.bucket_seconds, record.bucket_start,
                         wanted[(version, record.bucket_seconds, record.bucket_start)],
                         fingerprint)
            result.parts.append((state_key, record.state))
            result.rollups_used += 1
            _extend(result, record.bucket_start, record.bucket_start)
    for window_start, state in read_window_states(session, model, version, raw_ranges):
        result.parts.append((None, state))
        result.raw_rows_read += 1
        result.window_rows += 1
        _extend(result, window_start, window_start)
    return result


def _extend(result: MergeResult, first: datetime, last: datetime) -> None:
    if result.first_window is None or first < result.first_window:
        result.first_window = first
    if result.last_window is None or last > result.last_window:
        result.last_window = last


def merge_parts(reference: Any, result: MergeResult, cache: RollupStateCache | None = None) -> MergeResult:
    """Merge ``result.parts`` into ``result.state`` (parts of another reference are skipped);
    decoded rollups go into ``cache``."""
    merged = reference.new_window()
    for key, part in result.parts:
        try:
            state = reference.window_from_bytes(part) if isinstance(part, bytes) else part
            merged.merge(state)
        except ValueError:  # another reference's layout (re-uploaded reference), or corrupt
            result.skipped += 1
            continue
        if key is not None and cache is not None and isinstance(part, bytes):
            cache.put(key, state)
    result.state = merged
    result.parts = []
    return result


def fine_signatures(
    session: Session, model: str, start: datetime, end: datetime, version: str | None = None
) -> dict[str, dict[datetime, Signature]]:
    """``{version: {finest bucket: Signature}}`` of the window states in ``[start, end)``."""
    out: dict[str, dict[datetime, Signature]] = {}
    for (row_version, bucket), sig in window_signatures(
        session, model, FINEST, bucket_of(start, FINEST), _ceil(end, FINEST), version
    ).items():
        out.setdefault(row_version, {})[bucket] = sig
    return out
