"""Drive real workers against the real broker and database: topics, producing, waiting,
worker subprocesses (for SIGKILL) and metric-point snapshots."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import make_engine, session_factory
from infersight.storage.labels import claimable_pending_labels
from infersight.storage.models import ConsumerOffset, MetricPoint, WindowState
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[2]
MetricKey = tuple[str, str, datetime, str, str]


def create_topics(bootstrap: str, partitions: Mapping[str, int]) -> None:
    """Create topics with several partitions (Tansu would auto-create them with one)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(t, n, 1) for t, n in partitions.items()])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[int, bytes, bytes]]) -> Counter[int]:
    """Send ``(partition, key, value)`` messages; returns how many went to each partition."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all",
                             max_request_size=8 * 1024 * 1024)
    counts: Counter[int] = Counter()
    try:
        for partition, key, value in messages:
            producer.send(topic, key=key, value=value, partition=partition)
            counts[partition] += 1
        producer.flush(30)
    finally:
        producer.close(5)
    return counts


def expected_offsets(events: Counter[int], labels: Counter[int]) -> dict[tuple[str, int], int]:
    offsets = {(EVENTS_TOPIC, p): n for p, n in events.items()}
    offsets.update({(LABELS_TOPIC, p): n for p, n in labels.items()})
    return offsets


def stored_offsets(db_url: str, group: str) -> dict[tuple[str, int], int]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(ConsumerOffset.topic, ConsumerOffset.partition, ConsumerOffset.next_offset)
                .where(ConsumerOffset.consumer_group == group)
            )
            return {(t, p): o for t, p, o in rows}
    finally:
        engine.dispose()


def progress(db_url: str, group: str, expected: Mapping[tuple[str, int], int]) -> float:
    """Share of the expected messages whose offsets are committed."""
    stored = stored_offsets(db_url, group)
    total = sum(expected.values())
    return sum(min(stored.get(tp, 0), n) for tp, n in expected.items()) / total


def raced_labels(db_url: str) -> int:
    """Pending labels whose prediction is indexed (housekeeping has yet to join them)."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return len(claimable_pending_labels(session))
    finally:
        engine.dispose()


def evaluated_after_updates(db_url: str) -> bool:
    """Every window's dataset-level count point is newer than its latest state update."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            updated = {
                (m, v, s): u
                for m, v, s, u in conn.execute(
                    select(WindowState.model, WindowState.version, WindowState.window_start,
                           func.max(WindowState.updated_at))
                    .group_by(WindowState.model, WindowState.version, WindowState.window_start)
                )
            }
            evaluated = {
                (m, v, s): e
                for m, v, s, e in conn.execute(
                    select(MetricPoint.model, MetricPoint.version, MetricPoint.window_start,
                           MetricPoint.evaluated_at)
                    .where(MetricPoint.metric == "count", MetricPoint.feature == "")
                )
            }
    finally:
        engine.dispose()
    return all(key in evaluated and evaluated[key] >= at for key, at in updated.items())


def wait_until_done(
    db_url: str, group: str, expected: Mapping[tuple[str, int], int], timeout: float = 90.0
) -> None:
    """Wait until every expected offset is committed, every label that raced its prediction
    joined, and every window evaluated after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if progress(db_url, group, expected) >= 1.0 and not raced_labels(db_url) \
                and evaluated_after_updates(db_url):
            return
        time.sleep(0.3)
    raise TimeoutError(
        f"workers did not finish: offsets {stored_offsets(db_url, group)} of {dict(expected)}"
    )


def metric_snapshot(db_url: str) -> dict[MetricKey, tuple[float | None, int]]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(MetricPoint.model, MetricPoint.version, MetricPoint.window_start,
                       MetricPoint.feature, MetricPoint.metric, MetricPoint.value,
                       MetricPoint.sample_size)
            )
            return {(m, v, s, f, k): (val, n) for m, v, s, f, k, val, n in rows}
    finally:
        engine.dispose()


def assert_same_metrics(
    expected: Mapping[MetricKey, tuple[float | None, int]],
    actual: Mapping[MetricKey, tuple[float | None, int]],
    rel: float = 1e-9,
    db_url: str | None = None,
) -> None:
    """Same points; counts and sample sizes exactly, every value (latency quantiles included:
    their log-binned histogram merges exactly) within float tolerance ``rel``."""
    assert set(actual) == set(expected), (
        f"missing {sorted(set(expected) - set(actual))[:5]}, "
        f"extra {sorted(set(actual) - set(expected))[:5]}"
    )
    wrong = []
    for key, (value, size) in sorted(expected.items()):
        other_value, other_size = actual[key]
        if other_size != size:
            wrong.append(f"{key}: sample size {other_size} != {size}")
        elif value is None or other_value is None:
            if value is not other_value:
                wrong.append(f"{key}: {other_value} != {value}")
        elif key[4] == "count":
            if other_value != value:
                wrong.append(f"{key}: count {other_value} != {value}")
        else:
            if not math.isclose(other_value, value, rel_tol=rel, abs_tol=1e-12):
                wrong.append(f"{key}: {other_value} != {value}")
    if wrong and db_url is not None:
        wrong.insert(0, explain(db_url))
    assert not wrong, f"{len(wrong)} of {len(expected)} points differ:\n" + "\n".join(wrong[:40])


def explain(db_url: str) -> str:
    """Window-state rows and count points, to read a failure."""
    engine = make_engine(db_url)
    lines = []
    try:
        with engine.connect() as conn:
            for row in conn.execute(
                select(WindowState.model, WindowState.window_start, WindowState.partition_key,
                       WindowState.event_count, WindowState.updated_at)
                .order_by(WindowState.model, WindowState.window_start, WindowState.partition_key)
            ):
                lines.append(f"state {tuple(row)}")
            for row in conn.execute(
                select(MetricPoint.model, MetricPoint.window_start, MetricPoint.value,
                       MetricPoint.evaluated_at)
                .where(MetricPoint.metric == "count", MetricPoint.feature == "")
            ):
                lines.append(f"count {tuple(row)}")
    finally:
        engine.dispose()
    return "\n".join(lines)


def worker_env(db_url: str, bootstrap: str, group: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "INFERSIGHT_DATABASE_URL": db_url,
        "INFERSIGHT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "INFERSIGHT_WORKER_GROUP": group,
        "INFERSIGHT_WINDOW": "60s",
        "INFERSIGHT_EVAL_INTERVAL": "1s",
        "INFERSIGHT_WORKER_SESSION_TIMEOUT": "6s",
        "INFERSIGHT_WORKER_MAX_RECORDS": "5",
        "INFERSIGHT_WORKER_METRICS_PORT": "0",
        # a label that raced its prediction (two workers) is joined by housekeeping
        "INFERSIGHT_WORKER_HOUSEKEEPING_INTERVAL": "2s",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class WorkerProcess:
    """``python -m infersight worker`` as a real subprocess (so SIGKILL is real)."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infersight", "worker"],
            cwd=REPO, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no leaving the group."""
        if self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._log.close()

    def stop(self, timeout: float = 20.0) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return int(self.process.returncode)


def last_lines(path: Path, n: int = 60) -> str:
    """The last ``n`` lines of a worker's log ("" before it exists)."""
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-n:])
    except OSError:
        return ""




def wait_for_log(path: Path, text: str, timeout: float, times: int = 1) -> None:
    """Wait until a worker's log contains ``text`` (at least ``times`` times)."""
    deadline = time.monotonic() + timeout
    while last_lines(path, 100000).count(text) < times:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} never logged {text!r}:\n{last_lines(path)}")
        time.sleep(0.1)
