"""The alert routes served by uvicorn on 127.0.0.1: rule CRUD with clear 4xx errors,
silences that really silence, alert states and dead notifications visible."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from infersight.alerts.config import AlertConfig
from infersight.alerts.judge import judge_window
from infersight.storage.alert_tables import AlertNotification
from infersight.storage.types import utc_now

from tests.alerts.conftest import HOUR, T0, seed

CONFIG = AlertConfig.model_validate(
    {
        "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/x"}},
        "default_channels": ["hook"],
        "rules": [{"name": "file_rule", "metric": "count", "op": "<", "threshold": 10}],
        "disable": ["latency_p99_slo"],
    }
)


@pytest.fixture(scope="module")
def api_server(engine) -> Iterator[httpx.Client]:
    """One uvicorn server per backend for the module: the alert routes alone, on a context
    whose alert configuration is :data:`CONFIG` (authentication off)."""
    from infersight.collector.api.context import ApiContext
    from infersight.collector.api.metrics import ApiMetrics
    from infersight.collector.api.routes.alerts import router
    from infersight.storage.db import session_factory

    from infersight.api_service import api_config
    from infersight.settings import Settings

    sessions = session_factory(engine)
    app = FastAPI()
    app.state.context = ApiContext(
        config=api_config(Settings(auth="off")), engine=engine, sessions=sessions,
        write_sessions=sessions, publisher=None,  # type: ignore[arg-type]
        metrics=ApiMetrics(), alert_config=lambda: CONFIG,
    )
    app.include_router(router)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        yield client
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def api(api_server: httpx.Client, sessions) -> httpx.Client:
    """The server's client, after ``sessions`` emptied the tables."""
    return api_server


RULE = {
    "name": "precision_drop",
    "model": "fraud*",
    "metric": "precision",
    "op": "<",
    "threshold": "reference - 0.05",
    "for": 2,
    "min_samples": 100,
    "severity": "critical",
    "channels": ["hook"],
    "cooldown": "1h",
    "labels": {"team": "risk"},
}


def test_rule_crud_round_trip(api: httpx.Client) -> None:
    created = api.post("/v1/alert-rules", json=RULE)
    assert created.status_code == 201, created.text
    assert created.json()["rule"]["threshold"] == "reference - 0.05"
    assert created.json()["rule"]["for"] == 2 and created.json()["source"] == "api"
    assert api.post("/v1/alert-rules", json=RULE).status_code == 409
    replaced = api.put("/v1/alert-rules/precision_drop", json={**RULE, "threshold": 0.7})
    assert replaced.status_code == 200 and replaced.json()["rule"]["threshold"] == 0.7
    listed = {v["rule"]["name"]: v for v in api.get("/v1/alert-rules").json()}
    assert listed["precision_drop"]["source"] == "api"
    assert listed["file_rule"]["source"] == "file"
    assert (
        listed["data_drift_share"]["source"] == "builtin" and listed["data_drift_share"]["active"]
    )
    assert listed["latency_p99_slo"]["active"] is False
    assert api.delete("/v1/alert-rules/precision_drop").status_code == 204
    assert api.get("/v1/alert-rules/precision_drop").status_code == 404


def test_api_rule_overrides_a_builtin_and_can_disable_it(api: httpx.Client, sessions) -> None:
    builtin = api.get("/v1/alert-rules/data_drift_share").json()["rule"]
    response = api.put("/v1/alert-rules/data_drift_share", json={**builtin, "enabled": False})
    assert response.status_code == 200 and response.json()["active"] is False
    seed(sessions, "drift_share", [0.9, 0.9])
    with sessions.begin() as session:
        transitions = judge_window(session, "fraud", "3", {}, T0 + 2 * HOUR, CONFIG)
    assert [t for t in transitions if t.dedup_key.startswith("data_drift_share/")] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**RULE, "op": "=>"}, "op"),
        ({**RULE, "threshold": "referense - 0.05"}, "threshold"),
        ({**RULE, "for": 0}, "for"),
        ({k: v for k, v in RULE.items() if k != "metric"}, "metric"),
        ({**RULE, "cooldown": "soon"}, "cooldown"),
        ({**RULE, "thresold": 1}, "thresold"),
    ],
)
def test_invalid_rules_get_422_naming_the_field(api: httpx.Client, body, field) -> None:
    response = api.post("/v1/alert-rules", json=body)
    assert response.status_code == 422
    assert any(field in map(str, error["loc"]) for error in response.json()["detail"]), (
        response.text
    )


def test_unknown_channel_and_deleting_a_builtin_are_clear_errors(api: httpx.Client) -> None:
    response = api.post("/v1/alert-rules", json={**RULE, "channels": ["pager"]})
    assert response.status_code == 422 and "pager" in response.json()["detail"]
    response = api.delete("/v1/alert-rules/data_drift_share")
    assert response.status_code == 409 and "disable" in response.json()["detail"]


def test_silence_via_api_suppresses_notifications(api: httpx.Client, sessions) -> None:
    ends = (utc_now() + timedelta(hours=1)).isoformat()
    response = api.post(
        "/v1/silences",
        json={
            "matchers": [{"name": "alertname", "value": "data_drift_share"}],
            "ends_at": ends,
            "comment": "known migration",
        },
    )
    assert response.status_code == 201, response.text
    assert [s["id"] for s in api.get("/v1/silences").json()] == [response.json()["id"]]
    seed(sessions, "drift_share", [0.9, 0.9])
    with sessions.begin() as session:
        judge_window(session, "fraud", "3", {}, utc_now(), CONFIG)
    assert api.get("/v1/alerts", params={"state": "firing"}).json()[0]["rule"] == "data_drift_share"
    assert api.get("/v1/alert-notifications").json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"matchers": [], "ends_at": "2999-01-01T00:00:00Z"},
        {"matchers": [{"name": "model", "value": "x"}], "ends_at": "2000-01-01T00:00:00Z"},
        {"matchers": [{"name": "model", "value": "("}], "ends_at": "2999-01-01T00:00:00Z"},
        {
            "matchers": [{"name": "model", "value": "(", "op": "=~"}],
            "ends_at": "2999-01-01T00:00:00Z",
        },
        {"matchers": [{"name": "model", "value": "x"}], "ends_at": "2999-01-01T00:00:00"},
    ],
)
def test_bad_silences_are_rejected_with_a_reason(api: httpx.Client, body) -> None:
    response = api.post("/v1/silences", json=body)
    if body["matchers"] and body["matchers"][0]["value"] == "(" and "op" not in body["matchers"][0]:
        assert response.status_code == 201  # a glob "(" is a literal, valid
        return
    assert response.status_code == 422 and response.json()["detail"]


def test_dead_notifications_are_listed_and_can_be_retried(api: httpx.Client, sessions) -> None:
    with sessions.begin() as session:
        session.add(
            AlertNotification(
                idempotency_key="k" * 64,
                channel="hook",
                event="firing",
                dedup_key="x/y/1/",
                payload={"summary": "s"},
                state="dead",
                attempts=9,
                last_error="HTTP 503",
                next_attempt_at=T0,
                created_at=T0,
            )
        )
    [dead] = api.get("/v1/alert-notifications", params={"state": "dead"}).json()
    assert dead["last_error"] == "HTTP 503" and dead["attempts"] == 9
    assert api.post(f"/v1/alert-notifications/{dead['id']}/retry").json()["state"] == "pending"
    assert api.get("/v1/alert-notifications", params={"state": "dead"}).json() == []
    assert api.get("/v1/alert-notifications", params={"state": "gone"}).status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/silences", {"matchers": [{"name": "model", "value": "a\u0000b"}],
                          "ends_at": "2999-01-01T00:00:00Z"}),
        ("/v1/silences", {"matchers": [{"name": "model", "value": "x"}],
                          "ends_at": "2999-01-01T00:00:00Z", "comment": "\u0000"}),
        ("/v1/alert-rules", {"name": "nul_rule", "metric": "psi", "op": ">", "threshold": 0.2,
                             "labels": {"team": "a\u0000"}}),
    ],
)
def test_text_with_a_nul_character_is_a_422_not_a_database_error(api: httpx.Client, path, body) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 422, response.text
    assert "NUL" in response.text
