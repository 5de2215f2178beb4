"""Segments: drift and performance per value of a segment key ("for whom did it move?").

A model declares segment keys (tags or features, e.g. ``country``, ``client``). The
*vocabulary* of each key is fixed when the reference is profiled, so every partition maps
values identically: the :data:`SEGMENT_TOP_K` most frequent reference values (ties broken by
the value's key, values normalised with :func:`~infersight.drift.categorical.category_key`),
or an explicit list for a tag the reference data lacks. A row falls in its value's segment,
in ``@other`` for any value outside the vocabulary, or in ``@missing`` when it carries no
value for the key. Segment labels read ``"country=BR"``, ``"country=@other"``,
``"country=@missing"``.

Per segment the reference keeps compact histograms (:mod:`~infersight.drift.compact_bins`)
of its own rows, so a segment's window is compared with the same segment of the reference
(an explicit key has no reference rows: its segments are compared with the whole
reference). :func:`compare_segments` gives each segment's rows, prediction and feature
drift and labelled performance with its gap to the whole window; :func:`rank_segments`
orders them.

Examples
--------
>>> import numpy as np
>>> from infersight.drift import Reference
>>> rng = np.random.default_rng(0)
>>> country = rng.choice(["BR", "US", "FR"], 3000, p=[0.5, 0.3, 0.2])
>>> ref = Reference.from_data({"x": rng.normal(0, 1, 3000)}, segments={"country": country},
...                           segment_values={"client": ["android", "ios"]})
>>> ref.segments.labels("country"), ref.segments.labels("client")[-1]
(['country=BR', 'country=US', 'country=FR', 'country=@other', 'country=@missing'], 'client=@missing')
>>> w = ref.new_window()
>>> live = rng.choice(["BR", "US"], 2000)
>>> w.update({"x": np.where(live == "BR", rng.normal(2, 1, 2000), rng.normal(0, 1, 2000))},
...          segments={"country": live})
>>> [r.label for r in rank_segments(compare_segments(ref, w))][:2]
['country=BR', 'client=@missing']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _codec
from .categorical import CategoricalProfile, category_key, factorize
from .compact_bins import PREDICTION_COLUMN, CompactLayout, segment_histogram
from .performance import (
    ClassificationState,
    RegressionState,
    classification_metrics,
    regression_metrics,
)
from .segment_drift import segment_drift
from .segment_state import SegmentedState

if TYPE_CHECKING:
    from .reference import Reference
    from .window import WindowState

#: Values of a key kept apart (most frequent in the reference); the rest are ``@other``.
SEGMENT_TOP_K = 20
OTHER = "@other"
MISSING = "@missing"
#: Performance metrics reported per segment, with their gap to the whole window.
PERFORMANCE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse",
                       "mape")
#: Metrics where larger is worse (ranking by performance gap).
LOWER_IS_BETTER = frozenset({"mae", "rmse", "mape"})

ArrayI = npt.NDArray[np.int64]


@dataclass
class SegmentKey:
    """One segment key: its vocabulary and, unless explicit, the reference's counts."""

    name: str
    values: list[str]
    """The vocabulary, most frequent reference value first (as given when explicit)."""
    reference: ArrayI | None
    """``(segments, 1 + layout width)`` reference counts (rows, then each bin), or None for
    an explicit vocabulary."""

    @property
    def size(self) -> int:
        """Segments of the key: its values, ``@other``, ``@missing``."""
        return len(self.values) + 2

    def labels(self) -> list[str]:
        """``key=value`` of each segment, in slot order."""
        return [f"{self.name}={v}" for v in [*self.values, OTHER, MISSING]]

    def slots(self, column: Any, rows: int) -> ArrayI:
        """Segment of each row (``column`` None: the key is absent from every row)."""
        if column is None:
            return np.full(rows, self.size - 1, dtype=np.int64)
        if len(column) != rows:
            raise ValueError(f"segment key {self.name!r} has {len(column)} values, the batch "
                             f"has {rows} rows")
        codes, keys = factorize(column)
        index = {v: i for i, v in enumerate(self.values)}
        lookup = np.array([index.get(k, len(self.values)) for k in keys] + [self.size - 1],
                          dtype=np.int64)
        return lookup[codes]


class SegmentProfile:
    """The segment keys of a reference (reference side of segmentation).

    Build it with :meth:`fit` (``Reference.from_data(..., segments=...)`` does); windows
    keep a :class:`~infersight.drift.segment_state.SegmentedState` from :meth:`new_state`.
    """

    def __init__(self, keys: list[SegmentKey], layout: CompactLayout) -> None:
        self.keys = keys
        self.layout = layout
        self._by_name = {k.name: k for k in keys}

    @classmethod
    def fit(cls, layout: CompactLayout, columns: Mapping[str, Any], rows: int,
            segments: Mapping[str, Any] | None = None,
            segment_values: Mapping[str, Sequence[Any]] | None = None,
            top_k: int = SEGMENT_TOP_K) -> SegmentProfile:
        """Vocabularies and per-segment reference counts.

        ``columns`` holds the reference's columns by layout name (features and
        ``@prediction``); ``segments`` maps each key to its reference column (top ``top_k``
        values); ``segment_values`` maps a key to its explicit values.
        """
        segments, explicit = dict(segments or {}), dict(segment_values or {})
        both = sorted(set(segments) & set(explicit))
        if both:
            raise ValueError(f"segment keys given both as data and as values: {both}")
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        bins = layout.assign(columns, rows)
        keys = []
        for name, column in segments.items():
            if len(column) != rows:
                raise ValueError(f"segment key {name!r} has {len(column)} values, the "
                                 f"reference has {rows} rows")
            vocabulary = CategoricalProfile.from_values(column, top_k=top_k).vocabulary
            key = SegmentKey(str(name), vocabulary, None)
            key.reference = segment_histogram(key.slots(column, rows), bins, key.size,
                                              layout.width)
            keys.append(key)
        for name, values in explicit.items():
            if isinstance(values, str | bytes):
                raise TypeError(f"segment key {name!r}: values must be a list, not a string")
            vocabulary = list(dict.fromkeys(category_key(v) for v in values))
            if not vocabulary:
                raise ValueError(f"segment key {name!r}: no values given")
            keys.append(SegmentKey(str(name), vocabulary, None))
        return cls(keys, layout)

    @property
    def names(self) -> list[str]:
        """The segment keys, in declaration order."""
        return [k.name for k in self.keys]

    def key(self, name: str) -> SegmentKey:
        """One key (KeyError if not declared)."""
        return self._by_name[name]

    def labels(self, name: str) -> list[str]:
        """Segment labels of one key, in slot order."""
        return self._by_name[name].labels()

    def new_state(self) -> SegmentedState:
        """An empty mergeable segmented window state."""
        return SegmentedState({k.name: k.size for k in self.keys}, self.layout.width)

    def slots(self, columns: Mapping[str, Any], rows: int) -> dict[str, ArrayI]:
        """Segment of each row, per key (a key absent from ``columns``: ``@missing``)."""
        return {k.name: k.slots(columns.get(k.name), rows) for k in self.keys}

    def fingerprint(self) -> bytes:
        """Bytes that change with the vocabularies or the layout (window compatibility)."""
        parts = [k.name + "\x01" + "\0".join(k.values) for k in self.keys]
        return b"sg" + "\x02".join(parts).encode() + b"\x03" + self.layout.fingerprint()

    def to_dict(self) -> dict[str, Any]:
        """Builtins for serialisation (versioned by ``v``)."""
        return {"v": 1, "keys": [
            {"name": k.name, "values": k.values,
             "ref": None if k.reference is None else _codec.encode_counts(k.reference.ravel())}
            for k in self.keys]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], layout: CompactLayout) -> SegmentProfile:
        """Inverse of :meth:`to_dict` (``layout`` of the reference it belongs to)."""
        if d.get("v") != 1:
            raise _codec.FormatError(f"segment profile version {d.get('v')!r} not supported")
        keys = []
        for item in d["keys"]:
            key = SegmentKey(str(item["name"]), [str(v) for v in item["values"]], None)
            if item["ref"] is not None:
                key.reference = _codec.decode_array(item["ref"], np.int64).reshape(
                    key.size, layout.width + 1).copy()
            keys.append(key)
        return cls(keys, layout)


def _event_value(event: Any, name: str) -> Any:
    for field_name in ("tags", "features"):
        mapping = event.get(field_name) if isinstance(event, Mapping) else getattr(
            event, field_name, None)
        if isinstance(mapping, Mapping) and mapping.get(name) is not None:
            return mapping[name]
    return None


def segment_columns(batch: Any, names: Sequence[str]) -> dict[str, Any]:
    """Each key's column read from a batch: a DataFrame's or a mapping's column of that
    name, or of a list of events the value in each event's ``tags``, else its ``features``
    (a key absent from the batch is left out: its rows are ``@missing``).

    Examples
    --------
    >>> segment_columns([{"features": {"os": "ios"}, "tags": {"country": "BR"}},
    ...                  {"features": {}, "tags": {}}], ["country", "os"])
    {'country': ['BR', None], 'os': ['ios', None]}
    """
    if isinstance(batch, pd.DataFrame):
        return {n: batch[n].to_numpy() for n in names if n in batch.columns}
    if isinstance(batch, Mapping):
        return {n: batch[n] for n in names if n in batch}
    events = list(batch)
    if events and isinstance(events[0], Mapping) and not any(
            isinstance(events[0].get(f), Mapping) for f in ("features", "tags")):
        return {n: [e.get(n) for e in events] for n in names}  # a list of feature rows
    return {n: [_event_value(e, n) for e in events] for n in names}


class SegmentRow(NamedTuple):
    """One segment metric point: segment label, feature (None = the segment as a whole,
    ``@prediction`` = the model output), metric, value, sample size."""

    segment: str
    feature: str | None
    metric: str
    value: float
    sample_size: int


#: Feature metrics written as rows by default (every one stays in ``SegmentResult``).
FEATURE_ROW_METRICS = ("psi", "js_distance", "missing_rate")


@dataclass
class SegmentResult:
    """Metrics of one segment of a window."""

    key: str
    value: str
    rows: int
    share: float
    """The segment's share of the window's rows."""
    prediction: dict[str, float] = field(default_factory=dict)
    features: dict[str, dict[str, float]] = field(default_factory=dict)
    performance: dict[str, float] = field(default_factory=dict)
    """Realised metrics and ``<metric>_gap`` = segment - whole window."""
    labelled: int = 0

    @property
    def label(self) -> str:
        """``key=value``."""
        return f"{self.key}={self.value}"

    def metric_rows(self, feature_metrics: Sequence[str] = FEATURE_ROW_METRICS
                    ) -> Iterator[SegmentRow]:
        """Flat rows: the segment's rows and share, prediction drift, performance, and
        ``feature_metrics`` of each feature."""
        label = self.label
        yield SegmentRow(label, None, "count", float(self.rows), self.rows)
        yield SegmentRow(label, None, "share", self.share, self.rows)
        for metric, value in self.prediction.items():
            if metric == "n":
                continue  # the sample size of the others
            yield SegmentRow(label, PREDICTION_COLUMN, metric, value,
                             self.rows if metric in ("count", "missing_rate")
                             else int(self.prediction.get("n", 0)))
        for metric, value in self.performance.items():
            yield SegmentRow(label, None, metric, value, self.labelled)
        for name, metrics in self.features.items():
            for metric in feature_metrics:
                if metric in metrics:
                    size = self.rows if metric == "missing_rate" else int(metrics.get("n", 0))
                    yield SegmentRow(label, name, metric, metrics[metric], size)


def _performance(state: ClassificationState | RegressionState | None) -> dict[str, float]:
    if isinstance(state, ClassificationState) and state.count:
        metrics = classification_metrics(state)
    elif isinstance(state, RegressionState) and state.count:
        metrics = regression_metrics(state)
    else:
        return {}
    return {k: metrics[k] for k in PERFORMANCE_METRICS if k in metrics}


def compare_segments(reference: Reference, window: WindowState) -> list[SegmentResult]:
    """Metrics of every segment that has rows in ``window``, key by key, in slot order.

    A segment's prediction and feature drift compare its window histograms with the same
    segment of the reference (the whole reference for an explicit key); its performance is
    that of its labelled rows, with ``<metric>_gap`` against the whole window's.

    Examples
    --------
    >>> from infersight.drift import Reference
    >>> ref = Reference.from_data({"x": [1.0, 2.0, 3.0, 4.0]}, predictions=[0.2, 0.8, 0.7, 0.1],
    ...                           labels=[0, 1, 1, 0], segments={"os": ["a", "a", "b", "b"]})
    >>> w = ref.new_window()
    >>> w.update({"x": [1.0, 4.0]}, predictions=[0.9, 0.8], segments={"os": ["a", "b"]})
    >>> w.add_labels([1, 0], [0.9, 0.8], segments={"os": ["a", "b"]})
    >>> [(r.label, r.rows, r.performance["accuracy"], r.performance["accuracy_gap"])
    ...  for r in compare_segments(ref, w)]
    [('os=a', 1, 1.0, 0.5), ('os=b', 1, 0.0, -0.5)]
    """
    profile = reference.segments
    state = window.segments
    if window.fingerprint != reference.fingerprint:
        raise ValueError("the window state was built for a different reference")
    if profile is None or state is None:
        return []
    layout = profile.layout
    offsets = list(zip(layout.names, layout.offsets.values(), layout.sizes, strict=True))
    whole = _performance(window.performance)
    whole_reference = np.append(0, layout.whole_reference())
    out: list[SegmentResult] = []
    for key in profile.keys:
        counts = state.counts[key.name]
        performance = state.performance[key.name]
        ref = whole_reference if key.reference is None else key.reference
        drift = {name: segment_drift(counts[:, 1 + start: 1 + start + size],
                                     ref[..., 1 + start: 1 + start + size])
                 for name, start, size in offsets}
        for slot, value in enumerate([*key.values, OTHER, MISSING]):
            rows = int(counts[slot, 0])
            if rows == 0:
                continue
            result = SegmentResult(key.name, value, rows, rows / window.rows if window.rows
                                   else float("nan"))
            for name, per_segment in drift.items():
                if name != PREDICTION_COLUMN:
                    result.features[name] = per_segment[slot]
                elif per_segment[slot]["count"]:
                    result.prediction = per_segment[slot]
            perf_state = performance[slot]
            metrics = _performance(perf_state)
            result.labelled = perf_state.count if perf_state is not None else 0
            result.performance = {**metrics, **{f"{k}_gap": v - whole[k]
                                                for k, v in metrics.items() if k in whole}}
            out.append(result)
    return out


def drift_score(result: SegmentResult, metric: str = "psi") -> float:
    """A segment's drift: ``metric`` of its prediction, or the largest over its features
    when it has no prediction drift (NaN when neither is defined)."""
    if metric in result.prediction:
        return result.prediction[metric]
    values = [m[metric] for m in result.features.values() if metric in m]
    return max(values) if values else float("nan")


def rank_segments(results: Sequence[SegmentResult], by: Literal["drift", "performance"] = "drift",
                  metric: str | None = None, min_rows: int = 1) -> list[SegmentResult]:
    """Segments worst first: by drift (``metric`` default ``psi``, see :func:`drift_score`)
    or by performance gap (``metric`` default ``accuracy``, or ``mae`` for a regression:
    the segment furthest below the whole window first). Segments with fewer than
    ``min_rows`` rows, or without the metric, are left out.

    Examples
    --------
    >>> a = SegmentResult("os", "a", 10, 0.5, performance={"accuracy_gap": -0.2})
    >>> b = SegmentResult("os", "b", 10, 0.5, performance={"accuracy_gap": 0.1})
    >>> [r.label for r in rank_segments([b, a], by="performance")]
    ['os=a', 'os=b']
    """
    kept = [r for r in results if r.rows >= min_rows]
    if by == "drift":
        name = metric or "psi"
        scored = [(drift_score(r, name), r) for r in kept]
        scored = [(s, r) for s, r in scored if not np.isnan(s)]
        return [r for _, r in sorted(scored, key=lambda sr: (-sr[0], sr[1].label))]
    if by != "performance":
        raise ValueError(f"by must be 'drift' or 'performance', not {by!r}")
    if metric is None:
        metric = "mae" if any("mae_gap" in r.performance for r in kept) else "accuracy"
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    gaps = [(sign * r.performance[f"{metric}_gap"], r) for r in kept
            if f"{metric}_gap" in r.performance]
    return [r for _, r in sorted(gaps, key=lambda gr: (-gr[0], gr[1].label))]
