"""Event-time tumbling windows aligned to the Unix epoch, and the watermark that closes them.

>>> from datetime import datetime, UTC
>>> spec = WindowSpec(length_s=60)
>>> ts = datetime(2026, 1, 1, 12, 0, 59, 999000, tzinfo=UTC)
>>> spec.start_of(ts).isoformat(), spec.end_of(spec.start_of(ts)).isoformat()
('2026-01-01T12:00:00+00:00', '2026-01-01T12:01:00+00:00')
>>> spec.lateness_s
6.0
>>> spec.is_closed(spec.start_of(ts), watermark=datetime(2026, 1, 1, 12, 1, 6, tzinfo=UTC))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The Unix epoch: windows are aligned to it (and it stands for "the reference" where a
window start is needed for reference values, see docs/alerts.md)."""

DEFAULT_LATENESS_FRACTION = 0.1
"""Allowed lateness as a share of the window length (docs/pipeline.md)."""


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A window length in seconds and the allowed lateness (default 10% of the length)."""

    length_s: float
    lateness_fraction: float = DEFAULT_LATENESS_FRACTION

    def __post_init__(self) -> None:
        if not self.length_s > 0:
            raise ValueError(f"window length must be positive, got {self.length_s!r}")
        if not self.lateness_fraction >= 0:
            raise ValueError(f"lateness fraction must be >= 0, got {self.lateness_fraction!r}")

    @property
    def lateness_s(self) -> float:
        return self.length_s * self.lateness_fraction

    def start_of(self, ts: datetime) -> datetime:
        """Start of the window holding ``ts`` (an aware datetime)."""
        epoch_us = _epoch_us(ts)
        length_us = round(self.length_s * 1_000_000)
        return _from_epoch_us(epoch_us - epoch_us % length_us)

    def end_of(self, window_start: datetime) -> datetime:
        return window_start + timedelta(seconds=self.length_s)

    def watermark(self, max_event_ts: datetime) -> datetime:
        """The watermark: the maximum event time seen minus the allowed lateness."""
        return max_event_ts - timedelta(seconds=self.lateness_s)

    def is_closed(self, window_start: datetime, watermark: datetime | None) -> bool:
        """Whether the watermark has passed the window's end."""
        return watermark is not None and watermark >= self.end_of(window_start)


def _epoch_us(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()}: event times must be aware")
    delta = ts.astimezone(UTC) - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_epoch_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)
