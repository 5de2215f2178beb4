"""Simulated model traffic for the docker-compose stack (``docker compose --profile demo up``).

A binary "fraud" model logs predictions through the SDK (``INFERSIGHT_TRANSPORT``, Kafka in
the stack) at ``DEMO_EVENTS_PER_SECOND``; its labels follow after ``DEMO_LABEL_DELAY``.
After ``DEMO_DRIFT_AFTER`` the ``amount`` and ``country`` inputs drift and the model gets
worse, so the drift panels move and the built-in alerts fire. With ``INFERSIGHT_API_KEY``
set (or API auth off), the reference is uploaded through the API first; otherwise the worker
takes the first complete window as the reference (``DEMO_UPLOAD_REFERENCE=0`` skips it).
Stops after ``DEMO_DURATION`` (default: never).
"""

from __future__ import annotations

import collections
import math
import os
import random
import signal
import sys
import time
import uuid
from typing import Any

import infersight
from infersight.settings import parse_duration

MODEL, VERSION = "fraud", "1"
COUNTRIES = ("DE", "FR", "US", "GB", "ES")


def features(rng: random.Random, drifted: bool) -> dict[str, Any]:
    amount = rng.lognormvariate(4.0 + (0.8 if drifted else 0.0), 0.6)
    weights = (1, 1, 4, 1, 1) if drifted else (4, 3, 2, 1, 1)
    return {"amount": round(amount, 2), "age": rng.randint(18, 90),
            "tenure_days": rng.expovariate(1 / 400),
            "country": rng.choices(COUNTRIES, weights)[0],
            "is_new_device": rng.random() < (0.3 if drifted else 0.1)}


def score(row: dict[str, Any]) -> float:
    z = -4.0 + 0.6 * math.log(row["amount"]) + (1.2 if row["is_new_device"] else 0.0)
    return 1 / (1 + math.exp(-z))


def label(rng: random.Random, row: dict[str, Any], drifted: bool) -> int:
    p = score(row) if not drifted else min(1.0, 0.5 * score(row) + 0.25)
    return int(rng.random() < p)


def upload_reference(rng: random.Random) -> None:
    """Upload the reference through the API; on refusal the worker bootstraps from traffic."""
    if os.environ.get("DEMO_UPLOAD_REFERENCE", "1") == "0":
        return
    rows = [features(rng, drifted=False) for _ in range(5000)]
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    scores = [score(row) for row in rows]
    labels = [label(rng, row, drifted=False) for row in rows]
    for attempt in range(30):
        try:
            infersight.upload_reference(MODEL, VERSION, columns, predictions=scores,
                                        labels=labels, task="binary", positive_class=1)
            print("reference uploaded")
            return
        except Exception as error:  # the API may still be starting
            if any(code in str(error) for code in ("401", "403")):
                print(f"reference upload refused ({error}): set INFERSIGHT_API_KEY; the worker "
                      "uses the first window as the reference", file=sys.stderr)
                return
            print(f"reference upload failed ({error}); retry {attempt + 1}/30", file=sys.stderr)
            time.sleep(2)


def main() -> int:
    rate = float(os.environ.get("DEMO_EVENTS_PER_SECOND", "200"))
    drift_after = parse_duration(os.environ.get("DEMO_DRIFT_AFTER", "10m"))
    label_delay = parse_duration(os.environ.get("DEMO_LABEL_DELAY", "30s"))
    duration = os.environ.get("DEMO_DURATION")
    stop_at = time.monotonic() + parse_duration(duration) if duration else math.inf
    running = True

    def _stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    rng = random.Random(int(os.environ.get("DEMO_SEED", "0")))
    infersight.init()
    upload_reference(rng)
    started = time.monotonic()
    pending: collections.deque[tuple[float, str, int]] = collections.deque()
    sent = 0
    while running and time.monotonic() < stop_at:
        tick = time.monotonic()
        drifted = tick - started >= drift_after
        for _ in range(max(1, int(rate / 10))):
            row = features(rng, drifted)
            pid = uuid.uuid4().hex
            infersight.log_prediction(MODEL, VERSION, features=row, prediction=score(row),
                                      latency_ms=rng.gammavariate(2.0, 2.0), prediction_id=pid)
            pending.append((tick + label_delay, pid, label(rng, row, drifted)))
            sent += 1
        while pending and pending[0][0] <= tick:
            _due, pid, truth = pending.popleft()
            infersight.log_label(MODEL, pid, truth)
        if sent % max(1, int(rate * 60)) < max(1, int(rate / 10)):
            print(f"{sent} predictions sent (drifted: {drifted}); sdk stats {infersight.stats()}")
        time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
    infersight.flush(timeout=10)
    infersight.shutdown()
    print(f"stopped after {sent} predictions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
