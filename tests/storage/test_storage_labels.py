"""The label join's storage: predictions are indexed once, labels wait for them either way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from infersight.storage.labels import (
    add_pending_labels,
    claimable_pending_labels,
    expire_pending_labels,
    insert_predictions,
    lookup_predictions,
    mark_labelled,
    take_pending_labels,
    take_pending_labels_of_incoming,
)
from infersight.storage.upsert import COPY_MIN_ROWS
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
W0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
RECEIVED = datetime(2024, 6, 1, 13, tzinfo=UTC)


def _prediction(model: str, pid: str, score: float = 0.9, **changes: Any) -> dict[str, Any]:
    row = {
        "model": model, "prediction_id": pid, "version": "1", "window_start": W0,
        "ts": T0, "prediction": {"label": 1, "score": score, "probs": [score, 1 - score]},
    }
    return row | changes


def _label(
    model: str, pid: str, label: object = 1, received_at: datetime = RECEIVED
) -> dict[str, Any]:
    return {
        "model": model, "prediction_id": pid, "label": label,
        "ts": T0 + timedelta(minutes=5), "received_at": received_at,
    }


@pytest.mark.parametrize("n", [3, COPY_MIN_ROWS + 10])
def test_a_prediction_is_indexed_once_and_redelivery_is_reported(
    session: Session, unique_name: str, n: int
) -> None:
    first = [_prediction(unique_name, f"id{i}", 0.25, ts=T0 + timedelta(seconds=i))
             for i in range(n)]
    assert insert_predictions(session, first) == {(unique_name, f"id{i}") for i in range(n)}
    session.commit()
    again = [_prediction(unique_name, f"id{i}", 0.75) for i in range(n)]
    again.append(_prediction(unique_name, "fresh"))
    assert insert_predictions(session, again) == {(unique_name, "fresh")}
    session.commit()

    found = lookup_predictions(session, [(unique_name, f"id{i}") for i in range(n)])
    assert len(found) == n
    last = found[(unique_name, f"id{n - 1}")]  # the first delivery is kept, never overwritten
    assert last.prediction == {"label": 1, "score": 0.25, "probs": [0.25, 0.75]}
    assert last.ts == T0 + timedelta(seconds=n - 1) and last.ts.utcoffset() == timedelta(0)
    assert (last.version, last.window_start, last.label, last.labelled) == ("1", W0, None, False)


def test_label_after_prediction_is_marked_on_the_index(session: Session, unique_name: str) -> None:
    insert_predictions(session, [_prediction(unique_name, "a"), _prediction(unique_name, "b")])
    session.commit()
    found = lookup_predictions(session, [(unique_name, "a"), (unique_name, "zz")])
    assert list(found) == [(unique_name, "a")]
    mark_labelled(session, [(unique_name, "a", 0), (unique_name, "unindexed", 1)], RECEIVED)
    session.commit()

    found = lookup_predictions(session, [(unique_name, "a"), (unique_name, "b")])
    assert (found[(unique_name, "a")].label, found[(unique_name, "a")].labelled) == (0, True)
    assert (found[(unique_name, "b")].label, found[(unique_name, "b")].labelled) == (None, False)
    assert set(lookup_predictions(session, [(unique_name, "unindexed")])) == set()


def test_label_before_prediction_waits_and_is_taken_by_it(
    session: Session, unique_name: str
) -> None:
    add_pending_labels(session, [_label(unique_name, "late", "cat")])
    add_pending_labels(session, [_label(unique_name, "late", "dog")])  # the first one stays
    session.commit()

    new = insert_predictions(
        session, [_prediction(unique_name, "late"), _prediction(unique_name, "other")]
    )
    taken = take_pending_labels_of_incoming(session, sorted(new))
    session.commit()
    assert taken == {(unique_name, "late"): ("cat", T0 + timedelta(minutes=5))}
    assert take_pending_labels(session, [(unique_name, "late")]) == {}


def test_raced_labels_are_claimable_once_their_prediction_is_indexed(
    session: Session, unique_name: str
) -> None:
    add_pending_labels(session, [_label(unique_name, "raced"), _label(unique_name, "waiting")])
    session.commit()
    # The prediction was indexed by a transaction that did not see the pending label.
    insert_predictions(session, [_prediction(unique_name, "raced")])
    session.commit()
    mine = [key for key in claimable_pending_labels(session) if key[0] == unique_name]
    assert mine == [(unique_name, "raced")]
    assert list(take_pending_labels(session, mine)) == [(unique_name, "raced")]
    session.commit()
    assert [k for k in claimable_pending_labels(session) if k[0] == unique_name] == []


def test_pending_labels_expire_by_received_time(session: Session, unique_name: str) -> None:
    old_time = datetime(2001, 1, 1, tzinfo=UTC)  # before every other test's labels
    add_pending_labels(
        session,
        [
            _label(unique_name, "old", 1, received_at=old_time),
            _label(unique_name, "new", 1, received_at=old_time + timedelta(days=10)),
        ],
    )
    session.commit()
    expired = expire_pending_labels(session, old_time + timedelta(days=1))
    session.commit()
    assert [(m, pid, label) for m, pid, label, _ts in expired] == [(unique_name, "old", 1)]
    remaining = take_pending_labels(session, [(unique_name, "old"), (unique_name, "new")])
    assert list(remaining) == [(unique_name, "new")]


def test_bulk_join_over_many_ids_and_models(session: Session, unique_name: str) -> None:
    other = f"{unique_name}-b"
    keys = [(m, f"p{i}") for m in (unique_name, other) for i in range(1500)]
    assert len(insert_predictions(session, [_prediction(m, pid) for m, pid in keys])) == 3000
    session.commit()
    asked = [(m, f"p{i}") for m in (unique_name, other) for i in range(0, 1600, 2)]
    found = lookup_predictions(session, asked)
    assert len(found) == 2 * 750
    add_pending_labels(session, [_label(m, pid) for m, pid in asked if (m, pid) not in found])
    mark_labelled(session, [(m, pid, 1) for m, pid in found], RECEIVED)
    session.commit()
    labelled = lookup_predictions(session, keys)
    assert sum(1 for p in labelled.values() if p.labelled) == 1500
    assert len(take_pending_labels(session, asked)) == 2 * 50


def test_a_failed_batch_rolls_back_and_can_be_retried(
    sessions: sessionmaker[Session], unique_name: str
) -> None:
    rows = [_prediction(unique_name, f"id{i}") for i in range(COPY_MIN_ROWS + 1)]
    with sessions() as session:
        assert len(insert_predictions(session, rows)) == len(rows)
        session.rollback()
        assert lookup_predictions(session, [(unique_name, "id0")]) == {}
        assert len(insert_predictions(session, rows)) == len(rows)
        assert insert_predictions(session, rows) == set()  # twice in one transaction
        session.commit()
        keys = [(unique_name, r["prediction_id"]) for r in rows]
        assert len(lookup_predictions(session, keys)) == len(rows)


def test_a_naive_timestamp_is_refused(session: Session, unique_name: str) -> None:
    rows = [_prediction(unique_name, f"id{i}") for i in range(COPY_MIN_ROWS + 1)]
    rows.append(_prediction(unique_name, "naive", ts=datetime(2024, 1, 1)))
    with pytest.raises((StatementError, ValueError), match="naive datetime"):
        insert_predictions(session, rows)
    session.rollback()
