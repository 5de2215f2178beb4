"""The page's "Inference health" row in headless chromium, for models without a reference
(tests/page/health_seed.py): the rendered figures against the seeded points, tokens and cost
only where the model has them, and the drift area's per-model reference command."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.page.conftest import Served
from tests.page.health_seed import CALLS, COST, ERRORS, GENERATIVE, HELD, PLAIN, TTFT_P95_MS
from tests.page.test_page import MODEL, _open

FAILED = sum(sum(counts) for counts in ERRORS.values())


def _model_page(browser: Any, served: Served, model: str, width: int = 1500) -> Any:
    page = _open(browser, f"{served.url}/#{model}", width=width)
    page.wait_for_function(f"document.getElementById('model-name').textContent === '{model}'")
    page.wait_for_function(  # a figure instead of the placeholder en dash
        "document.getElementById('rate-value').textContent !== '\\u2013'")
    return page


def test_health_row_shows_rate_errors_and_latency_without_a_reference(
    sqlite_page: Served, browser: Any
) -> None:
    page = _model_page(browser, sqlite_page, PLAIN[0])
    try:
        # the latest window: 1000 calls in an hour
        rate = page.locator("#rate-value").inner_text().splitlines()
        assert rate == [f"{CALLS[-1] / 3600:.2f} /s", "calls per second · window 01:00"]
        assert f"{sum(CALLS):,} calls in range" == page.locator("#rate-hint").inner_text()
        error_rate = page.locator("#error-rate").inner_text().splitlines()
        assert error_rate == [f"{100 * FAILED / sum(CALLS):.2f}%",  # 2.50%
                              f"{FAILED} of {sum(CALLS):,} calls failed in range"]
        types = page.locator("#error-types li")
        assert [types.nth(i).get_attribute("data-type") for i in range(types.count())] == [
            "TimeoutError", "ValueError", "KeyError"]
        timeouts = sum(ERRORS["TimeoutError"])
        assert types.first.inner_text().split() == [
            "TimeoutError", str(timeouts), "·", f"{round(100 * timeouts / FAILED)}%", "of", "errors"]
        latency = page.locator("#latency-value").inner_text()
        assert latency.splitlines() == ["40.0 / 93.0 / 153 ms", "p50 / p95 / p99 · window 01:00"]
        for chart, series in (("rate", 1), ("errors", 1), ("latency", 4)):  # latency: + @error
            element = page.locator(f"[data-chart='{chart}']")
            assert element.get_attribute("data-points") == str(series * len(CALLS)), chart
            assert element.get_attribute("data-series") == str(series), chart
        assert page.evaluate("window.infersightCharts.errors.data[1]") == pytest.approx(
            [sum(c[i] for c in ERRORS.values()) / n for i, n in enumerate(CALLS)])
        assert page.locator("#health-tokens").is_hidden()
        assert page.locator("#health-cost").is_hidden()
        assert page.errors == []
    finally:
        page.close()


def test_the_drift_area_gives_this_models_reference_command(sqlite_page: Served,
                                                            browser: Any) -> None:
    page = _model_page(browser, sqlite_page, PLAIN[0])
    try:
        assert page.locator("#no-reference").is_visible()
        assert page.locator("#upload-command").inner_text() == (
            f"infersight reference upload {PLAIN[0]} {PLAIN[1]} reference.csv")
        text = page.locator("#no-reference").inner_text()
        assert f"v{PLAIN[1]}" in text and "1,000 predictions are held" in text
        assert page.locator("#held").inner_text() == "0"
        assert page.locator(".needs-reference:visible").count() == 0
        assert "drift share" not in page.locator("#kpis").inner_text().lower()
        assert "no data in this range yet" not in page.locator("#main").inner_text()
        page.locator(f"#models li:has-text('{MODEL}')").click()  # a model with a reference
        page.wait_for_selector("#no-reference", state="hidden")
        assert page.locator(".needs-reference:visible").count() == 6  # data quality too
        assert "drift share" in page.locator("#kpis").inner_text().lower()
    finally:
        page.close()


def test_tokens_and_cost_per_day_show_for_a_priced_generative_model(
    sqlite_page: Served, browser: Any
) -> None:
    page = _open_with_currency(browser, sqlite_page, GENERATIVE[0], "EUR")
    try:
        page.wait_for_selector("#health-cost:not([hidden])")
        tokens = page.locator("#health-tokens")
        assert tokens.is_visible()
        assert page.locator("[data-chart='tokens']").get_attribute("data-series") == "3"
        hint = page.locator("#tokens-hint").inner_text()
        assert hint == f"first token p95 {TTFT_P95_MS + 3:.0f} ms"
        page.wait_for_function("document.querySelector('#cost-days [data-cost]')"
                               ".textContent.endsWith('EUR')")
        days = {row.get_attribute("data-day"): row.locator("[data-cost]").inner_text()
                for row in page.locator("#cost-days tr").all()}
        assert days == {"2026-03-02": f"{COST[2] + COST[3]:.2f} EUR",
                        "2026-03-01": f"{COST[0] + COST[1]:.2f} EUR"}
        assert page.locator("#cost-value").inner_text().splitlines() == [
            "3.25 EUR", "on 2026-03-02 (UTC)"]
        text = page.locator("#no-reference").inner_text()
        assert f"first window (03-01 22:00 UTC, event time) of v{GENERATIVE[1]}" in text
        assert page.locator("#held").inner_text() == str(HELD)
        assert page.errors == []
    finally:
        page.close()


def _open_with_currency(browser: Any, served: Served, model: str, currency: str) -> Any:
    """The model's page, its ``GET /v1/models/{model}`` answered with a price in ``currency``
    (the API gains ``pricing`` with the priced-models work)."""
    body = httpx.get(f"{served.url}/v1/models/{model}").json()
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.route(f"**/v1/models/{model}", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps({**body, "pricing": {"currency": currency}})))
    page.goto(f"{served.url}/#{model}")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    return page


def test_cost_without_a_known_currency_shows_the_bare_sum(sqlite_page: Served,
                                                          browser: Any) -> None:
    page = _model_page(browser, sqlite_page, GENERATIVE[0])
    try:
        page.wait_for_selector("#health-cost:not([hidden])")
        assert page.locator("#cost-days tr[data-day='2026-03-02'] [data-cost]").inner_text() == (
            f"{COST[2] + COST[3]:.2f}")
    finally:
        page.close()


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_health_row_fits_from_1280_pixels(sqlite_page: Served, browser: Any,
                                              width: int) -> None:
    page = _model_page(browser, sqlite_page, GENERATIVE[0], width=width)
    try:
        page.wait_for_selector("#health-cost:not([hidden])")
        clipped = page.evaluate("""() => [...document.querySelectorAll(
            '#health .figure, #health .figure small, #health .card-head h2, #error-types .n, #cost-days td')]
            .filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.id || el.textContent)""")
        assert clipped == []
        cards = page.evaluate("""() => [...document.querySelectorAll('#health .card:not([hidden])')]
            .map((el) => el.getBoundingClientRect().right)""")
        assert len(cards) == 5 and max(cards) <= page.evaluate("document.documentElement.clientWidth")
    finally:
        page.close()
