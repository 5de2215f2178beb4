"""Deterministic event streams for the worker tests: predictions, labels and their messages."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from infersight.sdk.wire import encode_batch

BASE_TS = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
"""Yesterday 09:00 UTC: recent enough for the prediction index's retention."""
NUMERIC = ("amount", "age", "score_a")
CATEGORIES = ("DE", "FR", "US", "IN", "BR")


def features(rng: random.Random, shift: float = 0.0) -> dict[str, Any]:
    return {
        "amount": rng.lognormvariate(3.0 + shift, 0.6),
        "age": rng.gauss(40.0 + 10 * shift, 8.0),
        "score_a": rng.random(),
        "country": rng.choice(CATEGORIES[:4] if shift == 0 else CATEGORIES),
        "note": None if rng.random() < 0.05 else "x",
    }


def reference_frame(seed: int, n: int = 2000) -> dict[str, list[Any]]:
    """Reference columns drawn from the unshifted distribution."""
    rng = random.Random(seed)
    rows = [features(rng) for _ in range(n)]
    return {name: [row[name] for row in rows] for name in rows[0]}


@dataclass
class Stream:
    """A stream of prediction and label messages (each message a wire batch)."""

    events: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    """``(partition, key, value)`` on ``infersight.events``."""
    labels: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    prediction_count: int = 0
    label_count: int = 0


def make_stream(
    seed: int,
    *,
    models: tuple[str, ...] = ("fraud", "churn"),
    windows: int = 4,
    window_s: int = 60,
    events_per_window: int = 400,
    batch_size: int = 10,
    event_partitions: int = 4,
    label_partitions: int = 2,
    label_share: float = 0.5,
    duplicate_label_share: float = 0.05,
    unknown_labels: int = 5,
) -> Stream:
    """Predictions in event-time order (with jitter: some arrive late), labels for a share
    of them (some duplicated, a few for unknown predictions), spread over partitions by
    model like the SDK's keyed batches."""
    rng = random.Random(seed)
    stream = Stream()
    for model_index, model in enumerate(models):
        key = model.encode()
        batches = model_index
        batch: list[dict[str, Any]] = []
        label_batch: list[dict[str, Any]] = []
        total = windows * events_per_window
        for i in range(total):
            shift = 1.0 if i >= total * 3 // 4 else 0.0
            ts = BASE_TS + timedelta(seconds=i * window_s / events_per_window)
            if rng.random() < 0.03:
                ts -= timedelta(seconds=rng.uniform(0, 1.5 * window_s))  # a late event
            pid = f"{model}-{i}"
            score = min(1.0, max(0.0, rng.betavariate(2, 5) + 0.2 * shift))
            batch.append({
                "type": "prediction", "model": model, "version": "1", "prediction_id": pid,
                "ts": ts.isoformat(), "features": features(rng, shift), "prediction": score,
                "latency_ms": rng.uniform(1, 20),
            })
            if rng.random() < label_share:
                truth = int(rng.random() < score + (0.3 if shift else 0.0))
                label = {"type": "label", "model": model, "prediction_id": pid, "label": truth,
                         "ts": (ts + timedelta(days=2)).isoformat()}
                label_batch.append(label)
                if rng.random() < duplicate_label_share:
                    label_batch.append(dict(label))
                stream.label_count += 1
            if len(batch) == batch_size:
                batches += 1
                stream.events.append((batches % event_partitions, key, encode_batch(batch)))
                stream.prediction_count += len(batch)
                batch = []
            if len(label_batch) >= batch_size:
                stream.labels.append((batches % label_partitions, key, encode_batch(label_batch)))
                label_batch = []
        if batch:
            stream.events.append((0, key, encode_batch(batch)))
            stream.prediction_count += len(batch)
        for j in range(unknown_labels):
            label_batch.append({"type": "label", "model": model, "prediction_id": f"ghost-{j}",
                                "label": 1, "ts": BASE_TS.isoformat()})
        if label_batch:
            stream.labels.append((0, key, encode_batch(label_batch)))
    return stream
