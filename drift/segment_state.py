"""Mergeable per-window state of a reference's segments (:mod:`~infersight.drift.segments`).

Per key, one row of integer counts per segment: its rows, then its compact histograms
(:mod:`~infersight.drift.compact_bins`) of every feature and of the prediction; and per
segment, once labels join, its labelled performance state. Everything is integer counts
(or exact sums), so states of any split of the rows merge by addition to the same bytes.

Examples
--------
>>> import numpy as np
>>> a, b = SegmentedState({"os": 3}, 2), SegmentedState({"os": 3}, 2)
>>> a.update({"os": np.array([0, 2])}, np.array([[0], [1]]))
>>> b.update({"os": np.array([0])}, np.array([[1]]))
>>> a.merge(b)
>>> a.counts["os"].tolist()
[[2, 1, 1], [0, 0, 0], [1, 0, 1]]
>>> SegmentedState.from_blob(a.to_blob()).to_blob() == a.to_blob()
True
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from . import _codec
from .compact_bins import segment_histogram
from .performance import ClassificationState, RegressionState

PerformanceState = ClassificationState | RegressionState
_LEVEL = 6
"""zlib level of :meth:`SegmentedState.to_blob` (deterministic: the same state, the same bytes)."""
ArrayI = npt.NDArray[np.int64]


def _copy(state: PerformanceState) -> PerformanceState:
    if isinstance(state, RegressionState):
        return RegressionState.from_dict(state.to_dict())
    return ClassificationState.from_dict(state.to_dict())


class SegmentedState:
    """``counts[key]``: ``(segments, 1 + width)`` counts (rows, then each compact bin);
    ``performance[key][slot]``: the labelled outcomes of a segment (None until labelled)."""

    def __init__(self, sizes: Mapping[str, int], width: int) -> None:
        self.width = width
        self.counts: dict[str, ArrayI] = {
            k: np.zeros((s, width + 1), dtype=np.int64) for k, s in sizes.items()}
        self.performance: dict[str, list[PerformanceState | None]] = {
            k: [None] * s for k, s in sizes.items()}

    def _check(self, other: SegmentedState) -> None:
        if self.width != other.width or {k: c.shape for k, c in self.counts.items()} != {
                k: c.shape for k, c in other.counts.items()}:
            raise ValueError("cannot merge segmented states of different layouts")

    def update(self, slots: Mapping[str, ArrayI], bins: ArrayI) -> None:
        """Add rows: each key's segment per row, and each row's bins (one column per
        binned column present in the batch)."""
        for key, counts in self.counts.items():
            counts += segment_histogram(slots[key], bins, counts.shape[0], self.width)

    def add_outcomes(self, key: str, slot: int, state: PerformanceState) -> None:
        """Merge one segment's labelled outcomes."""
        mine = self.performance[key][slot]
        if mine is None:
            self.performance[key][slot] = _copy(state)
        else:
            mine.merge(state)  # type: ignore[arg-type]

    def merge(self, other: SegmentedState) -> None:
        """Add another state of the same segments into this one."""
        self._check(other)
        for key, counts in other.counts.items():
            self.counts[key] += counts
            for slot, state in enumerate(other.performance[key]):
                if state is not None:
                    self.add_outcomes(key, slot, state)

    def to_dict(self) -> dict[str, Any]:
        """Builtins: per segment its counts in the narrowest integer type (None when empty)
        and its performance state, if any."""
        keys = {}
        for key, counts in self.counts.items():
            keys[key] = {
                "c": [_codec.encode_counts(row) if row[0] else None for row in counts],
                "p": [[slot, s.to_dict()] for slot, s in enumerate(self.performance[key])
                      if s is not None]}
        return {"v": 1, "w": self.width, "keys": keys}

    def to_blob(self) -> bytes:
        """:meth:`to_dict` as deflated msgpack: most segments' histograms and score
        histograms are sparse, and the write path rewrites a window's state on every commit."""
        return zlib.compress(msgspec.msgpack.encode(self.to_dict()), _LEVEL)

    @classmethod
    def from_blob(cls, blob: bytes) -> SegmentedState:
        """Inverse of :meth:`to_blob`."""
        try:
            data = msgspec.msgpack.decode(zlib.decompress(blob))
        except (zlib.error, msgspec.DecodeError) as exc:
            raise _codec.FormatError(f"corrupt segmented state: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SegmentedState:
        """Inverse of :meth:`to_dict`."""
        if d.get("v") != 1:
            raise _codec.FormatError(f"segmented state version {d.get('v')!r} not supported")
        width = int(d["w"])
        state = cls({str(k): len(v["c"]) for k, v in d["keys"].items()}, width)
        for key, item in d["keys"].items():
            counts = state.counts[str(key)]
            for slot, row in enumerate(item["c"]):
                if row is not None:
                    values = _codec.decode_array(row, np.int64)
                    if values.size != width + 1:
                        raise _codec.FormatError("segment counts of the wrong width")
                    counts[slot] = values
            for slot, perf in item["p"]:
                state.performance[str(key)][int(slot)] = (
                    RegressionState.from_dict(perf) if perf.get("kind") == "regression"
                    else ClassificationState.from_dict(perf))
        return state
