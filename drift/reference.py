"""The reference profile of a model version: what every window is compared with.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = Reference.from_data({"age": rng.normal(40, 10, 1000), "city": ["a", "b"] * 500})
>>> ref.feature_kinds
{'age': 'numeric', 'city': 'categorical'}
>>> Reference.from_bytes(ref.to_bytes()).fingerprint == ref.fingerprint
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import pandas as pd

from . import _codec
from .categorical import TOP_K, CategoricalProfile
from .columns import FeatureKind, infer_kind, to_float
from .compact_bins import PREDICTION_COLUMN, CompactLayout, prediction_column
from .embedding import EmbeddingProfile, vectors_of
from .estimation import CBPE
from .multivariate import ReconstructionProfile
from .numeric import NumericProfile
from .performance import (
    ClassificationState,
    RegressionState,
    classification_metrics,
    regression_metrics,
)
from .predictions import PredictionSpec, labelled_rows
from .sampling_error import classification_stderrs, regression_stderrs
from .segments import SEGMENT_TOP_K, SegmentProfile

if TYPE_CHECKING:
    from .window import WindowState

Profile = NumericProfile | CategoricalProfile | EmbeddingProfile

_MAGIC = b"ISRF"
_VERSION = 1


def profile_column(column: Any, kind: FeatureKind, top_k: int = TOP_K) -> Profile:
    """Profile one reference column as ``kind``."""
    if kind == "embedding":
        vectors = vectors_of(column)
        if vectors is None:
            raise ValueError("an embedding feature needs vectors of numbers of one length")
        return EmbeddingProfile.fit(vectors)
    if kind == "numeric":
        values, _ = to_float(column)
        return NumericProfile.from_values(values)
    return CategoricalProfile.from_values(column, top_k=top_k)


def _kind(profile: Profile) -> FeatureKind:
    if isinstance(profile, NumericProfile):
        return "numeric"
    return "embedding" if isinstance(profile, EmbeddingProfile) else "categorical"


def _profile_to_dict(profile: Profile) -> dict[str, Any]:
    return {"kind": _kind(profile), **profile.to_dict()}


def _profile_from_dict(d: dict[str, Any]) -> Profile:
    if d.get("kind") == "numeric":
        return NumericProfile.from_dict(d)
    if d.get("kind") == "categorical":
        return CategoricalProfile.from_dict(d)
    if d.get("kind") == "embedding":
        return EmbeddingProfile.from_dict(d)
    raise _codec.FormatError(f"unknown profile kind {d.get('kind')!r}")


class Reference:
    """Reference profile: per-feature bins/vocabularies and counts, prediction and label profiles,
    reference performance and the label-free estimator.

    Build it with :meth:`from_data`; windows come from :meth:`new_window`.
    """

    def __init__(self, features: dict[str, Profile], rows: int,
                 prediction_spec: PredictionSpec | None = None,
                 prediction: Profile | None = None, labels: Profile | None = None,
                 performance: dict[str, float] | None = None, cbpe: CBPE | None = None,
                 multivariate: ReconstructionProfile | None = None,
                 segments: SegmentProfile | None = None) -> None:
        self.features = features
        self.rows = rows
        self.prediction_spec = prediction_spec
        self.prediction = prediction
        self.labels = labels
        self.performance = performance or {}
        self.cbpe = cbpe
        self.multivariate = multivariate
        """The reconstruction-error transform (:mod:`~infersight.drift.multivariate`), or None
        with fewer than two features taking part."""
        self.segments = segments
        """The segment keys (:mod:`~infersight.drift.segments`), or None when none is declared."""
        self.fingerprint = self._layout_fingerprint()

    @property
    def feature_kinds(self) -> dict[str, FeatureKind]:
        """``{name: "numeric" | "categorical" | "embedding"}``."""
        return {name: _kind(p) for name, p in self.features.items()}

    @property
    def task(self) -> str | None:
        """``binary``, ``multiclass``, ``regression`` or None (no predictions in the reference)."""
        return self.prediction_spec.task if self.prediction_spec else None

    @classmethod
    def from_data(cls, features: Any, predictions: Any = None, labels: Any = None,
                  task: str | None = None, positive_label: Any = None,
                  feature_types: Mapping[str, str] | None = None, threshold: float = 0.5,
                  top_k: int = TOP_K, segments: Mapping[str, Any] | None = None,
                  segment_values: Mapping[str, Any] | None = None,
                  segment_top_k: int = SEGMENT_TOP_K) -> Reference:
        """Profile reference data.

        Parameters
        ----------
        features
            DataFrame or mapping name → array (all columns of equal length).
        predictions, labels
            Optional model outputs (numbers, class labels, probability vectors or
            ``{"label", "score"}`` dicts) and true labels, aligned with the rows.
        task
            ``binary``, ``multiclass`` or ``regression``; inferred when None.
        positive_label
            Positive class of a binary model (default ``1``/``True`` when present).
        feature_types
            Overrides of the inferred kind: ``{name: "numeric" | "categorical" |
            "embedding"}`` (an embedding is a vector of numbers of one length per row,
            see :mod:`~infersight.drift.embedding`).
        threshold
            Decision threshold of a binary model's score.
        top_k
            Size of each categorical feature's vocabulary.
        segments, segment_values, segment_top_k
            Segment keys (:mod:`~infersight.drift.segments`): ``{key: column}`` aligned with
            the rows (the ``segment_top_k`` most frequent values are kept), and ``{key:
            [values]}`` for a key the reference data lacks (a tag).

        Examples
        --------
        >>> ref = Reference.from_data({"x": [0.1, 0.5, 0.9, 0.3]}, predictions=[0.2, 0.7, 0.9, 0.1],
        ...                           labels=[0, 1, 1, 0])
        >>> ref.task, ref.performance["accuracy"]
        ('binary', 1.0)
        """
        columns = _columns(features)
        lengths = {name: len(col) for name, col in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"reference columns have different lengths: {lengths}")
        rows = next(iter(lengths.values()), 0)
        overrides = dict(feature_types or {})
        unknown = set(overrides) - set(columns)
        if unknown:
            raise ValueError(f"feature_types names unknown features: {sorted(unknown)}")
        profiles: dict[str, Profile] = {}
        for name, col in columns.items():
            try:
                kind = overrides.get(name) or infer_kind(col)
            except ValueError as exc:
                raise ValueError(f"feature {name!r}: {exc}") from exc
            if kind not in ("numeric", "categorical", "embedding"):
                raise ValueError(f"feature {name!r}: type must be 'numeric', 'categorical' or "
                                 f"'embedding', not {kind!r}")
            try:
                profiles[name] = profile_column(col, kind, top_k)  # type: ignore[arg-type]
            except ValueError as exc:
                raise ValueError(f"feature {name!r}: {exc}") from exc
        tabular = {name: p for name, p in profiles.items() if not isinstance(p, EmbeddingProfile)}
        multivariate = ReconstructionProfile.fit({n: columns[n] for n in tabular}, {
            name: p if isinstance(p, CategoricalProfile) else None for name, p in tabular.items()})
        if predictions is None and labels is None:
            ref = cls(profiles, rows, multivariate=multivariate)
        else:
            ref = cls._with_outputs(profiles, rows, predictions, labels, task, positive_label,
                                    threshold, multivariate)
        if segments or segment_values:
            ref.segments = fit_segments(ref, columns, predictions, segments, segment_values,
                                        segment_top_k)
            ref.fingerprint = ref._layout_fingerprint()
        return ref

    @classmethod
    def _with_outputs(cls, profiles: dict[str, Profile], rows: int, predictions: Any,
                      labels: Any, task: str | None, positive_label: Any,
                      threshold: float, multivariate: ReconstructionProfile | None = None
                      ) -> Reference:
        label_list = _to_list(labels) if labels is not None else None
        pred_list = _to_list(predictions) if predictions is not None else None
        for what, values in (("predictions", pred_list), ("labels", label_list)):
            if values is not None and rows and len(values) != rows:
                raise ValueError(f"{what} has {len(values)} rows, features have {rows}")
        spec = PredictionSpec.infer(pred_list if pred_list is not None else label_list,
                                    label_list, task, positive_label, threshold)
        prediction_profile = None
        performance: dict[str, float] = {}
        cbpe = None
        if spec.kind == "embedding":  # an embedding service: no labels to score
            output = predictions if isinstance(predictions, np.ndarray) else pred_list
            return cls(profiles, rows, spec, profile_column(output, "embedding"), None, {},
                       None, multivariate)
        if pred_list is not None:
            read = spec.read(predictions if isinstance(predictions, np.ndarray) else pred_list)
            if spec.kind == "score":
                prediction_profile = profile_column(read.scores, "numeric")
            elif spec.kind == "value":
                prediction_profile = profile_column(read.values, "numeric")
            else:
                prediction_profile = profile_column(read.labels, "categorical",
                                                    max(TOP_K, len(spec.classes)))
        label_profile = None
        if label_list is not None:
            if spec.task == "regression":
                label_profile = profile_column(label_list, "numeric")
            else:
                label_profile = profile_column(label_list, "categorical",
                                               max(TOP_K, len(spec.classes)))
        if pred_list is not None and label_list is not None:
            performance, cbpe = _reference_performance(spec, predictions, pred_list, label_list)
        return cls(profiles, rows, spec, prediction_profile, label_profile, performance, cbpe,
                   multivariate)

    def new_window(self) -> WindowState:
        """An empty, mergeable window state for this reference."""
        from .window import WindowState

        return WindowState(self)

    def window_from_bytes(self, data: bytes) -> WindowState:
        """Restore a window state serialised with ``to_bytes`` and bind it to this reference."""
        from .window import WindowState

        return WindowState.from_bytes(data, reference=self)

    def _layout_fingerprint(self) -> bytes:
        h = hashlib.blake2b(digest_size=8)
        for name, profile in sorted(self.features.items()):
            h.update(name.encode() + b"\0")
            if isinstance(profile, NumericProfile):
                h.update(b"n" + profile.edges.tobytes())
            elif isinstance(profile, EmbeddingProfile):
                h.update(b"e" + profile.mean.tobytes() + profile.components.tobytes()
                         + b"".join(p.edges.tobytes() for p in profile.projections))
            else:
                h.update(b"c" + "\0".join(profile.vocabulary).encode())
        if self.prediction_spec is not None:
            h.update(msgspec.msgpack.encode(self.prediction_spec.to_dict()))
        if isinstance(self.prediction, NumericProfile):
            h.update(b"pn" + self.prediction.edges.tobytes())
        elif isinstance(self.prediction, CategoricalProfile):
            h.update(b"pc" + "\0".join(self.prediction.vocabulary).encode())
        elif isinstance(self.prediction, EmbeddingProfile):
            h.update(b"pe" + self.prediction.mean.tobytes()
                     + self.prediction.components.tobytes())
        if self.multivariate is not None:
            h.update(self.multivariate.fingerprint())
        if self.segments is not None:  # absent: the fingerprint of a reference without them
            h.update(self.segments.fingerprint())
        return h.digest()

    def to_bytes(self) -> bytes:
        """Versioned binary form (stored in the database)."""
        body: dict[str, Any] = {
            "rows": self.rows,
            "features": {n: _profile_to_dict(p) for n, p in self.features.items()},
            "spec": self.prediction_spec.to_dict() if self.prediction_spec else None,
            "prediction": _profile_to_dict(self.prediction) if self.prediction else None,
            "labels": _profile_to_dict(self.labels) if self.labels else None,
            "performance": self.performance,
            "cbpe": self.cbpe.to_dict() if self.cbpe else None,
        }
        if self.multivariate is not None:  # absent from references profiled before it existed
            body["multivariate"] = self.multivariate.to_dict()
        if self.segments is not None:  # absent from references without segment keys
            body["segments"] = self.segments.to_dict()
        return _codec.pack(_MAGIC, _VERSION, body)

    @classmethod
    def from_bytes(cls, data: bytes) -> Reference:
        """Inverse of :meth:`to_bytes`; :class:`~infersight.drift._codec.FormatError` if invalid."""
        _, body = _codec.unpack(data, _MAGIC, (_VERSION,))
        try:
            features = {str(n): _profile_from_dict(d) for n, d in body["features"].items()}
            spec = PredictionSpec.from_dict(body["spec"]) if body["spec"] else None
            pred = _profile_from_dict(body["prediction"]) if body["prediction"] else None
            labels = _profile_from_dict(body["labels"]) if body["labels"] else None
            cbpe = CBPE.from_dict(body["cbpe"]) if body["cbpe"] else None
            perf = {str(k): float(v) for k, v in body["performance"].items()}
            multivariate = ReconstructionProfile.from_dict(body["multivariate"]) \
                if body.get("multivariate") else None
            ref = cls(features, int(body["rows"]), spec, pred, labels, perf, cbpe, multivariate)
            if body.get("segments"):
                ref.segments = SegmentProfile.from_dict(body["segments"], CompactLayout.of(ref))
                ref.fingerprint = ref._layout_fingerprint()
            return ref
        except _codec.FormatError:
            raise
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise _codec.FormatError(f"corrupt reference payload: {exc!r}") from exc


def fit_segments(ref: Reference, columns: Mapping[str, Any], predictions: Any,
                 segments: Mapping[str, Any] | None, segment_values: Mapping[str, Any] | None,
                 top_k: int) -> SegmentProfile:
    """The segment profile of a reference profiled from ``columns`` and ``predictions``."""
    binned = dict(columns)
    spec = ref.prediction_spec
    if spec is not None and predictions is not None and ref.prediction is not None:
        read = spec.read(predictions if isinstance(predictions, np.ndarray)
                         else _to_list(predictions))
        binned[PREDICTION_COLUMN] = prediction_column(spec, read)
    seg_columns = _columns(segments) if segments else None
    return SegmentProfile.fit(CompactLayout.of(ref), binned, ref.rows, seg_columns,
                              segment_values, top_k)


def _columns(features: Any) -> dict[str, Any]:
    if isinstance(features, pd.DataFrame):
        return {str(c): features[c] for c in features.columns}
    if isinstance(features, Mapping):
        out = {}
        for name, col in features.items():
            if isinstance(col, str | bytes) or not hasattr(col, "__len__"):
                raise TypeError(f"feature {name!r}: expected an array of values, "
                                f"got {type(col).__name__}")
            out[str(name)] = col
        return out
    raise TypeError(f"features must be a DataFrame or a mapping name→array, "
                    f"not {type(features).__name__}")


def _to_list(values: Any) -> list[Any]:
    if isinstance(values, pd.DataFrame):
        raise TypeError("predictions/labels must be one column, not a DataFrame")
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        return list(values) if values.ndim > 1 else values.tolist()
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise TypeError(f"expected an array of values, got {type(values).__name__}")
    return list(values)


def _reference_performance(spec: PredictionSpec, predictions: Any, pred_list: list[Any],
                           label_list: list[Any]) -> tuple[dict[str, float], CBPE | None]:
    read = spec.read(predictions if isinstance(predictions, np.ndarray) else pred_list)
    if spec.task == "regression":
        assert read.values is not None
        y_true, _ = to_float(label_list)
        ok = np.isfinite(y_true) & np.isfinite(read.values)
        state = RegressionState()
        state.update(y_true[ok], read.values[ok])
        return {**regression_metrics(state), **regression_stderrs(state)}, None
    y_t, y_p, scores = labelled_rows(label_list, read)
    cls_state = ClassificationState(spec.classes, spec.positive_label)
    cls_state.update(y_t, y_p, scores)
    metrics = {**classification_metrics(cls_state), **classification_stderrs(cls_state)}
    cbpe = None
    if spec.kind == "score" and scores is not None and spec.positive_label is not None:
        try:
            cbpe = CBPE.fit(scores, y_t, spec.positive_label, spec.threshold)
        except ValueError:
            cbpe = None  # e.g. a reference without both classes: no estimation possible
    return metrics, cbpe
