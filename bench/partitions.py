"""One hot model over every partition: what 1, 2 and 4 workers each spend.

A backlog of ``--events`` predictions of ONE model (10 numeric + 2 categorical features,
1-minute windows over ``--minutes`` of event time) is produced once to 8-partition topics,
keyed as the SDK keys it (``infersight.sdk.keys.message_key``) and placed by kafka-python's
default partitioner. Then, for each worker count, a fresh consumer group and a fresh copy of
the database: the workers drain the backlog; printed are the wall time, each worker's CPU
seconds (user + system, from ``/proc``), the total, and the CPU each worker spends per
1,000 events. On a machine with fewer free cores than workers the wall time cannot fall;
the per-event CPU shows what each added core would buy.

Run: ``.venv/bin/python bench/partitions.py [--events 60000] [--workers 1,2,4]``.
Needs Postgres on 127.0.0.1:5432. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODEL = "hot"
PARTITIONS = 8
BATCH = 500
NUMERIC = [f"n{i}" for i in range(10)]
CATEGORIES = ["a", "b", "c", "d", "e"]


def _row(rng: random.Random) -> dict[str, Any]:
    row: dict[str, Any] = {name: rng.gauss(i, 1.0) for i, name in enumerate(NUMERIC)}
    row["c0"] = rng.choice(CATEGORIES)
    row["c1"] = rng.choice(CATEGORIES[:3])
    return row


def _reference() -> bytes:
    from infersight.drift import Reference

    rng = random.Random(1)
    rows = [_row(rng) for _ in range(5000)]
    data = {name: [row[name] for row in rows] for name in rows[0]}
    scores = [rng.betavariate(2, 5) for _ in rows]
    return Reference.from_data(data, predictions=scores).to_bytes()


def _messages(events: int, minutes: float) -> list[bytes]:
    from infersight.sdk.wire import encode_batch

    rng = random.Random(2)
    pool = [_row(rng) for _ in range(2000)]
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    step = minutes * 60.0 / events
    out = []
    for first in range(0, events, BATCH):
        batch = [{
            "type": "prediction", "model": MODEL, "version": "1", "prediction_id": f"p{i}",
            "ts": (start + timedelta(seconds=i * step)).isoformat(),
            "features": pool[i % len(pool)], "prediction": rng.random(),
        } for i in range(first, min(events, first + BATCH))]
        out.append(encode_batch(batch))
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _committed(url: str, group: str) -> int:
    from infersight.storage.db import make_engine
    from infersight.storage.models import ConsumerOffset
    from sqlalchemy import func, select

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(
                select(func.coalesce(func.sum(ConsumerOffset.next_offset), 0))
                .where(ConsumerOffset.consumer_group == group)).scalar_one())
    finally:
        engine.dispose()


def _run(url: str, bootstrap: str, workers: int, messages: int, logs: Path) -> dict[str, Any]:
    group = f"bench-{workers}"
    env = dict(os.environ, INFERSIGHT_DATABASE_URL=url, INFERSIGHT_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
               INFERSIGHT_WORKER_GROUP=group, INFERSIGHT_WINDOW="60s",
               INFERSIGHT_EVAL_INTERVAL="5s", INFERSIGHT_WORKER_MAX_RECORDS="20",
               INFERSIGHT_WORKER_METRICS_PORT="0", INFERSIGHT_ALERT_DISABLED_RULES="")
    procs = [subprocess.Popen([sys.executable, "-m", "infersight", "worker"], cwd=REPO, env=env,
                              stdout=open(logs / f"{group}-{i}.log", "wb"),  # noqa: SIM115
                              stderr=subprocess.STDOUT) for i in range(workers)]
    try:
        while _committed(url, group) == 0:  # group joined, first batch committed
            time.sleep(0.05)
        started = time.monotonic()
        cpu_at_start = [_cpu_seconds(p.pid) for p in procs]
        while _committed(url, group) < messages:
            time.sleep(0.1)
        wall = time.monotonic() - started
        cpu = [_cpu_seconds(p.pid) - c for p, c in zip(procs, cpu_at_start, strict=True)]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
    return {"wall": wall, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]

    from infersight.sdk.keys import message_key
    from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
    from infersight.storage.db import make_engine, session_factory, upgrade
    from infersight.storage.registry import set_reference
    from kafka import KafkaProducer
    from sqlalchemy.engine import make_url

    from tests.collector.harness import create_topics
    from tests.support.postgres import temporary_database
    from tests.support.tansu import TansuBroker

    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"infersight-bench-partitions-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    broker = TansuBroker(log_path=logs / "tansu.log")
    broker.start()
    try:
        create_topics(broker.bootstrap, {EVENTS_TOPIC: PARTITIONS, LABELS_TOPIC: PARTITIONS})
        values = _messages(args.events, args.minutes)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5,
                                 max_request_size=8 * 1024 * 1024)
        futures = [producer.send(EVENTS_TOPIC, key=message_key(MODEL, v), value=v) for v in values]
        producer.flush(60)
        spread = Counter(f.get(30).partition for f in futures)
        producer.close(5)
        print(f"{args.events} predictions of one model in {len(values)} messages; messages per "
              f"partition: {dict(sorted(spread.items()))}")
        with temporary_database("infersight_bench_hot_template") as template:
            upgrade(template)
            engine = make_engine(template)
            with session_factory(engine).begin() as session:
                set_reference(session, MODEL, "1", _reference(), "upload")
            engine.dispose()
            print(f"{'workers':>7} {'wall s':>7} {'events/s':>9} {'CPU s per worker':<28} "
                  f"{'CPU s total':>11} {'CPU ms/1k events':>16} {'events/CPU-s':>12}")
            for workers in counts:
                with temporary_database("infersight_bench_hot",
                                        template=make_url(template).database) as url:
                    result = _run(url, broker.bootstrap, workers, len(values), logs)
                total = sum(result["cpu"])
                per = " ".join(f"{c:.1f}" for c in result["cpu"])
                print(f"{workers:>7} {result['wall']:>7.1f} {args.events / result['wall']:>9.0f} "
                      f"{per:<28} {total:>11.1f} {1e6 * total / args.events:>16.1f} "
                      f"{args.events / total:>12.0f}")
    finally:
        broker.stop()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; logs in {logs}")


if __name__ == "__main__":
    main()
