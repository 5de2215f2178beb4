"""Pricing by PUT (a history of revisions, one currency), malformed prices as 422, and
``POST /v1/models/{model}/recompute-cost`` pricing windows from their sums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from infersight.drift.health import HealthState
from infersight.storage.metrics import query_metric_points
from infersight.storage.models import HealthState as HealthTable
from infersight.storage.prices import price_history
from infersight.storage.windows import WindowStateRecord, upsert_window_states

from tests.api.conftest import Api

PRICE = {"currency": "EUR", "input_per_million": 2.5, "output_per_million": 10.0,
         "per_request": 0.001}


def test_put_pricing_adds_revisions_and_get_shows_the_current_one(api: Api) -> None:
    response = api.put("/v1/models/llm", json={"pricing": PRICE})
    assert response.status_code == 200, response.text
    shown = response.json()["pricing"]
    assert {k: shown[k] for k in PRICE} == PRICE and shown["per_second"] is None
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = api.put("/v1/models/llm", json={"pricing": {
        "currency": "EUR", "input_per_million": 1.0, "effective_from": later}})
    assert response.status_code == 200, response.text
    assert response.json()["pricing"]["input_per_million"] == 2.5, "the future one is not yet"
    assert api.get("/v1/models/llm").json()["pricing"]["input_per_million"] == 2.5
    assert api.get("/v1/models").json()[0]["pricing"]["currency"] == "EUR"
    with api.sessions() as session:
        history = price_history(session, "llm")
    assert [pricing.get("input_per_million") for _start, pricing in history] == [2.5, 1.0]


def test_a_model_keeps_its_currency(sqlite_api: Api) -> None:
    sqlite_api.put("/v1/models/llm", json={"pricing": PRICE})
    response = sqlite_api.put("/v1/models/llm", json={"pricing": {"input_per_million": 2.0}})
    assert response.status_code == 422, response.text
    assert response.json()["problems"][0]["field"] == "body.pricing.currency"
    assert "EUR" in response.json()["detail"]


def test_only_a_first_price_may_start_in_the_past(sqlite_api: Api) -> None:
    past = {**PRICE, "effective_from": "2020-01-01T00:00:00Z"}
    first = sqlite_api.put("/v1/models/replayed", json={"pricing": past})
    assert first.status_code == 200, first.text
    again = sqlite_api.put("/v1/models/replayed", json={"pricing": past})
    assert again.status_code == 422, again.text
    assert again.json()["problems"][0]["field"] == "body.pricing.effective_from"


@pytest.mark.parametrize(
    ("pricing", "field"),
    [
        ({"input_per_million": -1}, "body.pricing.input_per_million"),
        ({"output_per_million": "cheap"}, "body.pricing.output_per_million"),
        ({"per_request": -0.5}, "body.pricing.per_request"),
        ({"currency": "usd"}, "body.pricing.currency"),
        ({"currency": "DOLLAR"}, "body.pricing.currency"),
        ({"per_token": 1.0}, "body.pricing.per_token"),
        ({"effective_from": "2999-01-01T00:00:00"}, "body.pricing.effective_from"),
        (None, "body.pricing"),
        ("free", "body.pricing"),
    ],
)
def test_malformed_pricing_is_422_naming_the_field(sqlite_api: Api, pricing: Any,
                                                   field: str) -> None:
    response = sqlite_api.put("/v1/models/m", json={"pricing": pricing})
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert problems[0]["field"] == field and problems[0]["problem"], problems


def _health(api: Api, start: datetime, calls: list[dict[str, Any]]) -> None:
    state = HealthState()
    state.update(calls, [None] * len(calls))  # accrued before the model had a price
    record = WindowStateRecord("llm", "1", start, start + timedelta(minutes=1), "events/0",
                               state.to_bytes(), state.calls)
    with api.sessions.begin() as session:
        upsert_window_states(session, [record], HealthTable)


def test_recompute_cost_prices_windows_from_their_sums(api: Api) -> None:
    assert api.put("/v1/models/llm", json={"pricing": PRICE}).status_code == 200
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=1)
    calls = [{"latency_ms": 500.0, "usage": {"input_tokens": 1000, "output_tokens": 100}},
             {"latency_ms": 900.0, "error": "TimeoutError"}]
    _health(api, start, calls)
    _health(api, start - timedelta(days=3), calls)  # before the first revision: unpriced
    query = {"start": (start - timedelta(days=7)).isoformat(),
             "end": (start + timedelta(hours=1)).isoformat()}
    response = api.post("/v1/models/llm/recompute-cost", params=query)
    assert response.status_code == 200, response.text
    [window] = response.json()["windows"]
    expected = (1000 * 2.5 + 100 * 10.0) / 1e6 + 2 * 0.001
    assert abs(window["cost"] - expected) < 1e-12 and window["cost_per_request"] == window[
        "cost"] / 2
    with api.sessions() as session:
        costs = [p for p in query_metric_points(session, "llm", metric="cost")]
    assert [(p.window_start, p.value) for p in costs] == [(start, window["cost"])]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, "query.end"),
        ({"start": "2024-01-01T00:00:00", "end": "2024-01-02T00:00:00Z"}, "query.start"),
        ({"start": "yesterday", "end": "2024-01-02T00:00:00Z"}, "query.start"),
    ],
)
def test_bad_recompute_ranges_are_422(sqlite_api: Api, query: dict[str, str], field: str) -> None:
    sqlite_api.put("/v1/models/llm", json={})
    response = sqlite_api.post("/v1/models/llm/recompute-cost", params=query)
    assert response.status_code == 422, response.text
    assert response.json()["problems"][0]["field"] == field
