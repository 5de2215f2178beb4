"""Wire codec throughput: encode and decode events/s, 25-feature events in batches of 500, one core.

Run: ``.venv/bin/python bench/codec.py [--batches 40] [--repeats 7]``. Prints the best and median
of the repeats in events per CPU-second of this thread (so other jobs on a shared machine take
their wall time, not ours), the rows taking turns, and the bytes per event of each layout:
``infersight.events/v1`` (one object per event) and the columnar ``infersight.events/v2`` side by
side — v2 decoded to rows (what ``decode_batch`` gives the worker) and to columns
(``decode_columns``, no row built). Side by side, for scale: untyped parsing of the same bytes with
msgspec, orjson (if installed) and the standard library, none of which validates anything.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
from infersight.sdk.wire import (
    Prediction,
    decode_batch,
    decode_columns,
    encode_batch,
    encode_batch_v2,
)

BATCH_SIZE = 500
CATEGORIES = ["card", "transfer", "cash", "crypto", "voucher"]


def make_events(count: int, seed: int = 7) -> list[Prediction]:
    """20 numeric + 5 categorical features, a score, latency and one tag, like a fraud model."""
    rng = random.Random(seed)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    events = []
    for i in range(count):
        features: dict[str, float | str | bool | None] = {
            f"num_{j}": rng.gauss(50.0, 20.0) for j in range(20)
        }
        features |= {f"cat_{j}": rng.choice(CATEGORIES) for j in range(5)}
        events.append(
            Prediction(
                model="fraud", version="3", prediction_id=f"req-{i:010d}",
                ts=start + timedelta(milliseconds=37 * i), features=features,
                prediction=rng.random(), latency_ms=rng.uniform(1.0, 9.0), tags={"region": "eu"},
            )
        )  # fmt: skip
    return events


def with_bad_events(message: bytes, share: float, seed: int = 11) -> bytes:
    """The same batch (v1 or v2) with ``share`` of its events made invalid (a string latency)."""
    document = msgspec.json.decode(message)
    rng = random.Random(seed)
    if "events" in document:
        rows = document["events"]
        for index in rng.sample(range(len(rows)), round(share * len(rows))):
            rows[index]["latency_ms"] = "slow"
    else:
        column = document["predictions"][0]["latency_ms"]
        for index in rng.sample(range(len(column)), round(share * len(column))):
            column[index] = "slow"
    return msgspec.json.encode(document)


def events_per_second(
    rows: list[tuple[str, Callable[[], object]]], events: int, repeats: int
) -> dict[str, tuple[float, float]]:
    """(best, median) events/s of each row; rows take turns, so a busy moment hits them all alike."""
    rates: dict[str, list[float]] = {name: [] for name, _ in rows}
    for _, work in rows:
        work()  # warm-up
    for _ in range(repeats):
        for name, work in rows:
            started = time.thread_time()
            work()
            rates[name].append(events / (time.thread_time() - started))
    return {name: (max(values), statistics.median(values)) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="batches of 500 per timed run")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core

    batches = [make_events(BATCH_SIZE, seed=s) for s in range(args.batches)]
    dicts = [msgspec.to_builtins(batch) for batch in batches]  # as the SDK's background thread has them
    messages = [encode_batch(batch) for batch in batches]
    bad_messages = [with_bad_events(m, 0.01) for m in messages]
    columnar = [encode_batch_v2(batch) for batch in batches]
    bad_columnar = [with_bad_events(m, 0.01) for m in columnar]
    total = BATCH_SIZE * args.batches
    assert all(decode_batch(m).predictions == b for m, b in zip(messages, batches, strict=True))
    assert all(decode_batch(m).predictions == b for m, b in zip(columnar, batches, strict=True))
    assert all(len(decode_columns(m).predictions[0]) == BATCH_SIZE for m in columnar)
    assert all(len(decode_batch(m).rejected) == 5 for m in (*bad_messages, *bad_columnar))

    def run(function: Callable[[bytes], object], inputs: list[bytes]) -> Callable[[], object]:
        return lambda: [function(item) for item in inputs]

    rows: list[tuple[str, Callable[[], object]]] = [
        ("v1 encode_batch (structs)", lambda: [encode_batch(batch) for batch in batches]),
        ("v2 encode_batch_v2 (structs)", lambda: [encode_batch_v2(batch) for batch in batches]),
        ("v1 encode_batch (dicts, as the SDK)", lambda: [encode_batch(batch) for batch in dicts]),
        ("v2 encode_batch_v2 (dicts, as the SDK)",
         lambda: [encode_batch_v2(batch) for batch in dicts]),
        ("decode_batch", run(decode_batch, messages)),
        ("v2 decode_batch (rows)", run(decode_batch, columnar)),
        ("v2 decode_columns (columns)", run(decode_columns, columnar)),
        ("decode_batch, 1% bad events", run(decode_batch, bad_messages)),
        ("v2 decode_batch, 1% bad events", run(decode_batch, bad_columnar)),
        ("msgspec.json.decode, untyped (no validation)", run(msgspec.json.decode, messages)),
        ("json.loads, untyped (no validation)", run(json.loads, messages)),
    ]
    try:
        import orjson

        rows.append(("orjson.loads, untyped (no validation)", run(orjson.loads, messages)))
    except ImportError:
        print("(orjson not installed: its row is skipped)")

    size = statistics.mean(len(m) for m in messages) / BATCH_SIZE
    size_v2 = statistics.mean(len(m) for m in columnar) / BATCH_SIZE
    print(f"{args.batches} batches x {BATCH_SIZE} events, 25 features, one core; bytes/event: "
          f"v1 {size:.0f}, v2 {size_v2:.0f} ({size_v2 / size:.2f}x)")
    print(f"{'':48} {'best ev/s':>12} {'median ev/s':>12} {'vs decode_batch':>16}")
    results = events_per_second(rows, total, args.repeats)
    reference = results["decode_batch"][0]
    for name, (best, median) in results.items():
        print(f"{name:48} {best:12,.0f} {median:12,.0f} {best / reference:15.2f}x")
    print("(decode_batch and the untyped rows read v1 messages; rows named v2 read v2 messages)")


if __name__ == "__main__":
    main()
