"""Model price revisions and the windows whose cost was recomputed at one of them.

A model's prices form a history: each revision (``model_prices``) is in force from its
``effective_from`` until the next one. Nothing here rewrites the past: a window's cost is
what its calls accrued at the price in force at their time, unless a ``cost_recomputations``
row says to price the window from its sums at one revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from infersight.storage.models import CostRecomputation, HealthState, ModelPrice
from infersight.storage.types import utc_now
from infersight.storage.upsert import upsert
from sqlalchemy import select
from sqlalchemy.orm import Session

PriceRevision = tuple[datetime, dict[str, Any]]
"""``(effective_from, pricing)``."""


def price_history(session: Session, model: str) -> list[PriceRevision]:
    """Every revision of ``model``'s pricing, oldest first (empty: the model has no price)."""
    return price_histories(session, [model])[model]


def price_histories(session: Session, models: Sequence[str]) -> dict[str, list[PriceRevision]]:
    """:func:`price_history` of each of ``models`` in one query."""
    found: dict[str, list[PriceRevision]] = {model: [] for model in models}
    rows = session.execute(
        select(ModelPrice.model, ModelPrice.effective_from, ModelPrice.pricing)
        .where(ModelPrice.model.in_(list(models)))
        .order_by(ModelPrice.model, ModelPrice.effective_from)
    )
    for model, start, pricing in rows:
        found[model].append((start, dict(pricing)))
    return found


def add_price_revision(
    session: Session, model: str, effective_from: datetime, pricing: dict[str, Any]
) -> None:
    """Store a revision (one at the same ``effective_from`` is replaced)."""
    row = {"model": model, "effective_from": effective_from, "pricing": pricing,
           "created_at": utc_now()}
    upsert(session, ModelPrice, [row], conflict=("model", "effective_from"),
           update=("pricing", "created_at"))


def price_in_force(history: Sequence[PriceRevision], at: datetime) -> PriceRevision | None:
    """The revision of ``history`` (oldest first) in force at ``at``, or None."""
    found = None
    for revision in history:
        if revision[0] > at:
            break
        found = revision
    return found


def health_windows(
    session: Session, model: str, start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    """``(version, window_start)`` of ``model``'s windows with health states in
    ``[start, end)``, in order."""
    rows = session.execute(
        select(HealthState.version, HealthState.window_start)
        .where(HealthState.model == model, HealthState.window_start >= start,
               HealthState.window_start < end)
        .distinct().order_by(HealthState.window_start, HealthState.version)
    )
    return [(version, window_start) for version, window_start in rows]


def record_recomputations(
    session: Session, model: str, windows: Sequence[tuple[str, datetime, datetime]]
) -> None:
    """Price each ``(version, window_start, revision effective_from)`` window from its sums
    at that revision from now on."""
    now = utc_now()
    rows = [{"model": model, "version": version, "window_start": window_start,
             "price_effective_from": revision, "created_at": now}
            for version, window_start, revision in windows]
    upsert(session, CostRecomputation, rows, conflict=("model", "version", "window_start"),
           update=("price_effective_from", "created_at"))


def recomputed_price(
    session: Session, model: str, version: str, window_start: datetime
) -> dict[str, Any] | None:
    """The pricing a recomputed window is priced at, or None (it keeps its accrued cost)."""
    pricing = session.scalar(
        select(ModelPrice.pricing)
        .join(CostRecomputation, (CostRecomputation.model == ModelPrice.model)
              & (CostRecomputation.price_effective_from == ModelPrice.effective_from))
        .where(CostRecomputation.model == model, CostRecomputation.version == version,
               CostRecomputation.window_start == window_start)
    )
    return None if pricing is None else dict(pricing)
