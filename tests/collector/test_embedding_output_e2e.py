"""An embedding model end to end: its output vectors (numpy arrays, components below zero)
logged with the real SDK onto the real broker and evaluated by the real worker into
Postgres. The output's drift metrics under ``@prediction`` equal the engine's on the same
vectors and its shifted topic mix is prediction drift, while its unchanged inputs are not
data drift. An output of the wrong length, and a classifier's probabilities outside [0, 1],
are dead-lettered as ``invalid_value`` with their reason, and nothing else is lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from infersight.collector.worker.kafka_bus import KafkaDeadLetterPublisher
from infersight.drift import Reference, compare
from infersight.sdk.wire import DEADLETTER_TOPIC, EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.models import DeadLetter
from infersight.storage.registry import set_reference
from sqlalchemy import select

import infersight
from tests.collector.harness import create_topics, metric_snapshot
from tests.collector.inprocess import consume_all
from tests.drift.test_embedding import topics
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MODEL, GROUP, DIM, EVENTS = "encoder", "embedding-outputs", 24, 800
CLASSIFIER = "triage"
TS = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def run(module_broker: TansuBroker) -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(21)
    reference = Reference.from_data({"chars": rng.poisson(40, 4000).astype(float)},
                                    predictions=topics(rng, 4000, [0.4, 0.3, 0.2, 0.1], dim=DIM))
    assert reference.task == "embedding"
    outputs = topics(rng, EVENTS, [0.1, 0.2, 0.3, 0.4], dim=DIM)
    chars = rng.poisson(40, EVENTS).astype(float)  # unchanged inputs
    bootstrap = module_broker.bootstrap
    create_topics(bootstrap, {EVENTS_TOPIC: 2, LABELS_TOPIC: 1, DEADLETTER_TOPIC: 1})
    with temporary_database("infersight_embedding_outputs") as url:
        upgrade(url)
        engine = make_engine(url)
        classifier = Reference.from_data({"chars": rng.poisson(40, 500).astype(float)},
                                         predictions=[[0.3, 0.7], [0.9, 0.1]] * 250,
                                         labels=[1, 0] * 250)
        with session_factory(engine).begin() as session:
            set_reference(session, MODEL, "1", reference.to_bytes(), "upload")
            set_reference(session, CLASSIFIER, "1", classifier.to_bytes(), "upload")
        infersight.init(transport=f"kafka://{bootstrap}", batch_size=100, flush_interval=0.05)
        try:
            for i, vector in enumerate(outputs):
                infersight.log_prediction(MODEL, "1", features={"chars": float(chars[i])},
                                          prediction=vector, prediction_id=f"e{i}",
                                          ts=TS + timedelta(milliseconds=50 * i))
            infersight.log_prediction(MODEL, "1", features={"chars": 3.0},
                                      prediction=np.ones(DIM - 1), prediction_id="short",
                                      ts=TS + timedelta(seconds=5))
            for i, output in enumerate(([0.2, 0.8], [0.5, 1.5], [0.6, 0.4])):
                infersight.log_prediction(CLASSIFIER, "1", features={"chars": 3.0},
                                          prediction=output, prediction_id=f"t{i}",
                                          ts=TS + timedelta(seconds=i))
            assert infersight.flush(timeout=60)
        finally:
            infersight.shutdown(timeout=10)
        consume_all(bootstrap, engine, url, GROUP, window_s=60,
                    deadletters=KafkaDeadLetterPublisher(bootstrap, DEADLETTER_TOPIC))
        with session_factory(engine)() as session:
            letters = list(session.scalars(select(DeadLetter)))
        engine.dispose()
        yield {"points": metric_snapshot(url), "reference": reference, "outputs": outputs,
               "chars": chars, "letters": letters}


def test_the_outputs_drift_equals_the_engines_on_the_same_vectors(run: dict[str, Any]) -> None:
    reference: Reference = run["reference"]
    expected = reference.new_window()
    expected.update({"chars": run["chars"]}, predictions=list(run["outputs"]))
    want = compare(reference, expected).prediction
    got = {metric: value for (model, _v, _s, feature, metric), (value, _n)
           in run["points"].items() if model == MODEL and feature == "@prediction"}
    assert got.keys() >= set(want)
    for metric, value in want.items():
        assert got[metric] == pytest.approx(value, rel=1e-9, abs=1e-12), metric
    assert got["embedding_drift"] == 1.0  # the outputs' topic mix moved: prediction drift
    model_level = {metric: value for (model, _v, _s, feature, metric), (value, _n)
                   in run["points"].items() if model == MODEL and feature == ""}
    assert model_level["drift_share"] == 0.0 and model_level["count"] == EVENTS


def test_outputs_that_do_not_fit_the_reference_are_dead_lettered_with_the_reason(
        run: dict[str, Any]) -> None:
    reasons = {(letter.reason, letter.detail) for letter in run["letters"]}
    assert reasons == {
        ("invalid_value", f"prediction 'short' of {MODEL!r} v1: prediction: a vector of "
                          f"{DIM - 1} numbers, but the reference's output has {DIM}"),
        ("invalid_value", f"prediction 't1' of {CLASSIFIER!r} v1: prediction[1]: a class "
                          "probability must be within [0, 1], got 1.5")}
    counts = {model: value for (model, _v, _s, feature, metric), (value, _n)
              in run["points"].items() if feature == "" and metric == "count"}
    assert counts == {MODEL: EVENTS, CLASSIFIER: 2}  # the rest of each batch was kept
