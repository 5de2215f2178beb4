"""The bulk upsert helper: small and large batches (COPY path on Postgres) agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from infersight.storage.labels import PredictionRecord, find_predictions, index_predictions
from infersight.storage.upsert import COPY_MIN_ROWS
from infersight.storage.windows import WindowStateRecord, load_window_states, upsert_window_states
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

T0 = datetime(2024, 2, 1, tzinfo=timezone(timedelta(hours=-5)))


def _predictions(model: str, n: int, score: float) -> list[PredictionRecord]:
    return [
        PredictionRecord(
            model,
            f"id{i}",
            "1",
            T0,
            T0 + timedelta(seconds=i),
            {"label": "yes", "score": score, "probs": [score, 1 - score]},
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [3, COPY_MIN_ROWS + 10])
def test_small_and_large_batches_store_the_same_values(
    session: Session, unique_name: str, n: int
) -> None:
    index_predictions(session, _predictions(unique_name, n, 0.25))
    session.commit()
    index_predictions(session, _predictions(unique_name, n, 0.75))
    session.commit()
    found = find_predictions(session, [(unique_name, f"id{i}") for i in range(n)])
    assert len(found) == n
    last = found[(unique_name, f"id{n - 1}")]
    assert last.prediction == {"label": "yes", "score": 0.75, "probs": [0.75, 0.25]}
    assert last.ts == T0 + timedelta(seconds=n - 1)
    assert last.ts.tzinfo is not None and last.ts.utcoffset() == timedelta(0)
    assert last.window_start == T0


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
    records = _predictions(unique_name, COPY_MIN_ROWS + 1, 0.5)
    with sessions() as session:
        index_predictions(session, records)
        session.rollback()
        assert find_predictions(session, [(unique_name, "id0")]) == {}
        index_predictions(session, records)
        index_predictions(session, records)  # twice in one transaction
        session.commit()
        assert len(find_predictions(session, [r.key for r in records])) == len(records)


def test_a_naive_timestamp_is_refused_in_large_batches_too(
    session: Session, unique_name: str
) -> None:
    records = _predictions(unique_name, COPY_MIN_ROWS + 1, 0.5)
    records[-1] = PredictionRecord(unique_name, "naive", "1", T0, datetime(2024, 1, 1), 0.5)
    with pytest.raises((StatementError, ValueError), match="naive datetime"):
        index_predictions(session, records)
    session.rollback()
