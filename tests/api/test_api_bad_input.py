"""Inputs Postgres cannot store or convert are 4xx naming the field on every model route,
on both backends: a NUL character in a name and dates outside the calendar.

The routes are read from the app's OpenAPI document, so a model route added later is
covered without editing this test.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from infersight.storage.registry import ensure_model_versions

from tests.api.conftest import Api

MODEL_PREFIX = "/v1/models/{model}"
OUT_OF_RANGE = {
    "start": "0001-01-01T00:00:00+14:00",  # year 0 once in UTC
    "end": "9999-12-31T23:59:59-14:00",  # year 10000 once in UTC
}
VALID_QUERY = {"feature": "amount", "version": "1", "metric": "psi"}


def _model_operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    document = api.client.get("/openapi.json").json()
    operations = []
    for path, methods in document["paths"].items():
        if not path.startswith(MODEL_PREFIX):
            continue
        for method, operation in methods.items():
            operations.append((method.upper(), path, operation))
    return operations


def _query_names(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def _call(api: Api, method: str, path: str, params: dict[str, str]) -> httpx.Response:
    scope = "read" if method == "GET" else "admin"
    return api.client.request(method, path, params=params, headers=api.headers(scope),
                              json={} if method in ("PUT", "POST") else None)


def _problem(response: httpx.Response, field: str) -> str | None:
    """Why ``response`` is not a 4xx whose JSON body names ``field`` (None when it is)."""
    if not 400 <= response.status_code < 500:
        return f"status {response.status_code}: {response.text[:300]}"
    body = response.json()
    fields = [p["field"] for p in body.get("problems", [])]
    if field not in fields:
        return f"problems name {fields}, not {field}: {body}"
    return None


def test_every_model_route_refuses_nul_and_out_of_range_dates_naming_the_field(api: Api) -> None:
    with api.sessions.begin() as session:
        ensure_model_versions(session, [("fraud", "1")])
    operations = _model_operations(api)
    assert len(operations) >= 7  # get/put model, reference upload, metrics, drift, overview, histogram
    failures: list[str] = []
    dated = 0
    for method, template, operation in operations:
        queries = _query_names(operation)
        valid = {k: v for k, v in VALID_QUERY.items() if k in queries}
        nul_path = template.replace("{model}", "a%00b").replace("{version}", "1")
        cases = [(nul_path, valid, "path.model")]
        if "{version}" in template:
            cases.append((template.replace("{model}", "fraud").replace("{version}", "v%001"),
                          valid, "path.version"))
        good_path = template.replace("{model}", "fraud").replace("{version}", "1")
        for name in sorted(queries & VALID_QUERY.keys()):
            cases.append((good_path, {**valid, name: "a\x00b"}, f"query.{name}"))
        for name in sorted(queries & OUT_OF_RANGE.keys()):
            dated += 1
            cases.append((good_path, {**valid, name: OUT_OF_RANGE[name]}, f"query.{name}"))
        for path, params, field in cases:
            try:
                problem = _problem(_call(api, method, path, params), field)
            except httpx.HTTPError as exc:  # the server dropped the connection
                problem = f"no response: {exc!r}"
            if problem is not None:
                failures.append(f"{method} {path} {params}: {problem}")
    assert dated >= 6  # start and end of metrics, drift and histogram
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("params", [
    {"start": "1969-12-31T23:59:59Z"},
    {"end": "9999-01-01T00:00:00Z"},
    {"start": "2025-12-31T20:00:00-14:00", "end": "2026-01-01T08:00:00+14:00"},  # reversed in UTC
])
def test_metric_bounds_outside_the_supported_range_or_reversed_are_422(sqlite_api: Api,
                                                                       params: dict) -> None:
    with sqlite_api.sessions.begin() as session:
        ensure_model_versions(session, [("fraud", "1")])
    response = sqlite_api.get("/v1/models/fraud/metrics", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["problems"][0]["field"] in ("query.start", "query.end")


def test_reference_points_at_the_epoch_stay_reachable(sqlite_api: Api) -> None:
    with sqlite_api.sessions.begin() as session:
        ensure_model_versions(session, [("fraud", "1")])
    response = sqlite_api.get("/v1/models/fraud/metrics",
                              params={"start": "1970-01-01T00:00:00Z"})
    assert response.status_code == 200, response.text
