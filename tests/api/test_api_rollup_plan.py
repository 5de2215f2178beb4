"""The range planner tiles any range exactly with aligned buckets and raw edges."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from infersight.collector.api.rollups import LEVELS, plan_range

BASE = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40 * 86400), st.integers(1, 40 * 86400))
def test_pieces_tile_the_range_with_aligned_buckets(offset: int, length: int) -> None:
    start = BASE + timedelta(seconds=offset)
    end = start + timedelta(seconds=length)
    pieces = plan_range(start, end)
    assert pieces[0].start == start and pieces[-1].end == end
    for before, after in itertools.pairwise(pieces):
        assert before.end == after.start
    for piece in pieces:
        if piece.seconds is not None:
            assert piece.seconds in LEVELS
            assert (piece.start - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() % piece.seconds == 0
            assert piece.end - piece.start == timedelta(seconds=piece.seconds)
    # raw edges never hold a whole finest bucket; a 30-day range needs few pieces
    finest = LEVELS[-1]
    for piece in pieces:
        if piece.seconds is None:
            first = -(-int((piece.start - EPOCH).total_seconds()) // finest) * finest
            assert first + finest > (piece.end - EPOCH).total_seconds()
    assert len(pieces) <= 2 * (1 + 5 + 5 + 3 + 6) + (length // LEVELS[0]) + 1
