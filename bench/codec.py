"""Wire codec throughput: encode and decode events/s, 25-feature events in batches of 500, one core.

Run: ``.venv/bin/python bench/codec.py [--batches 40] [--repeats 7]``. Prints the best and median
of the repeats in events per CPU-second of this thread (so other jobs on a shared machine take
their wall time, not ours), the rows taking turns. Side by side, for scale:
untyped parsing of the same bytes with msgspec, orjson (if installed) and the standard library,
none of which validates anything.
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
from infersight.sdk.wire import Prediction, decode_batch, encode_batch

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
    """The same batch with ``share`` of its events made invalid (a string latency)."""
    document = msgspec.json.decode(message)
    rng = random.Random(seed)
    for index in rng.sample(range(len(document["events"])), round(share * len(document["events"]))):
        document["events"][index]["latency_ms"] = "slow"
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
    messages = [encode_batch(batch) for batch in batches]
    bad_messages = [with_bad_events(m, 0.01) for m in messages]
    total = BATCH_SIZE * args.batches
    assert all(len(decode_batch(m).predictions) == BATCH_SIZE for m in messages)
    assert all(len(decode_batch(m).rejected) == 5 for m in bad_messages)

    def run(function: Callable[[bytes], object], inputs: list[bytes]) -> Callable[[], object]:
        return lambda: [function(item) for item in inputs]

    rows: list[tuple[str, Callable[[], object]]] = [
        ("encode_batch (structs)", lambda: [encode_batch(batch) for batch in batches]),
        ("decode_batch", run(decode_batch, messages)),
        ("decode_batch, 1% bad events", run(decode_batch, bad_messages)),
        ("msgspec.json.decode, untyped (no validation)", run(msgspec.json.decode, messages)),
        ("json.loads, untyped (no validation)", run(json.loads, messages)),
    ]
    try:
        import orjson

        rows.append(("orjson.loads, untyped (no validation)", run(orjson.loads, messages)))
    except ImportError:
        print("(orjson not installed: its row is skipped)")

    size = statistics.mean(len(m) for m in messages) / BATCH_SIZE
    print(
        f"{args.batches} batches x {BATCH_SIZE} events, 25 features, {size:.0f} bytes/event, one core"
    )
    print(f"{'':48} {'best ev/s':>12} {'median ev/s':>12} {'vs decode_batch':>16}")
    results = events_per_second(rows, total, args.repeats)
    reference = results["decode_batch"][0]
    for name, (best, median) in results.items():
        print(f"{name:48} {best:12,.0f} {median:12,.0f} {best / reference:15.2f}x")


if __name__ == "__main__":
    main()
