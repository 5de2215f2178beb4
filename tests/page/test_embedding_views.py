"""An embedding feature in the API's views: ranked alongside the other features in
``/drift``, its first principal component's projection in ``/histogram`` (checked against
numpy on the same vectors), the page's overview, on SQLite (the same code serves
Postgres), and the page in headless chromium: the embedding's row in the ranked table, its
drill-down titled as the projection, and no multivariate chart (one tabular feature only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.evaluation import evaluate_window
from infersight.drift import Reference
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.registry import configure_model, ensure_model_versions, set_reference
from infersight.storage.windows import WindowStateRecord, upsert_window_states

from infersight.settings import Settings
from tests.drift.test_embedding import topics
from tests.page.conftest import serve
from tests.page.test_page import _open

MODEL, START, ROWS, DIM = "search", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), 800, 12


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Reference, np.ndarray]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('embedding') / 'page.db'}"
    upgrade(url)
    engine = make_engine(url)
    rng = np.random.default_rng(3)
    reference = Reference.from_data({"query": topics(rng, 4000, [0.4, 0.3, 0.2, 0.1], DIM),
                                     "clicks": rng.poisson(3, 4000).astype(float)})
    window = topics(rng, ROWS, [0.1, 0.2, 0.3, 0.4], DIM)
    state = reference.new_window()
    state.update({"query": list(window), "clicks": rng.poisson(3, ROWS).astype(float)})
    with session_factory(engine).begin() as session:
        configure_model(session, MODEL, window_seconds=60)
        ensure_model_versions(session, [(MODEL, "1")])
        set_reference(session, MODEL, "1", reference.to_bytes())
        upsert_window_states(session, [WindowStateRecord(
            MODEL, "1", START, START + timedelta(minutes=1), "infersight.events/0",
            state.to_bytes(), ROWS)])
        evaluate_window(session, ModelCatalog(60.0), MODEL, "1", START)
    settings = Settings(database_url=url, auth="off", api_rollups=False, window=3600.0)  # type: ignore[arg-type]
    server, thread, base = serve(engine, settings)
    try:
        yield base, reference, window
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


RANGE = {"start": "2026-03-02T08:00:00Z", "end": "2026-03-02T11:00:00Z"}


def test_the_embedding_is_ranked_first_as_the_drifted_feature(served) -> None:
    base, _reference, _window = served
    body = httpx.get(f"{base}/v1/models/{MODEL}/drift", params=RANGE).raise_for_status().json()
    [version] = body["versions"]
    ranked = {f["feature"]: f for f in version["features"]}
    assert ranked["query"]["kind"] == "embedding" and ranked["query"]["rank"] == 1
    assert ranked["query"]["drifted"] and not ranked["clicks"]["drifted"]
    assert ranked["query"]["metrics"]["embedding_drift"] == 1.0


def test_the_histogram_of_an_embedding_is_its_first_components_projection(served) -> None:
    base, reference, window = served
    body = httpx.get(f"{base}/v1/models/{MODEL}/histogram",
                     params={**RANGE, "feature": "query"}).raise_for_status().json()
    assert body["kind"] == "embedding" and body["current_count"] == ROWS
    profile = reference.features["query"]
    projected = (window - profile.mean) @ profile.components[0]
    inner = [b for b in body["bins"] if b["lower"] is not None and b["upper"] is not None]
    for b in inner[:-1]:  # bins [lower, upper), the last one closed
        share = np.mean((projected >= b["lower"]) & (projected < b["upper"]))
        assert b["current"] == pytest.approx(share, abs=1e-12), b
    assert sum(b["current"] for b in body["bins"]) == pytest.approx(1.0)
    assert sum(b["reference"] for b in body["bins"]) == pytest.approx(1.0)


def test_the_page_overview_serves_an_embedding_model(served) -> None:
    base, _reference, _window = served
    response = httpx.get(f"{base}/v1/models/{MODEL}/overview", params=RANGE)
    assert response.status_code == 200, response.text
    assert "query" in response.text  # the embedding is among the model's features


def _model_page(browser, base: str, width: int = 1500):
    page = _open(browser, f"{base}/#{MODEL}", width=width)
    page.wait_for_selector("#rank tr[data-feature='query'][data-kind='embedding']")
    return page


def test_the_ranked_table_shows_the_embeddings_drifted_components(served, browser) -> None:
    base, _reference, _window = served
    body = httpx.get(f"{base}/v1/models/{MODEL}/drift", params=RANGE).raise_for_status().json()
    metrics = body["versions"][0]["features"][0]["metrics"]
    page = _model_page(browser, base)
    try:
        row = page.locator("#rank tr[data-feature='query']")
        share = metrics["embedding_drifted_components"]
        assert 0 < share <= 1
        assert row.locator("td[data-score]").inner_text() == f"{round(share * 100)}% comp."
        assert row.locator(".kind").inner_text().lower() == "embedding"
        assert f"d {metrics['embedding_mean_distance']:.3f}" in row.inner_text()
        assert row.locator(".badge").inner_text().lower() == "drift"
        clicks = page.locator("#rank tr[data-feature='clicks']")
        assert clicks.get_attribute("data-kind") == "numeric" and not clicks.locator(".kind").count()
        assert page.locator("#multivariate").is_hidden()  # no multivariate points for it
        assert page.errors == []
    finally:
        page.close()


def test_the_embeddings_drill_down_is_titled_as_its_projection(served, browser) -> None:
    base, _reference, _window = served
    page = _model_page(browser, base)
    try:
        title = page.locator("#hist-title")
        page.wait_for_function("document.getElementById('chart-hist').dataset.feature === 'query'")
        assert title.inner_text() == "Feature query: projection on its first principal component"
        assert "first principal component" in page.locator("#hist-hint").inner_text()
        page.locator("#rank tr[data-feature='clicks']").click()
        page.wait_for_function("document.getElementById('chart-hist').dataset.feature === 'clicks'")
        assert title.inner_text() == "Feature clicks: reference vs current"
        assert page.errors == []
    finally:
        page.close()


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_embedding_row_and_title_fit_from_1280_pixels(served, browser, width: int) -> None:
    base, _reference, _window = served
    page = _model_page(browser, base, width=width)
    try:
        clipped = page.evaluate("""() => [...document.querySelectorAll(
            '#rank .badge, #rank .kind, #rank tbody td:not(:first-child), .table-wrap, #hist-title')]
            .filter((el) => el.scrollWidth > el.clientWidth + 1)
            .map((el) => el.className || el.tagName + ':' + el.textContent)""")
        assert clipped == []
    finally:
        page.close()
