"""Timestamps: aware UTC in, aware UTC out, on both backends; naive datetimes refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from infersight.storage.models import Watermark
from infersight.storage.watermarks import load_watermarks
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session


def test_aware_timestamp_round_trips_as_the_same_utc_instant(
    session: Session, unique_name: str
) -> None:
    paris_summer = timezone(timedelta(hours=2))
    written = datetime(2024, 7, 1, 12, 30, 15, 123456, tzinfo=paris_summer)
    session.add(Watermark(model=unique_name, max_event_ts=written))
    session.commit()
    session.expire_all()

    read = session.get(Watermark, unique_name)
    assert read is not None
    assert read.max_event_ts == written
    assert read.max_event_ts.tzinfo is not None
    assert read.max_event_ts.utcoffset() == timedelta(0)
    assert read.max_event_ts == datetime(2024, 7, 1, 10, 30, 15, 123456, tzinfo=UTC)
    assert read.updated_at.tzinfo is not None


def test_range_filters_compare_instants_not_local_clock_readings(
    session: Session, unique_name: str
) -> None:
    # 09:00+05:00 is 04:00 UTC: earlier than 06:00 UTC although its clock reading is later.
    early = datetime(2024, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=5)))
    late = datetime(2024, 1, 1, 7, 0, tzinfo=UTC)
    session.add_all(
        [
            Watermark(model=f"{unique_name}-early", max_event_ts=early),
            Watermark(model=f"{unique_name}-late", max_event_ts=late),
        ]
    )
    session.commit()
    query = select(Watermark.model).where(
        Watermark.model.startswith(unique_name),
        Watermark.max_event_ts > datetime(2024, 1, 1, 6, 0, tzinfo=UTC),
    )
    assert list(session.scalars(query)) == [f"{unique_name}-late"]
    assert load_watermarks(session, [f"{unique_name}-early"]) == {f"{unique_name}-early": early}


def test_naive_datetime_is_refused_with_a_reason(session: Session, unique_name: str) -> None:
    session.add(Watermark(model=unique_name, max_event_ts=datetime(2024, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
