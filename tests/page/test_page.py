"""The built-in page in headless chromium against a seeded database, and the two JSON
endpoints it adds (overview, histogram) checked against numpy and scikit-learn."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from infersight.collector.demo import model as credit
from sklearn.metrics import f1_score

from tests.page.conftest import CHROMIUM_ARGS, Served, serve
from tests.page.health_seed import GENERATIVE, HELD, PLAIN
from tests.page.health_seed import START as HEALTH_START
from tests.page.seed import DRIFT_AT, OPEN_ROWS, START, WINDOWS

MODEL = credit.MODEL
CHARTS = ("drift", "histogram", "feature", "performance", "latency")


def _range(first: int, last: int) -> dict[str, str]:
    return {"start": (START + timedelta(minutes=first)).isoformat(),
            "end": (START + timedelta(minutes=last)).isoformat()}


# -- the page in a browser -------------------------------------------------------------------

def _open(browser: Any, url: str, width: int = 1500) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda request: errors.append(f"failed {request.url}"))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    page.errors = errors
    return page


def test_page_charts_have_data_from_the_seeded_database(sqlite_page: Served, browser: Any) -> None:
    page = _open(browser, sqlite_page.url + "/")
    try:
        for name in CHARTS:
            element = page.locator(f"[data-chart='{name}']")
            points = int(element.get_attribute("data-points") or 0)
            assert points > 0, f"chart {name} has no data"
            assert element.locator("canvas").count() == 1, f"chart {name} has no canvas"
        # uPlot's own view of the drift chart: the drift share series holds every closed window
        drift_share = page.evaluate("window.infersightCharts.drift.data[1].filter(v => v !== null).length")
        assert drift_share == WINDOWS - 1
        # the histogram compares the reference with the range over the reference's bins
        bins = page.evaluate("window.infersightCharts.histogram.data[0].length")
        assert bins >= 3
        # the demo model, an empty one, and the two of the health seed
        assert page.locator("#models li").count() == 4
        assert page.locator("#models li.on").inner_text().startswith(MODEL)
        rows = page.locator("#rank tbody tr")
        assert rows.count() == len(credit.FEATURES)
        assert page.locator("#rank tbody tr .badge.bad").count() >= 6
        firing = page.locator("#alerts .alert[data-status='firing']")
        rules = {firing.nth(i).get_attribute("data-rule") for i in range(firing.count())}
        assert {"retraining_recommended", "data_drift_share"} <= rules
        evidence = page.locator("#alerts .alert[data-rule='retraining_recommended'] .evidence")
        assert "f1" in evidence.inner_text()
        assert page.errors == []
    finally:
        page.close()


def test_page_marks_the_open_window_and_leaves_out_its_undersampled_drift(
    sqlite_page: Served, browser: Any
) -> None:
    page = _open(browser, sqlite_page.url + "/")
    try:
        open_start = (START + timedelta(minutes=WINDOWS - 1)).timestamp()
        drift = page.locator("[data-chart='drift']")
        assert drift.get_attribute("data-provisional") == "1"
        assert drift.get_attribute("data-hidden") == "1"
        note = drift.locator(".provisional-note").inner_text()
        assert f"provisional — {OPEN_ROWS} of 500 rows" in note and "drift not drawn" in note
        data = page.evaluate("window.infersightCharts.drift.data")
        assert data[0][-1] == open_start  # the open window is on the time axis ...
        assert all(series[-1] is None for series in data[1:])  # ... with no drift score drawn
        assert all(v is None for v in data[2])  # nothing on the provisional line either
        assert all(v is not None for v in data[1][:-1])  # every closed window is drawn
        feature = page.evaluate("window.infersightCharts.feature.data")
        assert feature[0][-1] == open_start and all(s[-1] is None for s in feature[1:])
        # the performance chart still draws the open window, marked provisional
        performance = page.locator("[data-chart='performance']")
        assert performance.get_attribute("data-provisional") == "1"
        assert performance.get_attribute("data-hidden") == "0"
        assert f"{OPEN_ROWS} rows so far" in performance.locator(".provisional-note").inner_text()
        assert page.evaluate("window.infersightCharts.performance.data[1].at(-1)") is not None
        assert page.errors == []
    finally:
        page.close()


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_ranked_table_stays_readable_from_1280_pixels(sqlite_page: Served, browser: Any,
                                                          width: int) -> None:
    """No badge, header or column cut: each fits its cell, and the table its card."""
    page = _open(browser, sqlite_page.url + "/", width=width)
    try:
        clipped = page.evaluate("""() => [...document.querySelectorAll(
            '#rank .badge, #rank thead th, #rank tbody td:not(:first-child), .table-wrap')]
            .filter((el) => el.scrollWidth > el.clientWidth + 1)
            .map((el) => el.className || el.tagName + ':' + el.textContent)""")
        assert clipped == []
        badges = page.locator("#rank tbody .badge").all_inner_texts()
        assert badges and {b.strip().lower() for b in badges} <= {"drift", "ok"}
    finally:
        page.close()


def test_the_page_names_its_clocks_and_what_an_empty_model_needs(sqlite_page: Served,
                                                                 browser: Any) -> None:
    page = _open(browser, sqlite_page.url + "/")
    try:
        assert "event time" in page.locator("#model-meta").inner_text().lower()
        assert page.locator("#updated").inner_text().endswith(("UTC", "GMT"))  # with its zone
        cards = page.locator("#alerts .alert[data-status='firing']")
        assert cards.count() and all(t.endswith("(wall clock)")
                                     for t in cards.locator(".when").all_inner_texts())
        assert cards.locator(".values").first.inner_text().startswith("now ")
        page.goto(sqlite_page.url + "/#empty-model")
        page.reload()
        page.wait_for_selector("#no-window", timeout=20_000)
        page.wait_for_selector("#no-reference:not([hidden])")
        command = page.locator("#upload-command").inner_text()
        assert command == "infersight reference upload empty-model VERSION reference.csv"
        assert page.locator(".needs-reference:visible").count() == 0  # the drift cards give way
    finally:
        page.close()


def test_page_drill_down_follows_the_clicked_feature(sqlite_page: Served, browser: Any) -> None:
    page = _open(browser, sqlite_page.url + "/")
    try:
        page.locator("#rank tbody tr[data-feature='loan_purpose']").click()
        page.wait_for_function("document.getElementById('feature-name').textContent === 'loan_purpose'")
        page.wait_for_function(
            "window.infersightCharts.histogram.data[0].length === 7")  # 6 purposes + other
        histogram = page.locator("[data-chart='histogram']")
        assert histogram.get_attribute("data-feature") == "loan_purpose"
        labels = (histogram.get_attribute("data-bins") or "").split("|")
        assert labels[0] == "debt_consolidation" and labels[-1] == "other"
        assert histogram.locator("canvas").count() == 1  # the old chart was replaced
        assert int(page.locator("[data-chart='feature']").get_attribute("data-points") or 0) > 0
    finally:
        page.close()


def test_page_range_buttons_narrow_the_charts(sqlite_page: Served, browser: Any) -> None:
    page = _open(browser, sqlite_page.url + "/")
    try:
        page.locator("#range button[data-range='all']").click()
        page.wait_for_function(f"window.infersightCharts.drift.data[0].length === {WINDOWS}")
        # 1h would hold 60 windows; the seed has 24, so "1h" shows all of them too
        page.locator("#range button[data-range='3600']").click()
        page.wait_for_function(f"window.infersightCharts.drift.data[0].length === {WINDOWS}")
    finally:
        page.close()


def test_page_asks_for_a_key_when_auth_is_on(sqlite_page: Served, browser: Any) -> None:
    from infersight.settings import Settings

    settings = Settings(database_url="sqlite://", auth="on", api_rollups=False)
    server, thread, url = serve(sqlite_page.engine, settings)
    page = browser.new_page()
    try:
        page.goto(url + "/")
        page.wait_for_selector("#auth:not([hidden])", timeout=10_000)
        assert page.locator("#model-view").is_hidden()
    finally:
        page.close()
        server.should_exit = True
        thread.join(10)


def test_chromium_flags_never_download_a_browser() -> None:
    assert "--disable-component-update" in CHROMIUM_ARGS and "--no-sandbox" in CHROMIUM_ARGS


# -- assets ----------------------------------------------------------------------------------

def test_page_and_vendored_assets_are_served_and_nothing_else(sqlite_page: Served) -> None:
    with httpx.Client(base_url=sqlite_page.url) as client:
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "http://" not in page.text and "https://" not in page.text  # nothing from the internet
        script = client.get("/ui/vendor/uPlot.iife.min.js")
        assert script.status_code == 200 and "uPlot" in script.text
        assert client.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
        for bad in ("/ui/nope.js", "/ui/..%2F..%2Fcollector%2Fapi%2Fapp.py", "/ui/vendor"):
            response = client.get(bad)
            assert response.status_code == 404, bad
            assert response.json()["detail"]


# -- the JSON endpoints, on SQLite and Postgres ---------------------------------------------

def test_overview_reports_the_span_latest_values_and_reference_f1(seeded_api: Served) -> None:
    seeded = seeded_api.seeded
    assert seeded is not None
    body = httpx.get(f"{seeded_api.url}/v1/models/{MODEL}/overview").json()
    assert body["first_window"].startswith("2026-03-02T09:00:00")
    last = START + timedelta(minutes=WINDOWS - 1)
    assert body["last_window"].replace("Z", "+00:00") == last.isoformat()
    assert body["window_seconds"] == 60
    # the watermark is inside the last window: headline values come from the one before
    assert body["latest_window"].replace("Z", "+00:00") == (last - timedelta(minutes=1)).isoformat()
    assert body["latest_labelled_window"].replace("Z", "+00:00") == last.isoformat()
    assert [f["name"] for f in body["features"]] == list(credit.FEATURES)
    expected_f1 = f1_score(seeded.reference_labels, seeded.reference_scores >= 0.5)
    assert body["reference_performance"]["f1"] == pytest.approx(expected_f1, abs=1e-9)
    assert body["latest"]["count"] == len(seeded.windows[-2]["labels"])  # the latest closed
    latest = seeded.windows[-1]
    assert body["latest"]["f1"] == pytest.approx(
        f1_score(latest["labels"], latest["scores"] >= 0.5), abs=1e-9)
    assert body["firing_alerts"] >= 2
    # the seed's watermark (maximum event time) is 30 s into the last window; lateness 6 s
    watermark = START + timedelta(minutes=WINDOWS - 0.5, seconds=-6)
    assert body["closed_until"].replace("Z", "+00:00") == watermark.isoformat()
    assert body["drift_min_rows"] == 500
    empty = httpx.get(f"{seeded_api.url}/v1/models/empty-model/overview").json()
    assert empty["last_window"] is None and empty["features"] == []
    assert empty["closed_until"] is None
    assert body["reference_bootstrap"] is None and empty["reference_bootstrap"] is None


@pytest.mark.parametrize(("model", "held"), [(PLAIN, 0), (GENERATIVE, HELD)])
def test_overview_says_what_the_first_window_reference_waits_for(
    seeded_api: Served, model: tuple[str, str], held: int
) -> None:
    body = httpx.get(f"{seeded_api.url}/v1/models/{model[0]}/overview").json()
    assert body["versions_with_reference"] == []
    bootstrap = body["reference_bootstrap"]
    assert (bootstrap["version"], bootstrap["held"], bootstrap["min_events"]) == (
        model[1], held, 1000)
    first = bootstrap["first_window"]
    assert (first and first.replace("Z", "+00:00")) == (HEALTH_START.isoformat() if held else None)


def test_metric_points_of_the_open_window_are_provisional(seeded_api: Served) -> None:
    points = httpx.get(f"{seeded_api.url}/v1/models/{MODEL}/metrics",
                       params={"feature": ""}).json()
    open_start = START + timedelta(minutes=WINDOWS - 1)
    provisional = {p["window_start"].replace("Z", "+00:00") for p in points if p["provisional"]}
    assert provisional == {open_start.isoformat()}
    counts = [p for p in points if p["metric"] == "count" and p["provisional"]]
    assert [p["value"] for p in counts] == [OPEN_ROWS]
    ranking = httpx.get(f"{seeded_api.url}/v1/models/{MODEL}/drift", params=_range(0, WINDOWS))
    closed_until = ranking.json()["closed_until"].replace("Z", "+00:00")
    assert open_start.isoformat() < closed_until < (open_start + timedelta(minutes=1)).isoformat()


def test_drift_minimum_is_the_smallest_of_the_drift_rules_in_force() -> None:
    from infersight.alerts.rules import AlertRule
    from infersight.collector.api.provisional import drift_min_rows

    def rule(name: str, model: str, rows: int) -> AlertRule:
        return AlertRule.model_validate({"name": name, "model": model, "metric": "drift_share",
                                         "op": ">", "threshold": 0.5, "min_samples": rows})

    assert drift_min_rows([], MODEL) == 500
    assert drift_min_rows([rule("a", "credit*", 200), rule("b", "*", 800)], MODEL) == 200
    assert drift_min_rows([rule("a", "fraud", 200)], MODEL) == 500


def _expected_numeric_shares(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Below the reference minimum, the ten reference deciles (np.histogram bins, last one
    closed), above the maximum."""
    edges = np.quantile(reference, np.linspace(0, 1, 11))
    inside = current[(current >= edges[0]) & (current <= edges[-1])]
    counts = np.concatenate([[np.sum(current < edges[0])], np.histogram(inside, bins=edges)[0],
                             [np.sum(current > edges[-1])]])
    return counts / counts.sum()


@pytest.mark.parametrize("feature", ["annual_income", "interest_rate", "age"])
def test_histogram_of_a_numeric_feature_matches_numpy(seeded_api: Served, feature: str) -> None:
    seeded = seeded_api.seeded
    assert seeded is not None
    body = httpx.get(f"{seeded_api.url}/v1/models/{MODEL}/histogram",
                     params={"feature": feature, **_range(DRIFT_AT, WINDOWS)}).json()
    current = np.concatenate([w["features"][feature] for w in seeded.windows[DRIFT_AT:]])
    reference = seeded.reference_features[feature]
    assert body["kind"] == "numeric"
    assert body["current_count"] == current.size
    assert body["reference_count"] == reference.size
    expected_current = _expected_numeric_shares(reference, current)
    expected_reference = _expected_numeric_shares(reference, reference)
    # repeated quantiles (e.g. ages are whole years) merge deciles: compare the bins shown
    edges = np.quantile(reference, np.linspace(0, 1, 11))
    assert len(body["bins"]) == 2 + len(np.unique(edges[:-1]))
    if len(body["bins"]) == 12:
        np.testing.assert_allclose([b["current"] for b in body["bins"]], expected_current, atol=1e-12)
        np.testing.assert_allclose([b["reference"] for b in body["bins"]], expected_reference,
                                   atol=1e-12)
        np.testing.assert_allclose([b["lower"] for b in body["bins"][1:]], edges, rtol=1e-12)
    assert sum(b["current"] for b in body["bins"]) == pytest.approx(1.0)
    assert body["bins"][0]["lower"] is None and body["bins"][-1]["upper"] is None


def test_histogram_of_a_categorical_feature_matches_value_counts(seeded_api: Served) -> None:
    seeded = seeded_api.seeded
    assert seeded is not None
    body = httpx.get(f"{seeded_api.url}/v1/models/{MODEL}/histogram",
                     params={"feature": "application_channel", **_range(0, DRIFT_AT)}).json()
    current = np.concatenate([w["features"]["application_channel"] for w in seeded.windows[:DRIFT_AT]])
    reference = seeded.reference_features["application_channel"]
    assert body["kind"] == "categorical"
    shown = {b["label"]: b for b in body["bins"]}
    for channel in ("web", "branch", "mobile", "partner"):
        assert shown[channel]["current"] == pytest.approx(np.mean(current == channel), abs=1e-12)
        assert shown[channel]["reference"] == pytest.approx(np.mean(reference == channel), abs=1e-12)
    assert shown["other"]["current"] == 0.0


def test_histogram_of_an_empty_range_has_no_current_values(seeded_api: Served) -> None:
    body = httpx.get(f"{seeded_api.url}/v1/models/{MODEL}/histogram",
                     params={"feature": "age", **_range(WINDOWS + 10, WINDOWS + 20)}).json()
    assert body["current_count"] == 0
    assert all(b["current"] == 0.0 for b in body["bins"])


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        ("/v1/models/nope/overview", {}, 404, "credit-default"),
        ("/v1/models/nope/histogram", {"feature": "age"}, 404, "known models"),
        (f"/v1/models/{MODEL}/histogram", {"feature": "shoe_size"}, 404, "annual_income"),
        (f"/v1/models/{MODEL}/histogram", {}, 422, "feature"),
        (f"/v1/models/{MODEL}/histogram", {"feature": "age", "version": "9"}, 404, "versions with a reference: 1"),
        ("/v1/models/empty-model/histogram", {"feature": "age"}, 404, "no reference"),
        (f"/v1/models/{MODEL}/histogram", {"feature": "age", **_range(5, 1)}, 422, "after start"),
        (f"/v1/models/{MODEL}/histogram", {"feature": "age", "start": "yesterday"}, 422, "start"),
        (f"/v1/models/{MODEL}/histogram", {"feature": "age", "start": "0001-01-01T00:00:00+14:00"},
         422, "query.start"),
        (f"/v1/models/{MODEL}/histogram", {"feature": "age", "end": "9999-12-31T23:59:59-14:00"},
         422, "query.end"),
        ("/v1/models/a%00b/overview", {}, 422, "path.model"),
        (f"/v1/models/{MODEL}/histogram", {"feature": "a\x00b"}, 422, "query.feature"),
    ],
)
def test_bad_requests_get_4xx_naming_the_problem(
    sqlite_page: Served, path: str, params: dict[str, str], status: int, needle: str
) -> None:
    response = httpx.get(sqlite_page.url + path, params=params)
    assert response.status_code == status, response.text
    assert needle in response.text
