"""Data-quality rates exactly once: a stream with deliberate quality problems (nulls, text in
numeric features, non-finite numbers, values outside the reference's range, unseen
categories, a feature absent from a whole window, a feature null in every row of a window,
unexpected feature names) produced to the real Tansu broker over four partitions, consumed by
worker processes SIGKILLed repeatedly mid-stream into the real Postgres.

Every persisted quality point (``count``, ``missing_rate``, ``invalid_rate``,
``out_of_range_rate``, ``new_category_rate``, ``feature_missing``, ``schema_change``,
``unexpected_feature``, ``unexpected_features``) must equal the rate computed with pandas on
the events of its window as they went onto the wire, from the definitions of
docs/statistics.md (not with the project's code): no event lost, none counted twice.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pytest
from infersight.drift import Reference
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, encode_batch
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.registry import set_reference

from tests.collector.harness import (
    WorkerProcess,
    create_topics,
    last_lines,
    metric_snapshot,
    produce,
    progress,
    wait_for_log,
    wait_until_done,
    worker_env,
)
from tests.collector.streams import BASE_TS
from tests.collector.test_skew_exactly_once import run_until
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MODEL, GROUP = "quality", "quality-killed"
NUMERIC = ("amount", "age", "score_a")
CATEGORICAL = ("country", "device")
COUNTRIES = ("DE", "FR", "US", "IN")
DEVICES = ("ios", "android", "web")
WINDOWS, PER_WINDOW, BATCH, PARTITIONS = 3, 300, 5, 4
ABSENT_WINDOW = 1
"""``score_a`` is absent from every event of this window (a column dropped upstream)."""
NULL_WINDOW = 2
"""``device`` is null in every event of this window (and ``Amount`` appears: a rename)."""
QUALITY = frozenset({"count", "missing_rate", "invalid_rate", "out_of_range_rate",
                     "new_category_rate", "feature_missing", "schema_change",
                     "unexpected_feature", "unexpected_features"})
Key = tuple[datetime, str, str]


def reference_frame(seed: int = 3, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": rng.lognormal(3.0, 0.6, n),
        "age": rng.normal(40.0, 8.0, n),
        "score_a": rng.random(n),
        "country": rng.choice(COUNTRIES, n),
        "device": [None if rng.random() < 0.05 else str(d) for d in rng.choice(DEVICES, n)],
    })


REFERENCE = reference_frame()


def _numeric(rng: random.Random, name: str, typical: float) -> Any:
    """A value of a numeric feature, now and then one of the quality problems."""
    lo, hi = float(REFERENCE[name].min()), float(REFERENCE[name].max())
    r = rng.random()
    if r < 0.04:
        return None
    if r < 0.06:
        return rng.choice(["n/a", "abc", "", "12,5 EUR"])  # text: not a number
    if r < 0.08:
        return rng.choice(["inf", "-Infinity", "1e999"])  # non-finite numbers (as text)
    if r < 0.10:
        return rng.choice([math.nan, math.inf, -math.inf])  # the SDK writes these as null
    if r < 0.15:
        return rng.choice([lo - 1.0 - rng.random(), hi + 1.0 + 10 * rng.random()])
    if r < 0.16:
        return rng.choice([lo, hi])  # on the reference's bounds: inside the range
    return typical


def _event(rng: random.Random, i: int) -> dict[str, Any]:
    ts = BASE_TS + timedelta(seconds=i * 60 / PER_WINDOW)
    if rng.random() < 0.03:  # late: maybe the previous window's
        ts = max(BASE_TS, ts - timedelta(seconds=rng.uniform(0, 20)))
    window = int((ts - BASE_TS).total_seconds() // 60)  # by event time, as the worker
    feats: dict[str, Any] = {
        "amount": _numeric(rng, "amount", rng.lognormvariate(3.0, 0.6)),
        "age": _numeric(rng, "age", rng.gauss(40.0, 8.0)),
        "score_a": _numeric(rng, "score_a", rng.random()),
        "country": None if rng.random() < 0.03 else rng.choice(
            [*COUNTRIES] * 6 + ["BR", "XX", "de", 7]),  # unseen: BR, XX, de (case), 7
        "device": None if window == NULL_WINDOW or rng.random() < 0.05 else rng.choice(DEVICES),
    }
    if window == ABSENT_WINDOW:
        del feats["score_a"]
    if rng.random() < 0.2:
        feats["zip"] = None if rng.random() < 0.3 else f"{rng.randrange(10000):05d}"
    if window == 0:
        feats["legacy"] = None  # present only as null: carries no value, not listed
    if window == NULL_WINDOW and rng.random() < 0.5:
        feats["Amount"] = rng.lognormvariate(3.0, 0.6)
    return {"type": "prediction", "model": MODEL, "version": "1",
            "prediction_id": f"q-{i}", "ts": ts.isoformat(), "features": feats,
            "prediction": rng.betavariate(2, 5)}


def make_messages(seed: int = 17) -> list[tuple[int, bytes, bytes]]:
    rng = random.Random(seed)
    events = [_event(rng, i) for i in range(WINDOWS * PER_WINDOW)]
    return [(n % PARTITIONS, MODEL.encode(), encode_batch(events[start:start + BATCH]))
            for n, start in enumerate(range(0, len(events), BATCH))]


MESSAGES = make_messages()


def wire_frame(messages: list[tuple[int, bytes, bytes]]) -> pd.DataFrame:
    """One row per event as it went onto the wire: its window start and feature values
    (absent and null both NaN/None)."""
    events = [e for _p, _k, value in messages for e in msgspec.json.decode(value)["events"]]
    frame = pd.DataFrame.from_records([e["features"] for e in events])
    starts = [datetime.fromtimestamp(
        datetime.fromisoformat(e["ts"]).timestamp() // 60 * 60, UTC) for e in events]
    frame.insert(0, "@window", starts)
    return frame


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def expected_points(frame: pd.DataFrame) -> dict[Key, tuple[float, int | None]]:
    """``{(window start, feature, metric): (value, sample size)}`` from the definitions
    (``None`` for a sample size the definitions leave open); dataset-level feature ``""``."""
    want: dict[Key, tuple[float, int | None]] = {}
    known = set(REFERENCE.columns)
    for start, window in frame.groupby("@window"):
        rows = len(window)
        for name in known:
            values = window[name] if name in window else pd.Series([None] * rows)
            missing = values.isna()
            want[(start, name, "count")] = (rows, rows)
            want[(start, name, "feature_missing")] = (float(missing.all()), None)
            want[(start, name, "schema_change")] = (float(missing.all()), None)
            if name in NUMERIC:
                finite = values.map(_is_finite_number).astype(bool)
                invalid = ~missing & ~finite
                # missing_rate counts missing and invalid values over every row
                want[(start, name, "missing_rate")] = ((missing | invalid).sum() / rows, rows)
                want[(start, name, "invalid_rate")] = (invalid.sum() / rows, rows)
                x = values[finite].astype(float)
                lo, hi = REFERENCE[name].min(), REFERENCE[name].max()
                if len(x):  # over the finite values only
                    want[(start, name, "out_of_range_rate")] = (
                        ((x < lo) | (x > hi)).sum() / len(x), len(x))
            else:
                want[(start, name, "missing_rate")] = (missing.sum() / rows, rows)
                present = values[~missing]
                if len(present):  # over the non-missing values
                    seen = set(REFERENCE[name].dropna())
                    new = ~present.map(lambda v, seen=seen: isinstance(v, str) and v in seen)
                    want[(start, name, "new_category_rate")] = (new.sum() / len(present),
                                                               len(present))
        carried = {str(c): int(window[c].notna().sum()) for c in window.columns
                   if c not in known and c != "@window"}
        listed = {c: n for c, n in carried.items() if n > 0}
        for name, n in listed.items():
            want[(start, name, "unexpected_feature")] = (float(n), rows)
            want[(start, name, "schema_change")] = (1.0, rows)
        want[(start, "", "count")] = (float(rows), rows)
        want[(start, "", "unexpected_features")] = (float(len(listed)), rows)
    return want


def test_the_stream_has_every_quality_problem() -> None:
    """The expectation is not vacuous: each problem occurs, in the windows meant."""
    want = expected_points(wire_frame(MESSAGES))
    starts = sorted({start for start, _f, _m in want})
    assert len(starts) == WINDOWS
    for name in NUMERIC:
        assert all(want[(s, name, "invalid_rate")][0] > 0 for s in starts
                   if (s, name, "out_of_range_rate") in want)
        assert all(want[(s, name, "out_of_range_rate")][0] > 0 for s in starts
                   if (s, name, "out_of_range_rate") in want)
    assert [want[(s, "score_a", "feature_missing")][0] for s in starts] == [0.0, 1.0, 0.0]
    assert want[(starts[ABSENT_WINDOW], "score_a", "missing_rate")][0] == 1.0
    assert [want[(s, "device", "feature_missing")][0] for s in starts] == [0.0, 0.0, 1.0]
    assert all(want[(s, "country", "new_category_rate")][0] > 0 for s in starts)
    assert [want[(s, "", "unexpected_features")][0] for s in starts] == [1.0, 1.0, 2.0]
    assert (starts[0], "legacy", "unexpected_feature") not in want


@pytest.fixture
def database() -> Iterator[str]:
    with temporary_database("infersight_quality_once") as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            with session_factory(engine).begin() as session:
                scores = np.random.default_rng(4).beta(2, 5, len(REFERENCE))
                set_reference(session, MODEL, "1", Reference.from_data(
                    REFERENCE, predictions=scores).to_bytes(), "upload")
        finally:
            engine.dispose()
        yield url


def test_sigkilled_workers_persist_the_quality_rates_of_pandas(
    module_broker: TansuBroker, database: str, tmp_path: Path
) -> None:
    create_topics(module_broker.bootstrap, {EVENTS_TOPIC: PARTITIONS, LABELS_TOPIC: 1})
    counts = produce(module_broker.bootstrap, EVENTS_TOPIC, MESSAGES)
    produced = {(EVENTS_TOPIC, p): n for p, n in counts.items()}
    env = worker_env(database, module_broker.bootstrap, GROUP,
                     INFERSIGHT_WORKER_MAX_RECORDS="1")  # a transaction per message
    rng = random.Random(5)
    log = tmp_path / "worker.log"
    at_kill = []
    for started, share in enumerate(sorted(rng.uniform(lo, lo + 0.15) for lo in (0.1, 0.35, 0.6)),
                                    1):
        worker = WorkerProcess(env, log)
        try:
            wait_for_log(log, "sought to stored offsets", timeout=60, times=started)
            run_until(database, GROUP, produced, share)
            time.sleep(rng.uniform(0.0, 0.3))  # land anywhere in the batch cycle
        finally:
            worker.kill()
        at_kill.append(progress(database, GROUP, produced))
    assert all(share < 1.0 for share in at_kill), at_kill  # every kill was mid-stream
    worker = WorkerProcess(env, log)
    try:
        wait_until_done(database, GROUP, produced)
    finally:
        assert worker.stop() == 0, last_lines(log)
    assert last_lines(log, 100000).count("sought to stored offsets") >= len(at_kill) + 1

    want = expected_points(wire_frame(MESSAGES))
    got = {(start, feature, metric): (value, size) for (model, _v, start, feature, metric),
           (value, size) in metric_snapshot(database).items()
           if model == MODEL and metric in QUALITY and feature != "@prediction"}
    assert not want.keys() - got.keys(), f"not persisted: {sorted(want.keys() - got.keys())}"
    assert not got.keys() - want.keys(), f"unexpected: {sorted(got.keys() - want.keys())}"
    wrong = []
    for key, (value, size) in sorted(want.items()):
        got_value, got_size = got[key]
        if got_value is None or not math.isclose(got_value, value, rel_tol=1e-12, abs_tol=0):
            wrong.append(f"{key}: {got_value} != {value}")
        elif size is not None and got_size != size:
            wrong.append(f"{key}: sample size {got_size} != {size}")
    assert not wrong, f"{len(wrong)} of {len(want)} points differ:\n" + "\n".join(wrong)
    assert sum(value for (_s, f, m), (value, _n) in got.items() if (f, m) == ("", "count")) \
        == WINDOWS * PER_WINDOW  # every event counted once
