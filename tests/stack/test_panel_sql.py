"""Every Postgres query of the dashboards runs on the real schema with data in it, returns the
columns its panel reads, expands Grafana's macros as Grafana does, and reads metric_points
through an index. Expected values are recomputed in Python from the seeded points."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from infersight.storage import partitions
from infersight.storage.db import make_engine, upgrade
from sqlalchemy.orm import Session

from tests.stack.dashboard_queries import PanelQuery, load_dashboards, postgres_queries
from tests.stack.grafana_sql import PanelQueryContext
from tests.stack.seed import (
    CATEGORICAL,
    DAYS,
    LAST_HOUR,
    NOISY_PSI,
    NUMERIC,
    START,
    WINDOW,
    SeedData,
    build_points,
    seed,
)
from tests.support.postgres import temporary_database

pytestmark = pytest.mark.postgres

SERIES = ["time", "metric", "value"]
ALERT_COLUMNS = ["model", "version", "rule", "feature", "severity", "status", "value",
                 "threshold", "since", "last_window"]
EXPECTED_COLUMNS = {
    "infersight-overview/Models": ["model", "drift_share", "f1", "estimated_f1",
                                   "label_coverage", "events", "firing_alerts",
                                   "pending_alerts"],
    "infersight-overview/Firing and pending alerts": ALERT_COLUMNS,
    "infersight-overview/variable:model": ["name"],
    "infersight-model/Drift share (latest window)": ["time", "drift_share"],
    "infersight-model/Events in range": ["events"],
    "infersight-model/Label coverage (latest window)": ["time", "label_coverage"],
    "infersight-model/Firing alerts": ["firing_alerts"],
    "infersight-model/Top drifted features (selected range)": [
        "feature", "max_psi", "mean_psi", "windows_over_psi_threshold",
        "max_wasserstein_normed", "max_js_distance", "min_pvalue"],
    "infersight-model/Alert states": ["rule", "version", "feature", "severity", "status",
                                      "value", "threshold", "streak", "pending_since",
                                      "firing_since", "resolved_at", "last_window"],
    "infersight-model/Data quality per feature (latest closed window)": [
        "feature", "version", "window", "missing_rate", "reference_missing_rate",
        "invalid_rate", "out_of_range_rate", "new_category_rate", "schema", "unexpected_rows"],
    "infersight-model/Schema changes (selected range)": [
        "feature", "version", "change", "windows", "rows_carried", "first_window",
        "last_window"],
    "infersight-model/variable:model": ["name"],
    "infersight-model/variable:version": ["version"],
    "infersight-model/variable:feature": ["feature"],
    "infersight-model/annotation:infersight alert states": ["time", "timeend", "text", "tags"],
}
MAY_BE_EMPTY = {"infersight-model/Firing alerts"}  # a count: one row, possibly 0
QUERIES = postgres_queries()
LAST_DAY = (START + timedelta(days=DAYS - 1), START + timedelta(days=DAYS))


@pytest.fixture(scope="module")
def seeded() -> Any:
    data = build_points()
    with temporary_database("infersight_dash") as url:
        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session, session.begin():  # as housekeeping keeps them
            for day in range(-1, DAYS + 1):
                partitions.create_partition(session, (START + timedelta(days=day)).date(),
                                            partitions.METRIC_POINTS)
        engine.dispose()
        seed(url, data)
        dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE")
            yield conn, data


def context(query: PanelQuery, model: str = "fraud", interval: str = "1h") -> PanelQueryContext:
    variables: dict[str, str | list[str]] = {
        "version": ["1", "2", "7"],
        "feature": list(NUMERIC + CATEGORICAL),
    }
    variables["model"] = ["fraud", "churn", "price"] if "model" in query.multi else model
    return PanelQueryContext(*LAST_DAY, interval=interval, variables=variables,
                             multi=query.multi)


def run(conn: psycopg.Connection[Any], sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cursor = conn.execute(sql)  # type: ignore[arg-type]
    columns = [c.name for c in cursor.description or []]
    return columns, cursor.fetchall()


def by_key(key: str) -> PanelQuery:
    (query,) = [q for q in QUERIES if q.key == key]
    return query


def test_every_panel_of_every_dashboard_is_covered() -> None:
    keys = {q.key for q in QUERIES}
    assert len(keys) == len(QUERIES), "panel titles must be unique within a dashboard"
    assert {k for k in EXPECTED_COLUMNS} <= keys
    assert len(QUERIES) >= 25


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.key)
def test_panel_sql_runs_and_returns_the_columns_its_panel_reads(seeded: Any, query: PanelQuery) -> None:
    conn, _data = seeded
    model = "price" if query.title == "Regression error" else "fraud"
    sql = context(query, model).expand(query.sql)
    assert "$" not in sql, f"unexpanded macro or variable left in:\n{sql}"
    columns, rows = run(conn, sql)
    expected = EXPECTED_COLUMNS.get(query.key, SERIES if query.fmt == "time_series" else None)
    assert expected is not None, f"no expected columns for table query {query.key}"
    assert columns == expected
    assert rows or query.key in MAY_BE_EMPTY, f"{query.key} returned no rows for seeded data"
    if query.fmt == "time_series":
        times = [float(r[0].timestamp() if hasattr(r[0], "timestamp") else r[0]) for r in rows]
        assert times == sorted(times), "Grafana needs time series sorted by time"
        assert all(LAST_DAY[0].timestamp() <= t <= LAST_DAY[1].timestamp() for t in times)
        values = 2 if columns[1] == "metric" else 1
        for row in rows:
            assert values == 1 or isinstance(row[1], str), row
            assert all(v is None or isinstance(v, float | int | Decimal) for v in row[values:]), row


def test_top_drifted_features_ranks_the_injected_drift_first(seeded: Any) -> None:
    conn, data = seeded
    query = by_key("infersight-model/Top drifted features (selected range)")
    columns, rows = run(conn, context(query).expand(query.sql))
    top = dict(zip(columns, rows[0], strict=True))
    psi = [p.value for p in data.values("fraud", "psi", "amount", start=LAST_DAY[0])
           if data.drift_shown(p)]  # not the open 33-row window's PSI of 2.76
    assert top["feature"] == "amount"
    assert top["max_psi"] == pytest.approx(max(psi)) and top["max_psi"] < NOISY_PSI
    assert top["mean_psi"] == pytest.approx(sum(psi) / len(psi))
    assert top["windows_over_psi_threshold"] == sum(v > 0.2 for v in psi) == 46
    assert [r[0] for r in rows[1:]] and "@prediction" not in [r[0] for r in rows]


def test_psi_per_feature_is_the_largest_value_of_each_hour(seeded: Any) -> None:
    conn, data = seeded
    query = by_key("infersight-model/PSI per feature")
    _columns, rows = run(conn, context(query).expand(query.sql))
    expected: dict[tuple[float, str], float] = defaultdict(float)
    for feature in NUMERIC + CATEGORICAL:
        for point in data.values("fraud", "psi", feature, start=LAST_DAY[0]):
            if not data.drift_shown(point):
                continue
            key = (point.window_start.timestamp(), feature)
            expected[key] = max(expected[key], point.value or 0.0)
    assert {(float(t), m): v for t, m, v in rows} == pytest.approx(dict(expected))


DRIFT_PANELS = [
    "infersight-model/Dataset drift share", "infersight-model/PSI per feature",
    "infersight-model/Wasserstein distance (normed) per feature",
    "infersight-model/Jensen-Shannon distance per feature", "infersight-model/Prediction drift",
    "infersight-model/Drift share (latest window)",
]


@pytest.mark.parametrize("key", DRIFT_PANELS)
def test_drift_panels_leave_out_an_open_window_with_too_few_rows(seeded: Any, key: str) -> None:
    conn, _data = seeded
    query = by_key(key)
    last = (START + LAST_HOUR * WINDOW).timestamp()
    fraud = [float(r[0].timestamp() if hasattr(r[0], "timestamp") else r[0])
             for r in run(conn, context(query, "fraud").expand(query.sql))[1]]
    assert fraud and last not in fraud and last - 3600 in fraud  # 33 rows: not drawn
    churn = [float(r[0].timestamp() if hasattr(r[0], "timestamp") else r[0])
             for r in run(conn, context(query, "churn").expand(query.sql))[1]]
    assert last in churn  # open too, but with enough rows


def test_drift_share_draws_open_windows_as_a_provisional_series(seeded: Any) -> None:
    conn, data = seeded
    query = by_key("infersight-overview/Data drift share")
    _columns, rows = run(conn, context(query).expand(query.sql))
    last = (START + LAST_HOUR * WINDOW).timestamp()
    at_last = {m for t, m, _v in rows if float(t) == last}
    assert at_last == {"churn (provisional)", "price (provisional)"}  # fraud's: 33 rows
    before = {m for t, m, _v in rows if float(t) == last - 3600}
    assert before == {"fraud", "churn", "price"}
    detail = by_key("infersight-model/Dataset drift share")
    names = {m for _t, m, _v in run(conn, context(detail, "churn").expand(detail.sql))[1]}
    assert names == {"drift_share", "drift_share (provisional)"}
    board = next(b for b in load_dashboards() if b["uid"] == "infersight-overview")
    (panel,) = [p for p in board["panels"] if p["title"] == "Data drift share"]
    (style,) = panel["fieldConfig"]["overrides"]
    assert re.fullmatch(style["matcher"]["options"], "churn (provisional)")
    assert not re.fullmatch(style["matcher"]["options"], "churn")
    assert data.is_open(data.values("churn", "count", start=START + LAST_HOUR * WINDOW)[0])


def test_six_hour_buckets_group_windows_like_grafana(seeded: Any) -> None:
    conn, data = seeded
    query = by_key("infersight-overview/Event rate")
    _columns, rows = run(conn, context(query, interval="6h").expand(query.sql))
    churn = {float(t): v for t, m, v in rows if m == "churn"}
    assert len(churn) == 4
    for bucket, rate in churn.items():
        counts = [p.value for p in data.values("churn", "count", start=LAST_DAY[0])
                  if bucket <= p.window_start.timestamp() < bucket + 6 * 3600]
        assert rate == pytest.approx(sum(counts) / len(counts) / 3600)


def test_realised_f1_is_weighted_by_labelled_rows(seeded: Any) -> None:
    conn, data = seeded
    query = by_key("infersight-model/F1: realised vs estimated")
    _columns, rows = run(conn, context(query, interval="1d").expand(query.sql))
    got = {m: v for _t, m, v in rows}
    f1 = data.values("fraud", "f1", version="2", start=LAST_DAY[0])
    expected = sum(p.value * p.sample_size for p in f1) / sum(p.sample_size for p in f1)
    assert set(got) == {"realised 1", "realised 2", "estimated 1", "estimated 2"}
    assert got["realised 2"] == pytest.approx(expected)


def test_overview_models_table_shows_latest_window_and_alert_counts(seeded: Any) -> None:
    conn, data = seeded
    query = by_key("infersight-overview/Models")
    columns, rows = run(conn, context(query).expand(query.sql))
    table = {r[0]: dict(zip(columns, r, strict=True)) for r in rows}
    assert set(table) == {"fraud", "churn", "price"}
    assert table["fraud"]["drift_share"] == pytest.approx(0.2)
    assert table["fraud"]["firing_alerts"] == 1 and table["churn"]["pending_alerts"] == 1
    events = sum(p.value for p in data.values("price", "count", start=LAST_DAY[0]))
    assert float(table["price"]["events"]) == pytest.approx(events)
    assert table["price"]["f1"] is None  # a regression model has no F1


def test_variables_list_models_versions_and_features(seeded: Any) -> None:
    conn, _data = seeded
    for key, expected in [
        ("infersight-model/variable:model", ["churn", "fraud", "price"]),
        ("infersight-model/variable:feature", sorted(NUMERIC + CATEGORICAL)),
    ]:
        query = by_key(key)
        assert [r[0] for r in run(conn, context(query).expand(query.sql))[1]] == expected
    query = by_key("infersight-model/variable:version")
    assert sorted(r[0] for r in run(conn, context(query).expand(query.sql))[1]) == ["1", "2"]


def test_alert_annotations_cover_only_episodes_overlapping_the_range(seeded: Any) -> None:
    conn, data = seeded
    query = by_key("infersight-model/annotation:infersight alert states")
    _columns, rows = run(conn, context(query).expand(query.sql))
    assert [(r[0], r[1]) for r in rows] == [(data.alert_starts["firing"], None)]
    assert rows[0][2].startswith("data_drift_share firing: value 0.2") and "warning" in rows[0][3]
    whole = PanelQueryContext(START, LAST_DAY[1], variables={"model": "fraud",
                                                             "version": ["1", "2"]},
                              multi=query.multi)
    assert len(run(conn, whole.expand(query.sql))[1]) == 2


def test_a_quote_in_a_variable_value_cannot_break_out_of_the_literal(seeded: Any) -> None:
    conn, _data = seeded
    query = by_key("infersight-model/Top drifted features (selected range)")
    ctx = context(query, model="fraud' OR '1'='1")
    assert run(conn, ctx.expand(query.sql))[1] == []


def _seq_scans(plan: dict[str, Any], empty: frozenset[str] = frozenset()) -> list[str]:
    """The filters of the sequential scans of ``metric_points`` or any of its partitions
    (``metric_points_p20260301``, ``metric_points_default``) in ``plan``, but those of the
    ``empty`` partitions (the days ahead: the planner rightly scans an empty table)."""
    found = []
    relation = str(plan.get("Relation Name", ""))
    if plan.get("Node Type") == "Seq Scan" and relation not in empty and (
            relation == "metric_points" or relation.startswith("metric_points_")):
        found.append(plan.get("Filter", ""))
    for child in plan.get("Plans", []):
        found += _seq_scans(child, empty)
    return found


def _empty_partitions(conn: psycopg.Connection[Any]) -> frozenset[str]:
    return frozenset(name for (name,) in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'metric_points'::regclass AND c.reltuples <= 0"))


def test_the_plan_check_sees_a_sequential_scan(seeded: Any) -> None:
    conn, _data = seeded
    (plan_json,) = conn.execute("EXPLAIN (FORMAT JSON) SELECT * FROM metric_points").fetchone()
    scans = _seq_scans(plan_json[0]["Plan"])  # one per partition on a partitioned table
    assert scans and set(scans) == {""}


@pytest.mark.parametrize("query", [q for q in QUERIES if "metric_points" in q.sql],
                         ids=lambda q: q.key)
def test_one_day_range_reads_metric_points_through_an_index(seeded: Any, query: PanelQuery) -> None:
    conn, _data = seeded
    sql = context(query).expand(query.sql)
    (plan_json,) = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()  # type: ignore[arg-type]
    plan = plan_json[0]["Plan"]
    assert _seq_scans(plan, _empty_partitions(conn)) == [], json.dumps(plan, indent=1)


def test_seed_is_what_the_assertions_assume() -> None:
    data: SeedData = build_points()
    assert {p.model for p in data.points} == {"fraud", "churn", "price"}
    assert len(data.values("fraud", "count", version="1")) == DAYS * 24
