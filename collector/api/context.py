"""Everything a request handler needs, built once by the app factory (no globals)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infersight.alerts.config import AlertConfig
from infersight.collector.api.metrics import ApiMetrics
from infersight.collector.api.publisher import Publisher
from infersight.collector.api.rollups import StateCache
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from infersight.settings import Settings


class ReferenceCache:
    """Decoded references by (model, version, digest of the stored blob).

    A reference (a megabyte or more for a wide model) is re-read and its digest checked at
    most every ``recheck_s`` seconds; a re-uploaded reference has another digest, so it is
    in use after at most that long (or at once after :meth:`forget`).
    """

    def __init__(self, size: int = 32, recheck_s: float = 5.0) -> None:
        self._size = size
        self._recheck_s = recheck_s
        self._items: OrderedDict[tuple[str, str, bytes], Any] = OrderedDict()
        self._checked: dict[tuple[str, str], tuple[float, Any, str]] = {}
        self._lock = threading.Lock()

    def forget(self, model: str, version: str) -> None:
        """Re-read (model, version)'s reference on the next :meth:`get`."""
        with self._lock:
            self._checked.pop((model, version), None)

    def get(self, session: Session, model: str, version: str) -> tuple[Any, str] | None:
        """``(Reference, source)`` of (model, version), or None without a reference."""
        with self._lock:
            recent = self._checked.get((model, version))
        if recent is not None and time.monotonic() - recent[0] < self._recheck_s:
            return recent[1], recent[2]
        found = self._load(session, model, version)
        with self._lock:
            if found is None:
                self._checked.pop((model, version), None)
            else:
                self._checked[(model, version)] = (time.monotonic(), *found)
        return found

    def _load(self, session: Session, model: str, version: str) -> tuple[Any, str] | None:
        from infersight.drift import Reference
        from infersight.storage.registry import get_reference

        stored = get_reference(session, model, version)
        if stored is None:
            return None
        data, source = stored
        key = (model, version, hashlib.blake2b(data, digest_size=16).digest())
        with self._lock:
            reference = self._items.get(key)
            if reference is not None:
                self._items.move_to_end(key)
                return reference, source
        reference = Reference.from_bytes(data)
        with self._lock:
            self._items[key] = reference
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return reference, source


@dataclass
class ApiContext:
    """The API's settings, database, bus and metrics."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    """Sessions for reads (and for writes on Postgres)."""
    write_sessions: sessionmaker[Session]
    """Sessions for transactions that read then write: on SQLite they take the write lock
    when they begin (``BEGIN IMMEDIATE``), so they wait for the worker instead of failing."""
    publisher: Publisher
    metrics: ApiMetrics
    references: ReferenceCache = field(default_factory=ReferenceCache)
    states: StateCache = field(default_factory=StateCache)
    """Decoded rollup states of the drift ranking."""
    alert_config: Callable[[], AlertConfig] = AlertConfig
    """The alert configuration in force (default: the built-in rules, no channels)."""
