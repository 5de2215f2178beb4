"""Train/serve skew exactly once: worker processes SIGKILLed mid-stream, against the real
Tansu broker and the real Postgres, while half the offline rows are uploaded before the
stream and half in the middle of it (joined when their prediction is indexed, or by the
fenced housekeeping chore). The skew points must equal a pandas merge on the id: every
pair counted once, none lost."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pytest
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage import skew_rows
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.registry import configure_model
from infersight.storage.types import utc_now

from tests.collector.conftest import install_references
from tests.collector.harness import (
    WorkerProcess,
    create_topics,
    evaluated_after_updates,
    last_lines,
    metric_snapshot,
    produce,
    progress,
    wait_for_log,
    wait_until_done,
    worker_env,
)
from tests.collector.streams import make_stream
from tests.collector.test_skew_e2e import CATEGORICAL, NUMERIC, expected_by_window, ready_rows
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MODEL = "fraud"
STREAM = make_stream(seed=13, models=(MODEL,), windows=3, events_per_window=400, batch_size=5)


def served_frame() -> pd.DataFrame:
    rows = [{"prediction_id": e["prediction_id"], "ts": datetime.fromisoformat(e["ts"]),
             **{name: e["features"].get(name) for name in (*NUMERIC, *CATEGORICAL)}}
            for _p, _k, value in STREAM.events for e in msgspec.json.decode(value)["events"]]
    return pd.DataFrame(rows)


def offline_frame(served: pd.DataFrame) -> pd.DataFrame:
    offline = served.drop(columns=["ts"]).copy()
    index = pd.Series(range(len(offline)), index=offline.index)
    offline.loc[index % 17 == 0, "amount"] += 1.0
    offline.loc[index % 23 == 0, "country"] = "??"
    return offline


def upload(url: str, offline: pd.DataFrame) -> None:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            configure_model(session, MODEL, skew_enabled=True)
            rows = {r.pop("prediction_id"): r for r in offline.to_dict(orient="records")}
            skew_rows.store_offline(session, MODEL, "1", rows, utc_now() + timedelta(days=7))
    finally:
        engine.dispose()


def run_until(url: str, group: str, produced: dict[tuple[str, int], int], share: float) -> None:
    deadline = time.monotonic() + 60
    while progress(url, group, produced) < share:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no progress to {share:.0%}")
        time.sleep(0.05)


@pytest.fixture
def database() -> Iterator[str]:
    with temporary_database("infersight_skew_once") as url:
        upgrade(url)
        install_references(url, (MODEL,))
        yield url


def test_sigkilled_workers_count_every_pair_once(module_broker: TansuBroker, database: str,
                                                 tmp_path: Path) -> None:
    create_topics(module_broker.bootstrap, {EVENTS_TOPIC: 4, LABELS_TOPIC: 1})
    counts = produce(module_broker.bootstrap, EVENTS_TOPIC, STREAM.events)
    produced = {(EVENTS_TOPIC, p): n for p, n in counts.items()}
    served = served_frame()
    offline = offline_frame(served)
    upload(database, offline.iloc[::2])
    env = worker_env(database, module_broker.bootstrap, "skew-killed",
                     INFERSIGHT_WORKER_HOUSEKEEPING_INTERVAL="0.3s",
                     INFERSIGHT_WORKER_MAX_RECORDS="1")  # a transaction per message
    rng = random.Random(7)
    log = tmp_path / "worker.log"
    at_kill = []
    for started, share in enumerate(sorted(rng.uniform(lo, lo + 0.15) for lo in (0.1, 0.35, 0.6)),
                                    1):
        worker = WorkerProcess(env, log)
        try:
            wait_for_log(log, "sought to stored offsets", timeout=60, times=started)
            run_until(database, "skew-killed", produced, share)
            time.sleep(rng.uniform(0.0, 0.3))  # land anywhere in the batch cycle
        finally:
            worker.kill()
        at_kill.append(progress(database, "skew-killed", produced))
        if started == 1:
            upload(database, offline.iloc[1::2])  # mid-stream: some served already
    assert all(share < 1.0 for share in at_kill), at_kill
    worker = WorkerProcess(env, log)
    try:
        wait_until_done(database, "skew-killed", produced)
        deadline = time.monotonic() + 90
        while not (ready_rows(database) == 0 and evaluated_after_updates(database)):
            assert time.monotonic() < deadline, last_lines(log)
            time.sleep(0.1)
    finally:
        assert worker.stop() == 0, last_lines(log)
    want = expected_by_window(served, offline)
    got: dict[Any, float | None] = {
        (start, feature, metric): value for (model, _v, start, feature, metric), (value, _n)
        in metric_snapshot(database).items() if model == MODEL and metric.startswith("skew_")}
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
    matched = sum(v or 0 for (_w, f, m), v in got.items() if f == "amount" and m == "skew_matched")
    assert matched == len(served) == STREAM.prediction_count
