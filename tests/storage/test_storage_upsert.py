"""The bulk upsert helper: small and large batches (COPY path on Postgres) agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from infersight.storage.upsert import COPY_MIN_ROWS
from infersight.storage.windows import WindowStateRecord, load_window_states, upsert_window_states
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

T0 = datetime(2024, 2, 1, tzinfo=timezone(timedelta(hours=-5)))


def _states(model: str, n: int, fill: int) -> list[WindowStateRecord]:
    return [
        WindowStateRecord(model, "1", T0, T0 + timedelta(hours=1), f"p/{i:05d}", bytes([fill]) * 3,
                          i + fill)
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [3, COPY_MIN_ROWS + 10])
def test_small_and_large_batches_store_the_same_values(
    session: Session, unique_name: str, n: int
) -> None:
    assert upsert_window_states(session, _states(unique_name, n, 1)) == n
    session.commit()
    assert upsert_window_states(session, _states(unique_name, n, 2)) == n
    session.commit()
    stored = load_window_states(session, unique_name)
    assert len(stored) == n
    last = stored[-1]
    assert (last.partition_key, last.state, last.event_count) == (f"p/{n - 1:05d}", b"\x02" * 3,
                                                                  n + 1)
    assert last.window_start == T0 and last.window_end == T0 + timedelta(hours=1)
    assert last.window_start.utcoffset() == timedelta(0)


def test_a_large_batch_with_repeated_keys_keeps_the_last_row(
    session: Session, unique_name: str
) -> None:
    start = datetime(2024, 2, 1, tzinfo=UTC)
    records = [
        WindowStateRecord(
            unique_name,
            "1",
            start,
            start + timedelta(hours=1),
            f"p/{i % 7}",
            bytes([i % 256]) * 3,
            i,
        )
        for i in range(COPY_MIN_ROWS * 2)
    ]
    assert upsert_window_states(session, records) == 7
    session.commit()
    stored = {r.partition_key: r for r in load_window_states(session, unique_name)}
    last = records[-1]
    assert stored[last.partition_key].event_count == last.event_count
    assert stored[last.partition_key].state == last.state
    assert sorted(stored) == [f"p/{i}" for i in range(7)]


def test_a_large_batch_rolls_back_with_the_transaction_and_can_be_retried(
    sessions: sessionmaker[Session], unique_name: str
) -> None:
    records = _states(unique_name, COPY_MIN_ROWS + 1, 1)
    with sessions() as session:
        upsert_window_states(session, records)
        session.rollback()
        assert load_window_states(session, unique_name) == []
        upsert_window_states(session, records)
        upsert_window_states(session, records)  # twice in one transaction
        session.commit()
        assert len(load_window_states(session, unique_name)) == len(records)


def test_a_naive_timestamp_is_refused_in_large_batches_too(
    session: Session, unique_name: str
) -> None:
    records = _states(unique_name, COPY_MIN_ROWS + 1, 1)
    records[-1] = WindowStateRecord(unique_name, "1", datetime(2024, 1, 1), T0, "naive", b"", 0)
    with pytest.raises((StatementError, ValueError), match="naive datetime"):
        upsert_window_states(session, records)
    session.rollback()
