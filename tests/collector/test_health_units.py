"""The worker's catalog caches price histories like settings and sees a new revision after
its refresh; the health cache shares the window-state cache's life cycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.state_cache import StateCache
from infersight.storage.db import make_engine, session_factory
from infersight.storage.prices import add_price_revision

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_price_revisions_are_seen_after_the_refresh(migrated_sqlite: str) -> None:
    engine = make_engine(migrated_sqlite)
    sessions = session_factory(engine)
    try:
        cached, fresh = ModelCatalog(60.0, refresh_s=3600.0), ModelCatalog(60.0, refresh_s=0.0)
        with sessions() as session:
            assert not cached.prices(session, "llm") and not fresh.prices(session, "llm")
        with sessions.begin() as session:
            add_price_revision(session, "llm", START, {"currency": "EUR", "per_request": 0.5})
        with sessions() as session:
            assert not cached.prices(session, "llm"), "cached until the refresh"
            price = fresh.prices(session, "llm").at((START + timedelta(seconds=1)).timestamp())
        assert price is not None and (price.currency, price.per_request) == ("EUR", 0.5)
    finally:
        engine.dispose()


def test_health_entries_are_dropped_with_the_dirty_window_states(migrated_sqlite: str) -> None:
    engine = make_engine(migrated_sqlite)
    try:
        cache = StateCache(max_entries=10)
        key = ("llm", "1", START, "infersight.events/0")
        with session_factory(engine)() as session:
            entry = cache.health_many(session, {key: START + timedelta(minutes=1)})[key]
        entry.state.update([{"latency_ms": 5.0}])
        entry.dirty = True
        assert cache.dirty_health() == [(key, entry)]
        cache.invalidate_dirty()  # a failed transaction: reloaded from the database next time
        assert cache.dirty_health() == [] and len(cache) == 0
    finally:
        engine.dispose()
