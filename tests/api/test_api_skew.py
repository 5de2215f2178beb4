"""The skew routes on both backends: an upload is stored once per id and enables skew for
the model; every bad input is a 4xx naming the field, never a 500; the read route answers
404 until a window has skew, then the merged states' metrics and worst pairs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from infersight.drift import Reference
from infersight.storage.registry import set_reference
from infersight.storage.windows import WindowStateRecord, upsert_window_states

from tests.api.conftest import Api

W0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
ROWS = {"prediction_ids": ["a", "b", "a"], "features": {"x": [1.0, None, 3.0], "c": ["u", "v", "w"]}}


def _fields(body: dict[str, Any]) -> list[str]:
    return [p["field"] for p in body.get("problems", [])]


def test_an_upload_stores_each_id_once_and_enables_skew(api: Api) -> None:
    response = api.post("/v1/models/fraud/versions/1/skew-rows", json=ROWS)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["rows"], body["stored"], body["duplicates"]) == (2, 2, 1)
    assert body["features"] == ["c", "x"]
    again = api.post("/v1/models/fraud/versions/1/skew-rows", json=ROWS).json()
    assert (again["stored"], again["duplicates"]) == (0, 3)
    assert api.get("/v1/models/fraud").json()["skew"] is True
    assert api.put("/v1/models/fraud", json={"skew": False}).json()["skew"] is False


@pytest.mark.parametrize(("body", "field"), [
    ({"prediction_ids": [], "features": {"x": []}}, "body.prediction_ids"),
    ({"prediction_ids": ["a"], "features": {}}, "body.features"),
    ({"prediction_ids": ["a", "b"], "features": {"x": [1.0]}}, "body.features.x"),
    ({"prediction_ids": [""], "features": {"x": [1.0]}}, "body.prediction_ids.0"),
    ({"prediction_ids": ["a\x00"], "features": {"x": [1.0]}}, "body.prediction_ids.0"),
    ({"prediction_ids": ["a"], "features": {"x": [[1.0, 2.0]]}}, "body.features.x.0"),
    ({"prediction_ids": [1], "features": {"x": [1.0]}}, "body.prediction_ids.0"),
    ({"prediction_ids": ["a"], "features": {"x": [1.0]}, "labels": [1]}, "body"),
    ({"features": {"x": [1.0]}}, "body"),
])
def test_bad_uploads_are_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post("/v1/models/fraud/versions/1/skew-rows", json=body)
    assert response.status_code == 422, response.text
    assert field in _fields(response.json()), response.json()


def test_other_bad_requests_are_4xx(api: Api) -> None:
    url = "/v1/models/fraud/versions/1/skew-rows"
    assert api.post(url, content=b"{not json").status_code == 422
    assert api.post(url, content=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"}
                    ).status_code == 415
    assert api.post(url, scope="read", json=ROWS).status_code == 403
    too_many = {"prediction_ids": [f"p{i}" for i in range(100_001)], "features": {"x": [0] * 100_001}}
    response = api.post(url, json=too_many)
    assert response.status_code == 422 and "body.prediction_ids" in _fields(response.json())
    assert api.get("/v1/models/nobody/skew", params={"version": "1"}).status_code == 404
    api.post(url, json=ROWS)
    assert api.get("/v1/models/fraud/skew").status_code == 422  # no version
    assert api.get("/v1/models/fraud/skew", params={"version": "1", "limit": 0}).status_code == 422
    assert api.get("/v1/models/fraud/skew", params={"version": "1", "window": "yesterday"}
                   ).status_code == 422
    missing = api.get("/v1/models/fraud/skew", params={"version": "1"})
    assert missing.status_code == 404 and "skew-rows" in missing.json()["detail"]


def test_the_read_route_merges_the_partitions_and_lists_the_worst_pairs(api: Api) -> None:
    ref = Reference.from_data({"x": [float(i) for i in range(100)], "c": ["u", "v"] * 50})
    states = []
    for part, (ids, served, offline) in enumerate([
            (["a", "b"], [{"x": 1.0, "c": "u"}, {"x": 2.0, "c": "v"}],
             [{"x": 1.0, "c": "u"}, {"x": 2.5, "c": "u"}]),
            (["c", "d"], [{"x": 3.0}, {"x": 10.0, "c": "v"}], [{"x": 3.0}, {"x": 4.0, "c": "v"}])]):
        state = ref.new_window()
        state.add_skew(ids, served, offline)
        states.append(WindowStateRecord("fraud", "1", W0, W0 + timedelta(hours=1),
                                        f"infersight.events/{part}", state.to_bytes(), 2))
    with api.sessions.begin() as session:
        set_reference(session, "fraud", "1", ref.to_bytes())
        upsert_window_states(session, states)
    body = api.get("/v1/models/fraud/skew", params={"version": "1", "limit": 2}).json()
    assert body["window_start"] == W0.isoformat().replace("+00:00", "Z")
    assert body["features"] == {
        "x": {"skew_matched": 4.0, "skew_rate": 0.5, "skew_mean_abs_diff": 6.5 / 4},
        "c": {"skew_matched": 3.0, "skew_rate": 1 / 3}}
    assert [(e["prediction_id"], e["feature"], e["served"], e["offline"], e["difference"])
            for e in body["examples"]] == [("b", "c", "v", "u", None), ("d", "x", 10.0, 4.0, 6.0)]
