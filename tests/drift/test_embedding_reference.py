"""Embedding features through the reference and the window: inferred from lists, 2-D arrays,
Parquet ``list<double>`` columns, JSON documents and CSV cells of JSON arrays; compared and
decided like any feature (joining ``drift_share``); bad vectors counted, not fatal."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from infersight.collector.api.reference_upload import (
    UploadOptions,
    build_reference,
    parse_csv,
    parse_json,
    parse_parquet,
)
from infersight.drift import Reference, compare

from tests.drift.test_embedding import MIX, topics

ROWS = 3000


@pytest.fixture(scope="module")
def columns() -> dict[str, object]:
    rng = np.random.default_rng(0)
    return {"amount": rng.lognormal(3, 1, ROWS), "prompt": topics(rng, ROWS, MIX, dim=16)}


def test_list_and_array_columns_are_embeddings_kept_out_of_the_reconstruction(columns) -> None:
    as_lists = Reference.from_data({**columns, "prompt": [v.tolist() for v in columns["prompt"]],
                                    "channel": ["web", "app"] * (ROWS // 2)})
    as_array = Reference.from_data(columns)
    assert as_lists.feature_kinds["prompt"] == as_array.feature_kinds["prompt"] == "embedding"
    assert as_lists.features["prompt"].dimension == 16
    assert as_lists.multivariate is not None
    assert sorted(as_lists.multivariate.features) == ["amount", "channel"]
    assert Reference.from_bytes(as_lists.to_bytes()).fingerprint == as_lists.fingerprint


@pytest.mark.parametrize("upload", ["parquet", "json", "csv"])
def test_every_upload_format_reads_vectors(columns, upload: str) -> None:
    vectors = [v.tolist() for v in columns["prompt"]]
    amount = columns["amount"].tolist()
    if upload == "parquet":
        table = pa.table({"amount": amount, "prompt": pa.array(vectors, pa.list_(pa.float64()))})
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        buffer.seek(0)
        parsed = parse_parquet(buffer, UploadOptions())
    elif upload == "json":
        import msgspec
        parsed = parse_json(msgspec.json.encode({"features": {"amount": amount,
                                                              "prompt": vectors}}))
    else:
        lines = ["amount,prompt"] + [f'{a},"{v}"' for a, v in zip(amount, vectors, strict=True)]
        parsed = parse_csv(io.BytesIO("\n".join(lines).encode()), UploadOptions())
    reference = build_reference(parsed)
    assert reference.feature_kinds == {"amount": "numeric", "prompt": "embedding"}
    np.testing.assert_allclose(reference.features["prompt"].mean,
                               np.mean(vectors, axis=0), rtol=1e-12)


def test_vectors_of_different_lengths_are_refused_with_the_feature_named() -> None:
    with pytest.raises(ValueError, match=r"feature 'prompt'.*one length.*2, 3"):
        Reference.from_data({"prompt": [[0.1, 0.2], [0.1, 0.2, 0.3]] * 10})


def test_a_shifted_embedding_drifts_and_joins_the_drift_share(columns) -> None:
    reference = Reference.from_data(columns)
    rng = np.random.default_rng(1)
    shifted = topics(rng, 900, [0.1, 0.2, 0.3, 0.4], dim=16)
    events = [{"features": {"amount": float(a), "prompt": v.tolist()}}
              for a, v in zip(rng.lognormal(3, 1, 900), shifted, strict=True)]
    events += [{"features": {"amount": 1.0, "prompt": [0.5] * 15}},  # wrong dimension
               {"features": {"amount": 1.0, "prompt": "n/a"}},  # not a vector
               {"features": {"amount": 1.0}}]  # missing
    window = reference.new_window()
    window.update(events)
    report = compare(reference, window)
    prompt = report.features["prompt"]
    assert report.drifted("prompt") and not report.drifted("amount")
    assert report.drift_share == 0.5
    assert prompt["count"] == 903 and prompt["missing_rate"] == pytest.approx(3 / 903)
    np.testing.assert_allclose(window.features["prompt"].mean(), shifted.mean(axis=0),
                               rtol=1e-12)
    restored = reference.window_from_bytes(window.to_bytes())
    assert compare(reference, restored).features["prompt"] == prompt
