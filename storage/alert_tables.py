"""The alert tables, on the ``Base`` metadata of :mod:`infersight.storage.models` (migration 0002).

- ``alert_rules``: rules created through the API (``/v1/alert-rules``), one JSON document each.
- ``alert_states``: the state machine, one row per dedup key (rule, model, version, feature).
- ``alert_silences``: label matchers and a time range during which nothing is sent.
- ``alert_notifications``: the outbox, written in the same transaction as the state change
  and drained by the dispatcher (pending → sent, or dead after the give-up age).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from infersight.storage.models import NAME, Base
from infersight.storage.types import IdType, JsonType, UtcDateTime, utc_now
from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ["AlertNotification", "AlertRuleRow", "AlertSilence", "AlertState", "Base"]


class AlertRuleRow(Base):
    """A rule managed through the API; ``definition`` is the rule as JSON."""

    __tablename__ = "alert_rules"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    definition: Mapped[Any] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class AlertState(Base):
    """Where one dedup key stands: ``inactive``, ``pending``, ``firing`` or ``resolved``."""

    __tablename__ = "alert_states"
    __table_args__ = (Index(None, "status"), Index(None, "model", "version"))

    dedup_key: Mapped[str] = mapped_column(String(800), primary_key=True)
    rule: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(NAME)
    version: Mapped[str] = mapped_column(NAME)
    feature: Mapped[str] = mapped_column(NAME, default="")
    status: Mapped[str] = mapped_column(String(16), default="inactive")
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    streak: Mapped[int] = mapped_column(Integer, default=0)
    """Consecutive breaching qualifying windows ending at ``window_start``."""
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    window_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Latest window judged."""
    pending_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    firing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When a firing notification was last queued (the cooldown counts from here)."""
    notified_firing: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether this firing episode was notified (a silenced one is not, nor its resolve)."""
    details: Mapped[Any | None] = mapped_column(JsonType)
    """The latest notification payload (evidence, windows, links)."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class AlertSilence(Base):
    """While ``starts_at <= now < ends_at``, alerts whose labels match every matcher are not sent."""

    __tablename__ = "alert_silences"
    __table_args__ = (Index(None, "ends_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    matchers: Mapped[Any] = mapped_column(JsonType)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class AlertNotification(Base):
    """One notification to one channel (the outbox row); ``idempotency_key`` is unique."""

    __tablename__ = "alert_notifications"
    __table_args__ = (Index(None, "state", "next_attempt_at"), Index(None, "created_at"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(16))
    """``firing``, ``resolved`` or ``test``."""
    dedup_key: Mapped[str] = mapped_column(String(800))
    payload: Mapped[Any] = mapped_column(JsonType)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``sent`` or ``dead``."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
