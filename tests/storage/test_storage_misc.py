"""Dead letters, watermarks, detector states and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infersight.storage.deadletters import (
    DeadLetterRecord,
    add_dead_letters,
    count_dead_letters,
    list_dead_letters,
)
from infersight.storage.detectors import load_detector_states, store_detector_states
from infersight.storage.labels import insert_predictions, lookup_predictions
from infersight.storage.retention import cutoff, purge_dead_letters, purge_prediction_index
from infersight.storage.watermarks import advance_watermarks, load_watermarks
from sqlalchemy.orm import Session

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_dead_letters_are_listed_newest_first_and_counted_by_reason(
    session: Session, unique_name: str
) -> None:
    records = [
        DeadLetterRecord(f"{unique_name}-bad_json", b"{", "Expecting value", "t", 0, 5, T0),
        DeadLetterRecord(
            f"{unique_name}-missing", b"{}", "no model", "t", 1, 6, T0 + timedelta(seconds=1)
        ),
        DeadLetterRecord(
            f"{unique_name}-missing", None, None, created_at=T0 + timedelta(seconds=2)
        ),
    ]
    assert add_dead_letters(session, records) == 3
    session.commit()
    newest = list_dead_letters(session, since=T0, limit=2)
    assert [(d.reason, d.payload) for d in newest] == [
        (f"{unique_name}-missing", None),
        (f"{unique_name}-missing", b"{}"),
    ]
    [bad_json] = list_dead_letters(session, reason=f"{unique_name}-bad_json")
    assert (bad_json.topic, bad_json.partition, bad_json.offset) == ("t", 0, 5)
    assert bad_json.created_at == T0
    counts = count_dead_letters(session, since=T0)
    assert counts[f"{unique_name}-bad_json"] == 1 and counts[f"{unique_name}-missing"] == 2


def test_watermarks_only_move_forward(session: Session, unique_name: str) -> None:
    other = f"{unique_name}-b"
    advance_watermarks(session, {unique_name: T0, other: T0})
    session.commit()
    advance_watermarks(
        session, {unique_name: T0 - timedelta(hours=1), other: T0 + timedelta(minutes=1)}
    )
    session.commit()
    assert load_watermarks(session, [unique_name, other]) == {
        unique_name: T0,
        other: T0 + timedelta(minutes=1),
    }


def test_detector_states_are_replaced_per_detector(session: Session, unique_name: str) -> None:
    store_detector_states(
        session, {(unique_name, "1", "ddm"): {"n": 1}, (unique_name, "2", "adwin"): [1, 2]}
    )
    session.commit()
    store_detector_states(session, {(unique_name, "1", "ddm"): {"n": 2, "p": 0.1}})
    session.commit()
    assert load_detector_states(session, unique_name) == {
        (unique_name, "1", "ddm"): {"n": 2, "p": 0.1},
        (unique_name, "2", "adwin"): [1, 2],
    }
    assert list(load_detector_states(session, unique_name, "2")) == [(unique_name, "2", "adwin")]


def test_retention_purges_only_what_is_older_than_the_cutoff(
    session: Session, unique_name: str
) -> None:
    # Long before every other test's timestamps: the purge must not touch their rows.
    now = datetime(2001, 6, 1, tzinfo=UTC)
    days_ago = [40, 31, 29, 1]
    insert_predictions(
        session,
        [
            {
                "model": unique_name, "prediction_id": f"d{d}", "version": "1",
                "window_start": now - timedelta(days=d), "ts": now - timedelta(days=d),
                "prediction": 0.5,
            }
            for d in days_ago
        ],
    )
    add_dead_letters(
        session,
        [
            DeadLetterRecord(f"{unique_name}-r", created_at=now - timedelta(days=d))
            for d in days_ago
        ],
    )
    session.commit()
    limit = cutoff(30 * 86400, now=now)
    assert purge_prediction_index(session, limit) == 2
    assert purge_dead_letters(session, limit) == 2
    session.commit()
    kept = lookup_predictions(session, [(unique_name, f"d{d}") for d in days_ago])
    assert sorted(pid for _, pid in kept) == ["d1", "d29"]
    assert count_dead_letters(session).get(f"{unique_name}-r") == 2
