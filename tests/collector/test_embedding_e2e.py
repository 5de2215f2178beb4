"""An embedding feature end to end: vectors logged with the real SDK onto the real broker,
evaluated by the real worker into Postgres. The window's embedding metrics equal the engine's
on the same vectors; a vector of the wrong length is dead-lettered as ``invalid_value`` with
its reason (and nothing else of the batch is lost); the shifted topic mix drifts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from infersight.collector.worker.kafka_bus import KafkaDeadLetterPublisher
from infersight.drift import Reference
from infersight.sdk.wire import DEADLETTER_TOPIC, EVENTS_TOPIC, LABELS_TOPIC, decode_deadletter
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.models import DeadLetter
from infersight.storage.registry import set_reference
from kafka import KafkaConsumer
from sqlalchemy import select

import infersight
from tests.collector.harness import create_topics, metric_snapshot
from tests.collector.inprocess import consume_all
from tests.drift.test_embedding import topics
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MODEL, GROUP, DIM, EVENTS = "search", "embeddings", 24, 900
TS = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SHIFTED = [0.1, 0.2, 0.3, 0.4]


@pytest.fixture(scope="module")
def run(module_broker: TansuBroker) -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(8)
    reference = Reference.from_data({
        "query_embedding": topics(rng, 4000, [0.4, 0.3, 0.2, 0.1], dim=DIM),
        "clicks": rng.poisson(3, 4000).astype(float)})
    window = topics(rng, EVENTS, SHIFTED, dim=DIM)
    clicks = rng.poisson(3, EVENTS).astype(float)  # unchanged: only the embedding moves
    bootstrap = module_broker.bootstrap
    create_topics(bootstrap, {EVENTS_TOPIC: 2, LABELS_TOPIC: 1, DEADLETTER_TOPIC: 1})
    with temporary_database("infersight_embeddings") as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            set_reference(session, MODEL, "1", reference.to_bytes(), "upload")
        infersight.init(transport=f"kafka://{bootstrap}", batch_size=100, flush_interval=0.05)
        try:
            for i, vector in enumerate(window):
                infersight.log_prediction(MODEL, "1", features={
                    "query_embedding": vector, "clicks": float(clicks[i])}, prediction=0.5,
                    prediction_id=f"q{i}", ts=TS + timedelta(milliseconds=40 * i))
            infersight.log_prediction(MODEL, "1", features={
                "query_embedding": np.zeros(DIM - 1), "clicks": 1.0}, prediction=0.5,
                prediction_id="short", ts=TS + timedelta(seconds=5))
            assert infersight.flush(timeout=60)
        finally:
            infersight.shutdown(timeout=10)
        consume_all(bootstrap, engine, url, GROUP, window_s=60,
                    deadletters=KafkaDeadLetterPublisher(bootstrap, DEADLETTER_TOPIC))
        with session_factory(engine)() as session:
            letters = list(session.scalars(select(DeadLetter)))
        engine.dispose()
        yield {"points": metric_snapshot(url), "reference": reference, "window": window,
               "clicks": clicks,
               "letters": letters, "bootstrap": bootstrap}


def test_the_windows_embedding_metrics_equal_the_engines_on_the_same_vectors(run) -> None:
    reference: Reference = run["reference"]
    expected = reference.new_window()
    expected.update({"query_embedding": list(run["window"]),
                     "clicks": run["clicks"]})
    from infersight.drift import compare

    want = compare(reference, expected).features["query_embedding"]
    got = {metric: value for (model, _v, _s, feature, metric), (value, _n)
           in run["points"].items() if model == MODEL and feature == "query_embedding"}
    assert got.keys() == set(want)
    for metric, value in want.items():
        assert got[metric] == pytest.approx(value, rel=1e-9, abs=1e-12), metric
    assert got["embedding_drift"] == 1.0  # the topic mix moved
    shares = [value for (model, _v, _s, feature, metric), (value, _n) in run["points"].items()
              if model == MODEL and feature == "" and metric == "drift_share"]
    assert shares == [0.5]  # the embedding counts as one drifted feature of two


def test_a_vector_of_the_wrong_length_is_dead_lettered_with_its_reason(run) -> None:
    [letter] = [d for d in run["letters"] if b'"short"' in d.payload]
    assert letter.reason == "invalid_value"
    assert "a vector of 23 numbers, but the reference's embedding has 24" in letter.detail
    consumer = KafkaConsumer(DEADLETTER_TOPIC, bootstrap_servers=run["bootstrap"],
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    try:
        messages = [decode_deadletter(m.value) for m in consumer]
    finally:
        consumer.close()
    assert any(m.reason == "invalid_value" and "23 numbers" in m.detail for m in messages)
    counts = {metric: value for (model, _v, _s, feature, metric), (value, _n)
              in run["points"].items() if model == MODEL and feature == ""}
    assert counts["count"] == EVENTS  # every other event of its batch was kept
