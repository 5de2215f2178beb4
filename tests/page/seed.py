"""A database seeded the way the worker fills it: the demo model's reference, one window
state per minute (drift from ``DRIFT_AT`` on), window evaluation and alert evaluation —
the same functions the worker calls, without the bus, so the page test starts in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from infersight.alerts.config import AlertConfig
from infersight.alerts.judge import judge_window
from infersight.collector.demo import model as credit
from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.evaluation import evaluate_window
from infersight.drift import Reference
from infersight.drift.health import HealthState
from infersight.storage.db import session_factory
from infersight.storage.models import HealthState as HealthTable
from infersight.storage.registry import configure_model, ensure_model_versions, set_reference
from infersight.storage.watermarks import advance_watermarks
from infersight.storage.windows import WindowStateRecord, upsert_window_states
from sqlalchemy import Engine

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOWS = 24
DRIFT_AT = 12
ROWS = 900
OPEN_ROWS = 33
"""Rows of the last window, still open when the seed ends (below the drift rules' 500)."""


@dataclass
class Seeded:
    reference_features: dict[str, Any]
    reference_scores: Any
    reference_labels: Any
    windows: list[dict[str, Any]] = field(default_factory=list)
    """Per window: start, features, scores, labels."""


def seed(engine: Engine, model: str = credit.MODEL, version: str = credit.VERSION) -> Seeded:
    rng = np.random.default_rng(11)
    features = credit.applicants(rng, 5000, 0.0)
    scores = credit.default_score(features)
    labels = credit.outcomes(rng, features, 0.0)
    reference = Reference.from_data(features, predictions=scores, labels=labels)
    seeded = Seeded(features, scores, labels)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        configure_model(session, model, window_seconds=60, task="binary")
        ensure_model_versions(session, [(model, version)])
        set_reference(session, model, version, reference.to_bytes())
        configure_model(session, "empty-model")
    catalog = ModelCatalog(60.0)
    for i in range(WINDOWS):
        start = START + timedelta(minutes=i)
        intensity = 1.0 if i >= DRIFT_AT else 0.0
        rows = OPEN_ROWS if i == WINDOWS - 1 else ROWS
        x = credit.applicants(rng, rows, intensity)
        s = credit.default_score(x)
        y = credit.outcomes(rng, x, intensity)
        state = reference.new_window()
        latency = rng.lognormal(np.log(6 + 4 * intensity), 0.4, rows)
        state.update(x, predictions=s, latency_ms=latency)
        health = HealthState()  # latency points come from the health state
        health.update([{"latency_ms": value} for value in latency.tolist()])
        state.add_labels(y.tolist(), s.tolist())
        seeded.windows.append({"start": start, "features": x, "scores": s, "labels": y})
        with sessions.begin() as session:
            upsert_window_states(session, [WindowStateRecord(
                model, version, start, start + timedelta(minutes=1), "infersight.events/0",
                state.to_bytes(), rows)])
            upsert_window_states(session, [WindowStateRecord(
                model, version, start, start + timedelta(minutes=1), "infersight.events/0",
                health.to_bytes(), rows)], HealthTable)
            evaluate_window(session, catalog, model, version, start)
            judge_window(session, model, version, reference.performance,
                         start + timedelta(minutes=2), AlertConfig())
    with sessions.begin() as session:  # the last window (OPEN_ROWS rows) is still open
        advance_watermarks(session, {model: START + timedelta(minutes=WINDOWS - 0.5)})
    return seeded
