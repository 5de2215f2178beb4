"""An embedding feature in the API's views: ranked alongside the other features in
``/drift``, its first principal component's projection in ``/histogram`` (checked against
numpy on the same vectors), and the page's overview, on SQLite (the same code serves
Postgres)."""

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
