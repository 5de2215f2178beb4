"""The SDK against a real Kafka-protocol broker (Tansu): delivery, outage, fork."""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from infersight.sdk.keys import message_key
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

import infersight
from tests.sdk.kafka_reading import read_topic
from tests.support.tansu import TansuBroker

pytestmark = pytest.mark.kafka


def test_monitored_calls_arrive_batched_keyed_by_model_and_decodable(fresh_kafka_broker: TansuBroker) -> None:
    infersight.init(transport=f"kafka://{fresh_kafka_broker.bootstrap}", batch_size=100, flush_interval=0.05)

    @infersight.monitor(model="fraud", version="3", prediction=lambda out: out["score"])
    def predict(request: dict[str, float]) -> dict[str, float]:
        time.sleep(0.002)
        return {"score": request["amount"] / 1000}

    @infersight.monitor(model="churn", version="1")
    def churn(request: dict[str, str]) -> str:
        return "stay"

    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = []
    for i in range(250):
        predict({"amount": float(i), "country": "FR"})
        ids.append(infersight.last_prediction_id())
    churn({"plan": "pro"})
    infersight.log_label(model="fraud", prediction_id=ids[7], label=1)
    assert infersight.flush(timeout=15)
    after = datetime.now(UTC) + timedelta(seconds=1)

    messages = read_topic(fresh_kafka_broker.bootstrap, EVENTS_TOPIC, until=251)
    events = [event for message in messages for event in message.events]
    assert len(events) == 251
    assert len(messages) < 251 / 10, "events travel many to a message"
    for message in messages:
        assert message.key == message_key(message.events[0].model, message.value)
        assert {event.model for event in message.events} == {message.events[0].model}
    # One model's messages spread over the partitions: in order within a message only.
    fraud = sorted((event for event in events if event.model == "fraud"),
                   key=lambda event: ids.index(event.prediction_id))
    assert [event.prediction_id for event in fraud] == ids
    assert len(set(ids)) == 250
    for i, event in enumerate(fraud):
        assert event.version == "3"
        assert event.features == {"amount": float(i), "country": "FR"}
        assert event.prediction == pytest.approx(i / 1000)
        assert 2.0 <= event.latency_ms < 1000
        assert before <= event.ts <= after
    assert [event.prediction for event in events if event.model == "churn"] == ["stay"]

    labels = read_topic(fresh_kafka_broker.bootstrap, LABELS_TOPIC, until=1)
    [label] = [event for message in labels for event in message.events]
    assert (label.model, label.prediction_id, label.label) == ("fraud", ids[7], 1)
    assert [message.key for message in labels] == [message_key("fraud", labels[0].value)]
    stats = infersight.stats()
    assert stats["sent"] == 252 and stats["dropped"] == 0 and stats["queued"] == 0


def test_broker_killed_mid_stream_costs_nothing_in_user_code_and_sending_resumes(
    fresh_kafka_broker: TansuBroker,
) -> None:
    infersight.init(transport=f"kafka://{fresh_kafka_broker.bootstrap}", queue_size=500,
                    batch_size=50, flush_interval=0.05)

    @infersight.monitor(model="outage")
    def predict(features: dict[str, object]) -> float:
        return 0.5

    for i in range(100):
        predict({"phase": "before", "i": i})
    assert infersight.flush(timeout=15)

    fresh_kafka_broker.stop()
    # Every call must return at once: with the queue (500) full, a blocking put would hang
    # this loop (the test's timeout), so the drops prove the calls did not wait for room.
    # How fast a call is, broker up or down, is measured by bench/sdk_overhead.py.
    results = [predict({"phase": "down", "i": i}) for i in range(3000)]
    assert results == [0.5] * 3000
    assert infersight.stats()["dropped_by_reason"].get("queue_full", 0) > 0
    deadline = time.monotonic() + 20  # a send fails after the producer's delivery timeout
    while infersight.stats()["errors"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert infersight.stats()["last_error"]

    fresh_kafka_broker.start()
    # Tansu's memory storage forgets its topics on restart, and acknowledges produces to a
    # forgotten topic without storing them; a real Kafka keeps its topics: recreate it.
    admin = KafkaAdminClient(bootstrap_servers=fresh_kafka_broker.bootstrap)
    admin.create_topics([NewTopic(EVENTS_TOPIC, num_partitions=4, replication_factor=1)])
    admin.close()
    # Sending resumes by itself: what waited in the bounded queue goes out.
    assert infersight.flush(timeout=40), infersight.stats()
    resumed = infersight.stats()
    assert resumed["sent"] > 100 and resumed["queued"] == 0
    for i in range(20):
        predict({"phase": "after", "i": i})
    assert infersight.flush(timeout=15), infersight.stats()
    after = infersight.stats()
    assert after["sent"] == resumed["sent"] + 20, (resumed, after)
    messages = read_topic(
        fresh_kafka_broker.bootstrap, EVENTS_TOPIC,
        stop_when=lambda events: sum(event.features["phase"] == "after" for event in events) >= 20,
    )
    phases = [event.features["phase"] for message in messages for event in message.events]
    assert phases.count("after") == 20
    assert phases.count("down") > 0
    accounted = after["sent"] + after["dropped"]
    assert accounted == 100 + 3000 + 20, after


def _child_logs_and_flushes(bootstrap: str, result: multiprocessing.Queue[object]) -> None:
    infersight.log_prediction(model="forked", features={"who": "pool-child"}, prediction=1.0)
    result.put((os.getpid(), infersight.last_prediction_id()))
    # No flush: a multiprocessing child leaves through os._exit; the SDK flushes at its exit.


def test_forked_children_get_their_own_queue_thread_and_ids(fresh_kafka_broker: TansuBroker) -> None:
    infersight.init(transport=f"kafka://{fresh_kafka_broker.bootstrap}", flush_interval=0.05)
    parent_id = infersight.log_prediction(model="forked", features={"who": "parent"}, prediction=0.0)
    assert infersight.flush(timeout=15)

    pid = os.fork()
    if pid == 0:  # the child: log, flush, report through the exit code
        code = 1
        try:
            infersight.log_prediction(model="forked", features={"who": "child"}, prediction=1.0)
            stats = infersight.stats()
            ok = infersight.flush(timeout=15) and stats["sent"] == 0  # counts start afresh
            code = 0 if ok and infersight.stats()["sent"] == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[object] = context.Queue()
    process = context.Process(target=_child_logs_and_flushes, args=(fresh_kafka_broker.bootstrap, results))
    process.start()
    process.join(30)
    assert process.exitcode == 0
    child_pid, child_id = results.get(timeout=5)
    assert child_pid != os.getpid()

    infersight.log_prediction(model="forked", features={"who": "parent-again"}, prediction=0.0)
    assert infersight.flush(timeout=15)
    assert infersight.stats()["sent"] == 2  # the parent's counts ignore its children

    messages = read_topic(fresh_kafka_broker.bootstrap, EVENTS_TOPIC, until=4)
    by_who = {event.features["who"]: event.prediction_id for m in messages for event in m.events}
    assert set(by_who) == {"parent", "child", "pool-child", "parent-again"}
    assert by_who["pool-child"] == child_id
    prefixes = {who: pid.rsplit("-", 1)[0] for who, pid in by_who.items()}
    assert prefixes["parent"] == prefixes["parent-again"] == parent_id.rsplit("-", 1)[0]
    assert len({prefixes["parent"], prefixes["child"], prefixes["pool-child"]}) == 3
