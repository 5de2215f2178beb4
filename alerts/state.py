"""The alert state machine: inactive → pending → firing → resolved (pure, no I/O).

One state per dedup key. Each evaluation brings the latest judgement (is the latest
qualifying window breaching, and for how many consecutive qualifying windows) and may
produce one event, ``firing`` or ``resolved``. ``for`` windows must breach before firing;
a key that fired less than ``cooldown`` ago waits in ``pending`` instead of firing again.

>>> from datetime import UTC, datetime, timedelta
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> s = Snapshot()
>>> s, event = advance(s, breaching=True, streak=1, for_windows=2, cooldown=None, now=t)
>>> s.status, event
('pending', None)
>>> s, event = advance(s, breaching=True, streak=2, for_windows=2, cooldown=None, now=t)
>>> s.status, event
('firing', 'firing')
>>> s, event = advance(s, breaching=True, streak=3, for_windows=2, cooldown=None, now=t)
>>> event is None
True
>>> s, event = advance(s, breaching=False, streak=0, for_windows=2, cooldown=None, now=t)
>>> s.status, event
('resolved', 'resolved')
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

Status = Literal["inactive", "pending", "firing", "resolved"]
Event = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Snapshot:
    """The part of an alert state that the transitions read and write."""

    status: Status = "inactive"
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    resolved_at: datetime | None = None
    last_fired_at: datetime | None = None


def in_cooldown(snapshot: Snapshot, cooldown: float | None, now: datetime) -> bool:
    """Whether a new firing must wait: the last firing notification is younger than cooldown."""
    if not cooldown or snapshot.last_fired_at is None:
        return False
    return now - snapshot.last_fired_at < timedelta(seconds=cooldown)


def advance(
    snapshot: Snapshot,
    *,
    breaching: bool,
    streak: int,
    for_windows: int,
    cooldown: float | None,
    now: datetime,
) -> tuple[Snapshot, Event | None]:
    """Apply one judgement; returns the new snapshot and the transition's event, if any."""
    if breaching:
        if snapshot.status == "firing":
            return snapshot, None
        pending = replace(snapshot, status="pending", pending_since=snapshot.pending_since or now)
        if streak < for_windows or in_cooldown(snapshot, cooldown, now):
            return pending, None
        return (
            replace(pending, status="firing", firing_since=now, resolved_at=None),
            "firing",
        )
    if snapshot.status == "firing":
        return replace(snapshot, status="resolved", resolved_at=now, pending_since=None), "resolved"
    if snapshot.status == "pending":
        return replace(snapshot, status="inactive", pending_since=None), None
    return snapshot, None
