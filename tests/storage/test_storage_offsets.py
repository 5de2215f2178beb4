"""Consumer offsets: stored per (group, topic, partition), compare-and-set, validated."""

from __future__ import annotations

import pytest
from infersight.storage.offsets import OffsetConflict, load_offsets, save_offsets
from sqlalchemy.orm import Session, sessionmaker


def test_offsets_are_stored_and_advanced_per_group(session: Session, unique_name: str) -> None:
    group, other_group = f"{unique_name}-workers", f"{unique_name}-others"
    save_offsets(
        session, group, {("infersight.events", 0): (None, 10), ("infersight.events", 1): (None, 20)}
    )
    save_offsets(session, other_group, {("infersight.events", 0): (None, 99)})
    session.commit()
    save_offsets(
        session, group, {("infersight.events", 1): (20, 25), ("infersight.labels", 0): (None, 3)}
    )
    session.commit()

    assert load_offsets(session, group) == {
        ("infersight.events", 0): 10,
        ("infersight.events", 1): 25,
        ("infersight.labels", 0): 3,
    }
    assert load_offsets(
        session, group, [("infersight.labels", 0), ("infersight.labels", 1)]
    ) == {("infersight.labels", 0): 3}
    assert load_offsets(session, other_group) == {("infersight.events", 0): 99}


def test_offsets_beyond_32_bits_survive(session: Session, unique_name: str) -> None:
    save_offsets(session, unique_name, {("t", 0): (None, 2**40 + 7)})
    session.commit()
    assert load_offsets(session, unique_name) == {("t", 0): 2**40 + 7}


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True])
def test_invalid_offsets_are_refused(session: Session, unique_name: str, bad: object) -> None:
    with pytest.raises(ValueError, match="non-negative ints"):
        save_offsets(session, unique_name, {("t", 0): (None, bad)})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="non-negative ints"):
        save_offsets(session, unique_name, {("t", 0): (bad, 3)})  # type: ignore[dict-item]


def test_a_worker_that_lost_its_partition_cannot_overwrite_the_new_owner(
    sessions: sessionmaker[Session], unique_name: str
) -> None:
    tp = ("infersight.events", 0)
    with sessions.begin() as session:
        save_offsets(session, unique_name, {tp: (None, 5)})
    # Both read 5; the new owner commits first, the zombie's compare-and-set then fails.
    with sessions.begin() as session:
        save_offsets(session, unique_name, {tp: (5, 9)})
    with sessions() as session, pytest.raises(OffsetConflict, match="moved past 5"):
        save_offsets(session, unique_name, {tp: (5, 7)})
    # A worker that saw no row cannot create one over a committed offset either.
    with sessions() as session, pytest.raises(OffsetConflict, match="committed by another"):
        save_offsets(session, unique_name, {tp: (None, 1)})
    with sessions() as session:
        assert load_offsets(session, unique_name) == {tp: 9}
