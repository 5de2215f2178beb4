"""Models: settings by PUT, listing, 404 with the known models, reference uploads."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from infersight.drift import Reference
from infersight.sdk.reference import ReferenceUploadError, upload_reference
from infersight.storage.registry import get_reference

from tests.api.conftest import Api, serve


def test_put_then_get_model_settings(api: Api) -> None:
    body = {"task": "binary", "positive_class": "fraud", "threshold": 0.7, "window": "5m",
            "drift_config": {"features": {"age": {"test": "psi", "threshold": 0.25}}}}
    response = api.put("/v1/models/fraud", json=body)
    assert response.status_code == 200, response.text
    view = response.json()
    assert (view["task"], view["positive_class"], view["threshold"]) == ("binary", "fraud", 0.7)
    assert view["window_seconds"] == 300 and view["effective_window_seconds"] == 300.0
    assert view["drift_config"]["features"]["age"] == [{"test": "psi", "threshold": 0.25}]
    # a partial update keeps the other fields; null restores a default
    partial = api.put("/v1/models/fraud", json={"threshold": 0.4, "window": None}).json()
    assert (partial["task"], partial["threshold"], partial["window_seconds"]) == ("binary", 0.4, None)
    assert partial["effective_window_seconds"] == api.settings.window
    listed = api.get("/v1/models").json()
    assert [m["name"] for m in listed] == ["fraud"]
    assert api.get("/v1/models/fraud").json()["threshold"] == 0.4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"threshold": 2}, "body.threshold"),
        ({"threshold": "high"}, "body.threshold"),
        ({"task": "ranking"}, "body.task"),
        ({"window": "soon"}, "body.window"),
        ({"window": 1.5}, "body.window"),
        ({"drift_config": {"numeric_large": [{"test": "ks", "threshold": 2}]}}, "body.drift_config"),
        ({"drift_config": {"features": {"x": {"test": "nope", "threshold": 1}}}}, "body.drift_config"),
        ({"colour": "red"}, "body.colour"),
    ],
)
def test_bad_settings_are_422_naming_the_field(sqlite_api: Api, body: dict, field: str) -> None:
    response = sqlite_api.put("/v1/models/m", json=body)
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert problems[0]["field"] == field and problems[0]["problem"]


def test_unknown_model_is_404_listing_the_known_models(api: Api) -> None:
    api.put("/v1/models/alpha", json={})
    api.put("/v1/models/beta", json={})
    for path in ("/v1/models/gamma", "/v1/models/gamma/metrics", "/v1/models/gamma/drift"):
        response = api.get(path)
        assert response.status_code == 404, path
        body = response.json()
        assert body["error"] == "unknown_model" and body["known_models"] == ["alpha", "beta"]
        assert "alpha, beta" in body["detail"]


def _frame(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": rng.lognormal(3, 1, n),
        "country": rng.choice(["FR", "DE", "US"], n),
        "score": rng.random(n),
        "label": rng.integers(0, 2, n),
    })


def _stored(api: Api, model: str, version: str) -> Reference:
    with api.sessions() as session:
        found = get_reference(session, model, version)
    assert found is not None and found[1] == "upload"
    return Reference.from_bytes(found[0])


def _same_profile(a: Reference, b: Reference) -> None:
    assert a.feature_kinds == b.feature_kinds and a.rows == b.rows and a.task == b.task
    for name, profile in a.features.items():
        np.testing.assert_array_equal(profile.ref_counts, b.features[name].ref_counts)
    assert a.performance == pytest.approx(b.performance)


def test_sdk_json_upload_stores_the_same_profile_as_from_data(api: Api) -> None:
    frame = _frame()
    answer = upload_reference("fraud", "3", frame[["amount", "country"]],
                              predictions=frame["score"], labels=frame["label"],
                              api_url=api.url, api_key=api.key("admin"))
    assert answer["rows"] == 600 and answer["features"] == {"amount": "numeric", "country": "categorical"}
    assert answer["task"] == "binary" and 0 <= answer["reference_performance"]["roc_auc"] <= 1
    expected = Reference.from_data(frame[["amount", "country"]], predictions=frame["score"].tolist(),
                                   labels=frame["label"].tolist())
    _same_profile(_stored(api, "fraud", "3"), expected)
    versions = api.get("/v1/models/fraud").json()["versions"]
    assert versions == [{"version": "3", "has_reference": True, "reference_source": "upload",
                         "created_at": versions[0]["created_at"]}]


def test_an_upload_takes_the_model_settings_for_what_it_leaves_out(api: Api) -> None:
    """Precedence (docs/api.md): the upload's values, then the model's PUT settings, then
    inference."""
    assert api.put("/v1/models/fraud", json={"threshold": 0.8}).status_code == 200
    frame = _frame()
    upload_reference("fraud", "3", frame[["amount"]], predictions=frame["score"],
                     labels=frame["label"], api_url=api.url, api_key=api.key("admin"))
    stored = _stored(api, "fraud", "3").prediction_spec
    assert stored is not None and stored.threshold == 0.8  # from PUT: the upload gave none
    upload_reference("fraud", "4", frame[["amount"]], predictions=frame["score"],
                     labels=frame["label"], threshold=0.3, api_url=api.url,
                     api_key=api.key("admin"))
    stored = _stored(api, "fraud", "4").prediction_spec
    assert stored is not None and stored.threshold == 0.3  # the upload's own value wins
    assert api.get("/v1/models/fraud").json()["threshold"] == 0.3  # and is kept


def test_sdk_upload_with_a_read_key_is_refused(sqlite_api: Api) -> None:
    with pytest.raises(ReferenceUploadError) as error:
        upload_reference("m", "1", {"x": [1.0, 2.0]}, api_url=sqlite_api.url,
                         api_key=sqlite_api.key("read"))
    assert error.value.status == 403


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet_uploads_use_the_named_columns(api: Api, fmt: str) -> None:
    frame = _frame()
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buffer, index=False)
        content_type = "text/csv"
    else:
        frame.to_parquet(buffer, index=False)
        content_type = "application/vnd.apache.parquet"
    response = api.post("/v1/models/churn/versions/v2/reference", content=buffer.getvalue(),
                        headers={"Content-Type": content_type},
                        params={"label_column": "label", "score_column": "score",
                                "task": "binary", "positive_class": "1"})
    assert response.status_code == 201, response.text
    assert response.json()["features"] == {"amount": "numeric", "country": "categorical"}
    expected = Reference.from_data(frame[["amount", "country"]], predictions=frame["score"].tolist(),
                                   labels=frame["label"].tolist(), task="binary", positive_label=1)
    _same_profile(_stored(api, "churn", "v2"), expected)
    assert api.get("/v1/models/churn").json()["task"] == "binary"


@pytest.mark.parametrize(
    ("content", "content_type", "params", "status", "field"),
    [
        (b"a,b\n1,2\n", "text/csv", {"label_column": "missing"}, 422, "query.label_column"),
        (b"label\n1\n0\n", "text/csv", {"label_column": "label"}, 422, "body"),
        (b"", "text/csv", {}, 422, "body"),
        (b"PAR1 not really parquet", "application/vnd.apache.parquet", {}, 422, "body"),
        (b'{"features": {"x": [1, 2], "y": [1]}}', "application/json", {}, 422, "body.features"),
        (b'{"features": {"x": [1, 2]}, "labels": [1]}', "application/json", {}, 422, "body.labels"),
        (b'{"features": {"x": [1, 2]}, "task": "ranking"}', "application/json", {}, 422, "task"),
        (b'{"features": 3}', "application/json", {}, 422, "body.features"),
        (b"{", "application/json", {}, 422, "body"),
        (b"<xml/>", "application/xml", {}, 415, "header.content-type"),
    ],
)
def test_bad_reference_uploads_are_4xx_naming_the_problem(
    sqlite_api: Api, content: bytes, content_type: str, params: dict, status: int, field: str
) -> None:
    response = sqlite_api.post("/v1/models/m/versions/1/reference", content=content,
                               headers={"Content-Type": content_type}, params=params)
    assert response.status_code == status, response.text
    assert response.json()["problems"][0]["field"] == field


def test_reference_larger_than_the_limit_is_413(sqlite_url: str) -> None:
    with serve(sqlite_url, api_max_reference_bytes=10_000) as api:
        frame = _frame(2_000)
        response = api.post("/v1/models/m/versions/1/reference",
                            content=frame.to_csv(index=False).encode(),
                            headers={"Content-Type": "text/csv"})
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"
        assert api.get("/v1/models").json() == []


def test_a_numeric_csv_column_with_a_typo_stays_numeric_and_the_upload_says_where(
        sqlite_api: Api) -> None:
    amounts = [f"{10 + i * 0.5}" for i in range(199)]
    amounts.insert(41, "abc")  # data row 42
    csv = "amount,country\n" + "\n".join(
        f"{a},{'FR' if i % 2 else 'DE'}" for i, a in enumerate(amounts))
    response = sqlite_api.post("/v1/models/typo/versions/1/reference", content=csv.encode(),
                               headers={"Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["features"] == {"amount": "numeric", "country": "categorical"}
    assert body["warnings"] == ["feature 'amount': 1 value(s) are not numbers and were "
                                "profiled as missing: row 42 'abc'"]
    profile = _stored(sqlite_api, "typo", "1").features["amount"]
    assert (profile.count, profile.missing) == (200, 1)


def test_a_really_mixed_column_is_refused_with_the_override_to_use(sqlite_api: Api) -> None:
    values = [str(i) if i % 4 else f"code-{i}" for i in range(200)]  # a quarter is text
    csv = "mixed\n" + "\n".join(values)
    response = sqlite_api.post("/v1/models/mixed/versions/1/reference", content=csv.encode(),
                               headers={"Content-Type": "text/csv"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "feature 'mixed'" in detail and "150 of 200 values are numbers" in detail
    assert "'code-0' at row 1" in detail and "feature_types" in detail


def test_feature_types_override_the_inferred_kind_in_every_upload_form(sqlite_api: Api) -> None:
    values = [str(i) if i % 4 else f"code-{i}" for i in range(200)]
    csv = ("mixed\n" + "\n".join(values)).encode()
    as_csv = sqlite_api.post("/v1/models/mixed/versions/1/reference", content=csv,
                             headers={"Content-Type": "text/csv"},
                             params={"feature_types": ["mixed:categorical"]})
    assert as_csv.status_code == 201, as_csv.text
    assert as_csv.json()["features"] == {"mixed": "categorical"}
    as_json = sqlite_api.post("/v1/models/mixed/versions/2/reference", json={
        "features": {"mixed": values}, "feature_types": {"mixed": "numeric"}})
    assert as_json.status_code == 201, as_json.text
    assert as_json.json()["features"] == {"mixed": "numeric"}
    assert as_json.json()["warnings"][0].startswith("feature 'mixed': 50 value(s) are not numbers")
    bad = sqlite_api.post("/v1/models/mixed/versions/3/reference", content=csv,
                          headers={"Content-Type": "text/csv"},
                          params={"feature_types": ["mixed:text"]})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "query.feature_types"
