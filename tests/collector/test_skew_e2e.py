"""Train/serve skew by key end to end: offline feature values uploaded through the real API
(a Parquet file before the predictions are served, a CSV file through ``infersight skew
upload`` after), predictions logged with the real SDK onto the real broker (two partitions)
and joined by the real worker into Postgres. Each window's ``skew_rate``,
``skew_mean_abs_diff`` and ``skew_matched`` per feature equal a pandas merge on the id; the
worst pairs are listed by the API; offline rows of another version, duplicates and rows never
served do not count; offline rows past ``INFERSIGHT_SKEW_TTL`` expire before their
predictions come and are not compared, nor are those of a model with skew turned off."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.kafka_bus import KafkaConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.drift.skew import ATOL, RTOL
from infersight.sdk.wire import DEADLETTER_TOPIC, EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.models import OfflineRow
from infersight.storage.registry import set_reference
from sqlalchemy import func, select
from typer.testing import CliRunner

import infersight
from infersight.cli import app as cli
from infersight.reference_file import upload_skew_file
from tests.api.conftest import serve
from tests.collector.conftest import reference_bytes
from tests.collector.harness import (
    create_topics,
    evaluated_after_updates,
    metric_snapshot,
    wait_until_done,
)
from tests.collector.inprocess import events_end_offsets, start
from tests.collector.streams import BASE_TS, features
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MODEL, SERVED, WINDOW_S = "pricing", 600, 60
NUMERIC, CATEGORICAL = ("amount", "age", "score_a"), ("country", "note")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def served_frame(seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = [{"prediction_id": f"p{i}", "ts": BASE_TS + timedelta(seconds=0.5 * i), **features(rng)}
            for i in range(SERVED)]
    return pd.DataFrame(rows)


def offline_of(served: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The offline pipeline's values: mostly equal, some within the tolerances, some not."""
    rng = np.random.default_rng(seed)
    offline = served.drop(columns=["ts"]).copy()
    n = len(offline)
    roll = rng.random(n)
    offline.loc[roll < 0.05, "amount"] += 1.0  # a different value
    close = (roll >= 0.05) & (roll < 0.15)
    offline.loc[close, "amount"] *= 1 + 1e-8  # float32/re-serialisation noise: equal
    offline["age"] = offline["age"].astype(object)
    offline.loc[rng.random(n) < 0.03, "age"] = None  # missing offline only
    swap = rng.random(n) < 0.04
    offline.loc[swap, "country"] = offline.loc[swap, "country"].map(
        {"DE": "FR", "FR": "US", "US": "IN", "IN": "DE"})
    return offline


def expected_by_window(served: pd.DataFrame, offline: pd.DataFrame
                       ) -> dict[tuple[datetime, str, str], float]:
    """The pandas merge on the id, per (window start, feature, metric)."""
    merged = served.merge(offline, on="prediction_id", suffixes=("_s", "_o"))
    merged["window"] = [BASE_TS + timedelta(seconds=WINDOW_S * int(
        (ts - BASE_TS).total_seconds() // WINDOW_S)) for ts in merged["ts"]]
    out: dict[tuple[datetime, str, str], float] = {}
    for window, group in merged.groupby("window"):
        for name in NUMERIC:
            a = pd.to_numeric(group[f"{name}_s"], errors="coerce").astype(float)
            b = pd.to_numeric(group[f"{name}_o"], errors="coerce").astype(float)
            both = a.notna() & b.notna()
            close = (a - b).abs() <= ATOL + RTOL * b.abs()
            differs = np.where(both, ~close, a.isna() != b.isna())
            out[(window, name, "skew_matched")] = float(len(group))
            out[(window, name, "skew_rate")] = float(differs.mean())
            out[(window, name, "skew_mean_abs_diff")] = float((a - b).abs()[both].mean())
        for name in CATEGORICAL:
            s, o = group[f"{name}_s"], group[f"{name}_o"]
            same = (s == o) | (s.isna() & o.isna())
            out[(window, name, "skew_matched")] = float(len(group))
            out[(window, name, "skew_rate")] = float((~same).mean())
    return out


def skew_points(url: str) -> dict[tuple[datetime, str, str], float | None]:
    return {(start, feature, metric): value for (model, _v, start, feature, metric), (value, _n)
            in metric_snapshot(url).items() if model == MODEL and metric.startswith("skew_")}


def ready_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(OfflineRow).where(
                OfflineRow.offline.is_not(None), OfflineRow.served.is_not(None),
                OfflineRow.compared.is_(False))).scalar_one())
    finally:
        engine.dispose()


def offline_rows(url: str, model: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(OfflineRow).where(
                OfflineRow.model == model)).scalar_one())
    finally:
        engine.dispose()


def log_served(bootstrap: str, served: pd.DataFrame, model: str = MODEL) -> None:
    infersight.init(transport=f"kafka://{bootstrap}", batch_size=100, flush_interval=0.05)
    try:
        for row in served.to_dict(orient="records"):
            infersight.log_prediction(
                model, "1", features={k: row[k] for k in (*NUMERIC, *CATEGORICAL)},
                prediction=0.5, prediction_id=row["prediction_id"], ts=row["ts"])
        assert infersight.flush(timeout=60)
    finally:
        infersight.shutdown(timeout=10)


def worker(bootstrap: str, url: str, group: str) -> Any:
    bus = KafkaConsumerBus(bootstrap, group, [EVENTS_TOPIC, LABELS_TOPIC],
                           session_timeout_ms=6000, heartbeat_interval_ms=1000)
    config = WorkerConfig(window_s=WINDOW_S, eval_interval_s=0.5, group=group,
                          poll_timeout_s=0.2, housekeeping_interval_s=0.3)
    return start(Worker(bus, make_engine(url), config))


@pytest.fixture
def database() -> Iterator[str]:
    with temporary_database("infersight_skew") as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            for model in (MODEL, "expiring", "off"):
                set_reference(session, model, "1", reference_bytes(), "upload")
        engine.dispose()
        yield url


@pytest.fixture
def run(database: str, fresh_kafka_broker: TansuBroker, tmp_path: Path
        ) -> Iterator[dict[str, Any]]:
    url, bootstrap = database, fresh_kafka_broker.bootstrap
    create_topics(bootstrap, {EVENTS_TOPIC: 2, LABELS_TOPIC: 1, DEADLETTER_TOPIC: 1})
    served = served_frame(3)
    offline = offline_of(served, 4)
    before, after = offline.iloc[:300], offline.iloc[300:550]  # p550… are never uploaded
    ghosts = offline.iloc[:10].assign(prediction_id=[f"g{i}" for i in range(10)])
    with serve(url) as api:
        first = tmp_path / "before.parquet"
        pd.concat([before, ghosts]).to_parquet(first)
        answer = upload_skew_file(MODEL, "1", first, id_column="prediction_id",
                                  api_url=api.url, api_key=api.key("admin"))
        assert (answer["rows"], answer["stored"]) == (310, 310)
        again = tmp_path / "again.parquet"  # re-uploaded with other values: the first kept
        before.iloc[:20].assign(amount=-1.0).to_parquet(again)
        answer = upload_skew_file(MODEL, "1", again, id_column="prediction_id",
                                  api_url=api.url, api_key=api.key("admin"))
        assert (answer["stored"], answer["duplicates"]) == (0, 20)
        other = tmp_path / "v2.parquet"  # the same ids for another version: never matched
        before.iloc[:50].assign(amount=-5.0).to_parquet(other)
        upload_skew_file(MODEL, "2", other, id_column="prediction_id", api_url=api.url,
                         api_key=api.key("admin"))
        log_served(bootstrap, served)
        running = worker(bootstrap, url, "skew")
        try:
            wait_until_done(url, "skew", events_end_offsets(bootstrap))
            csv = tmp_path / "after.csv"
            after.to_csv(csv, index=False)
            result = CliRunner().invoke(cli, ["skew", "upload", MODEL, "1", str(csv),
                                              "--id-column", "prediction_id"],
                                        env={"INFERSIGHT_API_URL": api.url,
                                             "INFERSIGHT_API_KEY": api.key("admin")})
            assert result.exit_code == 0, result.output
            assert "250 rows, 250 stored" in result.output
            wait_for(lambda: ready_rows(url) == 0 and evaluated_after_updates(url),
                     "the uploaded-after rows were not joined")
        finally:
            running.stop()
        view = api.get(f"/v1/models/{MODEL}/skew", params={
            "version": "1", "window": BASE_TS.isoformat(), "limit": 5}).json()
        waiting = api.get(f"/v1/models/{MODEL}/skew", params={"version": "1"}).json()["waiting"]
    yield {"url": url, "served": served, "offline": pd.concat([before, after]), "view": view,
           "waiting": waiting}


def test_skew_per_window_equals_a_pandas_merge_on_the_id_in_either_order(
        run: dict[str, Any]) -> None:
    want = expected_by_window(run["served"], run["offline"])
    got = skew_points(run["url"])
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
    assert sum(v for (_w, f, m), v in got.items() if f == "amount" and m == "skew_matched") == 550
    assert any(v for (_w, _f, m), v in got.items() if m == "skew_rate")  # some pairs differ


def test_the_api_lists_the_worst_pairs_of_a_window(run: dict[str, Any]) -> None:
    view = run["view"]
    assert len(view["examples"]) == 5
    window = run["served"].iloc[:120].merge(run["offline"], on="prediction_id",
                                            suffixes=("_s", "_o"))
    mismatched = {(pid, "country") for pid, s, o in zip(
        window["prediction_id"], window["country_s"], window["country_o"], strict=True)
        if s != o}
    mismatched |= {(pid, "age") for pid, o in zip(window["prediction_id"], window["age_o"],
                                                   strict=True) if o is None}
    listed = {(e["prediction_id"], e["feature"]) for e in view["examples"]}
    assert listed <= mismatched  # a mismatch (no difference) comes before any number
    assert all(e["difference"] is None for e in view["examples"])
    assert run["waiting"] == {"offline": 10, "served": 50}  # the ghosts; p550… not uploaded


def test_offline_rows_past_the_ttl_expire_and_a_model_with_skew_off_is_not_compared(
        database: str, fresh_kafka_broker: TansuBroker) -> None:
    url, bootstrap = database, fresh_kafka_broker.bootstrap
    create_topics(bootstrap, {EVENTS_TOPIC: 1, LABELS_TOPIC: 1, DEADLETTER_TOPIC: 1})
    served = served_frame(5).iloc[:40]
    with serve(url, skew_ttl=1.0) as api:
        body = {"prediction_ids": list(served["prediction_id"]),
                "features": {"amount": [v + 1.0 for v in served["amount"]]}}
        assert api.post("/v1/models/expiring/versions/1/skew-rows", json=body).status_code == 201
    with serve(url) as api:  # the default TTL
        assert api.post("/v1/models/off/versions/1/skew-rows", json=body).status_code == 201
        assert api.put("/v1/models/off", json={"skew": False}).json()["skew"] is False
    running = worker(bootstrap, url, "skew-ttl")
    try:
        wait_for(lambda: offline_rows(url, "expiring") == 0, "the offline rows did not expire")
        log_served(bootstrap, served, model="expiring")
        log_served(bootstrap, served, model="off")
        wait_until_done(url, "skew-ttl", events_end_offsets(bootstrap))
    finally:
        running.stop()
    points = metric_snapshot(url)
    for model in ("expiring", "off"):
        assert sum(v or 0 for (m, _v, _s, f, k), (v, _n) in points.items()
                   if m == model and f == "" and k == "count") == 40
        assert not [k for k in points if k[0] == model and k[4].startswith("skew_")]
    assert offline_rows(url, "off") == 40  # still there: not compared, not expired
