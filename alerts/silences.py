"""Silences: label matchers plus a time range during which matching alerts are not sent.

Matchers work like Alertmanager's: ``{"name": "model", "value": "fraud*", "op": "="}``
where ``=``/``!=`` compare with a glob and ``=~``/``!~`` with a full-match regular
expression. An alert's labels are ``alertname`` (the rule), ``model``, ``version``,
``feature``, ``severity`` and the rule's own labels. A silenced transition still changes
the alert state; only the notification is skipped (and its resolve, too).

>>> m = Matcher(name="model", value="fraud*")
>>> m.matches({"model": "fraud-eu"}), m.matches({"model": "churn"})
(True, False)
>>> Matcher(name="severity", op="!~", value="info|warning").matches({"severity": "critical"})
True
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from infersight.storage.alert_tables import AlertSilence
from infersight.storage.silences import active_matchers, add_silence
from infersight.storage.types import reject_nul
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session


class Matcher(BaseModel):
    """One label condition of a silence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    value: str
    op: Literal["=", "!=", "=~", "!~"] = "="

    @model_validator(mode="after")
    def _check_regex(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValueError(f"invalid regular expression {self.value!r}: {error}") from None
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op in ("=", "!="):
            hit = fnmatch.fnmatchcase(actual, self.value)
        else:
            hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op in ("=", "=~") else not hit


class SilenceSpec(BaseModel):
    """The body of ``POST /v1/silences``."""

    model_config = ConfigDict(extra="forbid")

    _no_nul = model_validator(mode="before")(reject_nul)

    matchers: list[Matcher] = Field(min_length=1)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime
    created_by: str | None = Field(default=None, max_length=200)
    comment: str | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> SilenceSpec:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def create_silence(session: Session, spec: SilenceSpec, now: datetime) -> AlertSilence:
    """Store a silence (in the caller's transaction)."""
    if spec.ends_at <= now:
        raise ValueError("ends_at is in the past: the silence would never apply")
    return add_silence(
        session,
        matchers=[m.model_dump() for m in spec.matchers],
        starts_at=spec.starts_at or now,
        ends_at=spec.ends_at,
        created_by=spec.created_by,
        comment=spec.comment,
        now=now,
    )


def active_silences(session: Session, now: datetime) -> list[list[Matcher]]:
    """Matcher lists of the silences in force at ``now``."""
    return [[Matcher.model_validate(m) for m in matchers]
            for matchers in active_matchers(session, now)]


def is_silenced(silences: list[list[Matcher]], labels: Mapping[str, str]) -> bool:
    """Whether every matcher of at least one silence matches ``labels``."""
    return any(all(m.matches(labels) for m in matchers) for matchers in silences)
