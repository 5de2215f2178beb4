"""Query API benchmark: drift ranking and metric series over 30 days of 1-minute windows,
and ``POST /v1/events`` ingest throughput.

Seeds a throwaway Postgres database (COPY) with 100 features x 30 days of 1-minute window
states (43,200 rows) and their metric points, builds the rollups once (timed: what the
API's background maintainer does incrementally in production), then measures over HTTP
on loopback:

- ``GET /v1/models/{model}/drift`` for 30-day and 1-day ranges starting and ending at
  random minutes (so every request has ragged edges), p50/p95;
- ``GET /v1/models/{model}/metrics`` for one metric of one feature over 30 days and 1 day;
- ``POST /v1/events`` throughput: ``infersight api`` in its own process (local bus, auth on)
  and an asyncio load generator with several connections.

Run: ``.venv/bin/python bench/query.py`` (about 5-10 minutes; ``--quick`` for 3 days).
To compare code changes side by side, seed once with ``--keep``, then measure the kept database
with ``--database URL --parts drift`` (the drift ranking only) alternately on each code tree.
Postgres: ``INFERSIGHT_BENCH_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import psycopg
import uvicorn

ADMIN_DSN = os.environ.get("INFERSIGHT_BENCH_POSTGRES",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
MODEL = "bench-credit"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@contextmanager
def temporary_database(keep: bool = False) -> Iterator[str]:
    name = f"infersight_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        if keep:
            print(f"kept the seeded database: --database {base}/{name}")
        else:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (n={len(ordered)})"


def build_reference(features: int, rows: int, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    from infersight.drift import Reference

    rng = np.random.default_rng(seed)
    categorical = max(1, features // 10)
    data: dict[str, Any] = {f"num_{i:03d}": rng.normal(0, 1, rows) for i in range(features - categorical)}
    data.update({f"cat_{i:02d}": rng.choice(list("abcdefgh"), rows) for i in range(categorical)})
    scores = rng.random(rows)
    labels = (rng.random(rows) < scores).astype(int)
    return Reference.from_data(data, predictions=scores, labels=labels), data


def window_pool(reference: Any, data: dict[str, Any], size: int, rows: int,
                drifted: bool, seed: int) -> list[bytes]:
    """Distinct serialised window states (reused round-robin: merge cost is per state)."""
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(size):
        batch = {}
        for i, (name, column) in enumerate(data.items()):
            values = rng.choice(column, rows)
            if drifted and i % 10 == 0 and name.startswith("num_"):
                values = values + 1.0  # every 10th numeric feature drifts
            batch[name] = values
        state = reference.new_window()
        state.update(batch, predictions=rng.random(rows), latency_ms=rng.gamma(2, 3, rows))
        pool.append(bytes(state.to_bytes()))
    return pool


def seed_window_states(url: str, reference: Any, data: dict[str, Any], days: int,
                       rows: int) -> int:
    calm = window_pool(reference, data, 96, rows, drifted=False, seed=1)
    drifted = window_pool(reference, data, 96, rows, drifted=True, seed=2)
    minutes = days * 1440
    drift_from = minutes - 7 * 1440  # the last week drifts
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY window_states (model, version, window_start, partition_key, "
                      "window_end, state, event_count, updated_at) FROM STDIN") as copy:
            for m in range(minutes):
                start = T0 + m * MINUTE
                pool = drifted if m >= drift_from else calm
                copy.write_row((MODEL, "1", start, "infersight.events/0", start + MINUTE,
                                pool[m % len(pool)], rows, now))
        conn.commit()
    return minutes


def seed_metric_points(url: str, features: list[str], days: int, rows: int) -> int:
    rng = np.random.default_rng(3)
    minutes = days * 1440
    now = datetime.now(UTC)
    written = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY metric_points (model, version, window_start, window_end, feature, "
                      "metric, value, sample_size, evaluated_at) FROM STDIN") as copy:
            for m in range(minutes):
                start = T0 + m * MINUTE
                end = start + MINUTE
                psi = rng.gamma(1.0, 0.02, len(features))
                for feature, value in zip(features, psi.tolist(), strict=True):
                    copy.write_row((MODEL, "1", start, end, feature, "psi", value, rows, now))
                for metric, value in (("drift_share", float(rng.random() * 0.1)),
                                      ("count", float(rows)), ("latency_p99_ms", 12.0)):
                    copy.write_row((MODEL, "1", start, end, "", metric, value, rows, now))
                written += len(features) + 3
        conn.commit()
        conn.execute("ANALYZE")
    return written


class Server:
    """The API in a uvicorn thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def random_range(days: int, span: timedelta, rng: random.Random) -> tuple[datetime, datetime]:
    total = days * 1440
    length = int(span / MINUTE)
    start = rng.randrange(0, max(1, total - length))
    return T0 + start * MINUTE, T0 + (start + length) * MINUTE


def time_requests(client: httpx.Client, path: str, params_list: list[dict[str, Any]],
                  headers: dict[str, str]) -> tuple[list[float], Any]:
    samples = []
    last = None
    for params in params_list:
        started = time.perf_counter()
        response = client.get(path, params=params, headers=headers)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
        last = response.json()
    return samples, last


def breakdown(context: Any, start: datetime, end: datetime) -> dict[str, float]:
    """Where one ranking's time goes (in-process, no HTTP)."""
    from infersight.collector.api import rollups
    from infersight.drift import compare_configured

    out: dict[str, float] = {}
    with context.sessions.begin() as session:
        t = time.perf_counter()
        signatures = rollups.range_signatures(session, MODEL, start, end)
        out["signatures"] = time.perf_counter() - t
        t = time.perf_counter()
        reference = context.references.reference(session, MODEL, "1")
        out["reference"] = time.perf_counter() - t
        t = time.perf_counter()
        parts = rollups.collect_parts(session, MODEL, "1", rollups.plan_range(start, end),
                                      signatures["1"], cache=context.states,
                                      fingerprint=reference.fingerprint)
        out["read_parts"] = time.perf_counter() - t
        out["parts"] = float(len(parts.parts))
        t = time.perf_counter()
        out["cached"] = float(parts.cache_hits)
        merged = rollups.merge_parts(reference, parts, context.states)
        out["merge"] = time.perf_counter() - t
        t = time.perf_counter()
        compare_configured(reference, merged.state)
        out["compare"] = time.perf_counter() - t
    return out


def bench_queries(url: str, days: int, runs: int, reference: Any, series: bool = True) -> None:
    from infersight.collector.api.rollup_maintainer import refresh_rollups
    from infersight.storage.apikeys import create_api_key
    from infersight.storage.db import make_engine
    from infersight.storage.registry import set_reference

    from infersight.api_service import build_api
    from infersight.settings import Settings

    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = make_engine(sa_url)
    settings = Settings(database_url=sa_url, api_rollups=False, api_bus="local")
    from infersight.sdk.local_bus import LocalBus

    app = build_api(settings, engine=engine, bus=LocalBus())
    context = app.state.context
    with context.sessions.begin() as session:
        set_reference(session, MODEL, "1", reference.to_bytes())
        _row, token = create_api_key(session, f"bench-{uuid.uuid4().hex[:6]}", ["read"])
    headers = {"Authorization": f"Bearer {token}"}

    started = time.perf_counter()
    written = refresh_rollups(context.sessions, MODEL,
                              lambda s, v: context.references.reference(s, MODEL, v),
                              now=T0 + timedelta(days=days + 1))
    if written:
        print(f"rollups built from scratch: {written} in {time.perf_counter() - started:.1f} s "
              "(the API's maintainer then only adds each new 10-minute bucket and its parents)")

    rng = random.Random(7)
    with Server(app) as base, httpx.Client(base_url=base, timeout=300) as client:
        for label, span in ((f"{days} days", timedelta(days=days) - timedelta(minutes=1440)),
                            ("1 day", timedelta(days=1))):
            ranges = [random_range(days, span, rng) for _ in range(runs)]
            params = [{"start": s.isoformat(), "end": e.isoformat()} for s, e in ranges]
            time_requests(client, f"/v1/models/{MODEL}/drift", params[:2], headers)  # warm
            samples, answer = time_requests(client, f"/v1/models/{MODEL}/drift", params, headers)
            merge = answer["versions"][0]["merge"]
            top = [f["feature"] for f in answer["versions"][0]["features"][:3]]
            print(f"drift ranking, {label:>8} (ragged edges): {percentiles(samples)}  "
                  f"[{merge['window_rows']} windows from {merge['rollups_used']} rollups "
                  f"({merge['cached_rollups']} decoded in memory) + "
                  f"{merge['raw_rows_read']} raw states; top: {', '.join(top)}]")
        whole = [{"start": T0.isoformat(), "end": (T0 + timedelta(days=days)).isoformat()}] * runs
        samples, answer = time_requests(client, f"/v1/models/{MODEL}/drift", whole, headers)
        print(f"drift ranking, {days} days (aligned):     {percentiles(samples)}")
        parts = breakdown(context, *random_range(days, timedelta(days=days - 1), rng))
        print("  one ranking in-process: " + ", ".join(
            f"{k} {v * 1000:.1f} ms" if k not in ("parts", "cached") else f"{k} {int(v)}"
            for k, v in parts.items()))

        for label, span, limit in ((f"{days} days", timedelta(days=days), 100_000),
                                   ("1 day", timedelta(days=1), 10_000)) if series else ():
            ranges = [random_range(days, span, rng) for _ in range(runs)]
            params = [{"metric": "psi", "feature": "num_007", "start": s.isoformat(),
                       "end": e.isoformat(), "limit": limit} for s, e in ranges]
            samples, answer = time_requests(client, f"/v1/models/{MODEL}/metrics", params,
                                            headers)
            print(f"metric series psi[num_007], {label:>8}: {percentiles(samples)}  "
                  f"[{len(answer)} points]")
    engine.dispose()


async def _load(base: str, token: str, body: bytes, seconds: float,
                connections: int) -> tuple[int, list[float]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    done = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post("/v1/events", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 202:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
                done += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    return done, latencies


def batch_body(events: int, features: int, rng: np.random.Generator) -> bytes:
    ts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    rows = []
    for _ in range(events):
        feats: dict[str, Any] = {f"num_{j:03d}": float(rng.normal()) for j in range(features - 5)}
        feats.update({f"cat_{j}": "abcde"[int(rng.integers(5))] for j in range(5)})
        rows.append({"type": "prediction", "model": MODEL, "version": "1",
                     "prediction_id": uuid.uuid4().hex, "ts": ts, "features": feats,
                     "prediction": float(rng.random()), "latency_ms": 3.2})
    return json.dumps({"schema": "infersight.events/v1", "events": rows}).encode()


def bench_ingest(url: str, seconds: float) -> None:
    from infersight.storage.apikeys import create_api_key
    from infersight.storage.db import make_engine, session_factory

    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = make_engine(sa_url)
    with session_factory(engine).begin() as session:
        _row, token = create_api_key(session, f"bench-ingest-{uuid.uuid4().hex[:6]}", ["ingest"])
    engine.dispose()
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "INFERSIGHT_DATABASE_URL": sa_url, "INFERSIGHT_API_BUS": "local",
           "INFERSIGHT_API_ROLLUPS": "false"}
    process = subprocess.Popen([sys.executable, "-m", "infersight", "api", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        rng = np.random.default_rng(0)
        for events, connections in ((100, 4), (500, 4), (500, 16)):
            body = batch_body(events, 20, rng)
            asyncio.run(_load(base, token, body, 1.0, connections))  # warm up
            done, latencies = asyncio.run(_load(base, token, body, seconds, connections))
            print(f"POST /v1/events, {events:4d} events x 20 features per batch ({len(body) // 1024} KiB),"
                  f" {connections:2d} connections: {done * events / seconds:9,.0f} events/s "
                  f"({done / seconds:6.1f} req/s); latency {percentiles(latencies)}")
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--rows-per-window", type=int, default=60)
    parser.add_argument("--reference-rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40, help="requests per query kind")
    parser.add_argument("--ingest-seconds", type=float, default=8.0)
    parser.add_argument("--quick", action="store_true", help="3 days, fewer runs")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--database", help="measure on a database kept by an earlier --keep run")
    parser.add_argument("--parts", default="drift,series,ingest",
                        help="what to measure, comma-separated: drift (the ranking), series "
                             "(the metric series, measured after the ranking), ingest")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if args.quick:
        args.days, args.runs, args.ingest_seconds = 3, 10, 3.0
    from infersight.storage.db import upgrade

    print(f"machine: {os.cpu_count()} cores; Postgres at {ADMIN_DSN.rsplit('@', 1)[-1]}")
    if args.database:  # same seed: the same reference as the kept database's
        reference, _data = build_reference(args.features, args.reference_rows)
        measure(args.database, args, reference, parts)
        return
    with temporary_database(args.keep) as url:
        upgrade(url.replace("postgresql://", "postgresql+psycopg://", 1))
        reference, data = build_reference(args.features, args.reference_rows)
        started = time.perf_counter()
        windows = seed_window_states(url, reference, data, args.days, args.rows_per_window)
        print(f"seeded {windows:,} window states ({args.features} features, "
              f"{args.rows_per_window} events each) in {time.perf_counter() - started:.1f} s (COPY)")
        started = time.perf_counter()
        points = seed_metric_points(url, list(reference.features), args.days, args.rows_per_window)
        print(f"seeded {points:,} metric points in {time.perf_counter() - started:.1f} s (COPY)")
        measure(url, args, reference, parts)


def measure(url: str, args: argparse.Namespace, reference: Any, parts: set[str]) -> None:
    if parts & {"drift", "series"}:
        bench_queries(url, args.days, args.runs, reference, series="series" in parts)
    if "ingest" in parts:
        bench_ingest(url, args.ingest_seconds)


if __name__ == "__main__":
    main()
