"""Train/serve skew by key: the feature values a model was served, compared with the values
computed offline (a training snapshot, a feature-store export) for the same requests.

Distribution-level skew is the drift view (training reference against serving); this is the
row-level check no distribution test can make: the *same* request, two pipelines. Pairs are
compared feature by feature:

- numeric: equal when ``|served - offline| <= atol + rtol * |offline|`` (numpy's ``isclose``
  rule; defaults :data:`ATOL`, :data:`RTOL`: float32 storage and re-serialisation pass);
- categorical: equal when their normalised keys are
  (:func:`~infersight.drift.categorical.category_key`: ``1``, ``1.0`` and ``"1"`` agree);
- a value on one side and a missing one (None, NaN) on the other differ; both missing agree.

A window's :class:`SkewState` per feature keeps the matched pairs, how many differ, the exact
sum of the numeric absolute differences and the :data:`WORST_KEPT` worst pairs (largest
difference first, a categorical or missing mismatch before any number; ties by id), so any
split of a window merges to the same state.

    skew_matched        pairs compared (ids served and found offline, holding the feature)
    skew_rate           share of them that differ
    skew_mean_abs_diff  mean |served - offline| over the numeric pairs

Examples
--------
>>> state = SkewState()
>>> state.update(["a", "b", "c"], served=[1.0, 2.0, None], offline=[1.0, 2.5, 3.0],
...              kind="numeric")
>>> state.metrics()
{'skew_matched': 3.0, 'skew_rate': 0.6666666666666666, 'skew_mean_abs_diff': 0.25}
>>> [(w.prediction_id, w.served, w.offline) for w in state.worst]
[('c', None, 3.0), ('b', 2.0, 2.5)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._exact_sum import exact_int_sum, exact_to_float, exact_to_floats
from .categorical import category_key
from .columns import FeatureKind, to_float

ATOL = 1e-9
"""Absolute tolerance of a numeric pair."""
RTOL = 1e-6
"""Relative tolerance of a numeric pair (of the offline value)."""
WORST_KEPT = 20
"""Differing pairs a window state keeps per feature, worst first."""


@dataclass(frozen=True, slots=True)
class SkewExample:
    """One differing pair: its id, the served and the offline value, and how far apart they
    are (``inf`` for a categorical or missing mismatch)."""

    prediction_id: str
    served: Any
    offline: Any
    difference: float

    def order(self) -> tuple[float, str]:
        return (-self.difference, self.prediction_id)


class SkewState:
    """One feature's skew over a window (or any merge of windows)."""

    def __init__(self) -> None:
        self.matched = 0
        self.differing = 0
        self.numeric_pairs = 0
        self.abs_diff_sum = 0  # exact, in units of 2**-1126 (see _exact_sum)
        self.worst: list[SkewExample] = []

    def update(self, prediction_ids: Sequence[str], served: Sequence[Any],
               offline: Sequence[Any], kind: FeatureKind, atol: float = ATOL,
               rtol: float = RTOL) -> None:
        """Compare aligned pairs of one feature (``kind`` of the model's reference)."""
        if not (len(prediction_ids) == len(served) == len(offline)):
            raise ValueError("prediction_ids, served and offline must have the same length")
        if not prediction_ids:
            return
        if kind == "numeric":
            differs, difference, numeric = _numeric_pairs(served, offline, atol, rtol)
        else:
            differs, difference, numeric = _categorical_pairs(served, offline)
        self.matched += len(prediction_ids)
        self.differing += int(differs.sum())
        self.numeric_pairs += int(numeric.sum())
        self.abs_diff_sum += exact_int_sum(difference[numeric])
        examples = [SkewExample(str(prediction_ids[i]), _plain(served[i]), _plain(offline[i]),
                                float(difference[i])) for i in np.flatnonzero(differs).tolist()]
        self._keep(examples)

    def merge(self, other: SkewState) -> None:
        self.matched += other.matched
        self.differing += other.differing
        self.numeric_pairs += other.numeric_pairs
        self.abs_diff_sum += other.abs_diff_sum
        self._keep(other.worst)

    def _keep(self, examples: Sequence[SkewExample]) -> None:
        if examples:
            self.worst = sorted([*self.worst, *examples], key=SkewExample.order)[:WORST_KEPT]

    def metrics(self) -> dict[str, float]:
        """``skew_matched``, and ``skew_rate``/``skew_mean_abs_diff`` where defined."""
        out = {"skew_matched": float(self.matched)}
        if self.matched:
            out["skew_rate"] = self.differing / self.matched
        if self.numeric_pairs:
            out["skew_mean_abs_diff"] = exact_to_float(self.abs_diff_sum) / self.numeric_pairs
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"matched": self.matched, "differing": self.differing,
                "numeric": self.numeric_pairs, "abs": exact_to_floats(self.abs_diff_sum),
                "worst": [[w.prediction_id, w.served, w.offline, w.difference]
                          for w in self.worst]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SkewState:
        state = cls()
        state.matched, state.differing = int(d["matched"]), int(d["differing"])
        state.numeric_pairs = int(d["numeric"])
        state.abs_diff_sum = exact_int_sum(np.array(d["abs"], dtype=np.float64))
        state.worst = [SkewExample(str(i), s, o, float(f)) for i, s, o, f in d["worst"]]
        return state


def update_features(states: MutableMapping[str, SkewState], kinds: Mapping[str, FeatureKind],
                    prediction_ids: Sequence[str], served: Sequence[Mapping[str, Any]],
                    offline: Sequence[Mapping[str, Any]]) -> None:
    """Compare aligned requests (served and offline feature values by name) feature by
    feature, into ``states`` (one :class:`SkewState` per feature, created as needed). A
    feature is compared where the offline row holds it and ``kinds`` (the reference's) says
    numeric or categorical; a served request without it counts as missing.

    >>> states: dict[str, SkewState] = {}
    >>> update_features(states, {"x": "numeric", "c": "categorical"}, ["a", "b"],
    ...                 served=[{"x": 1.0, "c": "FR"}, {"x": 2.0}],
    ...                 offline=[{"x": 1.0, "c": "FR"}, {"x": 2.0, "c": "DE"}])
    >>> {name: state.metrics()["skew_rate"] for name, state in sorted(states.items())}
    {'c': 0.5, 'x': 0.0}
    """
    for name, kind in kinds.items():
        if kind == "embedding":
            continue
        rows = [i for i, values in enumerate(offline) if name in values]
        if not rows:
            continue
        state = states.get(name)
        if state is None:
            state = states[name] = SkewState()
        state.update([prediction_ids[i] for i in rows], [served[i].get(name) for i in rows],
                     [offline[i][name] for i in rows], kind)


def _numeric_pairs(served: Sequence[Any], offline: Sequence[Any], atol: float,
                   rtol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: differs, |difference| (inf: one side missing), both numbers."""
    a, _ = to_float(list(served))
    b, _ = to_float(list(offline))
    a_missing, b_missing = ~np.isfinite(a), ~np.isfinite(b)
    numeric = ~a_missing & ~b_missing
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.where(numeric, np.abs(a - b), np.inf)
        close = difference <= atol + rtol * np.abs(b)
    differs = np.where(numeric, ~close, a_missing != b_missing)
    difference = np.where(a_missing & b_missing, 0.0, difference)
    return differs, difference, numeric


def _categorical_pairs(served: Sequence[Any], offline: Sequence[Any]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    differs = np.fromiter(  # the same value of the same type is the same key: no normalising
        (not (type(s) is type(o) and s == o and s is not None) and _key(s) != _key(o)
         for s, o in zip(served, offline, strict=True)), dtype=bool, count=len(served))
    difference = np.where(differs, np.inf, 0.0)
    return differs, difference, np.zeros(len(served), dtype=bool)


def _key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return category_key(value)


def _plain(value: Any) -> Any:
    """A value as JSON builtins (numpy scalars unwrapped; NaN as None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else value
    return value
