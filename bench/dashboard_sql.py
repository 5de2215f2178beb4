"""Dashboard SQL at scale: the plans and timings of every Grafana panel query over a 1-day
range on a metric_points table of ~10M rows (real Postgres on 127.0.0.1:5432).

    .venv/bin/python bench/dashboard_sql.py [--models 10] [--days 60] [--features 100]

Seeds a throwaway database with ``INSERT ... SELECT generate_series`` (hourly windows; per
window and model: 7 metrics per feature, prediction drift and ~25 dataset metrics, inference
health included), runs ANALYZE, then for each panel prints the scan nodes on metric_points
(index or sequential) and the execution time of ``EXPLAIN (ANALYZE, BUFFERS)`` (median of 3,
warm cache).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infersight.storage.db import upgrade  # noqa: E402

from tests.stack.dashboard_queries import postgres_queries  # noqa: E402
from tests.stack.grafana_sql import PanelQueryContext  # noqa: E402
from tests.support.postgres import temporary_database  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
FEATURE_METRICS = ["count", "missing_rate", "psi", "js_distance", "hellinger",
                   "wasserstein_normed", "ks_pvalue"]
DATASET_METRICS = ["count", "drift_share", "label_coverage", "latency_p50_ms",
                   "latency_p95_ms", "latency_p99_ms", "accuracy", "precision", "recall",
                   "f1", "roc_auc", "estimated_precision", "estimated_recall", "estimated_f1",
                   "estimated_roc_auc", "request_count", "request_rate", "error_count",
                   "error_rate", "input_tokens", "output_tokens", "time_to_first_token_p95_ms",
                   "cost", "reconstruction_error", "reconstruction_error_drift"]


def seed(conn: psycopg.Connection[Any], models: int, days: int, features: int) -> int:
    hours = days * 24
    params = {"models": models, "hours": hours, "features": features, "start": START,
              "fmetrics": FEATURE_METRICS, "dmetrics": DATASET_METRICS}
    conn.execute("""
        INSERT INTO models (name, threshold, created_at, updated_at)
        SELECT 'm' || i, 0.5, now(), now() FROM generate_series(0, %(models)s - 1) i""", params)
    conn.execute("""
        INSERT INTO model_versions (model, version, created_at)
        SELECT 'm' || i, '1', now() FROM generate_series(0, %(models)s - 1) i""", params)
    conn.execute("""
        INSERT INTO metric_points (model, version, window_start, window_end, feature, metric,
                                   value, sample_size, evaluated_at)
        SELECT 'm' || m, '1', %(start)s + h * interval '1 hour',
               %(start)s + (h + 1) * interval '1 hour',
               CASE WHEN f < %(features)s THEN 'f' || f ELSE '@prediction' END, metric,
               random(), 1000, now()
        FROM generate_series(0, %(models)s - 1) m,
             generate_series(0, %(hours)s - 1) h,
             generate_series(0, %(features)s) f,
             unnest(%(fmetrics)s::text[]) metric""", params)
    conn.execute("""
        INSERT INTO metric_points (model, version, window_start, window_end, feature, metric,
                                   value, sample_size, evaluated_at)
        SELECT 'm' || m, '1', %(start)s + h * interval '1 hour',
               %(start)s + (h + 1) * interval '1 hour', '', metric, random(), 1000, now()
        FROM generate_series(0, %(models)s - 1) m,
             generate_series(0, %(hours)s - 1) h,
             unnest(%(dmetrics)s::text[]) metric""", params)
    conn.execute("ANALYZE")
    (rows,) = conn.execute("SELECT count(*) FROM metric_points").fetchone()  # type: ignore[misc]
    return int(rows)


def scans(plan: dict[str, Any]) -> list[str]:
    found = []
    index = plan.get("Index Name", "")
    relation = str(plan.get("Relation Name", ""))  # the table or one of its day partitions
    if relation.startswith("metric_points") or "metric_points" in index:
        found.append(f"{plan['Node Type']} {index}".strip())
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--features", type=int, default=100)
    args = parser.parse_args()
    end = START + timedelta(days=args.days)
    variables = {"model": "m0", "version": ["1"],
                 "feature": [f"f{i}" for i in range(min(args.features, 10))]}
    with temporary_database("infersight_bench_dash") as url:
        upgrade(url)
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            began = time.perf_counter()
            rows = seed(conn, args.models, args.days, args.features)
            print(f"seeded {rows:,} metric points in {time.perf_counter() - began:.0f} s "
                  f"({args.models} models x {args.days} days hourly x {args.features} features)")
            print(f"{'panel':<72} {'ms':>8}  scans on metric_points")
            for query in postgres_queries():
                ctx = PanelQueryContext(end - timedelta(days=1), end, interval="1h",
                                        variables=variables, multi=query.multi)
                sql = ctx.expand(query.sql)
                times, plan = [], {}
                for _ in range(3):
                    (result,) = conn.execute(  # type: ignore[misc]
                        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}").fetchone()
                    plan = result[0]
                    times.append(plan["Execution Time"])
                nodes = ", ".join(scans(plan["Plan"])) or "-"
                print(f"{query.key:<72} {statistics.median(times):>8.1f}  {nodes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
