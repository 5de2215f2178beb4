"""An embedding model's reference uploaded as CSV (JSON-array cells) or Parquet
(``list<double>``) in its prediction column: the model's task is ``embedding`` and its output
is profiled as the engine profiles the same vectors."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from infersight.drift import Reference

from tests.api.conftest import Api
from tests.api.test_api_models import _stored


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_embedding_models_reference_upload(sqlite_api: Api, fmt: str) -> None:
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(300, 8))
    frame = pd.DataFrame({"chars": rng.poisson(40, 300).astype(float),
                          "output": [json.dumps(v.tolist()) for v in vectors] if fmt == "csv"
                          else list(vectors)})
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buffer, index=False)
    else:
        frame.to_parquet(buffer, index=False)
    response = sqlite_api.post(
        "/v1/models/encoder/versions/1/reference", content=buffer.getvalue(),
        headers={"Content-Type": "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"},
        params={"prediction_column": "output"})
    assert response.status_code == 201, response.text
    assert response.json()["task"] == "embedding"
    stored = _stored(sqlite_api, "encoder", "1")
    expected = Reference.from_data({"chars": frame["chars"]}, predictions=list(vectors))
    assert stored.task == "embedding" and stored.fingerprint == expected.fingerprint
