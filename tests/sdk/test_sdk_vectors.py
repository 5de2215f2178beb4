"""Vector feature values (embeddings) leave the SDK as JSON arrays of numbers, which the wire
decoder accepts; a vector with a non-finite number is sent as missing."""

from __future__ import annotations

import numpy as np
from infersight.sdk import MemoryTransport, wire

import infersight


def test_lists_tuples_and_numpy_vectors_are_sent_as_arrays_of_numbers() -> None:
    sent = MemoryTransport()
    infersight.init(transport=sent, flush_interval=0.05)
    try:
        embedding = np.linspace(-1.0, 1.0, 384, dtype=np.float32)
        infersight.log_prediction(model="search", features={
            "query_embedding": embedding, "as_list": [1, 2.5], "as_tuple": (np.float32(0.5),),
            "broken": [0.1, float("nan")], "words": ["a", "b"]}, prediction=0.3)

        @infersight.monitor(model="search")
        def rank(query_embedding: list[float]) -> float:
            return 0.7

        rank({"query_embedding": [0.25, -0.75]})
        assert infersight.flush(timeout=10)
    finally:
        infersight.shutdown()
    logged, decorated = (e["features"] for e in sent.events)
    assert logged["query_embedding"] == embedding.astype(float).tolist()
    assert logged["as_list"] == [1.0, 2.5] and logged["as_tuple"] == [0.5]
    assert logged["broken"] is None  # JSON has no NaN: the vector is missing
    assert logged["words"] == "['a', 'b']"  # not numbers: text, as before
    assert decorated["query_embedding"] == [0.25, -0.75]
    decoded = wire.decode_batch(wire.encode_batch(
        [wire.Prediction(**{k: v for k, v in e.items() if k != "type"}) for e in sent.events]))
    assert not decoded.rejected
    assert decoded.predictions[0].features["query_embedding"][:2] == logged["query_embedding"][:2]
