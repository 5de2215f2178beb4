"""Train/serve skew by key: what the join costs the worker (docs/statistics.md).

(lookup) ``skew_rows.lookup`` of a 500-prediction batch on Postgres: the statement every batch
    runs, for models with or without skew, on an empty ``offline_rows`` and on one holding
    ``--rows`` rows (misses and hits).
(compare) ``WindowState.add_skew`` of 500 requests of 20 numeric and 5 categorical features.
(upload) ``skew_rows.store_offline`` of 50,000 rows (one SDK request) in one transaction.

Run: ``.venv/bin/python bench/skew.py [--rows 200000]``. Needs Postgres on 127.0.0.1:5432.
Prints medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NUMERIC = [f"n{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]


def rows(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    values = rng.normal(size=(n, len(NUMERIC)))
    cats = rng.integers(0, 12, size=(n, len(CATEGORICAL)))
    return [{**{name: float(v) for name, v in zip(NUMERIC, values[i], strict=True)},
             **{name: f"cat{c}" for name, c in zip(CATEGORICAL, cats[i], strict=True)}}
            for i in range(n)]


def median_ms(run: Callable[[], object], repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    from infersight.drift import Reference
    from infersight.storage import skew_rows
    from infersight.storage.db import make_engine, session_factory, upgrade
    from infersight.storage.types import utc_now

    from tests.support.postgres import temporary_database

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    later = utc_now() + timedelta(days=7)
    with temporary_database("infersight_bench_skew") as url:
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        batch = [("m", "1", f"q{i}") for i in range(500)]

        def lookup(keys: list[tuple[str, str, str]]) -> None:
            with sessions.begin() as session:
                skew_rows.lookup(session, keys)

        print(f"lookup of 500, empty table: {median_ms(lambda: lookup(batch)):.2f} ms")
        upload = {f"p{i}": row for i, row in enumerate(rows(rng, 50_000))}
        started = time.perf_counter()
        with sessions.begin() as session:
            skew_rows.store_offline(session, "m", "1", upload, later)
        print(f"store_offline of 50,000 rows: {time.perf_counter() - started:.2f} s")
        for start in range(50_000, args.rows, 50_000):
            with sessions.begin() as session:
                skew_rows.store_offline(session, "m", "1", {
                    f"p{start + i}": row for i, row in enumerate(upload.values())}, later)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE offline_rows")
        hits = [("m", "1", f"p{i}") for i in range(0, 50_000, 100)]
        print(f"lookup of 500 with {args.rows:,} rows: misses "
              f"{median_ms(lambda: lookup(batch)):.2f} ms, hits "
              f"{median_ms(lambda: lookup(hits)):.2f} ms")
        engine.dispose()
    ref = Reference.from_data({name: [row[name] for row in rows(rng, 5000)]
                               for name in NUMERIC + CATEGORICAL})
    served = rows(rng, 500)
    offline = [dict(r) for r in served]
    ids = [f"p{i}" for i in range(500)]

    def compare() -> None:
        ref.new_window().add_skew(ids, served, offline)

    ms = median_ms(compare)
    print(f"add_skew of 500 requests x 25 features: {ms:.1f} ms ({500 / ms * 1000:,.0f} "
          "requests/s)")


if __name__ == "__main__":
    main()
