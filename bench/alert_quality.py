"""How often the built-in alert rules cry wolf, and how fast they react to a real change.

Synthetic streams of a binary classifier (10 features, scores calibrated on the reference)
are replayed window by window through the real path of a window's decision: the drift
engine's window state and ``compare`` (metric points with their standard errors), the
points upserted into a SQLite database, and the alert engine's ``judge_window`` with the
built-in rules. Printed per scenario and rule: false alarms per 1,000 windows with no
change, or the detection delay (windows after the change until the rule fires).

    python bench/alert_quality.py [--windows 200] [--seed 1]

Scenarios: no change at 60 to 5,000 rows a window; an F1 drop of 1, 2, 3 and 5 points
(label noise, measured drop printed) at 1,000 and 5,000 labelled rows; 4 of 10 features
drifting by -0.5 sd at 500 rows with a 3-point F1 drop.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from infersight.alerts.config import AlertConfig
from infersight.alerts.judge import judge_window
from infersight.drift import Reference, WindowState, compare
from infersight.storage.db import make_engine, session_factory
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from infersight.storage.models import Base

FEATURES = 10
WEIGHTS = np.linspace(1.0, 0.2, FEATURES)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Scenario:
    name: str
    rows: int
    change_at: int | None = None
    """Window index of the change (None: nothing changes)."""
    label_flip: float = 0.0
    """Share of labels flipped after the change (lowers realised F1, not the estimate)."""
    drifting: int = 0
    """Features shifted by -0.5 sd after the change."""


def _traffic(rng: np.random.Generator, n: int, shift: int) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    x = rng.normal(size=(n, FEATURES))
    x[:, :shift] -= 0.5  # fewer positives: F1 falls with the shift
    logit = x @ WEIGHTS * 0.8 - 1.0
    p = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    return x, p, y


def _f1(y: np.ndarray, p: np.ndarray) -> float:
    predicted = p >= 0.5
    tp = float(np.sum(predicted & (y == 1)))
    return 2 * tp / (float(np.sum(predicted)) + float(np.sum(y == 1)))


def run(scenario: Scenario, windows: int, seed: int) -> tuple[Counter[str], dict[str, int],
                                                              float]:
    """Firing events per rule, first firing window per rule, measured F1 change."""
    rng = np.random.default_rng(seed)
    x, p, y = _traffic(rng, 20_000, 0)
    reference = Reference.from_data({f"f{i}": x[:, i] for i in range(FEATURES)},
                                    predictions=p.tolist(), labels=y.tolist())
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    config = AlertConfig()
    fired: Counter[str] = Counter()
    first: dict[str, int] = {}
    changed_f1: list[float] = []
    for index in range(windows):
        changed = scenario.change_at is not None and index >= scenario.change_at
        wx, wp, wy = _traffic(rng, scenario.rows, scenario.drifting if changed else 0)
        if changed and scenario.label_flip:
            flip = rng.random(scenario.rows) < scenario.label_flip
            wy = np.where(flip, 1 - wy, wy)
        if changed:
            changed_f1.append(_f1(wy, wp))
        window = WindowState(reference)
        window.update({f"f{i}": wx[:, i] for i in range(FEATURES)}, predictions=wp.tolist())
        window.add_labels(wy.tolist(), wp.tolist())
        start = T0 + index * HOUR
        records = [MetricPointRecord("m", "1", start, start + HOUR, row.feature, row.metric,
                                     row.value, row.sample_size)
                   for row in compare(reference, window).rows()]
        with sessions.begin() as session:
            upsert_metric_points(session, records)
            for transition in judge_window(session, "m", "1", reference.performance,
                                           start + HOUR + timedelta(minutes=1), config):
                if transition.event == "firing":
                    rule = transition.dedup_key.split("/", 1)[0]
                    fired[rule] += 1
                    first.setdefault(rule, index)
    engine.dispose()
    reference_f1 = reference.performance.get("f1", float("nan"))
    change = float(np.mean(changed_f1)) - reference_f1 if changed_f1 else 0.0
    return fired, first, change


RULES = ("data_drift_share", "prediction_drift", "performance_drop",
         "estimated_performance_drop", "concept_drift_suspected", "retraining_recommended")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    quiet = [Scenario(f"no change, {n} rows", n) for n in (60, 600, 5000)]
    drops = [Scenario(f"F1 drop, flip {flip:.0%}, {n} rows", n, change_at=20, label_flip=flip)
             for n in (1000, 5000) for flip in (0.01, 0.02, 0.04, 0.07)]
    drift = [Scenario("4 of 10 features -0.5 sd, flip 4 %, 500 rows", 500, change_at=20,
                      label_flip=0.04, drifting=4)]
    print(f"{'scenario':48} " + " ".join(f"{r[:16]:>16}" for r in RULES))
    for scenario in quiet:
        fired, _, _ = run(scenario, args.windows, args.seed)
        cells = [f"{1000 * fired[r] / args.windows:13.1f}/1k" for r in RULES]
        print(f"{scenario.name:48} " + " ".join(cells))
    for scenario in drops + drift:
        fired, first, change = run(scenario, 60, args.seed)
        assert scenario.change_at is not None
        cells = []
        for rule in RULES:
            at = first.get(rule)
            if at is None:
                cells.append(f"{'never':>16}")
            elif at < scenario.change_at:
                cells.append(f"{'false @' + str(at):>16}")
            else:
                cells.append(f"{'+' + str(at - scenario.change_at + 1) + ' windows':>16}")
        label = f"{scenario.name} (F1 {change:+.3f})"
        print(f"{label:48} " + " ".join(cells))


if __name__ == "__main__":
    main()
