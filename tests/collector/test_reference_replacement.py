"""A reference uploaded again for a version a worker is already using reaches that worker
without a restart: windows not yet stored start on the new reference, rows built on the old
one stay as stored (events for them are counted, not added), and evaluation merges only the
rows of the current reference. A restarted worker behaves the same."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.local_consumer import LocalConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.drift import Reference
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, encode_batch
from infersight.storage.db import make_engine
from infersight.storage.models import DeadLetter, MetricPoint, WindowState
from infersight.storage.registry import set_reference
from infersight.storage.windows import WindowStateRecord, upsert_window_states
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.collector.conftest import reference_bytes
from tests.collector.streams import BASE_TS, features

W0, W1 = BASE_TS, BASE_TS + timedelta(seconds=60)


def events(first: int, n: int, window_offset_s: float) -> bytes:
    rng = random.Random(first)
    return encode_batch([
        {"type": "prediction", "model": "fraud", "version": "1", "prediction_id": f"p{i}",
         "ts": (BASE_TS + timedelta(seconds=window_offset_s + (i - first) * 0.1)).isoformat(),
         "features": features(rng), "prediction": rng.random()}
        for i in range(first, first + n)
    ])


def run_until(worker: Worker, done: Callable[[], bool], steps: int = 60) -> None:
    for _ in range(steps):
        worker.step()
        if done():
            return
    raise AssertionError("the worker did not get there")


def count(engine: Engine, window_start: object) -> float | None:
    with engine.connect() as conn:
        return conn.execute(select(MetricPoint.value).where(
            MetricPoint.model == "fraud", MetricPoint.window_start == window_start,
            MetricPoint.metric == "count", MetricPoint.feature == "")).scalar_one_or_none()


def stored_rows(engine: Engine) -> dict[object, tuple[bytes, int]]:
    """``window_start → (state fingerprint, event_count)`` of partition 0's rows."""
    with engine.connect() as conn:
        rows = conn.execute(select(WindowState.window_start, WindowState.state,
                                   WindowState.event_count)
                            .where(WindowState.partition_key == f"{EVENTS_TOPIC}/0"))
        return {start: (_fingerprint(state), n) for start, state, n in rows}


def _fingerprint(state: bytes) -> bytes:
    from infersight.drift.window import WindowState as DriftWindow

    return DriftWindow.from_bytes(bytes(state)).fingerprint


def sample(worker: Worker, name: str) -> float:
    return worker.metrics.registry.get_sample_value(name) or 0.0


def make_worker(bus: LocalBus, engine: Engine) -> Worker:
    config = WorkerConfig(window_s=60, eval_interval_s=0.0, group="replace", poll_timeout_s=0.01,
                          lateness_fraction=100.0)  # no window closes: all stay evaluable
    worker = Worker(LocalConsumerBus(bus, [EVENTS_TOPIC, LABELS_TOPIC]), engine, config)
    worker.catalog.refresh_s = 0.0  # re-read the settings at every use
    worker.catalog.references.recheck_s = 0.0  # re-check the stored reference at every use
    return worker


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_replaced_reference_reaches_the_running_worker_for_new_windows_only(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("migrated_sqlite" if backend == "sqlite" else "migrated_postgres")
    old = Reference.from_bytes(reference_bytes(7))
    new_blob = reference_bytes(99)
    new = Reference.from_bytes(new_blob)
    assert old.fingerprint != new.fingerprint  # other quantile edges: another layout
    engine = make_engine(url)
    bus = LocalBus()
    worker = make_worker(bus, engine)
    try:
        bus.publish(EVENTS_TOPIC, b"fraud", events(0, 40, 0.0))
        run_until(worker, lambda: count(engine, W0) == 40)
        assert stored_rows(engine) == {W0: (old.fingerprint, 40)}

        with Session(engine) as session, session.begin():
            set_reference(session, "fraud", "1", new_blob, "upload")
        bus.publish(EVENTS_TOPIC, b"fraud", events(100, 30, 30.0))  # late in W0: old row
        bus.publish(EVENTS_TOPIC, b"fraud", events(200, 25, 60.0))  # W1: not stored yet
        run_until(worker, lambda: count(engine, W1) == 25)
        assert stored_rows(engine) == {W0: (old.fingerprint, 40), W1: (new.fingerprint, 25)}
        assert count(engine, W0) == 40  # the old window keeps its points
        assert sample(worker, "infersight_stale_reference_events_total") == 30

        # Another partition's row of W1 built on the old reference is left out of W1.
        with Session(engine) as session, session.begin():
            stray = old.new_window()
            stray.update([{"amount": 1.0, "age": 30.0, "score_a": 0.5, "country": "DE",
                           "note": "x"}] * 7)
            upsert_window_states(session, [WindowStateRecord(
                "fraud", "1", W1, W1 + timedelta(seconds=60), f"{EVENTS_TOPIC}/9",
                stray.to_bytes(), 7)])
        assert worker.evaluations.evaluate([("fraud", "1", W1)]) == 1
        assert count(engine, W1) == 25
        assert sample(worker, "infersight_stale_reference_states_total") >= 1
    finally:
        worker.close()

    # A restarted worker (nothing in memory) treats the old row the same way.
    restarted = make_worker(bus, engine)
    try:
        bus.publish(EVENTS_TOPIC, b"fraud", events(300, 10, 45.0))  # W0 again
        bus.publish(EVENTS_TOPIC, b"fraud", events(400, 5, 70.0))  # W1 again
        run_until(restarted, lambda: count(engine, W1) == 30)
        assert stored_rows(engine) == {W0: (old.fingerprint, 40), W1: (new.fingerprint, 30)}
        assert sample(restarted, "infersight_stale_reference_events_total") == 10
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(DeadLetter)).scalar() == 0
    finally:
        restarted.close()
        engine.dispose()
