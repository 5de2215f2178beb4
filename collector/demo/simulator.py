"""Simulated traffic of the demo model through the real SDK, on a compressed clock.

Simulated event time runs ``speed`` times faster than the wall clock and starts far enough
in the past that the run ends at about "now" (windows are event-time, so a 1-minute window
at speed 60 closes every wall second). The default rate (900 predictions per simulated
minute, 90 % labelled) gives each window about 800 labels, enough that the realised F1 of
an undrifted window falls 0.05 below the reference only about 1 % of the time. Predictions go through ``infersight.log_prediction``
with their simulated timestamps; labels follow through ``infersight.log_label`` once their
simulated delay has passed, for ``label_fraction`` of the predictions.

>>> clock = SimClock(speed=60.0, start=datetime(2026, 1, 1, tzinfo=UTC), wall_start=100.0)
>>> clock.at(101.0).isoformat()
'2026-01-01T00:01:00+00:00'
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from infersight.collector.demo import assistant
from infersight.collector.demo import model as credit


@dataclass(frozen=True)
class SimClock:
    """Maps wall-clock seconds (``time.monotonic``) to simulated event time."""

    speed: float
    start: datetime
    wall_start: float

    def at(self, wall: float) -> datetime:
        return self.start + timedelta(seconds=(wall - self.wall_start) * self.speed)


@dataclass(frozen=True)
class Scenario:
    """What the demo simulates (times in simulated minutes)."""

    rate_per_minute: int = 900
    drift_after_min: float = 8.0
    drift_ramp_min: float = 3.0
    label_delay_min: float = 2.0
    """Labels of a minute's predictions arrive together, this long after the minute ends
    (ground truth delivered in batches, as from a nightly job)."""
    label_fraction: float = 0.9
    reference_rows: int = 20_000
    seed: int = 7
    assistant_rate_per_minute: int = assistant.RATE_PER_MINUTE
    """Calls of the generative assistant (:mod:`~infersight.collector.demo.assistant`);
    0 leaves it out."""
    outage: assistant.Outage = field(default_factory=assistant.Outage)

    def intensity(self, minutes: float) -> float:
        """How far the drift has gone ``minutes`` after the start (0 → 1 over the ramp)."""
        if minutes < self.drift_after_min:
            return 0.0
        return min(1.0, (minutes - self.drift_after_min) / max(self.drift_ramp_min, 1e-9))


def reference_data(scenario: Scenario) -> tuple[dict[str, Any], list[float], list[int]]:
    """The model's validation data (before any drift): features, scores, labels."""
    rng = np.random.default_rng(scenario.seed)
    features = credit.applicants(rng, scenario.reference_rows, 0.0)
    scores = credit.default_score(features)
    labels = credit.outcomes(rng, features, 0.0)
    return features, [float(s) for s in scores], [int(y) for y in labels]


@dataclass
class TrafficStats:
    predictions: int = 0
    labels: int = 0
    assistant_calls: int = 0
    sim_now: datetime | None = None
    intensity: float = 0.0


@dataclass
class Simulator:
    """Generates the traffic in a thread until ``stop()``; ``sdk`` is the ``infersight``
    module (anything with ``log_prediction``/``log_label``)."""

    sdk: Any
    clock: SimClock
    scenario: Scenario = field(default_factory=Scenario)
    tick_s: float = 0.05
    on_tick: Callable[[TrafficStats], None] | None = None
    stats: TrafficStats = field(default_factory=TrafficStats)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.scenario.seed + 1)
        self._assistant_rng = np.random.default_rng(self.scenario.seed + 2)
        self._pending: list[tuple[float, int, str, int]] = []
        self._carry = 0.0
        self._assistant_carry = 0.0
        self._sequence = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = self.clock.start

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="infersight-demo-traffic",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step(self.clock.at(time.monotonic()))
            self._stop.wait(self.tick_s)

    def step(self, now: datetime) -> None:
        """Send the predictions of ``[last step, now)`` and the labels due by ``now``."""
        elapsed_min = (now - self._last).total_seconds() / 60.0
        if elapsed_min > 0:
            self._predict(self._last, elapsed_min)
            self._assist(self._last, elapsed_min)
            self._last = now
        self._label(now)
        self.stats.sim_now = now
        if self.on_tick is not None:
            self.on_tick(self.stats)

    def _predict(self, since: datetime, minutes: float) -> None:
        expected = self.scenario.rate_per_minute * minutes + self._carry
        n = int(expected)
        self._carry = expected - n
        if n <= 0:
            return
        offsets = np.sort(self._rng.uniform(0.0, minutes * 60.0, n))
        middle = (since - self.clock.start).total_seconds() / 60.0 + minutes / 2
        intensity = self.scenario.intensity(middle)
        self.stats.intensity = intensity
        features = credit.applicants(self._rng, n, intensity)
        scores = credit.default_score(features)
        truth = credit.outcomes(self._rng, features, intensity)
        latency = self._rng.lognormal(np.log(6.0 + 4.0 * intensity), 0.45, n)
        labelled = self._rng.random(n) < self.scenario.label_fraction
        delay_s = self.scenario.label_delay_min * 60.0
        columns = {name: values.tolist() for name, values in features.items()}
        base = since.timestamp()
        for i in range(n):
            self._sequence += 1
            prediction_id = f"app-{self._sequence:09d}"
            ts = base + float(offsets[i])
            self.sdk.log_prediction(
                model=credit.MODEL, version=credit.VERSION,
                features={name: column[i] for name, column in columns.items()},
                prediction=float(scores[i]), latency_ms=float(latency[i]),
                prediction_id=prediction_id, ts=datetime.fromtimestamp(ts, UTC),
            )
            if labelled[i]:
                due = (ts // 60.0 + 1.0) * 60.0 + delay_s
                heapq.heappush(self._pending, (due, self._sequence, prediction_id,
                                               int(truth[i])))
        self.stats.predictions += n

    def _assist(self, since: datetime, minutes: float) -> None:
        """The assistant's calls of ``[since, since + minutes)``: tokens, first-token times,
        latencies and, during the outage, failures."""
        expected = self.scenario.assistant_rate_per_minute * minutes + self._assistant_carry
        n = int(expected)
        self._assistant_carry = expected - n
        if n <= 0:
            return
        rng = self._assistant_rng
        offsets = np.sort(rng.uniform(0.0, minutes * 60.0, n))
        middle = (since - self.clock.start).total_seconds() / 60.0 + minutes / 2
        base = since.timestamp()
        for call, offset in zip(assistant.simulate_calls(rng, n, middle, self.scenario.outage),
                                offsets.tolist(), strict=True):
            self.sdk.log_prediction(
                model=assistant.MODEL, version=assistant.VERSION, features=call.features,
                prediction=call.prediction, latency_ms=call.latency_ms, usage=call.usage,
                error=call.error, time_to_first_token_ms=call.ttft_ms,
                ts=datetime.fromtimestamp(base + offset, UTC))
        self.stats.assistant_calls += n

    def _label(self, now: datetime) -> None:
        due = now.timestamp()
        while self._pending and self._pending[0][0] <= due:
            at, _seq, prediction_id, label = heapq.heappop(self._pending)
            self.sdk.log_label(model=credit.MODEL, prediction_id=prediction_id, label=label,
                               ts=datetime.fromtimestamp(at, UTC))
            self.stats.labels += 1
