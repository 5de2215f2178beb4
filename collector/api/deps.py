"""Dependencies as ``Annotated`` aliases: the context, a database session, the caller, the
alert configuration, and the checked inputs every model route shares (names, instants, time ranges).

Inputs are checked here once, before anything reaches the database: Postgres cannot store a
NUL character in text, and a date outside the calendar (``0001-01-01T00:00:00+14:00`` is
year 0 in UTC) cannot be converted — both are 422s naming the field, on every backend.

>>> from typing import get_args
>>> get_args(ReadKey)[0].__name__
'Principal'
>>> in_supported_range(datetime.fromisoformat("2026-01-01T01:00:00+01:00"))
datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from infersight.alerts.config import AlertConfig
from infersight.collector.api.auth import Principal, require
from infersight.collector.api.context import ApiContext
from infersight.collector.api.errors import ApiError, invalid
from infersight.storage.types import NO_NUL  # Postgres text cannot hold NUL
from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError
from sqlalchemy.orm import Session


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def get_session(context: Context) -> Iterator[Session]:
    """A session in a transaction, committed before the response is sent."""
    with context.sessions.begin() as session:
        yield session


def get_write_session(context: Context) -> Iterator[Session]:
    """A session for a transaction that writes, committed before the response is sent."""
    with context.write_sessions.begin() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
WriteSession = Annotated[Session, Depends(get_write_session, scope="function")]
def get_alert_config(context: Context) -> AlertConfig:
    """The alert configuration in force (the rules file is re-read when it changed)."""
    return context.alert_config()


CurrentAlertConfig = Annotated[AlertConfig, Depends(get_alert_config)]
IngestKey = Annotated[Principal, Depends(require("ingest"))]
ReadKey = Annotated[Principal, Depends(require("read"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]


def unknown_model(session: Session, model: str) -> ApiError:
    """A 404 listing the known models."""
    from infersight.storage.registry import list_models

    known = [m.name for m in list_models(session)]
    shown = ", ".join(known[:50]) + (" …" if len(known) > 50 else "") if known else "none yet"
    return ApiError(404, "unknown_model", f"no model named {model!r}; known models: {shown}",
                    known_models=known)


def existing_model(session: Session, model: str) -> None:
    """Raise the 404 of :func:`unknown_model` unless ``model`` exists."""
    from infersight.storage.registry import get_model

    if get_model(session, model) is None:
        raise unknown_model(session, model)



ModelName = Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL,
                                description="Model name.")]
VersionName = Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL,
                                  description="Model version.")]


def name_query(description: str | None = None, *, max_length: int = 255,
               min_length: int | None = None) -> Any:
    """``Query(...)`` for a name (version, feature, metric): bounded and without NUL."""
    return Query(min_length=min_length, max_length=max_length, pattern=NO_NUL,
                 description=description)


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""The Unix epoch: windows are aligned to it (reference points are stored at it)."""
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
RANGE_EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
"""Merged ranges (drift, histograms) start after the epoch year, which holds reference points."""
DEFAULT_RANGE = timedelta(days=1)


def in_supported_range(value: datetime) -> datetime:
    """``value`` in UTC, or a validation error when it is outside 1970 to 9998 (UTC)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise PydanticCustomError("date_range",
                                  "is out of the supported date range (1970 to 9998, UTC)")
    return utc


Instant = Annotated[AwareDatetime, AfterValidator(in_supported_range)]
"""An RFC 3339 time with its offset, returned in UTC; out-of-range dates are a 422."""


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime


def time_range(
    start: Annotated[Instant | None, Query(
        description="Range start (RFC 3339); default end - 24h.")] = None,
    end: Annotated[Instant | None, Query(
        description="Range end, exclusive (RFC 3339); default now.")] = None,
) -> TimeRange:
    """A range to merge: defaults to the last 24 hours; 422 unless start < end."""
    end_ts = end or datetime.now(UTC)
    start_ts = start or end_ts - DEFAULT_RANGE
    if start_ts >= end_ts:
        raise invalid("query.end", "must be after start")
    if start_ts < RANGE_EARLIEST:
        raise invalid("query.start", "must be in 1971 or later")
    return TimeRange(start_ts, end_ts)


@dataclass(frozen=True)
class WindowFilter:
    """Windows starting in ``[start, end)``; either bound may be open."""

    start: datetime | None
    end: datetime | None


def window_filter(
    start: Annotated[Instant | None, Query(
        description="Windows starting at or after (RFC 3339).")] = None,
    end: Annotated[Instant | None, Query(
        description="Windows starting before (RFC 3339).")] = None,
) -> WindowFilter:
    """Optional window bounds; 422 unless start < end when both are given."""
    if start is not None and end is not None and start >= end:
        raise invalid("query.end", "must be after start")
    return WindowFilter(start, end)


Range = Annotated[TimeRange, Depends(time_range)]
Windows = Annotated[WindowFilter, Depends(window_filter)]
