"""What ``infersight demo`` prints while it runs: windows as they are evaluated (drift share
and the features moving most), realised performance once the labels are in, the generative
model's inference health (calls, errors, latency, tokens, cost), and alert state changes with
their evidence. It reads the same tables the API serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

RED, YELLOW, GREEN, DIM, BOLD, CYAN = "31", "33", "32", "2", "1", "36"


@dataclass
class ConsoleReporter:
    """Polls the database and prints progress lines through ``echo``."""

    sessions: sessionmaker[Session]
    model: str
    window_s: float
    lateness_s: float
    labels_complete_s: float
    """Simulated seconds after a window's end when its labels are all in."""
    reference_f1: float | None
    echo: Callable[[str], None]
    color: bool = False
    health_model: str | None = None
    """A second model whose inference health is narrated (the generative assistant)."""
    min_gap_s: float = 0.5
    """Wall seconds between two window lines (more windows close at high speeds)."""
    _printed_drift: set[datetime] = field(default_factory=set)
    _printed_perf: set[datetime] = field(default_factory=set)
    _printed_health: set[datetime] = field(default_factory=set)
    _last_health_line: float = 0.0
    _health_failing: bool = False
    _alert_status: dict[str, str] = field(default_factory=dict)
    _last_line: float = 0.0
    _last_perf_line: float = 0.0
    _skipped: int = 0
    _drifting: bool = False
    first_drift_at: float | None = None
    """Wall time (monotonic) of the first window printed with drift share above 0.3."""
    fired: dict[str, float] = field(default_factory=dict)
    """Wall time (monotonic) each alert rule first fired."""

    def _style(self, text: str, *codes: str) -> str:
        if not self.color:
            return text
        return f"\033[{';'.join(codes)}m{text}\033[0m"

    def poll(self) -> None:
        """Print what changed; windows count as done once the worker's watermark (the
        latest event time it committed) is a window past their close."""
        from infersight.storage.watermarks import load_watermarks

        models = [self.model] + ([self.health_model] if self.health_model else [])
        with self.sessions() as session:
            watermarks = load_watermarks(session, models)
            watermark = watermarks.get(self.model)
            if watermark is not None:
                done = watermark - timedelta(seconds=self.window_s)
                self._windows(session, done)
                self._performance(session, done)
            if self.health_model and self.health_model in watermarks:
                self._health(session, watermarks[self.health_model]
                             - timedelta(seconds=self.window_s))
            for model in models:
                self._alerts(session, model)

    def _points(self, session: Session, metrics: tuple[str, ...], start: datetime,
                end: datetime, feature: str | None = "", model: str | None = None) -> list[Any]:
        from infersight.storage.metrics import metric_point_rows

        rows = [(window_start, point_feature, metric, value)
                for name in metrics
                for window_start, _end, _version, point_feature, metric, value, _size
                in metric_point_rows(session, model or self.model, metric=name,
                                     feature=feature, start=start, end=end)]
        return sorted(rows, key=lambda row: row[0])

    def _windows(self, session: Session, sim_now: datetime) -> None:
        closed_before = sim_now - timedelta(seconds=self.window_s + self.lateness_s)
        rows = self._points(session, ("drift_share", "count"), closed_before
                            - timedelta(seconds=self.window_s * 30), closed_before)
        windows: dict[datetime, dict[str, float | None]] = {}
        for start, _feature, metric, value in rows:
            if start not in self._printed_drift:
                windows.setdefault(start, {})[metric] = value
        for start, values in sorted(windows.items()):
            if "drift_share" not in values:
                continue
            self._printed_drift.add(start)
            share = values.get("drift_share") or 0.0
            drifting = share > 0.3
            now = time.monotonic()
            if drifting == self._drifting and now - self._last_line < self.min_gap_s:
                self._skipped += 1
                continue
            self._drifting = drifting
            self._last_line = now
            self._print_window(session, start, share, values.get("count"))

    def _print_window(self, session: Session, start: datetime, share: float,
                      count: float | None) -> None:
        end = start + timedelta(seconds=self.window_s)
        psi = [(f, v) for _s, f, _m, v in self._points(session, ("psi",), start, end, None)
               if f and not f.startswith("@") and v is not None]
        top = sorted(psi, key=lambda fv: -fv[1])[:4]
        skipped = f" (+{self._skipped} more)" if self._skipped else ""
        self._skipped = 0
        head = f"window {start:%H:%M}  {int(count or 0):>5} predictions  drift share {share:>4.0%}"
        if share > 0.3:
            if self.first_drift_at is None:
                self.first_drift_at = time.monotonic()
            moved = ", ".join(f"{f} (psi {v:.2f})" for f, v in top)
            self.echo(self._style(f"{head}  DRIFT  {moved}{skipped}", RED))
        elif share > 0:
            self.echo(self._style(f"{head}  minor{skipped}", YELLOW))
        else:
            self.echo(self._style(f"{head}  stable{skipped}", DIM))

    def _performance(self, session: Session, sim_now: datetime) -> None:
        done_before = sim_now - timedelta(seconds=self.window_s + self.labels_complete_s)
        rows = self._points(session, ("f1", "estimated_f1", "label_coverage"),
                            done_before - timedelta(seconds=self.window_s * 30), done_before)
        windows: dict[datetime, dict[str, float | None]] = {}
        for start, _feature, metric, value in rows:
            if start not in self._printed_perf:
                windows.setdefault(start, {})[metric] = value
        for start, values in sorted(windows.items()):
            if values.get("f1") is None:
                continue
            self._printed_perf.add(start)
            now = time.monotonic()
            if now - self._last_perf_line < self.min_gap_s * 2:
                continue
            self._last_perf_line = now
            f1 = values["f1"] or 0.0
            reference = "" if self.reference_f1 is None else f" vs reference {self.reference_f1:.2f}"
            estimated = values.get("estimated_f1")
            est = "" if estimated is None else f", estimated {estimated:.2f}"
            coverage = values.get("label_coverage")
            cov = "" if coverage is None else f", {coverage:.0%} labelled"
            dropped = self.reference_f1 is not None and f1 < self.reference_f1 - 0.05
            line = f"labels in for {start:%H:%M}: F1 {f1:.2f}{reference}{est}{cov}"
            self.echo(self._style(line, YELLOW) if dropped else self._style(line, DIM))

    def _health(self, session: Session, sim_now: datetime) -> None:
        """One line per closed window of the health model (throttled, but every change
        between failing and healthy is shown)."""
        assert self.health_model is not None
        closed_before = sim_now - timedelta(seconds=self.window_s + self.lateness_s)
        since = closed_before - timedelta(seconds=self.window_s * 30)
        rows = self._points(session, HEALTH_METRICS, since, closed_before,
                            model=self.health_model)
        errors = self._points(session, ("error_count",), since, closed_before, None,
                              model=self.health_model)
        windows: dict[datetime, dict[str, float | None]] = {}
        for start, _feature, metric, value in rows:
            if start not in self._printed_health:
                windows.setdefault(start, {})[metric] = value
        for start, values in sorted(windows.items()):
            if values.get("request_count") is None:
                continue
            self._printed_health.add(start)
            failing = (values.get("error_rate") or 0.0) > 0.02
            now = time.monotonic()
            if failing == self._health_failing and now - self._last_health_line < \
                    self.min_gap_s * 4:
                continue
            self._health_failing = failing
            self._last_health_line = now
            types = sorted(((v or 0.0, f) for s, f, _m, v in errors if s == start and f),
                           reverse=True)
            line = health_line(self.health_model, start, values, [f for _v, f in types[:2]])
            self.echo(self._style(line, RED) if failing else self._style(line, CYAN))

    def _alerts(self, session: Session, model: str) -> None:
        from infersight.storage.alert_states import list_states

        for row in list_states(session, model=model, limit=None):
            before = self._alert_status.get(row.dedup_key)
            self._alert_status[row.dedup_key] = row.status
            if row.status == before or row.status not in ("firing", "resolved"):
                continue
            if row.status == "resolved" and before is None:
                continue
            details = row.details or {}
            summary = details.get("summary") or details.get("annotations", {}).get("summary", "")
            if row.status == "firing":
                self.fired.setdefault(row.rule, time.monotonic())
                label = self._style(f"ALERT FIRING  {row.rule}", BOLD, RED)
                self.echo(f"{label}  [{row.severity}]  {summary}")
                for line in _evidence_lines(details.get("evidence")):
                    self.echo(self._style(f"    {line}", RED))
            else:
                self.echo(self._style(f"alert resolved  {row.rule}", GREEN))


HEALTH_METRICS = ("request_count", "error_rate", "latency_p95_ms",
                  "time_to_first_token_p95_ms", "input_tokens", "output_tokens", "cost")


def health_line(model: str, start: datetime, values: dict[str, float | None],
                error_types: list[str]) -> str:
    """The narration of one window's inference health.

    >>> from datetime import datetime
    >>> health_line("chat", datetime(2026, 1, 1, 9, 30), {"request_count": 240,
    ...     "error_rate": 0.125, "latency_p95_ms": 5210.0, "time_to_first_token_p95_ms": 480.0,
    ...     "input_tokens": 120_000, "output_tokens": 43_000, "cost": 0.7214},
    ...     ["TimeoutError", "RateLimitError"])
    'chat 09:30  240 calls  errors 12.5 % (TimeoutError, RateLimitError)  p95 5.2 s  first token p95 480 ms  163k tokens  cost 0.72'
    """
    parts = [f"{model} {start:%H:%M}", f"{int(values.get('request_count') or 0)} calls"]
    rate = values.get("error_rate") or 0.0
    parts.append(f"errors {rate:.1%}".replace("%", " %")
                 + (f" ({', '.join(error_types)})" if rate and error_types else ""))
    p95 = values.get("latency_p95_ms")
    if p95 is not None:
        parts.append(f"p95 {p95 / 1000:.1f} s" if p95 >= 1000 else f"p95 {p95:.0f} ms")
    ttft = values.get("time_to_first_token_p95_ms")
    if ttft is not None:
        parts.append(f"first token p95 {ttft:.0f} ms")
    tokens = (values.get("input_tokens") or 0) + (values.get("output_tokens") or 0)
    if tokens:
        parts.append(f"{tokens / 1000:.0f}k tokens")
    cost = values.get("cost")
    if cost is not None:
        parts.append(f"cost {cost:.2f}")
    return "  ".join(parts)


def _evidence_lines(evidence: Any) -> list[str]:
    if not isinstance(evidence, dict):
        return []
    lines = []
    features = evidence.get("top_features") or []
    if features:
        shown = ", ".join(
            f"{f.get('feature')} ({f.get('score_metric', 'score')} {f.get('score', 0):.2f})"
            for f in features[:5] if isinstance(f, dict) and f.get("score") is not None
        )
        lines.append(f"drifted: {shown}")
    for perf in evidence.get("performance") or []:
        if not isinstance(perf, dict) or perf.get("value") is None:
            continue
        reference = perf.get("reference")
        versus = "" if reference is None else f" vs reference {reference:.3f}"
        lines.append(f"{perf.get('metric')}: {perf['value']:.3f}{versus} "
                     f"({perf.get('sample_size')} rows)")
    return lines
