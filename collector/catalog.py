"""Model settings and references, read from the database and cached for a short while.

A model the worker has never seen gets its ``models`` and ``model_versions`` rows (with no
reference) so the API lists it at once. Settings are re-read every ``refresh_s`` seconds;
a reference, once found, is kept (window states are binned by it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from infersight.collector import engine
from infersight.collector.engine import ModelSettings
from infersight.storage.models import Model, ModelVersion
from infersight.storage.registry import ensure_model_versions
from sqlalchemy import select
from sqlalchemy.orm import Session


class ModelCatalog:
    """Per-model settings and per-version references for the worker."""

    def __init__(self, default_window_s: float, refresh_s: float = 30.0) -> None:
        self.default_window_s = default_window_s
        self.refresh_s = refresh_s
        self._settings: dict[str, tuple[float, ModelSettings]] = {}
        self._references: dict[tuple[str, str], Any] = {}
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
        row = session.execute(
            select(Model.window_seconds, Model.task, Model.positive_label, Model.threshold,
                   Model.drift_config).where(Model.name == model)
        ).first()
        if row is None:
            settings = ModelSettings(window_s=self.default_window_s)
        else:
            window_s, task, positive_label, threshold, drift_config = row
            settings = ModelSettings(
                window_s=float(window_s) if window_s else self.default_window_s,
                task=task,
                positive_label=positive_label,
                threshold=0.5 if threshold is None else float(threshold),
                drift_config=drift_config,
            )
        self._settings[model] = (now, settings)
        return settings

    def forget_missing(self, model: str, version: str) -> None:
        """Ask the database again next time (a reference was just stored)."""
        self._missing.pop((model, version), None)

    def reference(self, session: Session, model: str, version: str) -> Any | None:
        """The version's reference, or None while it has none."""
        key = (model, version)
        if key in self._references:
            return self._references[key]
        missing_since = self._missing.get(key)
        if missing_since is not None and time.monotonic() - missing_since < self.missing_ttl_s:
            return None
        data = session.execute(
            select(ModelVersion.reference).where(
                ModelVersion.model == model, ModelVersion.version == version
            )
        ).scalar_one_or_none()
        if data is None:
            self._missing[key] = time.monotonic()
            return None
        self._missing.pop(key, None)
        reference = engine.load_reference(bytes(data))
        self._references[key] = reference
        return reference
