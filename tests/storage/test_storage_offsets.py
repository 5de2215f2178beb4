"""Consumer offsets: stored per (group, topic, partition), overwritten, validated."""

from __future__ import annotations

import pytest
from infersight.storage.offsets import load_offsets, store_offsets
from sqlalchemy.orm import Session


def test_offsets_are_stored_and_overwritten_per_group(session: Session, unique_name: str) -> None:
    group, other_group = f"{unique_name}-workers", f"{unique_name}-others"
    store_offsets(session, group, {("infersight.events", 0): 10, ("infersight.events", 1): 20})
    store_offsets(session, other_group, {("infersight.events", 0): 99})
    session.commit()
    store_offsets(session, group, {("infersight.events", 1): 25, ("infersight.labels", 0): 3})
    session.commit()

    assert load_offsets(session, group) == {
        ("infersight.events", 0): 10,
        ("infersight.events", 1): 25,
        ("infersight.labels", 0): 3,
    }
    assert load_offsets(session, group, topics=["infersight.labels"]) == {
        ("infersight.labels", 0): 3
    }
    assert load_offsets(session, other_group) == {("infersight.events", 0): 99}


def test_offsets_beyond_32_bits_survive(session: Session, unique_name: str) -> None:
    store_offsets(session, unique_name, {("t", 0): 2**40 + 7})
    session.commit()
    assert load_offsets(session, unique_name) == {("t", 0): 2**40 + 7}


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True])
def test_invalid_offsets_are_refused(session: Session, unique_name: str, bad: object) -> None:
    with pytest.raises(ValueError, match="non-negative int"):
        store_offsets(session, unique_name, {("t", 0): bad})  # type: ignore[dict-item]
