"""Window states: bulk upsert replaces a partition's row; range loads select [start, end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infersight.storage.models import WindowState
from infersight.storage.windows import (
    WindowStateRecord,
    find_window_states,
    load_window,
    load_window_states,
    read_window_states,
    upsert_window_states,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

HOUR = timedelta(hours=1)
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _record(model: str, hour: int, partition: str, state: bytes, count: int) -> WindowStateRecord:
    start = T0 + hour * HOUR
    return WindowStateRecord(model, "1", start, start + HOUR, partition, state, count)


def _rows(session: Session, model: str) -> int:
    query = select(func.count()).select_from(WindowState).where(WindowState.model == model)
    return session.execute(query).scalar_one()


def test_upsert_replaces_a_partitions_state_without_duplicating_it(
    session: Session, unique_name: str
) -> None:
    upsert_window_states(session, [_record(unique_name, 0, "infersight.events/0", b"a", 1)])
    session.commit()
    upsert_window_states(session, [_record(unique_name, 0, "infersight.events/0", b"ab", 2)])
    session.commit()

    [stored] = load_window_states(session, unique_name)
    assert (stored.state, stored.event_count) == (b"ab", 2)
    assert _rows(session, unique_name) == 1


def test_each_partition_and_label_stream_keeps_its_own_row(
    session: Session, unique_name: str
) -> None:
    records = [
        _record(unique_name, 0, "infersight.events/0", b"e0", 5),
        _record(unique_name, 0, "infersight.events/1", b"e1", 7),
        _record(unique_name, 0, "infersight.labels/0", b"l0", 2),
    ]
    assert upsert_window_states(session, records) == 3
    session.commit()
    window = load_window(session, unique_name, "1", T0)
    assert [(r.partition_key, r.state) for r in window] == [
        ("infersight.events/0", b"e0"),
        ("infersight.events/1", b"e1"),
        ("infersight.labels/0", b"l0"),
    ]
    assert sum(r.event_count for r in window) == 14


def test_range_load_is_half_open_and_filters_version_and_partitions(
    session: Session, unique_name: str
) -> None:
    records = [_record(unique_name, hour, f"p/{hour % 2}", b"x", hour) for hour in range(6)]
    other_version = WindowStateRecord(unique_name, "2", T0 + HOUR, T0 + 2 * HOUR, "p/1", b"v2", 9)
    upsert_window_states(session, [*records, other_version])
    session.commit()

    in_range = load_window_states(session, unique_name, start=T0 + HOUR, end=T0 + 4 * HOUR)
    assert [(r.version, r.window_start) for r in in_range] == [
        ("1", T0 + HOUR),
        ("1", T0 + 2 * HOUR),
        ("1", T0 + 3 * HOUR),
        ("2", T0 + HOUR),
    ]
    only_v1 = load_window_states(
        session, unique_name, version="1", start=T0 + HOUR, end=T0 + 4 * HOUR
    )
    assert len(only_v1) == 3
    partition_one = load_window_states(session, unique_name, version="1", partition_keys=["p/1"])
    assert [r.window_start for r in partition_one] == [T0 + HOUR, T0 + 3 * HOUR, T0 + 5 * HOUR]
    assert all(r.window_end == r.window_start + HOUR for r in in_range)
    assert all(r.updated_at is not None and r.updated_at.tzinfo is not None for r in in_range)


def test_thousands_of_rows_in_one_call(session: Session, unique_name: str) -> None:
    records = [
        _record(unique_name, hour, f"infersight.events/{p}", bytes([p]) * 100, hour)
        for hour in range(500)
        for p in range(6)
    ]
    assert upsert_window_states(session, records) == 3000
    assert upsert_window_states(session, records) == 3000
    session.commit()
    assert _rows(session, unique_name) == 3000


def test_empty_input_writes_nothing(session: Session, unique_name: str) -> None:
    assert upsert_window_states(session, []) == 0
    assert load_window_states(session, unique_name) == []


def test_states_are_found_by_key_across_many_keys(session: Session, unique_name: str) -> None:
    records = [_record(unique_name, hour, f"p/{i}", bytes([i % 256]), i) for hour in (0, 1)
               for i in range(700)]
    upsert_window_states(session, records)
    session.commit()
    keys = [(r.model, r.version, r.window_start, r.partition_key) for r in records]
    missing = (unique_name, "1", T0, "p/absent")
    found = find_window_states(session, [*keys, missing, keys[0]])
    assert sorted(found) == sorted(keys)
    one = found[(unique_name, "1", T0 + HOUR, "p/7")]
    assert (one.state, one.event_count, one.window_end) == (b"\x07", 7, T0 + 2 * HOUR)
    assert one.updated_at is not None



def test_raw_states_are_read_over_several_half_open_ranges(session: Session, unique_name: str) -> None:
    upsert_window_states(session, [_record(unique_name, h, "p0", bytes([h]), 1) for h in range(5)])
    ranges = [(T0, T0 + HOUR), (T0 + 2 * HOUR, T0 + 4 * HOUR)]
    rows = read_window_states(session, unique_name, "1", ranges)
    assert sorted((ws, state) for ws, state in rows) == [
        (T0, b"\x00"), (T0 + 2 * HOUR, b"\x02"), (T0 + 3 * HOUR, b"\x03")]
