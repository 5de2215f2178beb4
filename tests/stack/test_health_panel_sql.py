"""The model dashboard's "Inference health" panels on Postgres, against the seeded points
(tests/stack/seed.py): each value recomputed in Python."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest

from tests.stack.grafana_sql import PanelQueryContext
from tests.stack.seed import ERROR_TYPES, GENERATIVE, SeedData
from tests.stack.test_panel_sql import LAST_DAY, by_key, context, run, seeded

pytestmark = pytest.mark.postgres
__all__ = ["seeded"]  # the module's seeded database (a fixture)
HOUR = 3600.0


def _panel(conn: Any, title: str, model: str = "fraud",
           ctx: PanelQueryContext | None = None) -> dict[tuple[float, str], Any]:
    query = by_key(f"infersight-model/{title}")
    rows = run(conn, (ctx or context(query, model)).expand(query.sql))[1]
    return {(float(t), m): v for t, m, v in rows}


def _hourly(data: SeedData, metric: str, feature: str = "", model: str = "fraud",
            version: str | None = None) -> dict[float, list[float]]:
    values: dict[float, list[float]] = defaultdict(list)
    for point in data.values(model, metric, feature, version=version, start=LAST_DAY[0]):
        values[point.window_start.timestamp()].append(point.value or 0.0)
    return values


def test_request_rate_is_each_versions_calls_per_second(seeded: Any) -> None:
    conn, data = seeded
    got = _panel(conn, "Request rate")
    expected = {(t, version): values[0] for version in ("1", "2")
                for t, values in _hourly(data, "request_count", version=version).items()}
    assert got == pytest.approx({k: v / HOUR for k, v in expected.items()})


def test_error_rate_is_failed_over_all_calls_per_version(seeded: Any) -> None:
    conn, data = seeded
    got = _panel(conn, "Error rate")
    expected = {}
    for version in ("1", "2"):
        calls = _hourly(data, "request_count", version=version)
        for t, failed in _hourly(data, "error_count", version=version).items():
            expected[(t, version)] = failed[0] / calls[t][0]
    assert got == pytest.approx(expected) and 0 < max(got.values()) < 0.1


def test_errors_by_type_sum_the_versions_per_error_type(seeded: Any) -> None:
    conn, data = seeded
    got = _panel(conn, "Errors by type")
    expected = {(t, name): sum(values) for name in ERROR_TYPES
                for t, values in _hourly(data, "error_count", name).items()}
    assert {m for _t, m in got} == set(ERROR_TYPES)  # not the all-errors total
    assert {k: float(v) for k, v in got.items()} == pytest.approx(expected)


def test_latency_includes_failed_calls_as_its_own_series(seeded: Any) -> None:
    conn, data = seeded
    got = _panel(conn, "Latency: all and failed calls")
    assert {m for _t, m in got} == {"p50", "p95", "p99", "p95 failed calls"}
    failed = {(t, "p95 failed calls"): max(v)
              for t, v in _hourly(data, "latency_p95_ms", "@error").items()}
    p99 = {(t, "p99"): max(v) for t, v in _hourly(data, "latency_p99_ms").items()}
    assert {k: got[k] for k in failed} == pytest.approx(failed)
    assert {k: got[k] for k in p99} == pytest.approx(p99)


def test_tokens_and_time_to_first_token_of_a_generative_model(seeded: Any) -> None:
    conn, data = seeded
    tokens = _panel(conn, "Tokens")
    for kind in ("input", "output"):
        expected = {(t, kind): sum(v) for t, v in _hourly(data, f"{kind}_tokens").items()}
        assert {k: float(tokens[k]) for k in expected} == pytest.approx(expected)
    assert {m for _t, m in tokens} == {"input", "output"}
    ttft = _panel(conn, "Time to first token")
    expected = {(t, "p95"): max(v) for t, v in _hourly(data, "time_to_first_token_p95_ms").items()}
    assert {k: ttft[k] for k in expected} == pytest.approx(expected)
    assert _panel(conn, "Tokens", "churn") == {} and _panel(conn, "Time to first token",
                                                            "churn") == {}


def test_cost_per_day_sums_whole_utc_days_from_midnight(seeded: Any) -> None:
    conn, data = seeded
    query = by_key("infersight-model/Cost per day")
    noon = LAST_DAY[0] + timedelta(hours=12)  # a range starting at noon still gets the day
    ctx = PanelQueryContext(noon, LAST_DAY[1], interval="1h",
                            variables={"model": GENERATIVE, "version": ["1", "2"]},
                            multi=query.multi)
    got = _panel(conn, "Cost per day", ctx=ctx)
    day = [p.value or 0.0 for p in data.values(GENERATIVE, "cost", start=LAST_DAY[0])]
    assert got == pytest.approx({(LAST_DAY[0].timestamp(), "cost"): sum(day)})
    assert len(day) == 2 * 24  # two versions, every hour of the day
    assert _panel(conn, "Cost per day", "churn") == {}
