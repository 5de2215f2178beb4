"""Worker benchmarks: aggregation, end to end, memory, evaluation, labelled traffic, skew.

(a) aggregation only: decoded batches → window state, events/s on one core
    (20 numeric + 5 categorical features); also decode and serialise on their own.
(b) end to end: producer → Tansu (Kafka protocol) → 2 worker processes → Postgres,
    sustained events/s over the run and the p95 delay from producing an event to a
    persisted metric point that counts it; where the workers' time goes (their
    ``infersight_stage_seconds`` counters, scraped from ``/metrics``) and the CPU seconds
    of every process (workers, Tansu, Postgres, the producer) over the run.
(memory) one worker's resident memory over a long stream (it must stay bounded
    regardless of stream length): ``--events`` (default 10,000,000) events of several models with 1- and
    5-minute windows over hours of event time, producer → Tansu → ONE worker (default
    settings) → Postgres; the worker's RSS sampled every 2 s and printed at every million
    consumed events, with the peak. Not part of ``all`` (it takes several minutes).

(eval) one evaluation round on Postgres: 20 dirty windows of one version, 4 partition rows
    each, 25 features; ms per window evaluation and the one alert judgement of the round, and
    the in-process split of a window's evaluation (decode, merge, compare: target well under
    10 ms for 25 features).
(labelled) one worker, producer → Tansu → worker → Postgres, unlabelled and then with labels
    for half the predictions (each label delayed by up to 25 windows, so one label message
    touches ~25 past windows), side by side with the stage split: ``--mode live`` (current
    time stamps at ``--rate`` for ``--duration`` s, 2 s windows), ``--mode backlog`` (150k
    predictions over one hour of event time, 1-minute windows, in the topics before the worker
    starts) or ``both``. ``BENCH_PROFILE=/path`` runs the worker under cProfile.
(skew) one worker on the backlog of (labelled), plain and then with the model's train/serve
    skew on and offline rows stored for half the prediction ids, side by side.

Run: ``.venv/bin/python bench/pipeline.py [--part a|b|all|memory|eval|labelled|skew]
[--mode live|backlog|both] [--duration 60] [--rate 60000] [--events 10000000]``.
Needs Postgres on 127.0.0.1:5432 for (b) and (memory). Prints figures; asserts nothing.
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc``), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds of every running Postgres process (server and backends)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == "postgres":
                found[int(stat.parent.name)] = _cpu_seconds(int(stat.parent.name))
        except OSError:
            continue
    return found


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
        cpu_pids = {"workers": [p.pid for p in procs], "broker (Tansu)": [broker.pid or 0]}
        cpu_start = {name: sum(map(_cpu_seconds, pids)) for name, pids in cpu_pids.items()}
        postgres_start = _postgres_cpu()
        bench_start = time.process_time()
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
        cpu_end = time.time()
        cpu = {name: sum(map(_cpu_seconds, pids)) - cpu_start[name]
               for name, pids in cpu_pids.items()}
        cpu["Postgres (all backends)"] = sum(
            used - postgres_start.get(pid, 0.0) for pid, used in _postgres_cpu().items())
        cpu["producer + poller (this process)"] = time.process_time() - bench_start
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
    wall = cpu_end - started
    used = sum(cpu.values())
    print(f"    CPU over the run's {wall:.1f} s (the machine has {os.cpu_count()} cores, "
          f"{os.cpu_count() * wall:.1f} core-seconds): {used:.1f} core-seconds used")
    for name, seconds in cpu.items():
        print(f"      {name:<34} {seconds:>7.1f} s  ({seconds / wall:.2f} cores)")


# --- (memory) --------------------------------------------------------------------------------

MEMORY_MODELS = {"mem0": None, "mem1": None, "mem2": None, "mem3": 300}  # None: INFERSIGHT_WINDOW
ID_SLOT = "#" * 10
TS_SLOT = "@" * 32  # datetime.isoformat(timespec="microseconds") of a UTC datetime: 32 chars
MODEL_SLOT = "MDL~"  # as long as every name in MEMORY_MODELS


def memory_templates(count: int, batch: int, seed: int = 3) -> list[bytes]:
    """Encoded messages of ``batch`` events with slots for the model, the id stem and the time.

    Feature values are rounded (3 decimals) to keep messages small: the broker holds every
    message in memory for the whole run.
    """
    from infersight.sdk.wire import encode_batch

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        numeric = np.round(rng.normal(0.2, 1.1, (batch, len(NUMERIC))) + np.arange(len(NUMERIC)), 3)
        cats = rng.choice(CATEGORIES, (batch, len(CATEGORICAL)))
        scores = np.round(rng.beta(2, 5, batch), 4)
        latency = np.round(rng.uniform(1, 20, batch), 2)
        out.append(encode_batch([
            {"type": "prediction", "model": MODEL_SLOT, "version": "1",
             "prediction_id": f"{ID_SLOT}-{i:03d}", "ts": TS_SLOT,
             "features": {**dict(zip(NUMERIC, map(float, numeric[i]), strict=True)),
                          **dict(zip(CATEGORICAL, map(str, cats[i]), strict=True))},
             "prediction": float(scores[i]), "latency_ms": float(latency[i])}
            for i in range(batch)]))
    return out


def _rss_kb(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process in KiB: psutil if installed, else /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return fields["VmRSS"], fields["VmHWM"]
    return psutil.Process(pid).memory_info().rss // 1024, fields["VmHWM"]


def _fast_gzip() -> None:
    """Producer-side gzip at level 1 (kafka-python uses 9: ~40 ms per 240 kB message)."""
    import gzip

    import kafka.record.default_records as records

    records.gzip_encode = lambda payload, compresslevel=None: gzip.compress(payload, 1)


def part_memory(events: int, batch: int, span_hours: float, ahead: int) -> None:
    from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
    from infersight.storage.db import make_engine, session_factory, upgrade
    from infersight.storage.registry import configure_model, set_reference
    from kafka import KafkaProducer
    from sqlalchemy import text

    from tests.collector.harness import create_topics
    from tests.support.postgres import temporary_database
    from tests.support.tansu import TansuBroker, free_port

    models = list(MEMORY_MODELS)
    messages = events // batch
    templates = memory_templates(256, batch)
    span = timedelta(hours=span_hours)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - span
    step = span / messages
    broker = TansuBroker(log_path=Path("/tmp") / f"bench-tansu-{os.getpid()}.log")
    broker.start()
    create_topics(broker.bootstrap, {EVENTS_TOPIC: len(models), LABELS_TOPIC: 1})
    worker_log = Path("/tmp") / f"bench-memory-worker-{os.getpid()}.log"
    samples: list[tuple[float, int, int, int]] = []  # (time, consumed events, RSS, peak RSS)
    with temporary_database("infersight_bench") as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            for model, window_seconds in MEMORY_MODELS.items():
                configure_model(session, model, window_seconds=window_seconds)
                set_reference(session, model, "1", reference_bytes())
        port = free_port()
        env = dict(os.environ, INFERSIGHT_DATABASE_URL=url,
                   INFERSIGHT_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, INFERSIGHT_WINDOW="1m",
                   INFERSIGHT_WORKER_GROUP="memory", INFERSIGHT_WORKER_SESSION_TIMEOUT="6s",
                   INFERSIGHT_WORKER_METRICS_PORT=str(port))
        with open(worker_log, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "infersight", "worker"], cwd=REPO,
                                    env=env, stdout=log, stderr=log)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                with engine.connect() as conn:
                    offsets = conn.execute(text(
                        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
                        "WHERE consumer_group = 'memory' AND topic = :t"), {"t": EVENTS_TOPIC}
                    ).scalar_one()
                rss, peak = _rss_kb(proc.pid)
                samples.append((time.time(), int(offsets) * batch, rss, peak))
                stop.wait(2.0)

        time.sleep(4)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _fast_gzip()
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5,
                                 compression_type="gzip", max_request_size=16 * 1024 * 1024)
        started = time.time()
        for n in range(messages):
            while samples and n - samples[-1][1] // batch > ahead:
                time.sleep(0.1)
            model = models[n % len(models)]
            stamp = (start + n * step).isoformat(timespec="microseconds")
            value = (templates[n % len(templates)].replace(ID_SLOT.encode(), b"%010d" % n)
                     .replace(TS_SLOT.encode(), stamp.encode())
                     .replace(MODEL_SLOT.encode(), model.encode()))
            producer.send(EVENTS_TOPIC, value=value, key=model.encode(),
                          partition=n % len(models))
        producer.flush(120)
        producer.close(10)
        produced_at = time.time()
        while time.time() - produced_at < 1800 and (not samples or samples[-1][1] < events):
            time.sleep(1)
        done_at = time.time()
        time.sleep(65)  # one more housekeeping round (closed clean windows are dropped every 60 s)
        stop.set()
        sampler.join(10)
        scraped = _scrape(port)
        proc.terminate()
        proc.wait(30)
        with engine.connect() as conn:
            figures = {name: conn.execute(text(sql)).scalar_one() for name, sql in {
                "index rows": "SELECT count(*) FROM prediction_index",
                "index bytes": "SELECT pg_total_relation_size('prediction_index')",
                "database bytes": "SELECT pg_database_size(current_database())",
                "window_states rows": "SELECT count(*) FROM window_states",
                "windows": "SELECT count(DISTINCT (model, window_start)) FROM window_states",
                "metric points": "SELECT count(*) FROM metric_points",
                "dead letters": "SELECT count(*) FROM dead_letters",
            }.items()}
        engine.dispose()
    broker.stop()

    consumed = samples[-1][1]
    print(f"(memory) one worker: producer → Tansu → 1 worker → Postgres, {consumed:,} of "
          f"{events:,} events consumed in {done_at - started:.0f} s "
          f"({consumed / (done_at - started):,.0f} events/s); {len(models)} models "
          f"(windows: {', '.join(f'{m} {w or 60} s' for m, w in MEMORY_MODELS.items())}), "
          f"{len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical features, event time over "
          f"{span_hours:g} h, {batch} events per message, worker settings at their defaults "
          f"(max_records 200, max_cached_states 5000, eval interval 10 s)")
    print(f"    worker RSS at start          {samples[0][2] / 1024:>8,.0f} MiB")
    for million in range(1, events // 1_000_000 + 1):
        hit = next((s for s in samples if s[1] >= million * 1_000_000), None)
        if hit is not None:
            print(f"    at {million:>2}M consumed (t={hit[0] - started:>4.0f} s)  "
                  f"{hit[2] / 1024:>8,.0f} MiB")
    print(f"    after idle housekeeping      {samples[-1][2] / 1024:>8,.0f} MiB "
          f"({samples[-1][0] - done_at:.0f} s after the last event)")
    print(f"    peak: sampled {max(s[2] for s in samples) / 1024:,.0f} MiB, kernel high-water "
          f"mark (VmHWM) {samples[-1][3] / 1024:,.0f} MiB")
    print(f"    prediction_index: {figures['index rows']:,} rows, "
          f"{figures['index bytes'] / 2**20:,.0f} MiB (grows with the stream: retention bounds "
          f"it in time, INFERSIGHT_PREDICTION_RETENTION, not in rows); database "
          f"{figures['database bytes'] / 2**20:,.0f} MiB")
    print(f"    window_states rows {figures['window_states rows']:,} ({figures['windows']:,} "
          f"windows), metric points {figures['metric points']:,}, "
          f"dead letters {figures['dead letters']:,}")
    evaluations = scraped.get("infersight_window_evaluations_total", 0)
    print(f"    window evaluations {evaluations:,.0f}; worker log {worker_log}")


# --- (eval) ----------------------------------------------------------------------------------


def part_eval(windows: int = 20, partitions: int = 4, per_partition: int = 2_000,
              repeats: int = 5) -> None:
    """Window evaluation on Postgres as the worker runs it: a round of ``windows`` dirty
    windows of one version, each with ``partitions`` state rows (25 features, half the
    predictions labelled), with and without the built-in alert rules judged after it."""
    from infersight.alerts.rules_file import AlertConfigSource
    from infersight.alerts.service import Alerting
    from infersight.collector.worker import statistics as worker_statistics
    from infersight.collector.worker.catalog import ModelCatalog
    from infersight.collector.worker.config import WorkerConfig
    from infersight.collector.worker.scheduler import EvaluationScheduler
    from infersight.collector.worker.self_metrics import WorkerMetrics
    from infersight.collector.worker.watermarks import Watermarks
    from infersight.sdk.wire import decode_batch, encode_batch
    from infersight.storage.db import make_engine, session_factory, upgrade
    from infersight.storage.registry import set_reference
    from infersight.storage.windows import WindowStateRecord, upsert_window_states

    from tests.support.postgres import temporary_database

    factory = EventFactory()
    first = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [first + timedelta(minutes=i) for i in range(windows)]
    with temporary_database("infersight_bench") as url:
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            set_reference(session, "bench", "1", reference_bytes())
        catalog = ModelCatalog(60.0)
        with sessions() as session:
            reference = catalog.reference(session, "bench", "1")
        assert reference is not None
        records = []
        for start in starts:
            for p in range(partitions):
                state = worker_statistics.new_state(reference)
                for _ in range(per_partition // 500):  # messages stay under 1 MB
                    events = decode_batch(encode_batch(factory.batch(500, start))).predictions
                    assert len(events) == 500
                    worker_statistics.add_predictions(state, events)
                    worker_statistics.add_labels(state, [
                        (e.prediction, int(e.prediction > 0.3)) for e in events[:250]])
                records.append(WindowStateRecord(
                    "bench", "1", start, start + timedelta(minutes=1), f"infersight.events/{p}",
                    worker_statistics.dump_state(state), per_partition))
        with sessions.begin() as session:
            upsert_window_states(session, records)
        config = WorkerConfig(window_s=60.0)
        results = {}
        firsts: dict[str, tuple[float, float]] = {}
        """Per case: the first round (every point new) and the median of the repeats (the same
        states again: every point unchanged, so none is rewritten)."""
        for name, alerting in (("without alert rules", None),
                               ("with the built-in alert rules",
                                Alerting(AlertConfigSource(None, {}), sessions, 1.0))):
            metrics = WorkerMetrics()
            scheduler = EvaluationScheduler(sessions, catalog, Watermarks(sessions, catalog, 0.1),
                                            config, metrics, alerting)
            took = []
            for _ in range(repeats):
                keys = [("bench", "1", start) for start in starts]
                scheduler.touch(keys)
                started = time.perf_counter()
                assert scheduler.evaluate(keys) == windows
                took.append(time.perf_counter() - started)
            stage = metrics.stage_seconds
            results[name] = (statistics.median(took),
                             stage.labels(stage="evaluate")._value.get() / repeats,
                             stage.labels(stage="judge")._value.get() / repeats)
            firsts[name] = (took[0], statistics.median(took[1:]))
        with engine.connect() as conn:
            points = conn.execute(text_sql("SELECT count(*) FROM metric_points")).scalar_one()
        with sessions() as session:
            split = _evaluation_split(reference, catalog.settings(session, "bench"), records,
                                      starts, repeats)
        engine.dispose()
    print(f"(eval) one evaluation round on Postgres: {windows} windows of one version, "
          f"{partitions} partition rows each ({per_partition:,} events, half labelled), "
          f"{len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical features, "
          f"{points // windows} metric points per window; median of {repeats} rounds")
    for name, (total, evaluate_s, judge_s) in results.items():
        print(f"    {name:<30} round {total * 1000:>7.1f} ms: "
              f"{evaluate_s / windows * 1000:.1f} ms per window evaluation, judging once per "
              f"round {judge_s * 1000:.1f} ms")
        first, repeat = firsts[name]
        print(f"    {'':<30} first round {first * 1000:.1f} ms (every point new), a repeat "
              f"{repeat * 1000:.1f} ms (every point unchanged: none rewritten)")
    engine_s = split["decode"] + split["merge"] + split["compare"]
    _total, evaluate_s, judge_s = results["with the built-in alert rules"]
    print(f"    per window, in-process (median): decode {split['decode'] * 1000:.2f} ms + "
          f"merge {split['merge'] * 1000:.2f} ms + compare {split['compare'] * 1000:.2f} ms = "
          f"{engine_s * 1000:.2f} ms (target well under 10 ms); the rest of "
          f"{evaluate_s / windows * 1000:.1f} ms is Postgres (state reads, health points, "
          f"the metric-point upsert); judging {judge_s / windows * 1000:.1f} ms a window "
          f"when a round judges {windows} windows at once")


def _evaluation_split(reference: Any, settings: Any, records: list[Any], starts: list[datetime],
                      repeats: int) -> dict[str, float]:
    """Median seconds per window of what the worker's evaluation computes (no database):
    decoding its partition states, merging them, comparing the merge with the reference
    (the metric rows it writes)."""
    from infersight.collector.worker import statistics as worker_statistics

    blobs = {start: [r.state for r in records if r.window_start == start] for start in starts}
    took: dict[str, list[float]] = {"decode": [], "merge": [], "compare": []}
    for _ in range(repeats):
        for start in starts:
            t0 = time.perf_counter()
            states = [worker_statistics.load_any_state(blob) for blob in blobs[start]]
            assert all(worker_statistics.bind_if_same_layout(reference, s) for s in states)
            t1 = time.perf_counter()
            merged = worker_statistics.merge_states(reference, states)
            t2 = time.perf_counter()
            worker_statistics.evaluate(reference, merged, settings)
            t3 = time.perf_counter()
            for key, seconds in (("decode", t1 - t0), ("merge", t2 - t1), ("compare", t3 - t2)):
                took[key].append(seconds)
    return {key: statistics.median(values) for key, values in took.items()}


def text_sql(sql: str) -> Any:
    from sqlalchemy import text

    return text(sql)

# --- (labelled) --------------------------------------------------------------------------------

LABEL_SLOT = "%" * 16  # "0000000042-017": the prediction id a label is for (ID_SLOT + "-iii")


def _label_message(ids: list[bytes], ts: str) -> bytes:
    """One label message for ``ids`` (``{n:010d}-{i:03d}``; the label: i's parity)."""
    from infersight.sdk.wire import encode_batch

    return encode_batch([
        {"type": "label", "model": "benc", "prediction_id": pid.decode(),
         "label": int(pid[-1:]) % 2, "ts": ts}
        for pid in ids])


def labelled_stream(
    messages: int, batch: int, delay_messages: int, labelled: bool, seed: int = 4
) -> list[tuple[str, int, list[bytes] | None]]:
    """The order of messages to produce: ``("p", n, None)`` is prediction message ``n``,
    ``("l", k, ids)`` a label message for ``ids``. Half the predictions of each message get a
    label, each delayed by a uniform 0…``delay_messages`` prediction messages, so one label
    message holds labels for predictions spread over that many past messages (windows)."""
    rng = np.random.default_rng(seed)
    due: dict[int, list[bytes]] = {}
    out: list[tuple[str, int, list[bytes] | None]] = []
    ready: list[bytes] = []
    labels_sent = 0
    for n in range(messages):
        out.append(("p", n, None))
        if not labelled:
            continue
        chosen = rng.choice(batch, batch // 2, replace=False)
        delays = rng.integers(0, delay_messages + 1, batch // 2)
        for i, d in zip(chosen, delays, strict=True):
            due.setdefault(n + int(d), []).append(b"%010d-%03d" % (n, i))
        ready.extend(due.pop(n, []))
        while len(ready) >= batch:
            out.append(("l", labels_sent, ready[:batch]))
            ready = ready[batch:]
            labels_sent += 1
    if labelled:
        for n in sorted(due):
            ready.extend(due[n])
        while len(ready) >= batch:  # the remainder (< one message) is left out
            out.append(("l", labels_sent, ready[:batch]))
            ready = ready[batch:]
            labels_sent += 1
    return out


def part_labelled(mode: str, rate: float, duration: float, partitions: int) -> None:
    """Labelled against unlabelled traffic, one worker, side by side (see the module doc)."""
    modes = ["live", "backlog"] if mode == "both" else [mode]
    results = {}
    for m in modes:
        for labelled in (False, True):
            results[(m, labelled)] = _labelled_run(m, labelled, rate, duration, partitions)
    for m in modes:
        plain, with_labels = results[(m, False)], results[(m, True)]
        print(f"(labelled, {m}) one worker, producer → Tansu → worker → Postgres; "
              f"{plain['describe']}")
        for name, r in (("unlabelled", plain), ("50 % labelled", with_labels)):
            print(f"    {name:<14} {r['events']:>9,} events ({r['labels']:,} labels) in "
                  f"{r['seconds']:>6.1f} s = {r['events'] / r['seconds']:>8,.0f} events/s; "
                  f"{r['evaluations']:,.0f} window evaluations, "
                  f"{r['judgements']:,.0f} alert judgements")
            total = sum(r["stages"].values())
            if total:
                print("        stages: " + ", ".join(
                    f"{k} {v:.1f} s ({v / total:.0%})" for k, v in r["stages"].items()))
        ratio = (with_labels["events"] / with_labels["seconds"]) / (
            plain["events"] / plain["seconds"])
        print(f"    labelled / unlabelled throughput: {ratio:.2f} (target ≥ 0.5; ≥ 20,000 "
              f"events/s each)")


STAGES = ("decode", "aggregate", "serialise", "write", "evaluate", "judge")


def _labelled_run(mode: str, labelled: bool, rate: float, duration: float,
                  partitions: int) -> dict[str, Any]:
    from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
    from infersight.storage.db import make_engine, session_factory, upgrade
    from infersight.storage.registry import configure_model, set_reference
    from kafka import KafkaProducer
    from sqlalchemy import text

    from tests.collector.harness import create_topics
    from tests.support.postgres import temporary_database
    from tests.support.tansu import TansuBroker

    batch = 500
    if mode == "backlog":  # 150k predictions over an hour of event time, 1-minute windows
        window_s, messages = 60, 300
        span = timedelta(hours=1)
        first_ts = datetime.now(UTC).replace(second=0, microsecond=0) - span
    else:  # current time stamps at ``rate``; short windows so labels reach 25 of them
        window_s, messages = 2, int(rate * duration / batch)
        span = timedelta(seconds=duration)
        first_ts = None
    per_window = max(1, round(messages * window_s / span.total_seconds()))
    stream = labelled_stream(messages, batch, 25 * per_window, labelled)
    templates = memory_templates(64, batch)
    model_slot, id_slot, ts_slot = MODEL_SLOT.encode(), ID_SLOT.encode(), TS_SLOT.encode()
    templates = [t.replace(model_slot, b"benc") for t in templates]

    def prediction_message(n: int, ts: datetime) -> bytes:
        stamp = ts.isoformat(timespec="microseconds").encode()
        return templates[n % len(templates)].replace(id_slot, b"%010d" % n).replace(
            ts_slot, stamp)

    broker = TansuBroker(log_path=Path("/tmp") / f"bench-tansu-{os.getpid()}.log")
    broker.start()
    create_topics(broker.bootstrap, {EVENTS_TOPIC: partitions, LABELS_TOPIC: partitions})
    _fast_gzip()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5,
                             max_request_size=16 * 1024 * 1024)
    label_count = sum(1 for kind, _n, _ids in stream if kind == "l") * batch
    total = messages * batch + label_count

    def send(item: tuple[str, int, list[bytes] | None], now: datetime) -> None:
        kind, n, ids = item
        if kind == "p":
            ts = now if first_ts is None else first_ts + span * (n / messages)
            producer.send(EVENTS_TOPIC, prediction_message(n, ts), partition=n % partitions)
        else:
            assert ids is not None
            producer.send(LABELS_TOPIC, _label_message(ids, now.isoformat()),
                          partition=n % partitions)

    with temporary_database("infersight_bench") as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            configure_model(session, "benc", window_seconds=window_s)
            set_reference(session, "benc", "1", reference_bytes())
        if mode == "backlog":  # everything in the topics before the worker starts
            for item in stream:
                send(item, datetime.now(UTC))
            producer.flush(120)
        proc, port = _bench_worker(url, broker.bootstrap, window_s, "labelled",
                                   f"{mode}.{int(labelled)}")
        samples: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                with engine.connect() as conn:
                    committed = conn.execute(text(
                        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
                        "WHERE consumer_group = 'bench'")).scalar_one()
                samples.append((time.time(), int(committed) * batch))
                stop.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        if mode == "live":
            while not samples or _scrape_or_none(port) is None:
                time.sleep(0.5)
            time.sleep(6)  # group join
            started = time.time()
            for index, item in enumerate(stream):
                wait = started + index * duration / len(stream) - time.time()
                if wait > 0:
                    time.sleep(wait)
                send(item, datetime.now(UTC))
            producer.flush(120)
        deadline = time.time() + 600
        while time.time() < deadline and (not samples or samples[-1][1] < total):
            time.sleep(0.5)
        time.sleep(2)
        stop.set()
        sampler.join(5)
        scraped = _scrape(port)
        proc.terminate()
        proc.wait(30)
        engine.dispose()
    producer.close(10)
    broker.stop()
    seconds, stages = _run_figures(samples, total, scraped)
    describe = (f"{messages * batch:,} predictions of 25 features in messages of {batch}, "
                f"{partitions} partitions per topic, {window_s} s windows, "
                + ("one hour of event time already in the topics" if mode == "backlog"
                   else f"produced at {rate:,.0f} predictions/s for {duration:.0f} s")
                + "; labels for half the predictions, each label message reaching ~25 "
                  "past windows")
    return {"events": min(samples[-1][1], total), "labels": label_count,
            "seconds": seconds, "stages": stages, "describe": describe,
            "evaluations": scraped.get("infersight_window_evaluations_total", 0.0),
            "judgements": scraped.get("infersight_alert_judgements_total", 0.0)}


# --- (skew) ------------------------------------------------------------------------------------


def part_skew(partitions: int, share: float = 0.5) -> None:
    """One worker on the same backlog twice: the model's skew off, then on with offline rows
    uploaded for ``share`` of the prediction ids before the stream is produced."""
    results = {skewed: _skew_run(skewed, partitions, share) for skewed in (False, True)}
    plain, skewed = results[False], results[True]
    print(f"(skew, backlog) one worker, producer → Tansu → worker → Postgres; {plain['describe']}")
    for name, r in (("plain", plain), (f"skew, {share:.0%} rows", skewed)):
        print(f"    {name:<15} {r['events']:>9,} events ({r['pairs']:,.0f} skew pairs, "
              f"{r['compared']:,} offline rows compared) in "
              f"{r['seconds']:>6.1f} s = {r['events'] / r['seconds']:>8,.0f} events/s; "
              f"{r['evaluations']:,.0f} window evaluations, "
              f"{r['judgements']:,.0f} alert judgements")
        total = sum(r["stages"].values())
        if total:
            print("        stages: " + ", ".join(
                f"{k} {v:.1f} s ({v / total:.0%})" for k, v in r["stages"].items()))
    ratio = (skewed["events"] / skewed["seconds"]) / (plain["events"] / plain["seconds"])
    print(f"    skew / plain throughput: {ratio:.2f} (target ≥ 0.5)")


def skew_offline_rows(templates: list[bytes], messages: int, batch: int, share: float,
                      seed: int = 5) -> dict[str, dict[str, Any]]:
    """Offline values for ``share`` of the prediction ids of ``messages`` messages made from
    ``templates``: the served features, with one numeric and one categorical value changed in
    a tenth of the rows (so the skew metrics have something to find)."""
    import msgspec

    rng = np.random.default_rng(seed)
    served = [[e["features"] for e in msgspec.json.decode(t)["events"]] for t in templates]
    rows: dict[str, dict[str, Any]] = {}
    for n in range(messages):
        for i in rng.choice(batch, int(batch * share), replace=False).tolist():
            row = dict(served[n % len(served)][i])
            if rng.random() < 0.1:
                row[NUMERIC[0]] = row[NUMERIC[0]] + 1.0
                row[CATEGORICAL[0]] = "offline-only"
            rows[f"{n:010d}-{i:03d}"] = row
    return rows


def _skew_run(skewed: bool, partitions: int, share: float) -> dict[str, Any]:
    """150k predictions over one hour of event time in the topics before one worker starts;
    with ``skewed``, the model's skew on and offline rows stored for ``share`` of the ids."""
    from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
    from infersight.storage import skew_rows
    from infersight.storage.db import make_engine, session_factory, upgrade
    from infersight.storage.registry import configure_model, set_reference
    from infersight.storage.types import utc_now
    from kafka import KafkaProducer
    from sqlalchemy import text

    from tests.collector.harness import create_topics
    from tests.support.postgres import temporary_database
    from tests.support.tansu import TansuBroker

    batch, window_s, messages = 500, 60, 300
    span = timedelta(hours=1)
    first_ts = datetime.now(UTC).replace(second=0, microsecond=0) - span
    templates = [t.replace(MODEL_SLOT.encode(), b"benc") for t in memory_templates(64, batch)]
    total = messages * batch
    broker = TansuBroker(log_path=Path("/tmp") / f"bench-tansu-{os.getpid()}.log")
    broker.start()
    create_topics(broker.bootstrap, {EVENTS_TOPIC: partitions, LABELS_TOPIC: partitions})
    _fast_gzip()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5,
                             max_request_size=16 * 1024 * 1024)
    uploaded = 0
    with temporary_database("infersight_bench") as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            configure_model(session, "benc", window_seconds=window_s, skew_enabled=skewed)
            set_reference(session, "benc", "1", reference_bytes())
        if skewed:  # every offline row stored before the stream is produced
            offline = skew_offline_rows(templates, messages, batch, share)
            started = time.perf_counter()
            with session_factory(engine).begin() as session:
                skew_rows.store_offline(session, "benc", "1", offline,
                                        utc_now() + timedelta(days=7))
            uploaded = len(offline)
            print(f"    (skew) stored {uploaded:,} offline rows in "
                  f"{time.perf_counter() - started:.1f} s")
        for n in range(messages):
            stamp = (first_ts + span * (n / messages)).isoformat(timespec="microseconds")
            value = templates[n % len(templates)].replace(ID_SLOT.encode(), b"%010d" % n).replace(
                TS_SLOT.encode(), stamp.encode())
            producer.send(EVENTS_TOPIC, value, partition=n % partitions)
        producer.flush(120)
        proc, port = _bench_worker(url, broker.bootstrap, window_s, "skew",
                                   f"skew.{int(skewed)}")
        samples: list[tuple[float, int]] = []
        deadline = time.time() + 900
        while time.time() < deadline and (not samples or samples[-1][1] < total):
            with engine.connect() as conn:
                committed = conn.execute(text(
                    "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
                    "WHERE consumer_group = 'bench' AND topic = :topic"),
                    {"topic": EVENTS_TOPIC}).scalar_one()
            samples.append((time.time(), int(committed) * batch))
            time.sleep(0.25)
        time.sleep(2)
        scraped = _scrape(port)
        with engine.connect() as conn:
            compared = conn.execute(text(
                "SELECT count(*) FROM offline_rows WHERE compared")).scalar_one()
        proc.terminate()
        proc.wait(30)
        engine.dispose()
    producer.close(10)
    broker.stop()
    seconds, stages = _run_figures(samples, total, scraped)
    describe = (f"{total:,} predictions of 25 features in messages of {batch}, {partitions} "
                f"partitions, {window_s} s windows, one hour of event time already in the "
                f"topics; with skew: offline rows for {share:.0%} of the ids (a tenth of them "
                "differing in 2 features), stored before the stream")
    return {"events": min(samples[-1][1], total), "seconds": seconds, "stages": stages, "describe": describe, "uploaded": uploaded,
            "pairs": scraped.get("infersight_skew_pairs_total", 0.0), "compared": compared,
            "evaluations": scraped.get("infersight_window_evaluations_total", 0.0),
            "judgements": scraped.get("infersight_alert_judgements_total", 0.0)}


def _bench_worker(url: str, bootstrap: str, window_s: float, name: str,
                  profile_suffix: str) -> tuple[subprocess.Popen[bytes], int]:
    """One ``infersight worker`` process of group ``bench`` on ``url`` and ``bootstrap``,
    logging to ``/tmp/bench-<name>-worker-<pid>.log``; under cProfile (written to
    ``$BENCH_PROFILE.<profile_suffix>``) when ``BENCH_PROFILE`` names a path. Returns the
    process and its metrics port."""
    from tests.support.tansu import free_port

    port = free_port()
    env = dict(os.environ, INFERSIGHT_DATABASE_URL=url,
               INFERSIGHT_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
               INFERSIGHT_WINDOW=f"{window_s}s", INFERSIGHT_WORKER_GROUP="bench",
               INFERSIGHT_WORKER_SESSION_TIMEOUT="6s",
               INFERSIGHT_WORKER_METRICS_PORT=str(port))
    command = [sys.executable, "-m", "infersight", "worker"]
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        command[1:1] = ["-m", "cProfile", "-o", f"{profile}.{profile_suffix}"]
    with open(Path("/tmp") / f"bench-{name}-worker-{os.getpid()}.log", "wb") as log:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log), port


def _run_figures(samples: list[tuple[float, int]], total: int, scraped: dict[str, float]
                 ) -> tuple[float, dict[str, float]]:
    """Seconds from the first commit to the one reaching ``total`` (the first commit's time
    taken halfway from the last empty sample), and the worker's seconds per stage."""
    first = next(t for t, n in samples if n > 0)
    before = max((t for t, n in samples if n == 0 and t < first), default=first)
    done = next((t for t, n in samples if n >= total), samples[-1][0])
    stages = {s: scraped.get(f'infersight_stage_seconds_total{{stage="{s}"}}', 0.0)
              for s in STAGES}
    return done - (first + before) / 2, stages


def _scrape_or_none(port: int) -> dict[str, float] | None:
    try:
        return _scrape(port)
    except OSError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["a", "b", "all", "memory", "eval", "labelled", "skew"], default="all")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=60_000.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", choices=["live", "backlog", "both"], default="both",
                        help="(labelled) live traffic, a backlog, or both")
    parser.add_argument("--partitions", type=int, default=4, help="(labelled) per topic")
    parser.add_argument("--events", type=int, default=10_000_000, help="(memory) stream length")
    parser.add_argument("--span-hours", type=float, default=8.0,
                        help="(memory) event time covered by the stream")
    parser.add_argument("--ahead", type=int, default=1000,
                        help="(memory) messages the producer may run ahead of the worker")
    args = parser.parse_args()
    if args.part in ("a", "all"):
        part_a()
    if args.part in ("b", "all"):
        part_b(args.duration, args.rate, args.batch, args.workers)
    if args.part in ("eval", "all"):
        part_eval()
    if args.part == "labelled":
        part_labelled(args.mode, args.rate, args.duration, args.partitions)
    if args.part == "skew":
        part_skew(args.partitions)
    if args.part == "memory":
        part_memory(args.events, args.batch, args.span_hours, args.ahead)


if __name__ == "__main__":
    main()
