"""Alert rules: what to watch, when it breaches, and whom to tell.

A rule compares one metric of a window (names as in docs/statistics.md) with a threshold that is either
absolute or relative to the model version's reference value of a metric::

    name: precision_drop
    model: "fraud*"            # glob over model names
    metric: precision
    feature: null              # null: dataset level; a name, a glob, or "any"
    op: "<"
    threshold: reference - 0.05   # or a number, or "reference * 1.2"
    for: 2                     # consecutive qualifying windows before firing
    min_samples: 200           # windows with fewer rows neither fire nor resolve
    severity: critical
    channels: [oncall]
    cooldown: 1h               # no second firing notification sooner than this

With ``significance`` the threshold is the minimum effect, and a window breaches only when
it is also *significantly* worse than the reference at its own sample size: a one-sided
z-test of the difference, over the window's standard error of the metric (its
``<metric>_stderr`` point) and the reference's, at that level::

    metric: f1
    op: "<"
    threshold: reference - 0.01   # at least one point of F1 worse …
    significance: 0.001           # … and below the reference beyond sampling error …
    evidence_windows: [2, 12]     # … over the latest 2 or the latest 12 windows pooled

With ``total: day`` the judged value is the running total of the metric over the UTC day,
summed over every window of the model (all its versions) that started that day, e.g. a daily
cost budget (one alert per model, whatever version is serving)::

    name: cost_budget
    model: chat
    metric: cost
    total: day
    op: ">"
    threshold: 250          # in the currency of the model's price

Each horizon of ``evidence_windows`` pools that many latest qualifying windows
(:mod:`infersight.alerts.pooling`) and is tested at ``significance / len(evidence_windows)``
(Bonferroni), so the rule's false-alarm rate per window stays at most ``significance``: the
short horizon reacts to a collapse within one or two windows, the long one finds a sustained
drop of about one standard error per window, which no single window shows.

>>> rule = AlertRule.model_validate(
...     {"name": "p", "metric": "precision", "op": "<", "threshold": "reference - 0.05"})
>>> rule.threshold.resolve(reference=0.9)
0.85
>>> rule.breaches(0.8, reference=0.9), rule.breaches(0.88, reference=0.9)
(True, False)
>>> rule.matches_model("fraud"), rule.matches_feature("")
(True, True)
"""

from __future__ import annotations

import fnmatch
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Annotated, Any, Literal, cast

from infersight.alerts.durations import Duration
from infersight.storage.types import reject_nul
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

Severity = Literal["critical", "error", "warning", "info"]
Comparison = Literal[">", ">=", "<", "<=", "==", "!="]

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

ANY_FEATURE = "any"
"""``feature: any`` matches every per-feature point (not the dataset-level one)."""

PREDICTION_FEATURE = "@prediction"
"""The ``metric_points.feature`` under which prediction (output) drift is recorded
(``infersight.drift.report.PREDICTION``)."""

_RELATIVE = re.compile(
    r"^\s*reference\s*(?:(?P<op>[-+*])\s*(?P<amount>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+))?\s*$"
)


@dataclass(frozen=True)
class Threshold:
    """An absolute number, or ``reference``, ``reference ± d`` or ``reference * r``.

    >>> Threshold.parse("reference * 1.25").resolve(reference=2.0)
    2.5
    >>> Threshold.parse(0.3).resolve(reference=None)
    0.3
    >>> str(Threshold.parse("reference-0.05"))
    'reference - 0.05'
    """

    value: float
    relative: bool = False
    operation: Literal["+", "-", "*"] = "+"

    @classmethod
    def parse(cls, raw: object) -> Threshold:
        if isinstance(raw, Threshold):
            return raw
        if isinstance(raw, bool):
            raise ValueError("threshold must be a number or 'reference [+|-|*] number'")
        if isinstance(raw, int | float):
            if not math.isfinite(raw):
                raise ValueError(f"threshold must be finite, got {raw!r}")
            return cls(float(raw))
        if isinstance(raw, str):
            try:
                return cls.parse(float(raw))
            except ValueError:
                pass
            match = _RELATIVE.match(raw)
            if match is None:
                raise ValueError(
                    f"threshold {raw!r} is neither a number nor 'reference', "
                    "'reference - 0.05', 'reference + 0.1' or 'reference * 1.2'"
                )
            if match.group("op") is None:
                return cls(0.0, relative=True)
            operation = cast(Literal["+", "-", "*"], match.group("op"))
            return cls(float(match.group("amount")), relative=True, operation=operation)
        raise ValueError(f"threshold must be a number or a string, got {type(raw).__name__}")

    def resolve(self, reference: float | None) -> float | None:
        """The threshold as a number; None for a relative one without a reference value."""
        if not self.relative:
            return self.value
        if reference is None or not math.isfinite(reference):
            return None
        if self.operation == "*":
            return reference * self.value
        return round(reference + (self.value if self.operation == "+" else -self.value), 12)

    def __str__(self) -> str:
        if not self.relative:
            return f"{self.value:g}"
        if self.value == 0 and self.operation != "*":
            return "reference"
        return f"reference {self.operation} {self.value:g}"


def _as_horizons(raw: object) -> object:
    """``2`` → ``[2]``; a list is sorted and each horizon checked (1 to 100 windows)."""
    horizons = [raw] if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(horizons, list) or not horizons or not all(
            isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 100 for h in horizons):
        raise ValueError("evidence_windows must be a number of windows (1 to 100) or a "
                         "non-empty list of them")
    return sorted(set(horizons))


ThresholdField = Annotated[
    Threshold,
    BeforeValidator(Threshold.parse),
    PlainSerializer(lambda t: t.value if not t.relative else str(t), return_type=Any),
]


class AlertRule(BaseModel):
    """One alert rule (from the API, the YAML file, or the built-in defaults)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    _no_nul = model_validator(mode="before")(reject_nul)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    model: str = "*"
    """Glob over model names."""
    metric: str = Field(min_length=1, max_length=64)
    feature: str | None = None
    """None: the dataset-level point; a feature name or glob; ``any``: every feature."""
    op: Comparison
    threshold: ThresholdField
    reference_metric: str | None = None
    """Reference value's metric for relative thresholds; default: ``metric`` without an
    ``estimated_`` prefix (estimated precision is compared with the reference precision)."""
    baseline: Literal["reference", "window"] = "reference"
    """``reference``: relative thresholds are relative to the version's reference value;
    ``window``: to ``reference_metric`` of the same window (e.g. the realised F1 against the
    window's label-free estimate, ``estimated_f1``)."""
    significance: float | None = Field(default=None, gt=0.0, lt=0.5)
    """One-sided test level: breach only when worse than the reference beyond sampling error
    (needs a relative threshold, the minimum effect, and an ordering ``op``)."""
    evidence_windows: Annotated[list[int], BeforeValidator(_as_horizons)] = Field(
        default_factory=lambda: [1])
    """Horizons of a significance test: pool the latest ``h`` qualifying windows, for each
    ``h`` (a number or a list; each tested at ``significance / len(evidence_windows)``)."""
    total: Literal["window", "day"] = "window"
    """``window``: judge each window's value; ``day``: the running UTC-day total of the
    metric over all the model's versions (budgets)."""
    for_windows: int = Field(default=1, ge=1, le=1000, alias="for")
    min_samples: int = Field(default=0, ge=0)
    delay: Duration | None = None
    """Only judge windows that ended, and whose points were first written, at least this long
    ago (e.g. label coverage: a replayed history waits for its labels as live traffic does)."""
    severity: Severity = "warning"
    channels: list[str] = Field(default_factory=list)
    """Channel names; empty means the configured default channels."""
    cooldown: Duration | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("model", "feature")
    @classmethod
    def _pattern_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank (omit the field for the dataset level)")
        return value

    @model_validator(mode="after")
    def _relative_needs_sense(self) -> AlertRule:
        if (
            self.threshold.relative
            and self.threshold.operation == "*"
            and self.threshold.value <= 0
        ):
            raise ValueError("a 'reference * r' threshold needs r > 0")
        if self.baseline == "window" and (
            not self.threshold.relative or self.reference_metric in (None, self.metric)
        ):
            raise ValueError("baseline: window needs a relative threshold and a "
                             "reference_metric other than the metric")
        if self.significance is not None and (
            not self.threshold.relative or self.op in ("==", "!=")
        ):
            raise ValueError("significance needs a relative threshold (reference ± d or "
                             "reference * r, the minimum effect) and op <, <=, > or >=")
        if self.total == "day" and (self.significance is not None or self.feature is not None
                                    or self.threshold.relative or self.baseline != "reference"):
            raise ValueError("total: day sums a dataset-level metric over the day and compares "
                             "it with an absolute threshold (no significance, feature or "
                             "reference)")
        if self.significance is None and self.evidence_windows != [1]:
            raise ValueError("evidence_windows pools windows for a significance test: "
                             "set significance too")
        return self

    @property
    def reference_metric_name(self) -> str:
        return self.reference_metric or self.metric.removeprefix("estimated_")

    def matches_model(self, model: str) -> bool:
        return fnmatch.fnmatchcase(model, self.model)

    def matches_feature(self, feature: str) -> bool:
        """Whether a metric point's feature ('' = dataset level) is watched by this rule."""
        if self.feature is None:
            return feature == ""
        if self.feature == ANY_FEATURE:
            return feature != ""
        return feature != "" and fnmatch.fnmatchcase(feature, self.feature)

    def breaches(self, value: float | None, reference: float | None = None) -> bool | None:
        """True/False, or None when undecidable (no value, or no reference for it)."""
        if value is None or not math.isfinite(value):
            return None
        limit = self.threshold.resolve(reference)
        if limit is None:
            return None
        return COMPARISONS[self.op](value, limit)

    @property
    def stderr_metric(self) -> str:
        """The metric holding the window's standard error of ``metric``."""
        return f"{self.metric}_stderr"

    @property
    def critical_z(self) -> float | None:
        """The one-sided z quantile of ``significance`` shared among the horizons of
        ``evidence_windows`` (None without significance).

        >>> AlertRule.model_validate({"name": "f1", "metric": "f1", "op": "<",
        ...     "threshold": "reference - 0.01", "significance": 0.001,
        ...     "evidence_windows": [2, 12]}).critical_z  # the 1 - 0.0005 quantile
        3.29...
        """
        if self.significance is None:
            return None
        return NormalDist().inv_cdf(1.0 - self.significance / len(self.evidence_windows))

    @property
    def worse(self) -> Callable[[float, float], float]:
        """``(value, baseline) -> gap``, positive when ``value`` is on the rule's bad side."""
        if self.op in ("<", "<="):
            return lambda value, baseline: baseline - value
        return lambda value, baseline: value - baseline

    def describe(self) -> str:
        """``precision < reference - 0.05 for 2 windows``."""
        target = f"{self.metric}" + (f"[{self.feature}]" if self.feature else "")
        test = ""
        if self.significance is not None:
            pooled = " or ".join(str(h) for h in self.evidence_windows)
            over = "" if self.evidence_windows == [1] else f" over the latest {pooled} windows"
            test = f", significantly (one-sided z-test at {self.significance:g}{over})"
        suffix = f" for {self.for_windows} windows" if self.for_windows > 1 else ""
        if self.total == "day":
            target = f"daily total of {target} (UTC, all versions)"
        return f"{target} {self.op} {self.threshold}{test}{suffix}"
