"""The channel-neutral notification payload (schema ``infersight.alert/v1``).

Stored in the outbox and turned into each channel's format when sent; ``docs/alerts.md``
shows a full example.

>>> links("fraud", "3", LinkConfig(page_url="http://h:8000", grafana_url="http://g:3000"))["page"]
'http://h:8000/?model=fraud&version=3'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from infersight.alerts.config import LinkConfig

SCHEMA = "infersight.alert/v1"


def links(
    model: str, version: str, config: LinkConfig, window_start: datetime | None = None
) -> dict[str, str]:
    """Links to the model's page and Grafana dashboard (time range around the window)."""
    out: dict[str, str] = {}
    if config.page_url:
        query = urlencode({"model": model, "version": version})
        out["page"] = f"{config.page_url.rstrip('/')}/?{query}"
    if config.grafana_url:
        params: dict[str, str | int] = {"var-model": model, "var-version": version}
        if window_start is not None:
            start = window_start - timedelta(days=1)
            params["from"] = int(start.timestamp() * 1000)
            params["to"] = "now"
        out["dashboard"] = (
            f"{config.grafana_url.rstrip('/')}/d/{config.dashboard_uid}?{urlencode(params)}"
        )
    return out


@dataclass
class Candidate:
    """One dedup key's verdict this evaluation, whatever rule kind produced it."""

    rule: str
    model: str
    version: str
    feature: str
    severity: str
    channels: list[str]
    cooldown: float | None
    for_windows: int
    breaching: bool
    streak: int
    labels: dict[str, str]
    annotations: dict[str, str]
    metric: str | None
    value: float | None
    threshold: float | None
    reference: float | None
    sample_size: int | None
    condition: str
    summary: str
    window_start: datetime | None
    window_end: datetime | None
    windows: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] | None = None

    @property
    def dedup_key(self) -> str:
        return f"{self.rule}/{self.model}/{self.version}/{self.feature}"

    def alert_labels(self) -> dict[str, str]:
        """Labels that silences match and Alertmanager-format receivers route on."""
        return {
            **self.labels,
            "alertname": self.rule,
            "model": self.model,
            "version": self.version,
            "feature": self.feature,
            "severity": self.severity,
        }


def build_payload(
    candidate: Candidate,
    *,
    status: str,
    starts_at: datetime,
    ends_at: datetime | None,
    link_config: LinkConfig,
) -> dict[str, Any]:
    """The payload of a ``firing`` or ``resolved`` notification."""
    summary = candidate.summary if status == "firing" else f"RESOLVED: {candidate.summary}"
    return {
        "schema": SCHEMA,
        "status": status,
        "rule": candidate.rule,
        "dedup_key": candidate.dedup_key,
        "model": candidate.model,
        "version": candidate.version,
        "feature": candidate.feature or None,
        "severity": candidate.severity,
        "summary": summary,
        "condition": candidate.condition,
        "metric": candidate.metric,
        "value": candidate.value,
        "threshold": candidate.threshold,
        "reference": candidate.reference,
        "sample_size": candidate.sample_size,
        "window_start": candidate.window_start.isoformat() if candidate.window_start else None,
        "window_end": candidate.window_end.isoformat() if candidate.window_end else None,
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat() if ends_at else None,
        "windows": candidate.windows,
        "labels": candidate.alert_labels(),
        "annotations": _annotations(candidate.annotations, summary),
        "evidence": candidate.evidence,
        "links": links(candidate.model, candidate.version, link_config, candidate.window_start),
    }


def _annotations(rule_annotations: dict[str, str], summary: str) -> dict[str, str]:
    """The rule's annotations; ``summary`` is the computed one (the rule's own summary, a
    fixed sentence, moves to ``description`` unless that is set)."""
    out = dict(rule_annotations)
    if "summary" in out:
        fixed = out.pop("summary")
        out.setdefault("description", fixed)
    out["summary"] = summary
    return out
