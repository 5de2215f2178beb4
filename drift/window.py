"""Mergeable window state: feature, prediction, latency and labelled-outcome statistics.

Examples
--------
>>> import numpy as np
>>> from infersight.drift import Reference
>>> ref = Reference.from_data({"x": np.arange(100.0)})
>>> a, b = ref.new_window(), ref.new_window()
>>> a.update({"x": [1.0, 2.0]}); b.update([{"features": {"x": None}, "latency_ms": 4.0}])
>>> a.merge(b)
>>> a.rows, a.features["x"].missing
(3, 1)
>>> ref.window_from_bytes(a.to_bytes()).rows
3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import datasketches as ds
import numpy as np
import numpy.typing as npt

from . import _codec
from .categorical import CategoricalProfile, CategoricalState, Factorized, factorize
from .columns import Columns, to_columns, to_float
from .compact_bins import PREDICTION_COLUMN, prediction_column
from .embedding import EmbeddingProfile, EmbeddingState
from .loghist import LogHistogram
from .multivariate import ReconstructionState
from .numeric import NumericProfile, NumericState
from .performance import SCORE_BINS, ClassificationState, RegressionState, score_histogram
from .predictions import PredictionSpec, ReadPredictions, labelled_mask
from .quality import UnexpectedFeatures, unexpected_counts
from .segment_state import SegmentedState
from .segments import segment_columns
from .skew import SkewState, update_features

if TYPE_CHECKING:
    from .reference import Profile, Reference

State = NumericState | CategoricalState | EmbeddingState
PerformanceState = ClassificationState | RegressionState

_MAGIC = b"ISWN"
#: Format 2 keeps latency in a deterministic :class:`~.loghist.LogHistogram`; format 1 held a
#: KLL sketch, which is still read: its retained items and weights become histogram counts.
_VERSION = 2
_READABLE_VERSIONS = (1, 2)


def _latency_from_kll(blob: bytes) -> LogHistogram:
    """Latency of a format-1 state: the KLL sketch's retained items with their weights."""
    sketch = ds.kll_floats_sketch.deserialize(blob)
    items = [(float(item), int(weight)) for item, weight in sketch]
    histogram = LogHistogram()
    if items:
        values, weights = zip(*items, strict=True)
        histogram.update(np.array(values), weights=np.array(weights))
    return histogram


def _new_state(profile: Profile) -> State:
    return profile.new_state()


def _state_to_dict(state: State) -> dict[str, Any]:
    kind = "n" if isinstance(state, NumericState) else "e" if isinstance(
        state, EmbeddingState) else "c"
    return {"k": kind, **state.to_dict()}


def _state_from_dict(d: dict[str, Any]) -> State:
    if d.get("k") == "n":
        return NumericState.from_dict(d)
    if d.get("k") == "c":
        return CategoricalState.from_dict(d)
    if d.get("k") == "e":
        return EmbeddingState.from_dict(d)
    raise _codec.FormatError(f"unknown state kind {d.get('k')!r}")


def _update_state(state: State, profile: Profile, column: Any, rows: int) -> None:
    if column is None:
        state.count += rows
        state.missing += rows
        return
    if len(column) != rows:
        raise ValueError(f"column has {len(column)} values, the batch has {rows} rows")
    if isinstance(state, NumericState) and isinstance(profile, NumericProfile):
        values, invalid = to_float(column)
        state.update(values, profile, invalid)
    elif isinstance(state, CategoricalState) and isinstance(profile, CategoricalProfile):
        state.update(column, profile)
    elif isinstance(state, EmbeddingState) and isinstance(profile, EmbeddingProfile):
        state.update_column(column, profile)
    else:  # pragma: no cover - guarded by the fingerprint
        raise TypeError("state and profile kinds differ")


def _new_performance(spec: PredictionSpec) -> PerformanceState:
    if spec.task == "regression":
        return RegressionState()
    return ClassificationState(spec.classes, spec.positive_label)


def _add_outcomes(state: PerformanceState, truth: list[Any], read: ReadPredictions
                  ) -> tuple[tuple[Any, ...], npt.NDArray[np.bool_]]:
    """Add labelled rows (a row without a label or a prediction is skipped); return the
    columns added and the mask of the rows that were."""
    if isinstance(state, RegressionState):
        assert read.values is not None
        t, _ = to_float(truth)
        if t.size != read.values.size:
            raise ValueError("y_true and predictions have different lengths")
        ok = np.isfinite(t) & np.isfinite(read.values)
        state.update(t[ok], read.values[ok])
        return (t[ok], read.values[ok]), ok
    y_t, y_p, scores, ok = labelled_mask(truth, read)
    columns = (y_t[ok], y_p[ok], scores[ok] if scores is not None else None)
    state.update(*columns)
    return columns, ok


def _add_segment_outcomes(segments: SegmentedState, slots: Mapping[str, npt.NDArray[np.int64]],
                          spec: PredictionSpec, columns: tuple[Any, ...]) -> None:
    """Split the labelled rows added to the whole window by segment (``slots`` of those rows)."""
    for key, column in slots.items():
        for slot in np.unique(column).tolist():
            rows = column == slot
            state = _new_performance(spec)
            parts: list[Any] = [c[rows] if c is not None else None for c in columns]
            state.update(*parts)
            segments.add_outcomes(key, slot, state)


class WindowState:
    """Statistics of one window (or any merge of windows/partitions) for one reference.

    ``rows`` counts updated rows; ``features[name]`` is the per-feature state; ``prediction``
    the state of the model output; ``score_counts`` the binary score histogram over
    ``SCORE_BINS``; ``latency`` a :class:`~.loghist.LogHistogram` of latencies in
    ms (deterministic: any split merges to the same quantiles bit for bit); ``performance`` the labelled
    outcomes joined so far; ``unexpected`` the rows carrying each name the reference never had
    (:class:`~.quality.UnexpectedFeatures`, bounded).
    """

    def __init__(self, reference: Reference | None, *, fingerprint: bytes | None = None) -> None:
        self.reference = reference
        self.fingerprint = reference.fingerprint if reference is not None else (fingerprint or b"")
        self.rows = 0
        self.features: dict[str, State] = {}
        self.prediction: State | None = None
        self.score_counts: np.ndarray | None = None
        self.latency = LogHistogram()
        self.performance: PerformanceState | None = None
        self.reconstruction: ReconstructionState | None = None
        """Per-row reconstruction errors (a reference with a multivariate transform)."""
        self.unexpected = UnexpectedFeatures()
        self.skew: dict[str, SkewState] = {}
        """Train/serve skew by key per feature (:mod:`~.skew`), from the requests whose
        offline values were joined to the window's served ones."""
        self.segments: SegmentedState | None = None
        """Per-segment counts and performance (a reference declaring segment keys)."""
        if reference is not None:
            if reference.segments is not None:
                self.segments = reference.segments.new_state()
            if reference.multivariate is not None:
                self.reconstruction = reference.multivariate.new_state()
            self.features = {n: _new_state(p) for n, p in reference.features.items()}
            if reference.prediction is not None:
                self.prediction = _new_state(reference.prediction)
            spec = reference.prediction_spec
            if spec is not None and spec.kind == "score":
                self.score_counts = np.zeros(SCORE_BINS, dtype=np.int64)

    def _bound(self) -> Reference:
        if self.reference is None:
            raise ValueError("this window state is not bound to its reference: restore it with "
                             "reference.window_from_bytes(data) or call attach(reference)")
        return self.reference

    def attach(self, reference: Reference) -> None:
        """Bind a state restored without its reference (checks that the layouts match)."""
        if reference.fingerprint != self.fingerprint:
            raise ValueError("this window state was built for a different reference")
        self.reference = reference

    def update(self, batch: Any, predictions: Any = None, latency_ms: Any = None,
               segments: Mapping[str, Any] | None = None) -> None:
        """Add a batch: a DataFrame, a mapping name→array, or a list of decoded events.

        ``predictions``/``latency_ms`` (arrays aligned with the rows) override the ones read
        from events. Features absent from the batch count as missing; names the reference
        lacks are counted in ``unexpected`` (rows carrying a value), not profiled.
        ``segments`` (``{key: column}``) gives the rows' segment values; without it they
        are read from the batch (:func:`~.segments.segment_columns`).
        """
        ref = self._bound()
        cols = to_columns(batch, ref.features)
        preds = predictions if predictions is not None else cols.predictions
        lat = latency_ms if latency_ms is not None else cols.latency_ms
        self._check_lengths(cols, preds, lat)
        slots = None  # read and checked before anything is added
        if self.segments is not None and ref.segments is not None:
            slots = ref.segments.slots(dict(segments) if segments is not None else
                                       segment_columns(batch, ref.segments.names), cols.rows)
        self.unexpected.update(unexpected_counts(batch, ref.features))
        for name, profile in ref.features.items():  # factorised once for every reader
            column = cols.features.get(name)
            if isinstance(profile, CategoricalProfile) and column is not None:
                cols.features[name] = Factorized(*factorize(column))
        for name, profile in ref.features.items():
            _update_state(self.features[name], profile, cols.features.get(name), cols.rows)
        if ref.multivariate is not None and self.reconstruction is not None and cols.rows:
            self.reconstruction.update(ref.multivariate.errors(cols.features, cols.rows),
                                       ref.multivariate.edges)
        binned = self._update_predictions(ref, preds) if preds is not None else None
        if self.segments is not None and ref.segments is not None and slots is not None:
            columns = dict(cols.features)
            if binned is not None:
                columns[PREDICTION_COLUMN] = binned
            self.segments.update(slots, ref.segments.layout.assign(columns, cols.rows))
        if lat is not None:
            values, _ = to_float(lat)
            values = values[np.isfinite(values) & (values >= 0)]
            if values.size:
                self.latency.update(values)
        self.rows += cols.rows

    @staticmethod
    def _check_lengths(cols: Columns, preds: Any, lat: Any) -> None:
        for what, values in (("predictions", preds), ("latency_ms", lat)):
            if values is not None and len(values) != cols.rows:
                raise ValueError(f"{what} has {len(values)} values, the batch has {cols.rows} rows")

    def _update_predictions(self, ref: Reference, preds: Any) -> Any:
        """Profile the predictions; return the column profiled (None for an embedding)."""
        spec, profile, state = ref.prediction_spec, ref.prediction, self.prediction
        if spec is None or profile is None or state is None:
            return None  # the reference has no predictions: nothing to compare them with
        if spec.kind == "embedding":
            _update_state(state, profile, preds, len(preds))
            return None
        read = spec.read(preds, need_labels=spec.kind != "score")
        if spec.kind == "score" and read.scores is not None:
            _update_state(state, profile, read.scores, len(read.scores))
            finite = read.scores[np.isfinite(read.scores)]
            if self.score_counts is not None and finite.size:
                self.score_counts += score_histogram(finite)
        elif spec.kind == "value" and read.values is not None:
            _update_state(state, profile, read.values, len(read.values))
        elif read.labels is not None:
            _update_state(state, profile, read.labels, len(read.labels))
        return prediction_column(spec, read)

    def add_labels(self, y_true: Any, predictions: Any,
                   segments: Mapping[str, Any] | None = None) -> None:
        """Add joined ground truth: true labels and the predictions they belong to.

        ``predictions`` are in any accepted form (scores, labels, probability vectors,
        ``{"label", "score"}``). Rows with a missing label or prediction are skipped. A
        multiclass model's class probabilities (vectors aligned with the reference's classes,
        or ``{"score": {class: prob}}`` naming every class) feed its one-vs-rest ROC AUC;
        rows without them still count for accuracy, precision, recall and F1.
        ``segments`` (``{key: column}``) gives the rows' segment values (a key left out:
        ``@missing``).

        Examples
        --------
        >>> from infersight.drift import Reference, compare
        >>> ref = Reference.from_data({"x": [1.0, 2.0, 3.0, 4.0]}, predictions=[0.1, 0.9, 0.8, 0.2],
        ...                           labels=[0, 1, 1, 0])
        >>> w = ref.new_window()
        >>> w.update({"x": [1.0, 2.0]}, predictions=[0.7, 0.3])
        >>> w.add_labels([1, 1], [0.7, 0.3])
        >>> compare(ref, w).performance["recall"]
        0.5
        """
        ref = self._bound()
        spec = ref.prediction_spec
        if spec is None:
            raise ValueError("the reference has no predictions or labels: task unknown")
        if spec.kind == "embedding":
            return  # an embedding model's labels are not scored
        read = spec.read(predictions)
        truth = list(y_true.tolist() if hasattr(y_true, "tolist") else y_true)
        slots = None  # checked before anything is added
        if self.segments is not None and ref.segments is not None:
            slots = ref.segments.slots(dict(segments or {}), len(truth))
        if self.performance is None:
            self.performance = _new_performance(spec)
        columns, added = _add_outcomes(self.performance, truth, read)
        if self.segments is not None and slots is not None:
            _add_segment_outcomes(self.segments, {k: s[added] for k, s in slots.items()}, spec,
                                  columns)

    def add_skew(self, prediction_ids: Sequence[str], served: Sequence[Mapping[str, Any]],
                 offline: Sequence[Mapping[str, Any]]) -> None:
        """Add requests of this window whose offline feature values (a training snapshot, a
        feature-store export) were joined by id: compared feature by feature (:mod:`~.skew`)."""
        update_features(self.skew, self._bound().feature_kinds, prediction_ids, served, offline)

    def merge(self, other: WindowState) -> None:
        """Add ``other`` (a window of the same reference) into this one."""
        if not isinstance(other, WindowState):
            raise TypeError(f"cannot merge {type(other).__name__} into a WindowState")
        if other.fingerprint != self.fingerprint:
            raise ValueError("cannot merge window states of different references")
        self.rows += other.rows
        for name, state in other.features.items():
            mine = self.features.get(name)
            if mine is None:
                self.features[name] = state
            else:
                mine.merge(state)  # type: ignore[arg-type]
        if other.prediction is not None:
            if self.prediction is None:
                self.prediction = other.prediction
            else:
                self.prediction.merge(other.prediction)  # type: ignore[arg-type]
        if other.score_counts is not None:
            if self.score_counts is None:
                self.score_counts = other.score_counts.copy()
            else:
                self.score_counts += other.score_counts
        self.latency.merge(other.latency)
        self.unexpected.merge(other.unexpected)
        for name, skew in other.skew.items():
            mine_skew = self.skew.get(name)
            if mine_skew is None:
                self.skew[name] = mine_skew = SkewState()
            mine_skew.merge(skew)
        if other.reconstruction is not None:
            if self.reconstruction is None:
                self.reconstruction = other.reconstruction
            else:
                self.reconstruction.merge(other.reconstruction)
        if other.performance is not None:
            if self.performance is None:
                self.performance = type(other.performance).from_dict(other.performance.to_dict())
            else:
                self.performance.merge(other.performance)  # type: ignore[arg-type]
        if other.segments is not None:
            if self.segments is None:
                self.segments = SegmentedState.from_dict(other.segments.to_dict())
            else:
                self.segments.merge(other.segments)

    def latency_quantiles(self) -> dict[str, float]:
        """``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms`` (empty if no latency)."""
        if self.latency.is_empty():
            return {}
        p50, p95, p99 = self.latency.quantiles([0.5, 0.95, 0.99])
        return {"latency_p50_ms": float(p50), "latency_p95_ms": float(p95),
                "latency_p99_ms": float(p99)}

    def to_bytes(self) -> bytes:
        """Compact versioned binary form."""
        body: dict[str, Any] = {
            "fp": self.fingerprint, "rows": self.rows,
            "features": {n: _state_to_dict(s) for n, s in self.features.items()},
            "prediction": _state_to_dict(self.prediction) if self.prediction else None,
            "scores": _codec.encode_counts(self.score_counts)
            if self.score_counts is not None else None,
            "latency": None if self.latency.is_empty() else self.latency.to_dict(),
            "performance": self.performance.to_dict() if self.performance else None,
        }
        if self.reconstruction is not None:  # absent without a multivariate reference
            body["mv"] = self.reconstruction.to_dict()
        if self.unexpected:  # absent when every name was the reference's (and before it was kept)
            body["unexpected"] = self.unexpected.to_dict()
        if self.skew:  # absent until offline values join
            body["skew"] = {name: state.to_dict() for name, state in self.skew.items()}
        if self.segments is not None:  # absent when the reference declares no segment keys
            body["segments"] = self.segments.to_blob()
        return _codec.pack(_MAGIC, _VERSION, body)

    @classmethod
    def from_bytes(cls, data: bytes, reference: Reference | None = None) -> WindowState:
        """Inverse of :meth:`to_bytes`. Without ``reference`` the state can be merged,
        serialised and compared, but not updated until :meth:`attach`."""
        version, body = _codec.unpack(data, _MAGIC, _READABLE_VERSIONS)
        try:
            window = cls(None, fingerprint=bytes(body["fp"]))
            window.rows = int(body["rows"])
            window.features = {str(n): _state_from_dict(d) for n, d in body["features"].items()}
            if body["prediction"] is not None:
                window.prediction = _state_from_dict(body["prediction"])
            if body["scores"] is not None:
                window.score_counts = _codec.decode_array(body["scores"], np.int64).copy()
            if body["latency"] is not None:
                window.latency = (_latency_from_kll(bytes(body["latency"])) if version == 1
                                  else LogHistogram.from_dict(body["latency"]))
            if body.get("mv") is not None:
                window.reconstruction = ReconstructionState.from_dict(body["mv"])
            if body.get("unexpected") is not None:
                window.unexpected = UnexpectedFeatures.from_dict(body["unexpected"])
            window.skew = {str(name): SkewState.from_dict(d)
                           for name, d in (body.get("skew") or {}).items()}
            if body.get("segments") is not None:
                window.segments = SegmentedState.from_blob(bytes(body["segments"]))
            perf = body["performance"]
            if perf is not None:
                window.performance = (RegressionState.from_dict(perf)
                                      if perf.get("kind") == "regression"
                                      else ClassificationState.from_dict(perf))
        except (KeyError, TypeError, AttributeError, RuntimeError, ValueError) as exc:
            if isinstance(exc, _codec.FormatError):
                raise
            raise _codec.FormatError(f"corrupt window payload: {exc!r}") from exc
        if reference is not None:
            window.attach(reference)
        return window
