"""Model settings and references, read from the database and cached for a short while.

A model the worker has never seen gets its ``models`` and ``model_versions`` rows (with no
reference) so the API lists it at once. Settings are re-read every ``refresh_s`` seconds.
A loaded reference is re-checked as often, cheaply: the database compares the MD5 of the
stored blob (Postgres computes it server-side; SQLite, a local file, reads the blob) with the
one loaded, and only a changed reference is loaded again. Window states already built on the
old reference stay as they are (see :mod:`infersight.collector.worker.state_cache`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from infersight.collector.worker import statistics
from infersight.collector.worker.statistics import ModelSettings
from infersight.storage.models import ModelVersion
from infersight.storage.references import md5_hex, stored_digest
from infersight.storage.registry import ensure_model_versions, get_model
from sqlalchemy import select
from sqlalchemy.orm import Session


class ModelCatalog:
    """Per-model settings and per-version references for the worker."""

    def __init__(self, default_window_s: float, refresh_s: float = 30.0) -> None:
        self.default_window_s = default_window_s
        self.refresh_s = refresh_s
        self._settings: dict[str, tuple[float, ModelSettings]] = {}
        self._references: dict[tuple[str, str], _LoadedReference] = {}
        self._known_versions: set[tuple[str, str]] = set()
        self._pending_known: list[tuple[str, str]] = []
        self._missing: dict[tuple[str, str], float] = {}
        self.missing_ttl_s = 2.0
        """How long "no reference" is believed before asking the database again."""

    def register(self, session: Session, versions: Iterable[tuple[str, str]]) -> None:
        """Create ``models``/``model_versions`` rows for versions not seen before."""
        new = sorted(set(versions) - self._known_versions)
        if not new:
            return
        ensure_model_versions(session, new)
        self._pending_known = new

    def registered(self) -> None:
        """Call after the registering transaction committed."""
        self._known_versions.update(self._pending_known)
        self._pending_known = []

    def settings(self, session: Session, model: str) -> ModelSettings:
        cached = self._settings.get(model)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.refresh_s:
            return cached[1]
        row = get_model(session, model)
        if row is None:
            settings = ModelSettings(window_s=self.default_window_s)
        else:
            settings = ModelSettings(
                window_s=float(row.window_seconds) if row.window_seconds
                else self.default_window_s,
                task=row.task,
                positive_label=row.positive_label,
                threshold=0.5 if row.threshold is None else float(row.threshold),
                drift_config=row.drift_config,
            )
        self._settings[model] = (now, settings)
        return settings

    def forget_missing(self, model: str, version: str) -> None:
        """Ask the database again next time (a reference was just stored)."""
        self._missing.pop((model, version), None)

    def reference(self, session: Session, model: str, version: str) -> Any | None:
        """The version's current reference, or None while it has none.

        Re-checked every ``refresh_s`` seconds: a replaced reference is returned from then on.
        """
        key = (model, version)
        now = time.monotonic()
        loaded = self._references.get(key)
        if loaded is not None:
            if now - loaded.checked_at < self.refresh_s:
                return loaded.reference
            if stored_digest(session, model, version) == loaded.digest:
                loaded.checked_at = now
                return loaded.reference
            del self._references[key]
        missing_since = self._missing.get(key)
        if missing_since is not None and now - missing_since < self.missing_ttl_s:
            return None
        data = session.execute(
            select(ModelVersion.reference).where(
                ModelVersion.model == model, ModelVersion.version == version
            )
        ).scalar_one_or_none()
        if data is None:
            self._missing[key] = now
            return None
        self._missing.pop(key, None)
        blob = bytes(data)
        reference = statistics.load_reference(blob)
        self._references[key] = _LoadedReference(reference, md5_hex(blob), now)
        return reference


class _LoadedReference:
    __slots__ = ("checked_at", "digest", "reference")

    def __init__(self, reference: Any, digest: str, checked_at: float) -> None:
        self.reference = reference
        self.digest = digest
        self.checked_at = checked_at
