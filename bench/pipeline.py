"""Worker benchmarks (issue "Pipeline", item 8).

(a) aggregation only: decoded batches → window state, events/s on one core
    (20 numeric + 5 categorical features); also decode and serialise on their own.
(b) end to end: producer → Tansu (Kafka protocol) → 2 worker processes → Postgres,
    sustained events/s over the run and the p95 delay from producing an event to a
    persisted metric point that counts it; where the workers' time goes (their
    ``infersight_stage_seconds`` counters, scraped from ``/metrics``).

Run: ``.venv/bin/python bench/pipeline.py [--part a|b|all] [--duration 60] [--rate 60000]``.
Needs Postgres on 127.0.0.1:5432 for (b). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NUMERIC = [f"n{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
CATEGORIES = [f"cat{i}" for i in range(12)]


def reference_bytes(seed: int = 1, rows: int = 20_000) -> bytes:
    from infersight.drift import Reference

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {name: rng.normal(i, 1 + i / 10, rows) for i, name in enumerate(NUMERIC)}
    for name in CATEGORICAL:
        data[name] = rng.choice(CATEGORIES, rows).tolist()
    scores = rng.beta(2, 5, rows)
    labels = (rng.random(rows) < scores).astype(int)
    return Reference.from_data(data, predictions=scores, labels=labels).to_bytes()


class EventFactory:
    """Events in wire shape from a pre-drawn pool of feature rows (cheap to produce fast)."""

    def __init__(self, seed: int = 2, pool: int = 5000) -> None:
        rng = np.random.default_rng(seed)
        numeric = rng.normal(0.2, 1.1, (pool, len(NUMERIC))) + np.arange(len(NUMERIC))
        cats = rng.choice(CATEGORIES, (pool, len(CATEGORICAL)))
        self.rows = [
            {**dict(zip(NUMERIC, map(float, numeric[i]), strict=True)),
             **dict(zip(CATEGORICAL, map(str, cats[i]), strict=True))}
            for i in range(pool)
        ]
        self.scores = rng.beta(2, 5, pool).tolist()
        self.latency = rng.uniform(1, 20, pool).tolist()
        self.next_id = 0

    def batch(self, size: int, ts: datetime, model: str = "bench") -> list[dict[str, Any]]:
        stamp = ts.isoformat()
        out = []
        for _ in range(size):
            i = self.next_id % len(self.rows)
            out.append({"type": "prediction", "model": model, "version": "1",
                        "prediction_id": f"e{self.next_id}", "ts": stamp,
                        "features": self.rows[i], "prediction": self.scores[i],
                        "latency_ms": self.latency[i]})
            self.next_id += 1
        return out


# --- (a) -------------------------------------------------------------------------------------


def part_a(events: int = 200_000, batch: int = 500) -> None:
    from infersight.drift import Reference
    from infersight.sdk.wire import decode_batch, encode_batch

    reference = Reference.from_bytes(reference_bytes())
    factory = EventFactory()
    ts = datetime.now(UTC)
    messages = [encode_batch(factory.batch(batch, ts)) for _ in range(events // batch)]
    started = time.perf_counter()
    decoded = [decode_batch(m).predictions for m in messages]
    decode_s = time.perf_counter() - started
    assert sum(map(len, decoded)) == events
    window = reference.new_window()
    started = time.perf_counter()
    for predictions in decoded:
        window.update(predictions)
    update_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(len(decoded)):
        blob = window.to_bytes()
    serialise_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(len(decoded)):
        reference.window_from_bytes(blob)
    load_s = time.perf_counter() - started
    print(f"(a) aggregation, {events:,} events in batches of {batch}, "
          f"{len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical features, one core")
    print(f"    decode (wire codec)          {events / decode_s:>12,.0f} events/s")
    print(f"    update window state          {events / update_s:>12,.0f} events/s   "
          f"(target ≥ 200,000)")
    print(f"    serialise state per batch    {len(decoded) / serialise_s:>12,.0f} states/s "
          f"({len(blob):,} bytes each)")
    print(f"    restore state per batch      {len(decoded) / load_s:>12,.0f} states/s")
    total = decode_s + update_s + serialise_s
    print(f"    decode + update + serialise  {events / total:>12,.0f} events/s   "
          f"(decode {decode_s / total:.0%}, update {update_s / total:.0%}, "
          f"serialise {serialise_s / total:.0%})")


# --- (b) -------------------------------------------------------------------------------------


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r'^(infersight_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$', line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def part_b(duration: float, rate: float, batch: int, workers: int) -> None:
    from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, encode_batch
    from infersight.storage.db import make_engine, session_factory, upgrade
    from infersight.storage.registry import set_reference
    from kafka import KafkaProducer
    from sqlalchemy import text

    from tests.collector.harness import create_topics
    from tests.support.postgres import temporary_database
    from tests.support.tansu import TansuBroker, free_port

    window_s = 10
    broker = TansuBroker(log_path=Path("/tmp") / f"bench-tansu-{os.getpid()}.log")
    broker.start()
    create_topics(broker.bootstrap, {EVENTS_TOPIC: 2 * workers, LABELS_TOPIC: 1})
    with temporary_database("infersight_bench") as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            set_reference(session, "bench", "1", reference_bytes())
        ports = [free_port() for _ in range(workers)]
        procs = []
        for port in ports:
            env = dict(os.environ, INFERSIGHT_DATABASE_URL=url,
                       INFERSIGHT_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
                       INFERSIGHT_WINDOW=f"{window_s}s", INFERSIGHT_EVAL_INTERVAL="1s",
                       INFERSIGHT_WORKER_GROUP="bench", INFERSIGHT_WORKER_SESSION_TIMEOUT="6s",
                       INFERSIGHT_WORKER_METRICS_PORT=str(port), INFERSIGHT_WORKER_MAX_RECORDS="20")
            procs.append(subprocess.Popen([sys.executable, "-m", "infersight", "worker"],
                                          cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        time.sleep(8)  # group join
        factory = EventFactory()
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=2,
                                 max_request_size=16 * 1024 * 1024)
        timeline: list[tuple[float, dict[datetime, float]]] = []
        consumed: list[tuple[float, int]] = []
        stop = threading.Event()

        def poll_database() -> None:
            while not stop.is_set():
                now = time.time()
                with engine.connect() as conn:
                    counts = dict(conn.execute(text(
                        "SELECT window_start, value FROM metric_points "
                        "WHERE model = 'bench' AND metric = 'count' AND feature = ''")).all())
                    offsets = conn.execute(text(
                        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
                        "WHERE consumer_group = 'bench' AND topic = :t"), {"t": EVENTS_TOPIC}
                    ).scalar_one()
                timeline.append((now, counts))
                consumed.append((now, int(offsets) * batch))
                time.sleep(0.25)

        poller = threading.Thread(target=poll_database, daemon=True)
        poller.start()
        produced: list[tuple[datetime, int, float]] = []  # (window, cumulative count, sent at)
        per_window: dict[datetime, int] = {}
        started = time.time()
        sent = 0
        partitions = 2 * workers
        while time.time() - started < duration:
            target = (time.time() - started) * rate
            while sent < target:
                now = datetime.now(UTC)
                window = now - timedelta(seconds=now.timestamp() % window_s)
                window = window.replace(microsecond=0)
                value = encode_batch(factory.batch(batch, now))
                producer.send(EVENTS_TOPIC, value=value, key=b"bench",
                              partition=(sent // batch) % partitions)
                sent += batch
                per_window[window] = per_window.get(window, 0) + batch
                produced.append((window, per_window[window], time.time()))
            time.sleep(0.005)
        producer.flush(60)
        produce_end = time.time()
        deadline = produce_end + 120
        while time.time() < deadline and (not consumed or consumed[-1][1] < sent):
            time.sleep(0.5)
        time.sleep(3)
        stop.set()
        poller.join(5)
        scraped = [_scrape(port) for port in ports]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        engine.dispose()
    broker.stop()

    delays = []
    for window, count, at in produced:
        for seen_at, counts in timeline:
            if seen_at >= at and counts.get(window, 0) >= count:
                delays.append(seen_at - at)
                break
    in_run = [n for t, n in consumed if t <= produce_end]
    run_rate = (in_run[-1] - in_run[0]) / (produce_end - consumed[0][0]) if in_run else 0.0
    caught_up = next((t for t, n in consumed if n >= sent), None)
    print(f"(b) end to end: producer → Tansu → {workers} workers → Postgres, "
          f"{duration:.0f} s at a target of {rate:,.0f} events/s, {batch} events per message")
    print(f"    produced                     {sent / (produce_end - started):>12,.0f} events/s "
          f"({sent:,} events)")
    print(f"    persisted during the run     {run_rate:>12,.0f} events/s   (target ≥ 50,000)")
    if caught_up is not None:
        print(f"    all {sent:,} persisted after {caught_up - started:.1f} s "
              f"(→ {sent / (caught_up - started):,.0f} events/s overall)")
    else:
        print(f"    NOT caught up: {consumed[-1][1]:,} of {sent:,} persisted")
    if delays:
        print(f"    event → persisted metric     p50 {statistics.median(delays):.2f} s, "
              f"p95 {np.percentile(delays, 95):.2f} s, max {max(delays):.2f} s "
              f"({len(delays)} of {len(produced)} batches seen)")
    stages: dict[str, float] = {}
    for values in scraped:
        for key, value in values.items():
            match = re.match(r'infersight_stage_seconds_total\{stage="(\w+)"\}', key)
            if match:
                stages[match.group(1)] = stages.get(match.group(1), 0.0) + value
    total = sum(stages.values())
    if total:
        shares = ", ".join(f"{k} {v:.1f} s ({v / total:.0%})" for k, v in sorted(stages.items()))
        print(f"    worker time by stage (both workers): {shares}")
    evaluations = sum(v.get("infersight_window_evaluations_total", 0) for v in scraped)
    print(f"    window evaluations           {evaluations:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["a", "b", "all"], default="all")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=60_000.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.part in ("a", "all"):
        part_a()
    if args.part in ("b", "all"):
        part_b(args.duration, args.rate, args.batch, args.workers)


if __name__ == "__main__":
    main()
