"""The demo's story on a running embedded stack: the simulated credit-default model's
reference upload, its traffic (drift injected, labels arriving late) and the terminal report,
until ``--duration`` passes or Ctrl-C. :mod:`infersight.demo` starts the stack from the
settings and hands it in as a :class:`DemoStack`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from infersight.collector.demo import assistant
from infersight.collector.demo import model as credit
from infersight.collector.demo.simulator import Scenario, SimClock, Simulator, reference_data
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

DEMO_WINDOW_S = 60.0


@dataclass(frozen=True)
class DemoOptions:
    speed: float = 30.0
    duration_s: float = 600.0
    host: str = "127.0.0.1"
    port: int = 8000
    color: bool = False


@dataclass(frozen=True)
class DemoStack:
    """What the story needs of the running stack."""

    url: str
    sessions: sessionmaker[Session]
    """Reads (the terminal report)."""
    write_sessions: sessionmaker[Session]
    """The model's settings."""
    lateness_s: float
    """The worker's allowed lateness, in seconds of event time."""


def introduce(options: DemoOptions, echo: Callable[[str], None]) -> None:
    """The first line: what is simulated, how fast."""
    scenario = Scenario()
    echo(f"infersight demo: simulated credit-default model, {len(credit.FEATURES)} features, "
         f"{scenario.rate_per_minute} predictions per simulated minute, speed {options.speed:g}x "
         f"(a 1-minute window closes every {DEMO_WINDOW_S / options.speed:.2g} s)")
    echo(f"and a simulated generative model, {assistant.MODEL}: "
         f"{scenario.assistant_rate_per_minute} calls per simulated minute with tokens, a "
         f"price and time to first token, its upstream failing from minute "
         f"{scenario.outage.start_min:g} to {scenario.outage.end_min:g}")
    echo("window times are simulated event time (UTC), replayed fast from the past up to "
         "about now; alert times on the page are the wall clock")


def run_story(stack: DemoStack, options: DemoOptions, echo: Callable[[str], None],
              stop: threading.Event) -> int:
    """Upload the reference, send the traffic and report; 0 when the retraining
    recommendation fired, else 1."""
    from infersight.collector.demo.console import ConsoleReporter
    from infersight.storage.registry import configure_model

    import infersight

    scenario = Scenario()
    started = time.monotonic()
    simulator: Simulator | None = None
    try:
        echo(f"open {stack.url}/#{credit.MODEL}  (API docs at {stack.url}/docs)")
        with stack.write_sessions.begin() as session:
            configure_model(session, credit.MODEL, window_seconds=int(DEMO_WINDOW_S))
            configure_model(session, assistant.MODEL, window_seconds=int(DEMO_WINDOW_S))
        features, scores, labels = reference_data(scenario)
        # one batch holds a whole minute of labels, so no window is judged on half of them
        infersight.init(transport="local", flush_interval=0.1, queue_size=200_000, batch_size=2000)
        answer = infersight.upload_reference(
            credit.MODEL, credit.VERSION, features, scores, labels, task="binary",
            positive_class=1, threshold=0.5, api_url=stack.url)
        reference_f1 = _reference_f1(scores, labels)
        echo(f"reference uploaded: {scenario.reference_rows} validation rows, F1 "
             f"{reference_f1:.3f} ({answer.get('task', 'binary')})")
        sim_span = timedelta(seconds=options.duration_s * options.speed)
        clock = SimClock(options.speed, _minute(datetime.now(UTC) - sim_span), time.monotonic())
        _configure_assistant(stack.url, priced_from=clock.start)
        echo(f"drift starts {scenario.drift_after_min:g} simulated minutes in "
             f"(~{scenario.drift_after_min * 60 / options.speed:.0f} s); each minute's labels "
             f"arrive {scenario.label_delay_min:g} simulated minutes after it ends")
        reporter = ConsoleReporter(
            stack.sessions, credit.MODEL, DEMO_WINDOW_S, stack.lateness_s,
            scenario.label_delay_min * 60.0 + stack.lateness_s,
            reference_f1, echo, color=options.color, health_model=assistant.MODEL,
        )
        simulator = Simulator(infersight, clock, scenario)
        simulator.start()
        deadline = started + options.duration_s
        while not stop.is_set() and time.monotonic() < deadline:
            reporter.poll()
            stop.wait(0.25)
        reporter.poll()
        _summary(echo, reporter, simulator, started)
        return 0 if "retraining_recommended" in reporter.fired else 1
    finally:
        echo("stopping: flushing the SDK, stopping the worker and the server …")
        if simulator is not None:
            simulator.stop()
        infersight.flush(timeout=5.0)
        infersight.shutdown(timeout=2.0)


def _configure_assistant(url: str, priced_from: datetime) -> None:
    """Through the API, as a user would: the assistant's price (its first, so it may start
    with the simulated history), a latency SLO fit for an LLM (the built-in 500 ms one stays
    on the classifier) and a daily cost budget."""
    import httpx

    slo = {"metric": "latency_p99_ms", "op": ">", "for": 3, "min_samples": 100,
           "severity": "warning"}
    rules = {
        "latency_p99_slo": {**slo, "model": credit.MODEL, "threshold": 500},
        "assistant_latency_slo": {**slo, "model": assistant.MODEL,
                                  "threshold": assistant.LATENCY_SLO_MS},
        "cost_budget": {"model": assistant.MODEL, "metric": "cost", "total": "day", "op": ">",
                        "threshold": assistant.DAILY_BUDGET, "severity": "warning"},
    }
    with httpx.Client(base_url=url, timeout=10.0) as client:
        pricing = {**assistant.PRICING, "effective_from": priced_from.isoformat()}
        client.put(f"/v1/models/{assistant.MODEL}", json={"pricing": pricing}).raise_for_status()
        for name, rule in rules.items():
            client.put(f"/v1/alert-rules/{name}", json={"name": name, **rule}).raise_for_status()


def _summary(echo: Callable[[str], None], reporter: object, simulator: Simulator,
             started: float) -> None:
    stats = simulator.stats
    first_drift = getattr(reporter, "first_drift_at", None)
    fired: dict[str, float] = getattr(reporter, "fired", {})
    echo(f"sent {stats.predictions:,} predictions, {stats.labels:,} labels and "
         f"{stats.assistant_calls:,} assistant calls in {time.monotonic() - started:.0f} s")
    if first_drift is not None:
        echo(f"drift first shown {first_drift - started:.0f} s after start")
    for rule, at in sorted(fired.items(), key=lambda kv: kv[1]):
        echo(f"alert {rule} fired {at - started:.0f} s after start")


def _reference_f1(scores: list[float], labels: list[int]) -> float:
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= 0.5 and y == 1)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= 0.5 and y == 0)
    fn = sum(1 for s, y in zip(scores, labels, strict=True) if s < 0.5 and y == 1)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)
