"""The model dashboard's "Multivariate drift" and "Embedding drift" panels on Postgres,
against the seeded points (tests/stack/seed.py): each value recomputed in Python."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from infersight.dashboards.thresholds import MULTIVARIATE_DRIFT_Z

from tests.stack.dashboard_queries import load_dashboards
from tests.stack.seed import EMBEDDING, JOINT, LAST_HOUR, START, WINDOW, SeedData
from tests.stack.test_panel_sql import LAST_DAY, by_key, context, run, seeded

pytestmark = pytest.mark.postgres
__all__ = ["seeded"]  # the module's seeded database (a fixture)


def _panel(conn: Any, title: str, model: str = JOINT) -> dict[tuple[float, str], Any]:
    query = by_key(f"infersight-model/{title}")
    rows = run(conn, context(query, model).expand(query.sql))[1]
    return {(float(t), m): v for t, m, v in rows}


def _shown(data: SeedData, metric: str, feature: str = "") -> list[Any]:
    """The seeded points a drift panel draws: the last day's, without small open windows."""
    return [p for p in data.values(JOINT, metric, feature, start=LAST_DAY[0])
            if data.drift_shown(p)]


def test_multivariate_drift_draws_each_versions_z_and_weighted_mean_error(seeded: Any) -> None:
    conn, data = seeded
    got = _panel(conn, "Multivariate drift")
    expected = {(p.window_start.timestamp(), f"z {p.version}"): p.value
                for p in _shown(data, "reconstruction_error_drift")}
    sums: dict[tuple[float, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for p in _shown(data, "reconstruction_error"):
        key = (p.window_start.timestamp(), f"mean error {p.version}")
        sums[key][0] += p.value * p.sample_size
        sums[key][1] += p.sample_size
    expected |= {key: total / rows for key, (total, rows) in sums.items()}
    assert {m for _t, m in got} == {"z 1", "z 2", "mean error 1", "mean error 2"}
    assert got == pytest.approx(expected)
    assert max(v for (_t, m), v in got.items() if m.startswith("z")) > MULTIVARIATE_DRIFT_Z


def test_multivariate_drift_leaves_out_the_small_open_window(seeded: Any) -> None:
    conn, _data = seeded
    times = {t for t, _m in _panel(conn, "Multivariate drift")}
    last = (START + LAST_HOUR * WINDOW).timestamp()
    assert last not in times and last - 3600 in times  # 33 rows: not drawn


def test_embedding_drift_draws_the_largest_share_and_distance_per_feature(seeded: Any) -> None:
    conn, data = seeded
    got = _panel(conn, "Embedding drift")
    expected: dict[tuple[float, str], float] = {}
    for metric, name in (("embedding_drifted_components", "drifted components"),
                         ("embedding_mean_distance", "mean distance")):
        for p in _shown(data, metric, EMBEDDING):
            key = (p.window_start.timestamp(), f"{EMBEDDING} {name}")
            expected[key] = max(expected.get(key, 0.0), p.value)
    assert {m for _t, m in got} == {f"{EMBEDDING} drifted components",
                                    f"{EMBEDDING} mean distance"}
    assert got == pytest.approx(expected)


def test_both_panels_are_empty_for_a_model_without_those_points(seeded: Any) -> None:
    conn, _data = seeded
    assert _panel(conn, "Multivariate drift", "churn") == {}
    assert _panel(conn, "Embedding drift", "churn") == {}


def test_the_z_line_is_the_engines_threshold_on_the_left_axis_only() -> None:
    board = next(b for b in load_dashboards() if b["uid"] == "infersight-model")
    (panel,) = [p for p in board["panels"] if p["title"] == "Multivariate drift"]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, pytest.approx(3.0902, abs=1e-4)]
    (right,) = panel["fieldConfig"]["overrides"]
    assert right["matcher"]["options"] == "^mean error .*"
    assert {"id": "custom.thresholdsStyle", "value": {"mode": "off"}} in right["properties"]
