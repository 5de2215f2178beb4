"""Every documented prediction shape (docs/wire-format.md, docs/sdk.md), logged with the real
SDK onto the real broker and evaluated by the real worker into Postgres, gives exactly the
metric points — prediction drift and the label-free estimate included — of the same data
logged in the group's canonical shape.

Each shape is a model of its own with the same reference and the same events, so its points
must equal the canonical model's point for point.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from infersight.drift import Reference
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.registry import set_reference

import infersight
from tests.collector.harness import (
    MetricKey,
    assert_same_metrics,
    create_topics,
    metric_snapshot,
)
from tests.collector.inprocess import consume_all
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

EVENTS = 600
TS = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GROUP = "shapes"
PREDICTION = "@prediction"


@dataclass(frozen=True)
class Row:
    """One event's inputs and what the model said, in every form the shapes need."""

    x: float
    channel: str
    score: float
    """P(class 1) of the binary model."""
    probabilities: tuple[float, ...]
    """The multiclass model's output."""
    value: float
    """The regression model's output (a whole number, so it can be sent as an integer)."""


def _rows(rng: random.Random, n: int, shift: float) -> list[Row]:
    """``n`` events; ``shift`` moves ``x`` (and so the scores) and the channel mix."""
    channels = ["web", "branch", "partner"] if shift == 0 else ["web", "partner", "partner"]
    rows = []
    for _ in range(n):
        x = rng.gauss(shift, 1.0)
        score = 1 / (1 + math.exp(-2 * x))
        logits = (x, -x, 0.3 * x)
        total = sum(math.exp(v) for v in logits)
        probabilities = tuple(math.exp(v) / total for v in logits)
        rows.append(Row(x, rng.choice(channels), score, probabilities,
                        float(round(40 + 10 * x))))
    return rows


def _binary(row: Row) -> int:
    return int(row.score >= 0.5)


def _argmax(row: Row) -> int:
    return max(range(3), key=lambda k: row.probabilities[k])


Shape = Callable[[Row], Any]

GROUPS: dict[str, dict[str, Shape]] = {
    # a binary classifier's score; the first shape of each group is the canonical one
    "binary": {
        "score": lambda r: r.score,
        "probabilities": lambda r: [1 - r.score, r.score],
        "label_and_score": lambda r: {"label": _binary(r), "score": r.score},
        "label_and_class_scores": lambda r: {"label": _binary(r),
                                             "score": {"0": 1 - r.score, "1": r.score}},
    },
    # a classifier's decision without a score
    "label": {
        "integer": _binary,
        "text": lambda r: str(_binary(r)),
        "object": lambda r: {"label": _binary(r)},
        "object_null_score": lambda r: {"label": _binary(r), "score": None},
    },
    "boolean": {
        "boolean": lambda r: _binary(r) == 1,
        "object": lambda r: {"label": _binary(r) == 1},
    },
    "multiclass": {
        "probabilities": lambda r: list(r.probabilities),
        "label_and_class_scores": lambda r: {
            "label": _argmax(r), "score": {str(k): p for k, p in enumerate(r.probabilities)}},
    },
    "regression": {
        "number": lambda r: r.value,
        "integer": lambda r: int(r.value),
    },
}
CASES = [(group, shape) for group, shapes in GROUPS.items() for shape in shapes]
WITH_ESTIMATE = {"binary"}
"""Groups the worker estimates performance for without labels: binary scores (CBPE,
docs/statistics.md §7); multiclass probabilities feed prediction drift only."""


def _model(group: str, shape: str) -> str:
    return f"{group}-{shape}".replace("_", "-")


def _reference(group: str, rows: list[Row]) -> bytes:
    canonical = next(iter(GROUPS[group].values()))
    features = {"x": [r.x for r in rows], "channel": [r.channel for r in rows]}
    labels: list[Any]
    if group == "multiclass":
        labels = [_argmax(r) for r in rows]
    elif group == "regression":
        labels = [r.value + 1.0 for r in rows]
    elif group == "boolean":
        labels = [_binary(r) == 1 for r in rows]
    else:
        labels = [_binary(r) for r in rows]
    task = {"multiclass": "multiclass", "regression": "regression"}.get(group, "binary")
    return Reference.from_data(features, predictions=[canonical(r) for r in rows],
                               labels=labels, task=task).to_bytes()


@pytest.fixture(scope="module")
def evaluated(module_broker: TansuBroker) -> Iterator[dict[MetricKey, tuple[float | None, int]]]:
    """Every shape's events logged through the SDK and evaluated by a worker; the points."""
    rng = random.Random(5)
    reference_rows, window_rows = _rows(rng, 2000, 0.0), _rows(rng, EVENTS, 0.4)
    bootstrap = module_broker.bootstrap
    create_topics(bootstrap, {EVENTS_TOPIC: 2, LABELS_TOPIC: 1})
    with temporary_database("infersight_shapes") as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            for group, shapes in GROUPS.items():
                reference = _reference(group, reference_rows)
                for shape in shapes:
                    set_reference(session, _model(group, shape), "1", reference, "upload")
        infersight.init(transport=f"kafka://{bootstrap}", batch_size=500, flush_interval=0.05,
                        queue_size=2 * EVENTS * len(CASES))
        try:
            for group, shapes in GROUPS.items():
                for shape, make in shapes.items():
                    for i, row in enumerate(window_rows):
                        infersight.log_prediction(
                            _model(group, shape), "1", features={"x": row.x, "channel": row.channel},
                            prediction=make(row), latency_ms=1.0 + i % 7,
                            prediction_id=f"p{i}", ts=TS + timedelta(milliseconds=50 * i))
            assert infersight.flush(timeout=60)
            sent = infersight.stats()
            assert sent["dropped"] == 0 and sent["sent"] == EVENTS * len(CASES), sent
        finally:
            infersight.shutdown(timeout=10)
        try:
            consume_all(bootstrap, engine, url, GROUP, window_s=60)
        finally:
            engine.dispose()
        yield metric_snapshot(url)


def _points_of(points: dict[MetricKey, tuple[float | None, int]],
               model: str) -> dict[MetricKey, tuple[float | None, int]]:
    """The model's points, keyed without the model's name."""
    return {("", v, s, f, m): value for (name, v, s, f, m), value in points.items()
            if name == model}


@pytest.mark.parametrize(("group", "shape"), CASES, ids=[_model(g, s) for g, s in CASES])
def test_prediction_shape_gives_the_canonical_shapes_points(
    evaluated: dict[MetricKey, tuple[float | None, int]], group: str, shape: str
) -> None:
    canonical = _points_of(evaluated, _model(group, next(iter(GROUPS[group]))))
    ours = _points_of(evaluated, _model(group, shape))
    counts = [value for (_m, _v, _s, f, m), (value, _n) in ours.items()
              if m == "count" and f == ""]
    assert counts == [float(EVENTS)], "every event counted once, in one window"
    drift = {m: value for (_m, _v, _s, f, m), (value, _n) in ours.items() if f == PREDICTION}
    assert drift.get("missing_rate") == 0.0, "every prediction read"
    assert any(m in drift for m in ("psi", "js_distance", "chi2_pvalue")), sorted(drift)
    estimated = {m for (_m, _v, _s, f, m) in ours if f == "" and m.startswith("estimated_")}
    assert bool(estimated) == (group in WITH_ESTIMATE), sorted(estimated)
    assert_same_metrics(canonical, ours)
