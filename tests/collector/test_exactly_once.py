"""Exactly-once in effect, against the real Tansu broker and the real Postgres.

One stream is produced once; each test replays it from the start in its own consumer
group into its own database, disturbing the workers differently, and must end with the
same metric points as one uninterrupted worker: counts exactly, statistics within float
tolerance, latency quantiles too (they come from a deterministic histogram, not a randomised
sketch).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import upgrade
from sqlalchemy.engine import make_url

from tests.collector.conftest import install_references
from tests.collector.harness import (
    MetricKey,
    WorkerProcess,
    assert_same_metrics,
    create_topics,
    expected_offsets,
    last_lines,
    metric_snapshot,
    produce,
    progress,
    wait_for_log,
    wait_until_done,
    worker_env,
)
from tests.collector.streams import make_stream
from tests.collector.tcp_proxy import TcpProxy
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

STREAM = make_stream(seed=11)
Snapshot = dict[MetricKey, tuple[float | None, int]]


@pytest.fixture(scope="module")
def produced(module_broker: TansuBroker) -> dict[tuple[str, int], int]:
    create_topics(module_broker.bootstrap, {EVENTS_TOPIC: 4, LABELS_TOPIC: 2})
    labels = produce(module_broker.bootstrap, LABELS_TOPIC, STREAM.labels[: len(STREAM.labels) // 3])
    events = produce(module_broker.bootstrap, EVENTS_TOPIC, STREAM.events)
    labels += produce(module_broker.bootstrap, LABELS_TOPIC, STREAM.labels[len(STREAM.labels) // 3 :])
    return expected_offsets(events, labels)


def _fresh_database() -> Iterator[str]:
    with temporary_database("infersight_worker") as url:
        upgrade(url)
        install_references(url)
        yield url


@pytest.fixture
def database() -> Iterator[str]:
    yield from _fresh_database()


@pytest.fixture(scope="module")
def uninterrupted(
    module_broker: TansuBroker, produced: dict[tuple[str, int], int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Snapshot]:
    """The metric points of one worker that ran from start to end undisturbed."""
    log = tmp_path_factory.mktemp("single") / "worker.log"
    for url in _fresh_database():
        worker = WorkerProcess(worker_env(url, module_broker.bootstrap, "single"), log)
        try:
            wait_until_done(url, "single", produced)
        except TimeoutError:
            raise AssertionError(last_lines(log)) from None
        finally:
            assert worker.stop() == 0, last_lines(log)
        yield metric_snapshot(url)


def _expected_window_counts() -> Counter[tuple[str, datetime]]:
    """Per (model, window start) event counts, computed from the produced stream itself."""
    counts: Counter[tuple[str, datetime]] = Counter()
    for _partition, _key, value in STREAM.events:
        for event in msgspec.json.decode(value)["events"]:
            ts = datetime.fromisoformat(event["ts"]).astimezone(UTC)
            start = int(ts.timestamp()) // 60 * 60
            counts[(event["model"], datetime.fromtimestamp(start, UTC))] += 1
    return counts


def test_one_worker_counts_every_prediction_once(uninterrupted: Snapshot) -> None:
    counts = {
        (model, start): value
        for (model, _v, start, feature, metric), (value, _n) in uninterrupted.items()
        if metric == "count" and feature == ""
    }
    assert counts == dict(_expected_window_counts())
    assert sum(counts.values()) == STREAM.prediction_count


def test_two_workers_sharing_partitions_give_the_same_metrics(
    module_broker: TansuBroker, produced: dict[tuple[str, int], int], uninterrupted: Snapshot,
    database: str, tmp_path: Path,
) -> None:
    env = worker_env(database, module_broker.bootstrap, "pair")
    workers = [WorkerProcess(env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        wait_until_done(database, "pair", produced)
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0], last_lines(tmp_path / "worker0.log")
    assert_same_metrics(uninterrupted, metric_snapshot(database), db_url=database)


def _run_until(
    url: str, group: str, produced: Mapping[tuple[str, int], int], share: float, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while progress(url, group, produced) < share:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no progress to {share:.0%} within {timeout}s")
        time.sleep(0.05)


def test_worker_killed_with_sigkill_repeatedly_gives_the_same_metrics(
    module_broker: TansuBroker, produced: dict[tuple[str, int], int], uninterrupted: Snapshot,
    database: str, tmp_path: Path,
) -> None:
    rng = random.Random(2024)
    env = worker_env(database, module_broker.bootstrap, "killed")
    kills = sorted(rng.uniform(low, low + 0.2) for low in (0.1, 0.35, 0.6))
    log = tmp_path / "worker.log"
    at_kill = []
    for started, share in enumerate(kills, 1):
        worker = WorkerProcess(env, log)
        try:
            # this worker resumed from the stored offsets (the previous one may already
            # have passed this kill's share: it is killed right after resuming)
            wait_for_log(log, "sought to stored offsets", timeout=60, times=started)
            _run_until(database, "killed", produced, share, timeout=60)
            time.sleep(rng.uniform(0.0, 0.3))  # land anywhere in the batch cycle
        finally:
            worker.kill()
        at_kill.append(progress(database, "killed", produced))
    assert all(share < 1.0 for share in at_kill), at_kill  # every kill was mid-stream
    worker = WorkerProcess(env, log)
    try:
        wait_until_done(database, "killed", produced)
    finally:
        assert worker.stop() == 0, last_lines(log)
    assert last_lines(log, 100000).count("sought to stored offsets") >= len(kills) + 1
    assert_same_metrics(uninterrupted, metric_snapshot(database), db_url=database)


def test_worker_joining_and_leaving_mid_stream_gives_the_same_metrics(
    module_broker: TansuBroker, produced: dict[tuple[str, int], int], uninterrupted: Snapshot,
    database: str, tmp_path: Path,
) -> None:
    # One record per transaction: the stream lasts long enough for both moves to happen
    # mid-stream. The first worker leaves only once the second has its partitions: a member
    # leaving while the group is still rebalancing is a different scenario, and the test
    # broker (Tansu) can wedge on it (it keeps the departed member as the group's leader).
    env = worker_env(database, module_broker.bootstrap, "rebalance",
                     INFERSIGHT_WORKER_MAX_RECORDS="1")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = WorkerProcess(env, first_log)
    second: WorkerProcess | None = None
    try:
        _run_until(database, "rebalance", produced, 0.1, timeout=60)
        second = WorkerProcess(env, second_log)  # joins: partitions move to it
        wait_for_log(second_log, "partitions assigned", timeout=60)
        wait_for_log(first_log, "partitions revoked", timeout=60)
        at_leave = progress(database, "rebalance", produced)
        assert first.stop() == 0  # leaves cleanly: its partitions move back
        # Wait for the move itself: the stream may end before the group rebalances.
        wait_for_log(second_log, "partitions assigned", timeout=60, times=2)
        wait_until_done(database, "rebalance", produced)
    finally:
        first.stop()
        if second is not None:
            assert second.stop() == 0, last_lines(second_log)
    assert at_leave < 1.0, "the stream ended before the first worker left"
    assert_same_metrics(uninterrupted, metric_snapshot(database), db_url=database)


def test_database_outage_mid_stream_loses_and_repeats_nothing(
    module_broker: TansuBroker, produced: dict[tuple[str, int], int], uninterrupted: Snapshot,
    database: str, tmp_path: Path,
) -> None:
    url = make_url(database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    through_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
    env = worker_env(through_proxy, module_broker.bootstrap, "outage")
    log = tmp_path / "worker.log"
    worker = WorkerProcess(env, log)
    try:
        _run_until(database, "outage", produced, 0.3, timeout=60)
        proxy.down()
        before = progress(database, "outage", produced)
        time.sleep(4)
        assert worker.alive(), last_lines(log)
        assert progress(database, "outage", produced) == before  # nothing committed meanwhile
        proxy.up()
        wait_until_done(database, "outage", produced)
    finally:
        proxy.close()
        assert worker.stop() == 0, last_lines(log)
    assert "database unavailable" in last_lines(log, 100000)
    assert_same_metrics(uninterrupted, metric_snapshot(database), db_url=database)


def test_embedded_mode_gives_the_same_metrics_as_kafka_and_postgres(
    uninterrupted: Snapshot, tmp_path: Path
) -> None:
    """The same worker code on the in-process bus and SQLite (``infersight up``)."""
    from infersight.sdk.local_bus import LocalBus

    from infersight.settings import Settings
    from infersight.worker_service import start_embedded_worker

    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    install_references(url)
    bus = LocalBus()
    for _partition, key, value in STREAM.labels[: len(STREAM.labels) // 3]:
        bus.publish(LABELS_TOPIC, key, value)
    for _partition, key, value in STREAM.events:
        bus.publish(EVENTS_TOPIC, key, value)
    for _partition, key, value in STREAM.labels[len(STREAM.labels) // 3 :]:
        bus.publish(LABELS_TOPIC, key, value)
    settings = Settings(database_url=url, window="60s", eval_interval="1s")
    embedded = start_embedded_worker(settings, bus=bus)
    try:
        wait_until_done(url, settings.worker_group, {
            (EVENTS_TOPIC, 0): len(STREAM.events), (LABELS_TOPIC, 0): len(STREAM.labels),
        })
    finally:
        embedded.stop()
    assert not embedded.thread.is_alive()
    assert_same_metrics(uninterrupted, metric_snapshot(url))
