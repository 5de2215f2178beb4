"""Everything a request handler needs, built once by the app factory (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from infersight.alerts.config import AlertConfig
from infersight.collector.api.config import ApiConfig
from infersight.collector.api.metrics import ApiMetrics
from infersight.collector.api.publisher import Publisher
from infersight.collector.api.rollups import RollupStateCache
from infersight.storage.references import ReferenceStore
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


@dataclass
class ApiContext:
    """The API's configuration, database, bus and metrics."""

    config: ApiConfig
    engine: Engine
    sessions: sessionmaker[Session]
    """Sessions for reads (and for writes on Postgres)."""
    write_sessions: sessionmaker[Session]
    """Sessions for transactions that read then write: on SQLite they take the write lock
    when they begin (``BEGIN IMMEDIATE``), so they wait for the worker instead of failing."""
    publisher: Publisher
    metrics: ApiMetrics
    alert_config: Callable[[], AlertConfig]
    """The current alert configuration (the rules file is reloaded when it changes)."""
    references: ReferenceStore = field(default_factory=ReferenceStore)
    """Decoded references (:mod:`infersight.storage.references`), forgotten after an upload."""
    states: RollupStateCache = field(default_factory=RollupStateCache)
    """Decoded rollup states of the drift ranking."""
