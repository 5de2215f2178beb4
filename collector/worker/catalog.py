"""Model settings and references, read from the database and cached for a short while.

A model the worker has never seen gets its ``models`` and ``model_versions`` rows (with no
reference) so the API lists it at once. Settings and price histories are re-read every
``refresh_s`` seconds (a price ``PUT`` is seen within that time).
References come from :class:`infersight.storage.references.ReferenceStore` (the one store
of decoded references), re-checked as often: only a changed blob (by its MD5) is decoded
again. Window states already built on the old reference stay as they are (see
:mod:`infersight.collector.worker.state_cache`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from infersight.collector.worker import statistics
from infersight.collector.worker.statistics import ModelSettings
from infersight.storage.prices import price_history
from infersight.storage.references import ReferenceStore
from infersight.storage.registry import ensure_model_versions, get_model
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from infersight.drift import Reference
    from infersight.drift.pricing import PriceHistory

REFERENCES_KEPT = 4096
"""Decoded references a worker keeps (least recently used beyond that are decoded again)."""


class ModelCatalog:
    """Per-model settings and per-version references for the worker."""

    def __init__(self, default_window_s: float, refresh_s: float = 30.0) -> None:
        self.default_window_s = default_window_s
        self.refresh_s = refresh_s
        self._settings: dict[str, tuple[float, ModelSettings]] = {}
        self._prices: dict[str, tuple[float, PriceHistory]] = {}
        self._known_versions: set[tuple[str, str]] = set()
        self._pending_known: list[tuple[str, str]] = []
        self.references = ReferenceStore(recheck_s=refresh_s, missing_ttl_s=2.0,
                                         size=REFERENCES_KEPT)
        """Decoded references by version ("no reference" believed for 2 s)."""

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
                skew=bool(row.skew_enabled),
            )
        self._settings[model] = (now, settings)
        return settings

    def prices(self, session: Session, model: str) -> PriceHistory:
        """The model's price revisions (empty when it has no price)."""
        cached = self._prices.get(model)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.refresh_s:
            return cached[1]
        history = statistics.price_history(price_history(session, model))
        self._prices[model] = (now, history)
        return history

    def forget(self, model: str, version: str) -> None:
        """Ask the database again next time (a reference was just stored)."""
        self.references.forget(model, version)

    def reference(self, session: Session, model: str, version: str) -> Reference | None:
        """The version's current reference, or None while it has none.

        Re-checked every ``references.recheck_s`` seconds (``refresh_s``): a replaced reference
        is returned from then on.
        """
        return self.references.reference(session, model, version)
