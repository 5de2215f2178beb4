"""Drift ranking: the merged state of the range's window states, compared once.

The expected report is computed here independently: every stored window state of the
range is loaded and merged by hand and :func:`infersight.drift.compare` is run on it.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from infersight.collector.api.rollup_maintainer import refresh_rollups
from infersight.collector.api.rollups import (
    LEVELS,
    bucket_signature,
    fine_signatures,
    plan_range,
    range_signatures,
)
from infersight.drift import Reference, compare
from infersight.storage.registry import set_reference
from infersight.storage.rollups import WindowRollup
from infersight.storage.windows import WindowStateRecord, load_window_states, upsert_window_states
from sqlalchemy import func, select

from tests.api.conftest import Api, serve

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
PARTITIONS = ("infersight.events/0", "infersight.events/1")


def _reference(seed: int = 0) -> Reference:
    rng = np.random.default_rng(seed)
    n = 3000
    return Reference.from_data(
        {"x": rng.normal(0, 1, n), "y": rng.exponential(2, n), "z": rng.normal(5, 2, n),
         "colour": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])},
        predictions=rng.random(n), labels=rng.integers(0, 2, n))


def _window(ref: Reference, rng: np.random.Generator, drift: float, rows: int = 15) -> bytes:
    state = ref.new_window()
    state.update({"x": rng.normal(drift, 1, rows), "y": rng.exponential(2 + drift, rows),
                  "z": rng.normal(5, 2, rows),
                  "colour": rng.choice(["red", "green", "blue"], rows, p=[0.2, 0.3, 0.5]
                                       if drift else [0.5, 0.3, 0.2])},
                 predictions=rng.random(rows))
    return bytes(state.to_bytes())


def _seed(api: Api, model: str, ref: Reference, minutes: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    records = []
    for m in range(minutes):
        start = T0 + m * MINUTE
        drift = 1.0 if m >= minutes // 2 else 0.0
        for pkey in PARTITIONS:
            records.append(WindowStateRecord(model, "1", start, start + MINUTE, pkey,
                                             _window(ref, rng, drift), 15))
    with api.sessions.begin() as session:
        set_reference(session, model, "1", ref.to_bytes())
        upsert_window_states(session, records)


def _expected(api: Api, model: str, ref: Reference, start: datetime, end: datetime) -> Any:
    with api.sessions() as session:
        rows = load_window_states(session, model, version="1", start=start, end=end)
    merged = ref.new_window()
    for row in rows:
        merged.merge(ref.window_from_bytes(row.state))
    return compare(ref, merged), len(rows)


def _close(a: float | None, b: float) -> bool:
    if a is None:
        return not math.isfinite(b)
    return a == pytest.approx(b, rel=1e-9, abs=1e-12)


def _check(answer: dict[str, Any], report: Any, rows: int) -> None:
    (version,) = answer["versions"]
    assert version["merge"]["window_rows"] == rows
    assert version["events"] == rows * 15
    assert version["drift_share"] == pytest.approx(report.drift_share)
    features = {f["feature"]: f for f in version["features"]}
    assert set(features) == set(report.details)
    for name, detail in report.details.items():
        got = features[name]
        assert got["drifted"] == detail.drifted, name
        assert set(got["metrics"]) == set(detail.metrics), name
        assert all(_close(got["metrics"][k], v) for k, v in detail.metrics.items()), name
    order = sorted(report.details, key=lambda n: (not report.details[n].drifted,
                                                   -report.details[n].metrics.get("psi", -1), n))
    assert [f["feature"] for f in version["features"]] == order
    assert [f["rank"] for f in version["features"]] == list(range(1, len(order) + 1))
    assert sorted(version["drifted_features"]) == sorted(report.drifted_features())
    assert version["prediction"]["metrics"]["psi"] == pytest.approx(report.prediction["psi"])


def test_ranking_is_compare_on_the_merged_window_states(api: Api) -> None:
    ref = _reference()
    _seed(api, "fraud", ref, minutes=150)
    start, end = T0 + 37 * MINUTE, T0 + 141 * MINUTE
    response = api.get("/v1/models/fraud/drift",
                       params={"start": start.isoformat(), "end": end.isoformat()})
    assert response.status_code == 200, response.text
    report, rows = _expected(api, "fraud", ref, start, end)
    assert rows == 104 * 2
    _check(response.json(), report, rows)
    assert response.json()["versions"][0]["features"][0]["feature"] in ("x", "y", "colour")
    # a range holding only undrifted windows ranks nothing as drifted
    calm = api.get("/v1/models/fraud/drift", params={
        "start": T0.isoformat(), "end": (T0 + 60 * MINUTE).isoformat()}).json()
    report, rows = _expected(api, "fraud", ref, T0, T0 + 60 * MINUTE)
    _check(calm, report, rows)


def test_rollups_give_the_same_answer_from_far_fewer_states(api: Api) -> None:
    ref = _reference()
    _seed(api, "fraud", ref, minutes=200)
    written = refresh_rollups(api.sessions, "fraud", lambda _s, _v: ref,
                              now=T0 + timedelta(days=1))
    assert written > 0
    start, end = T0 + 7 * MINUTE, T0 + 195 * MINUTE
    answer = api.get("/v1/models/fraud/drift",
                     params={"start": start.isoformat(), "end": end.isoformat()}).json()
    merge = answer["versions"][0]["merge"]
    report, rows = _expected(api, "fraud", ref, start, end)
    _check(answer, report, rows)
    assert merge["rollups_used"] >= 3 and merge["raw_rows_read"] <= 2 * 2 * 9

    # a late event rewrites one window inside a rolled-up hour: that rollup is stale now
    rng = np.random.default_rng(99)
    late = T0 + 70 * MINUTE
    with api.sessions.begin() as session:
        upsert_window_states(session, [WindowStateRecord(
            "fraud", "1", late, late + MINUTE, PARTITIONS[0], _window(ref, rng, 3.0, 400), 400)])
    fresh = api.get("/v1/models/fraud/drift",
                    params={"start": start.isoformat(), "end": end.isoformat()}).json()
    report, rows = _expected(api, "fraud", ref, start, end)
    _check_events_free(fresh, report, rows)
    assert fresh["versions"][0]["merge"]["cached_rollups"] > 0  # the unchanged ones
    assert fresh["versions"][0]["merge"]["raw_rows_read"] > merge["raw_rows_read"]


def test_days_are_read_whole_and_a_stale_day_is_split(api: Api) -> None:
    """A multi-day range reads the signatures of its whole days by day: each piece's
    signature is the one its finest buckets give, also for pieces that cut a day (the day
    is then read by finest bucket), and a late event in a rolled-up day splits it."""
    ref = _reference()
    rng = np.random.default_rng(3)
    records = []
    for h in range(0, 9 * 24, 3):  # a window every 3 hours for 9 days
        start = T0 + timedelta(hours=h, minutes=h % 7)
        for pkey in PARTITIONS:
            records.append(WindowStateRecord("fraud", "1", start, start + MINUTE, pkey,
                                             _window(ref, rng, 1.0 if h > 100 else 0.0), 15))
    with api.sessions.begin() as session:
        set_reference(session, "fraud", "1", ref.to_bytes())
        upsert_window_states(session, records)
    refresh_rollups(api.sessions, "fraud", lambda _s, _v: ref, now=T0 + timedelta(days=30))
    start, end = T0 + timedelta(hours=5, minutes=13), T0 + timedelta(days=8, hours=7, minutes=41)
    with api.sessions() as session:
        fine = fine_signatures(session, "fraud", start, end)["1"]
        split = range_signatures(session, "fraud", start, end)["1"]
        assert split.days and (split.first, split.last) == (min(fine), max(fine))
        for piece in [*plan_range(start, end), *plan_range(start, end, LEVELS[2:])]:
            assert split.signature(piece.start, piece.end) == bucket_signature(
                fine, piece.start, piece.end), piece
    params = {"start": start.isoformat(), "end": end.isoformat()}
    answer = api.get("/v1/models/fraud/drift", params=params).json()
    report, rows = _expected(api, "fraud", ref, start, end)
    _check(answer, report, rows)
    assert answer["versions"][0]["merge"]["rollups_used"] >= 5

    late = T0 + timedelta(days=3, hours=4, minutes=2)  # inside a rolled-up day
    with api.sessions.begin() as session:
        upsert_window_states(session, [WindowStateRecord(
            "fraud", "1", late, late + MINUTE, PARTITIONS[1], _window(ref, rng, 3.0, 400), 400)])
    fresh = api.get("/v1/models/fraud/drift", params=params).json()
    report, rows = _expected(api, "fraud", ref, start, end)
    _check_events_free(fresh, report, rows)
    assert fresh["versions"][0]["merge"]["raw_rows_read"] > answer["versions"][0]["merge"][
        "raw_rows_read"]


def _check_events_free(answer: dict[str, Any], report: Any, rows: int) -> None:
    version = answer["versions"][0]
    assert version["merge"]["window_rows"] == rows
    assert version["events"] == int(report.model["count"])
    for feature in version["features"]:
        detail = report.details[feature["feature"]]
        assert feature["drifted"] == detail.drifted
        assert all(_close(feature["metrics"][k], v) for k, v in detail.metrics.items())


def test_states_of_a_replaced_reference_are_skipped_and_counted(api: Api) -> None:
    old = _reference(seed=0)
    _seed(api, "m", old, minutes=10)
    new = _reference(seed=5)
    with api.sessions.begin() as session:
        set_reference(session, "m", "1", new.to_bytes())
    answer = api.get("/v1/models/m/drift", params={
        "start": T0.isoformat(), "end": (T0 + 10 * MINUTE).isoformat()}).json()
    version = answer["versions"][0]
    assert version["merge"]["skipped_states"] == 20 and version["events"] == 0


def test_versions_without_a_reference_are_listed_apart(api: Api) -> None:
    ref = _reference()
    _seed(api, "m", ref, minutes=3)
    with api.sessions.begin() as session:
        upsert_window_states(session, [WindowStateRecord(
            "m", "2", T0, T0 + MINUTE, PARTITIONS[0], _window(ref, np.random.default_rng(1), 0), 15)])
    answer = api.get("/v1/models/m/drift", params={
        "start": T0.isoformat(), "end": (T0 + 3 * MINUTE).isoformat(), "limit": 2}).json()
    assert [v["version"] for v in answer["versions"]] == ["1"]
    assert answer["versions_without_reference"] == ["2"]
    assert len(answer["versions"][0]["features"]) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-03-01T12:00:00Z", "end": "2026-03-01T11:00:00Z"}, "query.end"),
        ({"start": "2026-03-01T12:00:00"}, "query.start"),
        ({"start": "yesterday"}, "query.start"),
        ({"rank_by": "vibes"}, "query.rank_by"),
        ({"limit": 0}, "query.limit"),
    ],
)
def test_bad_ranges_are_422_naming_the_parameter(sqlite_api: Api, params: dict, field: str) -> None:
    sqlite_api.put("/v1/models/m", json={})
    response = sqlite_api.get("/v1/models/m/drift", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["problems"][0]["field"] == field


def test_the_api_maintains_rollups_in_the_background(sqlite_url: str) -> None:
    with serve(sqlite_url, api_rollups=True, api_rollup_interval="0.2s") as api:
        ref = _reference()
        _seed(api, "fraud", ref, minutes=70)
        deadline = time.monotonic() + 30
        while True:
            with api.sessions() as session:
                built = session.scalar(select(func.count()).select_from(WindowRollup))
            if built and built >= 12:  # 7 ten-minute buckets, 2 hours, 6 h, day, week
                break
            assert time.monotonic() < deadline, f"only {built} rollups after 30 s"
            time.sleep(0.2)
        start, end = T0, T0 + 70 * MINUTE
        answer = api.get("/v1/models/fraud/drift",
                         params={"start": start.isoformat(), "end": end.isoformat()}).json()
        assert answer["versions"][0]["merge"]["rollups_used"] == 2  # the hour + 10 minutes
        report, rows = _expected(api, "fraud", ref, start, end)
        _check(answer, report, rows)


def test_unexpected_features_of_the_range_are_listed_with_their_rows(api: Api) -> None:
    ref = _reference()
    rng = np.random.default_rng(4)
    records, carried = [], {"device": 0, "zip_code": 0}
    for m in range(90):
        start = T0 + m * MINUTE
        state = ref.new_window()
        batch: dict[str, Any] = {"x": rng.normal(0, 1, 15), "y": rng.exponential(2, 15),
                                 "z": rng.normal(5, 2, 15), "colour": ["red"] * 15}
        if 20 <= m < 60:  # a client sent two columns the reference never had
            batch["device"] = [None if i % 3 else "ios" for i in range(15)]
            batch["zip_code"] = ["75001"] * 15
            if m < 50:
                carried["device"] += 5
                carried["zip_code"] += 15
        state.update(batch, predictions=rng.random(15))
        records.append(WindowStateRecord("fraud", "1", start, start + MINUTE, PARTITIONS[0],
                                         bytes(state.to_bytes()), 15))
    with api.sessions.begin() as session:
        set_reference(session, "fraud", "1", ref.to_bytes())
        upsert_window_states(session, records)
    refresh_rollups(api.sessions, "fraud", lambda _s, _v: ref, now=T0 + timedelta(days=1))
    answer = api.get("/v1/models/fraud/drift", params={
        "start": T0.isoformat(), "end": (T0 + 50 * MINUTE).isoformat()}).json()
    (version,) = answer["versions"]
    assert version["unexpected_features"] == [
        {"feature": "zip_code", "rows": carried["zip_code"]},
        {"feature": "device", "rows": carried["device"]}]
    report, _rows = _expected(api, "fraud", ref, T0, T0 + 50 * MINUTE)
    assert report.unexpected == carried
    calm = api.get("/v1/models/fraud/drift", params={
        "start": (T0 + 60 * MINUTE).isoformat(), "end": (T0 + 90 * MINUTE).isoformat()}).json()
    assert calm["versions"][0]["unexpected_features"] == []
