"""In-memory window states of the partitions this worker owns, loaded lazily from the DB.

An entry holds the *cumulative* state of one ``(model, version, window_start,
partition_key)`` row: what is stored plus what this worker added since. After a commit
every entry is clean, so any of them can be evicted without losing anything; the cache is
bounded (closed windows go first, then the least recently used). A failed transaction
invalidates the entries it touched: they are reloaded from the database.

A row built on a reference that has since been replaced with a different layout (another
fingerprint) is *stale*: it can neither take events binned by the new reference nor be merged
with its states, so it stays as stored (``CachedState.stale``; callers add nothing to it) and
evaluation leaves it out. Windows whose row does not exist yet start on the new reference.

Health states (``health_states``, no reference) are cached beside them under the same keys,
with the same life cycle: dirty until the commit, forgotten with them, evicted alike.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from infersight.collector.worker import statistics
from infersight.storage.models import HealthState as HealthTable
from infersight.storage.windows import StateKey, find_window_states
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from infersight.drift import Reference, WindowState
    from infersight.drift.health import HealthState


@dataclass(slots=True)
class CachedState:
    state: WindowState
    window_end: datetime
    event_count: int
    dirty: bool = False
    stale: bool = False
    """Built on another reference than the one asked for: add nothing to it."""


@dataclass(slots=True)
class CachedHealth:
    state: HealthState
    window_end: datetime
    dirty: bool = False


Entry = CachedState | CachedHealth


class StateCache:
    """Bounded LRUs of window and health states keyed by
    :data:`~infersight.storage.windows.StateKey` (``max_entries`` each)."""

    def __init__(self, max_entries: int = 5000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[StateKey, CachedState] = OrderedDict()
        self._health: OrderedDict[StateKey, CachedHealth] = OrderedDict()

    def __len__(self) -> int:
        """Entries of the fuller of the two kinds."""
        return max(len(self._entries), len(self._health))

    def _both(self) -> tuple[OrderedDict[StateKey, Any], ...]:
        return self._entries, self._health

    def health_many(
        self, session: Session, wanted: dict[StateKey, datetime]
    ) -> dict[StateKey, CachedHealth]:
        """Health entries for ``{key: window_end}``, loading misses in one query."""
        missing = [key for key in wanted if key not in self._health]
        if missing:
            stored = find_window_states(session, missing, HealthTable)
            for key in missing:
                row = stored.get(key)
                self._health[key] = CachedHealth(
                    statistics.new_health() if row is None else statistics.load_health(row.state),
                    wanted[key])
        found = {}
        for key in wanted:
            self._health.move_to_end(key)
            found[key] = self._health[key]
        return found

    def get_many(
        self,
        session: Session,
        wanted: dict[StateKey, tuple[Reference, datetime]],
    ) -> dict[StateKey, CachedState]:
        """Entries for ``{key: (reference, window_end)}``, loading misses in one query; an
        entry built on another reference layout comes back ``stale``."""
        missing = [key for key in wanted if key not in self._entries]
        if missing:
            stored = find_window_states(session, missing)
            for key in missing:
                reference, window_end = wanted[key]
                row = stored.get(key)
                if row is None:
                    entry = CachedState(statistics.new_state(reference), window_end, 0)
                else:
                    entry = CachedState(
                        statistics.load_any_state(row.state), window_end, row.event_count
                    )
                self._entries[key] = entry
        found = {}
        for key, (reference, _end) in wanted.items():
            self._entries.move_to_end(key)
            entry = found[key] = self._entries[key]
            entry.stale = not statistics.bind_if_same_layout(reference, entry.state)
        return found

    def dirty(self) -> list[tuple[StateKey, CachedState]]:
        return [(key, entry) for key, entry in self._entries.items() if entry.dirty]

    def dirty_health(self) -> list[tuple[StateKey, CachedHealth]]:
        return [(key, entry) for key, entry in self._health.items() if entry.dirty]

    def mark_clean(self) -> None:
        for entries in self._both():
            for entry in entries.values():
                entry.dirty = False

    def invalidate(self, partition_keys: Iterable[str] | None = None) -> None:
        """Forget entries of ``partition_keys`` (all when None), e.g. after a failed commit."""
        doomed = None if partition_keys is None else set(partition_keys)
        for entries in self._both():
            if doomed is None:
                entries.clear()
                continue
            for key in [key for key in entries if key[3] in doomed]:
                del entries[key]

    def invalidate_dirty(self) -> None:
        for entries in self._both():
            for key in [key for key, entry in entries.items() if entry.dirty]:
                del entries[key]

    def evict(self, closed_before: dict[str, datetime]) -> int:
        """Drop clean entries of closed windows (``window_end <= watermark`` of the model),
        then the least recently used beyond ``max_entries``. Returns how many went."""
        return sum(_evict(entries, closed_before, self.max_entries) for entries in self._both())


def _evict(entries: OrderedDict[StateKey, Entry], closed_before: dict[str, datetime],
           max_entries: int) -> int:
    doomed = [
        key
        for key, entry in entries.items()
        if not entry.dirty
        and key[0] in closed_before
        and entry.window_end <= closed_before[key[0]]
    ]
    for key in doomed:
        del entries[key]
    evicted = len(doomed)
    excess = len(entries) - max_entries
    if excess > 0:
        oldest_clean = [key for key, entry in entries.items() if not entry.dirty]
        for key in oldest_clean[:excess]:
            del entries[key]
            evicted += 1
    return evicted
