"""Judge rules against the metric points the worker writes (``metric_points``).

For each rule and watched feature, the latest *qualifying* windows are read: windows with at
least ``min_samples`` rows and a decidable comparison (a relative threshold needs a
reference value). Windows below the sample minimum neither fire nor resolve: a provisional
window of 12 rows is ignored and the previous window still counts. The judgement is the
latest qualifying window's verdict plus the streak of consecutive breaching qualifying
windows ending there. Because it is recomputed from stored points, a late label that
changes an older window is taken into account on the next evaluation.

Reference values (for ``reference - 0.05`` thresholds) are the reference profile's own
performance (``Reference.performance``: the metrics of the uploaded validation predictions
and labels), handed in by the caller, which holds the decoded reference. A metric point stored for the version at
``window_start = REFERENCE_WINDOW_START`` (:mod:`infersight.storage.metrics`, the Unix epoch)
overrides it, e.g. to pin an agreed baseline.

A rule with ``baseline: window`` compares each window with another metric of the *same*
window (``reference_metric``, e.g. the label-free ``estimated_f1``) instead of the version's
reference.

A rule with ``significance`` breaches only where the window is also worse than the reference
beyond sampling error: for each horizon ``h`` of its ``evidence_windows``, the latest ``h``
qualifying windows ending at the judged one are pooled (:mod:`infersight.alerts.pooling`: their
``<metric>_stderr`` points weight them, and the reference's ``<metric>_stderr`` is counted once),
and the window breaches when a horizon's pooled value is beyond the threshold (the minimum
effect) with a z of at least ``critical_z``. A window without a standard error is not
decidable by such a rule (it neither fires nor resolves) unless it is within the threshold.

Sample sizes: a point's ``sample_size`` (labelled rows for ``f1``, scored rows for
``estimated_f1``, rows for ``latency_p99_ms``), except ``drift_share``, whose sample size is
the number of tested features, and ``feature_missing`` and ``schema_change``, whose is the
feature's non-missing values: their window's row ``count`` is used instead.

``schema_change`` is written for every reference feature in every window, and for an
unexpected name (one the reference never had) only in the windows that carried it: a name
without a point in a window that has the metric counts 0 there, so the alert of a name that
stopped arriving resolves.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Protocol

from infersight.alerts.pooling import Observation, Pooled, pool
from infersight.alerts.rules import COMPARISONS, AlertRule
from infersight.storage.alert_points import (
    daily_totals,
    dataset_values,
    latest_window_starts,
    points_in_windows,
    reference_points,
)
from sqlalchemy.orm import Session

ROW_COUNT_METRIC = "count"
SAMPLE_SIZE_FROM_ROW_COUNT = frozenset({"drift_share", "feature_missing", "schema_change"})
"""Metrics whose ``sample_size`` is not the number of rows judged (the tested features; the
non-missing values of a feature that is missing)."""
ABSENT_IS_ZERO = frozenset({"schema_change"})
"""Per-feature metrics whose absence from a window (that holds the metric for other features)
means 0: an unexpected name that window did not carry."""


class Point(Protocol):
    """What the judgement reads of a metric point."""

    @property
    def feature(self) -> str: ...
    @property
    def window_start(self) -> datetime: ...
    @property
    def window_end(self) -> datetime: ...
    @property
    def value(self) -> float | None: ...
    @property
    def sample_size(self) -> int: ...


@dataclass(frozen=True)
class _Absent:
    """A window in which a feature had no point of an ABSENT_IS_ZERO metric."""

    feature: str
    window_start: datetime
    window_end: datetime
    value: float | None = 0.0
    sample_size: int = 0


def _fill_absent(by_feature: dict[str, list[Point]], points: Sequence[Point]) -> None:
    """Add a 0 point for each window holding the metric in which a feature has none."""
    ends = {p.window_start: p.window_end for p in points}
    for feature, found in by_feature.items():
        have = {p.window_start for p in found}
        found.extend(_Absent(feature, start, end) for start, end in ends.items()
                     if start not in have)

LOOKBACK_SLACK = 24
"""Windows read beyond ``for`` so that under-sampled windows can be skipped."""


@dataclass(frozen=True)
class WindowValue:
    """One window's value of the judged metric."""

    window_start: datetime
    window_end: datetime
    value: float | None
    sample_size: int
    breaching: bool
    stderr: float | None = None
    """Standard error of the tested gap (significance rules)."""
    z: float | None = None
    """Standard errors worse than the baseline (significance rules)."""
    pooled: Pooled | None = None
    """The windows' evidence behind the verdict (significance rules): the horizon that
    breached, else the one closest to breaching."""

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "value": self.value,
            "sample_size": self.sample_size,
            "breaching": self.breaching,
        }
        if self.z is not None:
            out.update(stderr=self.stderr, z=self.z)
        if self.pooled is not None:
            out["pooled_windows"] = self.pooled.windows
        return out


@dataclass(frozen=True)
class Judgement:
    """A rule's verdict for one (model, version, feature) at its latest qualifying window."""

    rule: AlertRule
    model: str
    version: str
    feature: str
    reference: float | None
    threshold: float | None
    windows: list[WindowValue] = field(default_factory=list)
    """Qualifying windows, latest first (the streak plus the window that ended it, if read)."""

    @property
    def latest(self) -> WindowValue:
        return self.windows[0]

    @property
    def breaching(self) -> bool:
        return self.latest.breaching

    @property
    def streak(self) -> int:
        count = 0
        for window in self.windows:
            if not window.breaching:
                break
            count += 1
        return count

    @property
    def satisfied(self) -> bool:
        """Breaching for at least ``for`` consecutive qualifying windows."""
        return self.breaching and self.streak >= self.rule.for_windows

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.rule.name, self.model, self.version, self.feature)

    def evidence(self) -> dict[str, Any] | None:
        """The significance test behind the latest verdict (None for a plain threshold rule):
        the test, how many windows and rows it pooled, the pooled value with its 95 %
        interval, the effect against the baseline, the z and its standard error."""
        rule, pooled = self.rule, self.latest.pooled
        if rule.significance is None or pooled is None:
            return None
        horizons = " or ".join(str(h) for h in rule.evidence_windows)
        return {
            "test": f"one-sided z-test at {rule.significance:g} over the latest {horizons} "
                    f"window(s) pooled (critical z {rule.critical_z:.2f})",
            "windows": pooled.windows,
            "sample_size": pooled.sample_size,
            "value": pooled.value,
            "interval": list(pooled.interval),
            "baseline": pooled.baseline,
            "effect": pooled.value - pooled.baseline,
            "minimum_effect": pooled.limit - pooled.baseline,
            "z": pooled.z,
            "stderr": pooled.stderr,
        }


def dedup_key(rule: str, model: str, version: str, feature: str = "") -> str:
    """``rule/model/version/feature`` — one alert state per key.

    >>> dedup_key("data_drift_share", "fraud", "3")
    'data_drift_share/fraud/3/'
    """
    return f"{rule}/{model}/{version}/{feature}"


def reference_values(
    session: Session, model: str, version: str, performance: Mapping[str, float]
) -> dict[tuple[str, str], float]:
    """The version's reference metrics: ``{(metric, feature): value}`` (feature ``''`` at the
    dataset level): ``performance`` (the reference's own), overridden by the reference
    metric points stored for the version."""
    values = {(metric, ""): value for metric, value in performance.items()}
    values.update(reference_points(session, model, version))
    return values


def judge(
    session: Session,
    rule: AlertRule,
    model: str,
    version: str,
    now: datetime,
    references: dict[tuple[str, str], float],
) -> list[Judgement]:
    """Judge ``rule`` for every watched feature of (model, version); features without a
    qualifying window get no judgement (their state is left as it is)."""
    if rule.total == "day":
        return judge_daily_total(session, rule, model)
    ended_by = now - timedelta(seconds=rule.delay) if rule.delay else None
    starts = latest_window_starts(
        session, model, version, rule.metric,
        limit=rule.for_windows + max(rule.evidence_windows) - 1 + LOOKBACK_SLACK,
        ended_by=ended_by,
    )
    if not starts:
        return []
    # the metric, and what significance and a window baseline need beside it, in one read
    companions = [rule.stderr_metric] if rule.significance is not None else []
    if rule.baseline == "window":  # another metric of the same window, e.g. estimated_f1
        companions += [rule.reference_metric_name, f"{rule.reference_metric_name}_stderr"]
    read: dict[str, list[Any]] = defaultdict(list)  # rows of metric_points
    for point in points_in_windows(session, model, version, [rule.metric, *companions], starts,
                                   ended_by=ended_by):
        read[point.metric].append(point)
    points = read[rule.metric]

    def by_window(metric: str) -> dict[tuple[str, datetime], float | None]:
        return {(p.feature, p.window_start): p.value for p in read.get(metric, [])}

    stderrs = by_window(rule.stderr_metric)
    baselines = baseline_stderrs = {}
    if rule.baseline == "window":
        baselines = by_window(rule.reference_metric_name)
        baseline_stderrs = by_window(f"{rule.reference_metric_name}_stderr")
    by_feature: dict[str, list[Point]] = defaultdict(list)
    for point in points:
        if rule.matches_feature(point.feature):
            by_feature[point.feature].append(point)
    if rule.metric in ABSENT_IS_ZERO:
        _fill_absent(by_feature, points)
    row_counts: dict[datetime, float | None] = {}
    if rule.metric in SAMPLE_SIZE_FROM_ROW_COUNT:
        row_counts = dataset_values(session, model, version, ROW_COUNT_METRIC, starts)
    judgements = []
    for feature, feature_points in sorted(by_feature.items()):
        rows: list[_Row] = []
        for point in sorted(feature_points, key=lambda p: p.window_start, reverse=True):
            size = point.sample_size
            if rule.metric in SAMPLE_SIZE_FROM_ROW_COUNT:
                size = int(row_counts.get(point.window_start) or 0)
            if size < rule.min_samples:
                continue
            if rule.baseline == "window":
                reference = baselines.get((feature, point.window_start))
                reference_stderr = baseline_stderrs.get((feature, point.window_start))
            else:
                reference = references.get((rule.reference_metric_name, feature))
                reference_stderr = references.get((f"{rule.reference_metric_name}_stderr",
                                                   feature))
            rows.append(_Row(point, size, reference, reference_stderr,
                             stderrs.get((feature, point.window_start))))
        windows: list[WindowValue] = []
        latest_reference: float | None = None
        observations = [row.observation(rule) for row in rows] \
            if rule.significance is not None else []
        for index, row in enumerate(rows):
            window = _verdict(rule, rows, observations, index)
            if window is None:
                continue
            if not windows:
                latest_reference = row.reference
            windows.append(window)
            if not window.breaching or len(windows) > rule.for_windows:
                break
        if windows:
            judgements.append(
                Judgement(
                    rule=rule,
                    model=model,
                    version=version,
                    feature=feature,
                    reference=latest_reference,
                    threshold=rule.threshold.resolve(latest_reference),
                    windows=windows,
                )
            )
    return judgements


def judge_daily_total(session: Session, rule: AlertRule, model: str) -> list[Judgement]:
    """A ``total: day`` rule: the running UTC-day total of the metric over all the model's
    versions, judged per day (``for`` counts days); one judgement per model, whose
    ``version`` is ``""`` (all versions)."""
    days = daily_totals(session, model, rule.metric, days=rule.for_windows + 1)
    windows = []
    for day, total, size, last_end in days:
        breaching = bool(rule.breaches(total))
        windows.append(WindowValue(day, max(last_end, day), total, size, breaching))
        if not breaching:
            break
    if not windows:
        return []
    return [Judgement(rule=rule, model=model, version="", feature="", reference=None,
                      threshold=rule.threshold.resolve(None), windows=windows)]


@dataclass(frozen=True)
class _Row:
    """A window with enough rows, and what its verdict compares it with."""

    point: Point
    size: int
    reference: float | None
    reference_stderr: float | None
    stderr: float | None

    def observation(self, rule: AlertRule) -> Observation | None:
        """The window for pooling (None without a value, a baseline or a standard error)."""
        value, reference, stderr = self.point.value, self.reference, self.stderr
        if value is None or reference is None or stderr is None or not math.isfinite(value) \
                or not math.isfinite(stderr):
            return None
        limit = rule.threshold.resolve(reference)
        if limit is None:
            return None
        own_baseline_error = rule.baseline == "window" and self.reference_stderr is not None \
            and math.isfinite(self.reference_stderr)
        return Observation(
            value=value, stderr=stderr, limit=limit, baseline=reference,
            baseline_stderr=self.reference_stderr if own_baseline_error else 0.0,
            sample_size=self.size, window_start=self.point.window_start,
            window_end=self.point.window_end)


def _verdict(rule: AlertRule, rows: Sequence[_Row], observations: Sequence[Observation | None],
             index: int) -> WindowValue | None:
    """The verdict at ``rows[index]`` (rows latest first, ``observations`` theirs for
    pooling); None when it is undecidable.

    Without ``significance``: the threshold alone. With it: the latest ``h`` windows from
    this one pooled, for each horizon ``h`` of ``evidence_windows``; the window breaches when
    one horizon is beyond the minimum effect and significantly worse than the baseline."""
    row = rows[index]
    point = row.point
    plain = rule.breaches(point.value, row.reference)
    if rule.significance is None or plain is None:
        return None if plain is None else WindowValue(
            point.window_start, point.window_end, point.value, row.size, plain)
    latest = observations[index]
    if latest is None:  # no standard error: only "within the threshold" is decidable
        return None if plain else WindowValue(
            point.window_start, point.window_end, point.value, row.size, False)
    older = (o for o in observations[index + 1:] if o is not None)
    series = [latest, *islice(older, max(rule.evidence_windows) - 1)]
    shared = row.reference_stderr if rule.baseline == "reference" else None
    critical = rule.critical_z or 0.0
    compare = COMPARISONS[rule.op]
    best: Pooled | None = None
    for horizon in rule.evidence_windows:
        evidence = pool(series[:horizon], worse=rule.worse,
                        reference_stderr=shared if shared and math.isfinite(shared) else 0.0)
        if compare(evidence.value, evidence.limit) and evidence.z >= critical:
            best = evidence
            break
        if best is None or evidence.z > best.z:
            best = evidence
    assert best is not None
    breaching = compare(best.value, best.limit) and best.z >= critical
    return WindowValue(point.window_start, point.window_end, point.value, row.size, breaching,
                       best.stderr, best.z, best)
