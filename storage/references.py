"""Decoded reference profiles, shared by the worker, the API and the alerts: one store, one
invalidation rule.

A reference (a megabyte or more for a wide model) is decoded once and kept. Every
``recheck_s`` seconds a use compares the digest of the stored blob with the one decoded —
Postgres computes the MD5 server-side, so the blob is not read again; SQLite, a local file,
reads it — and only a changed blob is decoded again. "No reference yet" is believed for
``missing_ttl_s`` before the database is asked again. :meth:`ReferenceStore.forget` makes the
next use read the database (after an upload or a first-window bootstrap in this process).

The store is thread-safe (the API's request threads share one).

>>> from infersight.drift import Reference
>>> from infersight.storage.db import make_engine, session_factory
>>> from infersight.storage.models import Base
>>> from infersight.storage.registry import set_reference
>>> engine = make_engine("sqlite://")
>>> Base.metadata.create_all(engine)
>>> store = ReferenceStore()
>>> with session_factory(engine).begin() as session:
...     _ = set_reference(session, "fraud", "3", Reference.from_data({"x": [1.0, 2.0, 3.0]}).to_bytes())
...     loaded = store.get(session, "fraud", "3")
...     again = store.get(session, "fraud", "3")
>>> loaded.source, list(loaded.reference.features), again is loaded
('upload', ['x'], True)
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from infersight.storage.models import ModelVersion
from infersight.storage.registry import REFERENCE_SOURCES, ReferenceSource
from sqlalchemy import func, select
from sqlalchemy.orm import Session

VersionKey = tuple[str, str]
"""``(model, version)``."""


@dataclass(frozen=True, slots=True)
class StoredReference:
    """A version's decoded reference (:class:`infersight.drift.Reference`) and its origin."""

    reference: Any
    source: ReferenceSource
    """``upload`` or ``first_window``."""
    digest: str
    """MD5 (hex) of the stored blob."""

    @property
    def performance(self) -> dict[str, float]:
        """The reference's own metrics (``f1``, ``mae``, …) for rules relative to it."""
        return dict(self.reference.performance)


class ReferenceStore:
    """Decoded references by (model, version), re-checked against the database."""

    def __init__(self, recheck_s: float = 5.0, missing_ttl_s: float = 2.0,
                 size: int = 64) -> None:
        self.recheck_s = recheck_s
        self.missing_ttl_s = missing_ttl_s
        self.size = size
        self._loaded: OrderedDict[VersionKey, tuple[float, StoredReference]] = OrderedDict()
        self._missing: dict[VersionKey, float] = {}
        self._lock = threading.Lock()

    def forget(self, model: str, version: str) -> None:
        """Read (model, version) from the database on its next use."""
        with self._lock:
            self._loaded.pop((model, version), None)
            self._missing.pop((model, version), None)

    def reference(self, session: Session, model: str, version: str) -> Any | None:
        """The decoded reference of (model, version), or None while it has none."""
        found = self.get(session, model, version)
        return None if found is None else found.reference

    def get(self, session: Session, model: str, version: str) -> StoredReference | None:
        """The version's :class:`StoredReference`, or None while it has none."""
        key = (model, version)
        now = time.monotonic()
        with self._lock:
            loaded = self._loaded.get(key)
            missing_since = self._missing.get(key)
        if loaded is not None:
            checked_at, stored = loaded
            if now - checked_at < self.recheck_s:
                return stored
            if stored_digest(session, model, version) == stored.digest:
                with self._lock:
                    self._loaded[key] = (now, stored)
                return stored
        elif missing_since is not None and now - missing_since < self.missing_ttl_s:
            return None
        fresh = self._load(session, model, version)
        with self._lock:
            if fresh is None:
                self._loaded.pop(key, None)
                self._missing[key] = now
            else:
                self._missing.pop(key, None)
                self._loaded[key] = (now, fresh)
                self._loaded.move_to_end(key)
                while len(self._loaded) > self.size:
                    self._loaded.popitem(last=False)
        return fresh

    @staticmethod
    def _load(session: Session, model: str, version: str) -> StoredReference | None:
        from infersight.drift import Reference

        row = session.execute(
            select(ModelVersion.reference, ModelVersion.reference_source).where(
                ModelVersion.model == model, ModelVersion.version == version
            )
        ).first()
        if row is None or row[0] is None:
            return None
        blob = bytes(row[0])
        source: ReferenceSource = row[1] if row[1] in REFERENCE_SOURCES else "upload"
        return StoredReference(Reference.from_bytes(blob), source, md5_hex(blob))


def md5_hex(blob: bytes) -> str:
    """The digest the store compares (MD5, not for security).

    >>> md5_hex(b"")
    'd41d8cd98f00b204e9800998ecf8427e'
    """
    return hashlib.md5(blob, usedforsecurity=False).hexdigest()


def stored_digest(session: Session, model: str, version: str) -> str | None:
    """MD5 (hex) of the stored reference blob of (model, version), or None without one."""
    where = (ModelVersion.model == model, ModelVersion.version == version)
    if session.get_bind().dialect.name == "postgresql":
        digest = session.execute(
            select(func.md5(ModelVersion.reference)).where(*where)
        ).scalar_one_or_none()
        return None if digest is None else str(digest)
    data = session.execute(select(ModelVersion.reference).where(*where)).scalar_one_or_none()
    return None if data is None else md5_hex(bytes(data))
