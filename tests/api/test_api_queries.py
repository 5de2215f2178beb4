"""Metric time series, alerts and silences through the API; readiness when the DB is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from infersight.storage.alert_tables import AlertState
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from infersight.storage.registry import ensure_model_versions

from tests.api.conftest import Api, serve
from tests.support.tansu import free_port

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _seed_points(api: Api) -> None:
    points = []
    for h in range(6):
        start = T0 + h * HOUR
        for version in ("1", "2"):
            points.append(MetricPointRecord("fraud", version, start, start + HOUR, None,
                                            "drift_share", h / 10, 100))
            points.append(MetricPointRecord("fraud", version, start, start + HOUR, "amount",
                                            "psi", h / 100, 100))
        points.append(MetricPointRecord("fraud", "1", start, start + HOUR, None, "roc_auc",
                                        float("nan"), 0))
    with api.sessions.begin() as session:
        ensure_model_versions(session, [("fraud", "1"), ("fraud", "2")])
        upsert_metric_points(session, points)


def test_metric_series_filters_by_metric_feature_version_and_range(api: Api) -> None:
    _seed_points(api)
    series = api.get("/v1/models/fraud/metrics", params={
        "metric": "drift_share", "version": "1", "start": (T0 + HOUR).isoformat(),
        "end": (T0 + 4 * HOUR).isoformat()}).json()
    assert [(p["window_start"], p["value"], p["feature"]) for p in series] == [
        ((T0 + h * HOUR).isoformat().replace("+00:00", "Z"), h / 10, None) for h in (1, 2, 3)]
    assert series[0]["window_end"] == (T0 + 2 * HOUR).isoformat().replace("+00:00", "Z")
    assert series[0]["sample_size"] == 100 and series[0]["metric"] == "drift_share"
    psi = api.get("/v1/models/fraud/metrics", params={"feature": "amount"}).json()
    assert len(psi) == 12 and {p["metric"] for p in psi} == {"psi"}
    dataset_level = api.get("/v1/models/fraud/metrics", params={"feature": ""}).json()
    assert {p["metric"] for p in dataset_level} == {"drift_share", "roc_auc"}
    undefined = api.get("/v1/models/fraud/metrics", params={"metric": "roc_auc"}).json()
    assert [p["value"] for p in undefined] == [None] * 6
    assert len(api.get("/v1/models/fraud/metrics", params={"limit": 5}).json()) == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-03-01T00:00:00"}, "query.start"),
        ({"end": "not a time"}, "query.end"),
        ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "query.end"),
        ({"limit": 10**9}, "query.limit"),
    ],
)
def test_bad_metric_queries_are_422_naming_the_parameter(sqlite_api: Api, params: dict,
                                                          field: str) -> None:
    _seed_points(sqlite_api)
    response = sqlite_api.get("/v1/models/fraud/metrics", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["problems"][0]["field"] == field


def test_alerts_by_state_and_silences(api: Api) -> None:
    with api.sessions.begin() as session:
        for i, status in enumerate(("firing", "resolved", "firing")):
            session.add(AlertState(dedup_key=f"k{i}", rule="data_drift", model="fraud",
                                   version="1", feature="", status=status, severity="warning",
                                   streak=1, notified_firing=False))
    firing = api.get("/v1/alerts", params={"state": "firing"}).json()
    assert sorted(a["dedup_key"] for a in firing) == ["k0", "k2"]
    bad = api.get("/v1/alerts", params={"state": "exploding"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "query.state"
    silence = {"matchers": [{"name": "model", "value": "fraud"}],
               "ends_at": (datetime.now(UTC) + HOUR).isoformat()}
    assert api.post("/v1/silences", json=silence).status_code == 201
    past = {**silence, "ends_at": "2020-01-01T00:00:00Z"}
    refused = api.post("/v1/silences", json=past)
    assert refused.status_code == 422 and "past" in refused.json()["detail"]


def test_alert_rule_crud(api: Api) -> None:
    rule = {"name": "psi_high", "model": "fraud*", "metric": "psi", "feature": "any",
            "op": ">", "threshold": 0.3, "for": 2}
    created = api.post("/v1/alert-rules", json=rule)
    assert created.status_code == 201 and created.json()["source"] == "api"
    assert api.post("/v1/alert-rules", json=rule).status_code == 409
    changed = api.client.put("/v1/alert-rules/psi_high", json={**rule, "threshold": 0.5},
                             headers=api.headers("admin"))
    assert changed.status_code == 200 and changed.json()["rule"]["threshold"] == 0.5
    names = [v["rule"]["name"] for v in api.get("/v1/alert-rules").json()]
    assert "psi_high" in names
    bad = api.post("/v1/alert-rules", json={**rule, "name": "x", "op": "~"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"].startswith("body")
    deleted = api.client.delete("/v1/alert-rules/psi_high", headers=api.headers("admin"))
    assert deleted.status_code == 204
    assert api.get("/v1/alert-rules/psi_high").status_code == 404


def test_readyz_reports_an_unreachable_database() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"
    with serve(url) as api:
        ready = api.client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["checks"]["database"].startswith("unavailable") and body["checks"]["bus"] == "ok"
        assert api.client.get("/healthz").status_code == 200
