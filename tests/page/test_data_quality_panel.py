"""The page's "Data quality" card in headless chromium: a model whose latest closed window
has a feature missing more often than in the reference, values out of range, new
categories, a feature absent from every row and two names the reference never had — each
rate shown as pandas counts it on the events, and each schema change named."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from infersight.alerts.config import AlertConfig
from infersight.alerts.judge import judge_window
from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.evaluation import evaluate_window
from infersight.drift import Reference
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.registry import configure_model, ensure_model_versions, set_reference
from infersight.storage.watermarks import advance_watermarks
from infersight.storage.windows import WindowStateRecord, upsert_window_states

from infersight.settings import Settings
from tests.page.conftest import Served, serve
from tests.page.test_page import _open

MODEL = "quality"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROWS = 600


def _events(rng: np.random.Generator, broken: bool) -> list[dict[str, Any]]:
    income = rng.lognormal(10, 0.5, ROWS)
    income[rng.uniform(size=ROWS) < (0.2 if broken else 0.01)] = np.nan
    amount = rng.uniform(0, 100, ROWS) + (rng.uniform(size=ROWS) < 0.1) * 500 * broken
    channel = rng.choice(["web", "app", "partner"] if broken else ["web", "app"], ROWS)
    events = []
    for i in range(ROWS):
        features: dict[str, Any] = {
            "income": None if np.isnan(income[i]) else float(income[i]),
            "amount": float(amount[i]), "channel": str(channel[i])}
        if not broken:
            features["merchant"] = "m" + str(i % 7)
        else:  # merchant vanished; two names the reference never had arrived
            features["device"] = "ios" if i % 4 else None
            features["zip_code"] = "75001"
        events.append({"features": features, "prediction": float(rng.uniform())})
    return events


@pytest.fixture(scope="module")
def quality_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Any]]:
    path: Path = tmp_path_factory.mktemp("quality") / "page.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    rng = np.random.default_rng(3)
    reference_events = _events(rng, broken=False) * 5
    reference = Reference.from_data(
        pd.DataFrame([e["features"] for e in reference_events]),
        predictions=[e["prediction"] for e in reference_events])
    sessions = session_factory(engine)
    with sessions.begin() as session:
        configure_model(session, MODEL, window_seconds=60, task="binary")
        ensure_model_versions(session, [(MODEL, "1")])
        set_reference(session, MODEL, "1", reference.to_bytes())
    catalog = ModelCatalog(60.0)
    latest: list[dict[str, Any]] = []
    for minute in range(3):
        start = START + timedelta(minutes=minute)
        latest = _events(rng, broken=minute == 2)
        state = reference.new_window()
        state.update(latest)
        with sessions.begin() as session:
            upsert_window_states(session, [WindowStateRecord(
                MODEL, "1", start, start + timedelta(minutes=1), "infersight.events/0",
                state.to_bytes(), ROWS)])
            evaluate_window(session, catalog, MODEL, "1", start)
            judge_window(session, MODEL, "1", reference.performance,
                         start + timedelta(minutes=2), AlertConfig())
    with sessions.begin() as session:
        advance_watermarks(session, {MODEL: START + timedelta(minutes=3.5)})
    settings = Settings(database_url=url, auth="off", api_rollups=False, window=60.0)  # type: ignore[arg-type]
    server, thread, base = serve(engine, settings)
    try:
        yield Served(base, engine, None), pd.DataFrame([e["features"] for e in latest])
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def test_the_card_shows_each_features_rates_and_the_schema_changes(
        quality_page: tuple[Served, Any], browser: Any) -> None:
    served, frame = quality_page
    page = _open(browser, f"{served.url}/#{MODEL}")
    try:
        page.wait_for_selector("#quality[data-window]")
        card = page.locator("#quality")
        assert card.get_attribute("data-window").startswith("2026-03-02T09:02")
        assert card.get_attribute("data-unexpected") == "2"
        assert card.get_attribute("data-missing") == "1"

        def value(feature: str, metric: str) -> float:
            cell = page.locator(f"#quality-table tr[data-feature='{feature}'] "
                                f"td[data-metric='{metric}']")
            return float(cell.get_attribute("data-value") or "nan")

        # independent counts of the same events
        assert value("income", "missing_rate") == pytest.approx(frame["income"].isna().mean())
        assert value("income", "missing_rate") > 0.1
        income = page.locator("#quality-table tr[data-feature='income'] td[data-metric='missing_rate']")
        assert "warn" in (income.get_attribute("class") or "")
        outside = ((frame["amount"] > 100) | (frame["amount"] < 0)).mean()
        assert value("amount", "out_of_range_rate") == pytest.approx(outside, abs=0.01)
        assert value("channel", "new_category_rate") == pytest.approx(
            (frame["channel"] == "partner").mean())
        assert value("amount", "invalid_rate") == 0.0
        schema = {row.get_attribute("data-feature"): row.locator("td[data-schema]")
                  .get_attribute("data-schema")
                  for row in page.locator("#quality-table tbody tr").all()}
        assert schema == {"income": "ok", "amount": "ok", "channel": "ok",
                          "merchant": "missing", "zip_code": "unexpected",
                          "device": "unexpected"}
        rows = {f: int(page.locator(f"#quality-table tr[data-feature='{f}'] td[data-rows]")
                       .get_attribute("data-rows") or 0) for f in ("device", "zip_code")}
        assert rows == {f: int(frame[f].notna().sum()) for f in ("device", "zip_code")}
        assert "1 missing, 2 unexpected features" in page.locator("#quality-hint").inner_text()
        assert page.errors == []
    finally:
        page.close()


def test_schema_change_fired_for_the_missing_and_each_unexpected_feature(
        quality_page: tuple[Served, Any]) -> None:
    import httpx

    served, _frame = quality_page
    alerts = httpx.get(f"{served.url}/v1/alerts", params={"model": MODEL}).raise_for_status()
    firing = sorted((a["rule"], a["feature"]) for a in alerts.json() if a["status"] == "firing")
    assert ("schema_change", "merchant") in firing
    assert ("schema_change", "device") in firing and ("schema_change", "zip_code") in firing
    assert ("missing_rate_increase", "income") in firing
