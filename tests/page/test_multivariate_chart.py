"""The page's "Multivariate drift" chart in headless chromium (tests/page/seed.py: the demo
model's reference has many tabular features, so the worker's evaluation writes the
reconstruction error's z and decision per window): what it draws against the API's points."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from infersight.drift.multivariate import DRIFT_Z

from tests.page.conftest import Served
from tests.page.seed import WINDOWS
from tests.page.test_page import MODEL, _open, _range


def _points(served: Served, metric: str) -> list[dict[str, Any]]:
    params = {"metric": metric, "feature": "", **_range(0, WINDOWS)}
    return httpx.get(f"{served.url}/v1/models/{MODEL}/metrics",
                     params=params).raise_for_status().json()


def _chart(served: Served, browser: Any, width: int = 1500) -> Any:
    page = _open(browser, f"{served.url}/#{MODEL}", width=width)
    page.wait_for_selector("#multivariate:not([hidden]) [data-chart='multivariate'] canvas")
    return page


def test_the_chart_draws_each_closed_windows_z_and_the_drift_line(sqlite_page: Served,
                                                                  browser: Any) -> None:
    z = _points(sqlite_page, "reconstruction_error_drift")
    closed = [p["value"] for p in z if not p["provisional"]]
    assert len(closed) == WINDOWS - 1 and len(z) == WINDOWS  # the open one: 33 rows
    page = _chart(sqlite_page, browser)
    try:
        data = page.evaluate("window.infersightCharts.multivariate.data")
        assert data[1][:-1] == pytest.approx(closed) and data[1][-1] is None
        line = [v for v in data[2] if v is not None]
        assert len(line) == 2 and line == pytest.approx([DRIFT_Z, DRIFT_Z])
        chart = page.locator("[data-chart='multivariate']")
        assert chart.get_attribute("data-points") == str(WINDOWS - 1 + 2)
        assert chart.get_attribute("data-hidden") == "1"
        assert page.errors == []
    finally:
        page.close()


def test_the_chart_names_the_latest_closed_windows_decision(sqlite_page: Served,
                                                           browser: Any) -> None:
    decisions = [p for p in _points(sqlite_page, "multivariate_drift") if not p["provisional"]]
    latest = decisions[-1]["value"]
    page = _chart(sqlite_page, browser)
    try:
        badge = page.locator("#mv-decision")
        assert badge.inner_text().lower() == ("drift" if latest == 1 else "no drift")
        assert ("bad" if latest == 1 else "ok") in (badge.get_attribute("class") or "")
        assert page.locator("#multivariate").get_attribute("data-decision") == str(int(latest))
        assert f"window {decisions[-1]['window_start'][11:16]}" in page.locator(
            "#mv-hint").inner_text()
    finally:
        page.close()


def test_the_chart_fits_its_card_at_1280_pixels(sqlite_page: Served, browser: Any) -> None:
    page = _chart(sqlite_page, browser, width=1280)
    try:
        fits = page.evaluate("""() => {
            const card = document.getElementById('multivariate').getBoundingClientRect();
            const chart = document.querySelector('#chart-multivariate .uplot').getBoundingClientRect();
            return chart.left >= card.left && chart.right <= card.right + 1;
        }""")
        assert fits
    finally:
        page.close()
