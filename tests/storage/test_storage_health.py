"""Health-state rows share the window-state functions; the stale-window sweep finds windows
that only have health states; price revisions and cost recomputations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from infersight.storage.models import HealthState
from infersight.storage.prices import (
    add_price_revision,
    health_windows,
    price_history,
    price_in_force,
    recomputed_price,
    record_recomputations,
)
from infersight.storage.windows import (
    WindowStateRecord,
    find_window_states,
    load_window,
    stale_windows,
    upsert_window_states,
)
from sqlalchemy.orm import Session, sessionmaker

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _record(model: str, partition: str = "events/0") -> WindowStateRecord:
    return WindowStateRecord(model, "1", START, START + timedelta(minutes=1), partition,
                             b"state", 3)


def test_health_rows_round_trip_apart_from_window_states(session: Session,
                                                         unique_name: str) -> None:
    upsert_window_states(session, [_record(unique_name), _record(unique_name, "events/1")],
                         HealthState)
    assert len(load_window(session, unique_name, "1", START, HealthState)) == 2
    assert load_window(session, unique_name, "1", START) == []
    key = (unique_name, "1", START, "events/0")
    assert find_window_states(session, [key], HealthState)[key].event_count == 3
    assert health_windows(session, unique_name, START, START + timedelta(hours=1)) == [
        ("1", START)]


def test_the_sweep_finds_health_only_windows_until_request_count_is_written(
    sessions: sessionmaker[Session], unique_name: str
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    with sessions.begin() as session:
        upsert_window_states(session, [_record(unique_name)], HealthState)
    with sessions() as session:
        assert (unique_name, "1", START) in stale_windows(session, since, margin_s=0.0)
    point = MetricPointRecord(unique_name, "1", START, START + timedelta(minutes=1), None,
                              "request_count", 3.0, 3,
                              evaluated_at=datetime.now(UTC) + timedelta(seconds=1))
    with sessions.begin() as session:
        upsert_metric_points(session, [point])
    with sessions() as session:
        assert (unique_name, "1", START) not in stale_windows(session, since, margin_s=0.0)


def test_price_history_and_recomputations(session: Session, unique_name: str) -> None:
    add_price_revision(session, unique_name, START + timedelta(hours=1), {"per_request": 2.0})
    add_price_revision(session, unique_name, START, {"per_request": 1.0})
    history = price_history(session, unique_name)
    assert [p["per_request"] for _s, p in history] == [1.0, 2.0]
    assert price_in_force(history, START - timedelta(seconds=1)) is None
    assert price_in_force(history, START + timedelta(minutes=59)) == history[0]
    assert recomputed_price(session, unique_name, "1", START) is None
    record_recomputations(session, unique_name, [("1", START, START + timedelta(hours=1))])
    assert recomputed_price(session, unique_name, "1", START) == {"per_request": 2.0}
