"""The label join: labels meet predictions in either order, replays change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infersight.storage.labels import (
    LabelRecord,
    PredictionRecord,
    add_pending_labels,
    expire_pending_labels,
    find_predictions,
    index_predictions,
    index_predictions_and_claim_labels,
    join_labels,
    take_pending_labels,
)
from sqlalchemy.orm import Session

T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
W0 = datetime(2024, 6, 1, 12, tzinfo=UTC)


def _prediction(model: str, pid: str, score: float = 0.9) -> PredictionRecord:
    return PredictionRecord(model, pid, "1", W0, T0, {"label": 1, "score": score})


def _label(model: str, pid: str, label: object = 1, minutes: int = 5) -> LabelRecord:
    return LabelRecord(model, pid, label, T0 + timedelta(minutes=minutes))


def test_label_after_prediction_is_joined(session: Session, unique_name: str) -> None:
    index_predictions(session, [_prediction(unique_name, "a"), _prediction(unique_name, "b")])
    session.commit()

    joined = join_labels(session, [_label(unique_name, "a", 0)])
    session.commit()
    assert joined.pending == []
    [(prediction, previous)] = joined.matched
    assert (prediction.prediction_id, prediction.label, previous) == ("a", 0, None)
    assert prediction.prediction == {"label": 1, "score": 0.9}

    found = find_predictions(session, [(unique_name, "a"), (unique_name, "b"), (unique_name, "zz")])
    assert set(found) == {(unique_name, "a"), (unique_name, "b")}
    assert found[(unique_name, "a")].label == 0
    assert found[(unique_name, "a")].labelled_at == T0 + timedelta(minutes=5)
    assert found[(unique_name, "b")].label is None


def test_a_repeated_label_reports_the_label_it_replaces(session: Session, unique_name: str) -> None:
    index_predictions(session, [_prediction(unique_name, "a")])
    join_labels(session, [_label(unique_name, "a", 1)])
    session.commit()
    again = join_labels(session, [_label(unique_name, "a", 1)])
    assert [(p.label, previous) for p, previous in again.matched] == [(1, 1)]


def test_label_before_prediction_waits_and_is_claimed(session: Session, unique_name: str) -> None:
    early = join_labels(session, [_label(unique_name, "late-pred", "cat")])
    session.commit()
    assert early.matched == [] and [label.prediction_id for label in early.pending] == ["late-pred"]

    claimed = index_predictions_and_claim_labels(
        session, [_prediction(unique_name, "late-pred"), _prediction(unique_name, "other")]
    )
    session.commit()
    assert [(p.prediction_id, p.label, prev) for p, prev in claimed.matched] == [
        ("late-pred", "cat", None)
    ]
    assert (
        find_predictions(session, [(unique_name, "late-pred")])[(unique_name, "late-pred")].label
        == "cat"
    )
    assert take_pending_labels(session, [(unique_name, "late-pred")]) == {}


def test_replaying_a_prediction_keeps_its_label(session: Session, unique_name: str) -> None:
    index_predictions(session, [_prediction(unique_name, "a", 0.2)])
    join_labels(session, [_label(unique_name, "a", 1)])
    session.commit()
    index_predictions(
        session, [_prediction(unique_name, "a", 0.2), _prediction(unique_name, "a", 0.3)]
    )
    session.commit()
    stored = find_predictions(session, [(unique_name, "a")])[(unique_name, "a")]
    assert (stored.label, stored.prediction["score"]) == (1, 0.3)


def test_pending_labels_expire_by_received_time(session: Session, unique_name: str) -> None:
    old_time = datetime(2024, 1, 1, tzinfo=UTC)
    add_pending_labels(session, [_label(unique_name, "old")], received_at=old_time)
    add_pending_labels(
        session, [_label(unique_name, "new")], received_at=old_time + timedelta(days=10)
    )
    session.commit()
    expired = expire_pending_labels(session, received_before=old_time + timedelta(days=1))
    session.commit()
    mine = [label for label in expired if label.model == unique_name]
    assert [(label.prediction_id, label.label) for label in mine] == [("old", 1)]
    remaining = take_pending_labels(session, [(unique_name, "old"), (unique_name, "new")])
    assert list(remaining) == [(unique_name, "new")]


def test_bulk_join_over_many_ids_and_models(session: Session, unique_name: str) -> None:
    other = f"{unique_name}-b"
    predictions = [_prediction(m, f"p{i}") for m in (unique_name, other) for i in range(1500)]
    index_predictions(session, predictions)
    session.commit()
    labels = [_label(m, f"p{i}", i % 2) for m in (unique_name, other) for i in range(0, 1600, 2)]
    joined = join_labels(session, labels)
    session.commit()
    assert len(joined.matched) == 2 * 750
    assert sorted(label.prediction_id for label in joined.pending) == sorted(
        f"p{i}" for i in range(1500, 1600, 2) for _ in (0, 1)
    )
    found = find_predictions(session, [(unique_name, f"p{i}") for i in range(1500)])
    assert sum(1 for p in found.values() if p.label is not None) == 750


def test_setting_a_label_on_an_unindexed_prediction_changes_nothing(
    session: Session, unique_name: str
) -> None:
    from infersight.storage.labels import set_labels

    index_predictions(session, [_prediction(unique_name, "known")])
    set_labels(session, [_label(unique_name, "unknown", 1), _label(unique_name, "known", 0)])
    session.commit()
    found = find_predictions(session, [(unique_name, "known"), (unique_name, "unknown")])
    assert {key[1]: p.label for key, p in found.items()} == {"known": 0}
