"""Every documented prediction shape, through the wire codec, feeds prediction drift and the
label-free estimate exactly as the equivalent mapping does (docs/wire-format.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from infersight.drift import Reference, WindowState, compare
from infersight.sdk.wire import Prediction, decode_batch, encode_batch

RNG = np.random.default_rng(7)
X = RNG.normal(size=1500)
P = 1 / (1 + np.exp(-2 * X))
Y = (RNG.random(1500) < P).astype(int)
TS = datetime(2024, 5, 1, tzinfo=UTC)


def _binary(p: float, shape: str) -> Any:
    label = int(p >= 0.5)
    return {"score": p, "list": [1 - p, p], "label_score": {"label": label, "score": p},
            "label_probs": {"label": label, "score": {"0": 1 - p, "1": p}},
            "label": {"label": label}}[shape]


def _through_the_wire(predictions: list[Any], features: np.ndarray) -> list[Prediction]:
    events = [{"type": "prediction", "model": "m", "version": "1", "prediction_id": str(i),
               "ts": TS, "features": {"x": float(x)}, "prediction": p}
              for i, (x, p) in enumerate(zip(features, predictions, strict=True))]
    batch = decode_batch(encode_batch(events))
    assert batch.rejected == []
    return batch.predictions


@pytest.mark.parametrize("shape", ["score", "list", "label_score", "label_probs", "label"])
def test_decoded_prediction_shapes_give_the_mapping_forms_report(shape: str) -> None:
    reference = Reference.from_data({"x": X[:1000]},
                                    predictions=[_binary(p, shape) for p in P[:1000]],
                                    labels=Y[:1000].tolist())
    window_x, window_p = X[1000:] + 0.3, P[1000:]
    as_mappings = [_binary(p, shape) for p in window_p]
    decoded = WindowState(reference)
    decoded.update(_through_the_wire(as_mappings, window_x))
    expected = WindowState(reference)
    expected.update({"x": window_x.tolist()}, predictions=as_mappings)
    ours, theirs = compare(reference, decoded), compare(reference, expected)
    assert ours.prediction == theirs.prediction
    assert ours.prediction["missing_rate"] == 0.0
    assert list(ours.rows()) == list(theirs.rows())
    if shape != "label":  # a score gives the label-free (CBPE) estimate
        assert any(row.metric.startswith("estimated_") for row in ours.rows())
