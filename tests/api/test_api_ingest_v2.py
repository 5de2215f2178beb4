"""HTTP ingest of ``infersight.events/v2`` bodies: the same answer and the same published
events as the v1 body of the same events; bad v2 input is a 202 naming each refused event,
or a 4xx naming the problem, never a 500."""

from __future__ import annotations

import json

import pytest
from infersight.sdk import wire

from tests.api.conftest import Api
from tests.api.test_api_ingest import _label, _prediction, _read_local


def _published(api: Api) -> list[tuple[str, list[str]]]:
    out = []
    for topic in (wire.EVENTS_TOPIC, wire.LABELS_TOPIC):
        for key, value in _read_local(api, topic):
            decoded = wire.decode_batch(value)
            assert value.startswith(b'{"schema":"infersight.events/v1"')  # republished as v1
            out.append((key.split(b"/")[0].decode(),
                        [e.prediction_id for e in (*decoded.predictions, *decoded.labels)]))
    return sorted(out)


def test_a_v2_body_is_answered_and_published_as_its_v1_twin(api: Api) -> None:
    events = [_prediction("fraud", 0), _prediction("churn", 1), _label("fraud", 0),
              _prediction("fraud", 2, ts="yesterday"), _prediction("fraud", 3)]
    answer = api.post("/v1/events", scope="ingest", content=wire.encode_batch_v2(events))
    assert answer.status_code == 202
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (4, 1)
    [error] = body["errors"]
    assert error["reason"] == "invalid_timestamp" and error["detail"].startswith(
        "predictions[0][1].ts")  # the second event of the fraud block
    assert answer.headers["X-Infersight-Rejected"] == "1"
    assert _published(api) == sorted([("churn", ["churn-1"]), ("fraud", ["fraud-0", "fraud-3"]),
                                      ("fraud", ["fraud-0"])])
    letters = [wire.decode_deadletter(v) for _k, v in _read_local(api, wire.DEADLETTER_TOPIC)]
    assert [d.reason for d in letters] == ["invalid_timestamp"]
    assert json.loads(letters[0].raw_input())["ts"] == "yesterday"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"schema": "infersight.events/v2", "predictions": {}}', "not_a_batch"),
        (b'{"schema": "infersight.events/v2", "labels": [1, 2', "invalid_json"),
        (b'{"schema": "infersight.events/v3", "predictions": []}', "unknown_schema"),
    ],
)
def test_a_v2_body_that_is_not_a_batch_is_a_400_naming_the_problem(
    sqlite_api: Api, body: bytes, error: str
) -> None:
    response = sqlite_api.post("/v1/events", scope="ingest", content=body)
    assert response.status_code == 400 and response.json()["error"] == error
    assert response.json()["problems"][0]["field"] == "body"


def test_a_v2_block_that_cannot_be_split_is_refused_in_the_answer_and_the_rest_kept(
    sqlite_api: Api,
) -> None:
    body = json.dumps({"schema": wire.SCHEMA_V2, "predictions": [
        {"model": "m", "version": "1", "prediction_id": ["a", "b"], "ts": ["2026-01-01T00:00:00Z"],
         "features": {}, "prediction": [1, 2]}], "labels": [
        {"model": "m", "prediction_id": ["a"], "label": [1], "ts": ["2026-01-01T00:05:00Z"]}]})
    response = sqlite_api.post("/v1/labels", scope="ingest", content=body.encode())
    assert response.status_code == 202
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 1)
    assert response.json()["errors"] == [{
        "index": 0, "reason": "invalid_value",
        "detail": "predictions[0].ts: 1 entries, but prediction_id has 2"}]
