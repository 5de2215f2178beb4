"""Alerts: ``/v1/alert-rules`` (CRUD), ``/v1/alerts?state=``, ``/v1/silences``,
``/v1/alert-notifications`` (the outbox, dead ones included).

``read`` for GET, ``admin`` for changes. A guard refuses numeric ids outside the 64-bit range
the database stores (a 422, not a database overflow). The rules in effect merge the built-ins,
the rules file (the context's alert configuration) and the API's rules (``alert_rules``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from infersight.alerts.builtin import builtin_rules
from infersight.alerts.config import AlertConfig, api_rules
from infersight.alerts.rules import AlertRule
from infersight.alerts.silences import SilenceSpec, create_silence
from infersight.collector.api.deps import (
    AdminKey,
    CurrentAlertConfig,
    DbSession,
    ReadKey,
    WriteSession,
)
from infersight.collector.api.errors import ERROR_RESPONSES, ErrorBody, invalid
from infersight.storage import alert_rules, silences
from infersight.storage.alert_states import list_states
from infersight.storage.alert_tables import AlertNotification, AlertSilence, AlertState
from infersight.storage.outbox import get_notification, list_notifications, requeue
from pydantic import BaseModel
from sqlalchemy.orm import Session

ID_PARAMETERS = ("notification_id", "silence_id")
_INT64_MAX = 2**63 - 1
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "conflict"}
}
"""The 409 of the routes that can refuse a change in conflict with the stored state."""

AlertStatus = Literal["inactive", "pending", "firing", "resolved"]
NotificationState = Literal["pending", "sent", "dead"]


def ids_in_range(request: Request) -> None:
    """422 for an id path parameter that cannot be a stored id."""
    for name in ID_PARAMETERS:
        raw = request.path_params.get(name)
        if raw is None:
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError):
            continue  # the route's own validation names it
        if not 0 <= value <= _INT64_MAX:
            raise invalid(f"path.{name}", f"must be between 0 and {_INT64_MAX}")


router = APIRouter(prefix="/v1", tags=["alerts"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(ids_in_range)])


class RuleView(BaseModel):
    """A rule in effect, where it comes from and whether it is active."""

    source: Literal["builtin", "file", "api"]
    active: bool
    rule: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def _rule_json(rule: AlertRule) -> dict[str, Any]:
    return rule.model_dump(mode="json", by_alias=True)


def _state_json(row: AlertState) -> dict[str, Any]:
    return {
        "dedup_key": row.dedup_key,
        "rule": row.rule,
        "model": row.model,
        "version": row.version,
        "feature": row.feature or None,
        "status": row.status,
        "severity": row.severity,
        "value": row.value,
        "threshold": row.threshold,
        "window_start": row.window_start,
        "pending_since": row.pending_since,
        "firing_since": row.firing_since,
        "resolved_at": row.resolved_at,
        "details": row.details,
    }


def _notification_json(row: AlertNotification) -> dict[str, Any]:
    return {
        "id": row.id,
        "idempotency_key": row.idempotency_key,
        "channel": row.channel,
        "event": row.event,
        "dedup_key": row.dedup_key,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
        "payload": row.payload,
    }


def _silence_json(row: AlertSilence) -> dict[str, Any]:
    return {
        "id": row.id,
        "matchers": row.matchers,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "created_by": row.created_by,
        "comment": row.comment,
    }


def _views(session: Session, config: AlertConfig) -> dict[str, RuleView]:
    stored = api_rules(session)
    active = {r.name for r in config.active_rules(stored)}
    out: dict[str, RuleView] = {}
    for source, rules in (
        ("builtin", builtin_rules()),
        ("file", config.rules),
        ("api", stored),
    ):
        for rule in rules:
            out[rule.name] = RuleView(
                source=source,  # type: ignore[arg-type]
                active=rule.name in active,
                rule=_rule_json(rule),
            )
    return out


def _check_channels(rule: AlertRule, config: AlertConfig) -> None:
    unknown = [c for c in rule.channels if c not in config.channels]
    if unknown:
        raise HTTPException(
            422,
            f"unknown channel(s) {', '.join(unknown)}; configured: "
            f"{', '.join(sorted(config.channels)) or 'none'}",
        )


@router.get("/alert-rules")
def list_rules(session: DbSession, config: CurrentAlertConfig, _key: ReadKey) -> list[RuleView]:
    """Every threshold rule in effect: built-ins, the rules file, and API rules."""
    return sorted(_views(session, config).values(), key=lambda v: v.rule["name"])


@router.get("/alert-rules/{name}")
def get_rule(name: str, session: DbSession, config: CurrentAlertConfig,
             _key: ReadKey) -> RuleView:
    view = _views(session, config).get(name)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert rule named {name!r}")
    return view


@router.post("/alert-rules", status_code=status.HTTP_201_CREATED, responses=CONFLICT)
def create_rule(rule: AlertRule, session: WriteSession, config: CurrentAlertConfig,
                _key: AdminKey) -> RuleView:
    """Create a rule; a built-in's or file rule's name overrides that rule."""
    if alert_rules.get_rule(session, rule.name) is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"alert rule {rule.name!r} exists; PUT /v1/alert-rules/{rule.name} replaces it",
        )
    _check_channels(rule, config)
    alert_rules.add_rule(session, rule.name, _rule_json(rule))
    return _views(session, config)[rule.name]


@router.put("/alert-rules/{name}")
def replace_rule(name: str, rule: AlertRule, session: WriteSession, config: CurrentAlertConfig,
                 _key: AdminKey) -> RuleView:
    if rule.name != name:
        raise HTTPException(
            422,
            f"the body's name {rule.name!r} differs from the path's {name!r}",
        )
    _check_channels(rule, config)
    alert_rules.put_rule(session, name, _rule_json(rule), _now())
    return _views(session, config)[name]


@router.delete("/alert-rules/{name}", status_code=status.HTTP_204_NO_CONTENT,
               responses=CONFLICT)
def delete_rule(name: str, session: WriteSession, config: CurrentAlertConfig,
                _key: AdminKey) -> Response:
    row = alert_rules.get_rule(session, name)
    if row is None:
        view = _views(session, config).get(name)
        if view is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert rule named {name!r}")
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"alert rule {name!r} comes from the {view.source} rules, not the API: "
            "disable it in the rules file (disable: [...]) or INFERSIGHT_ALERT_DISABLED_RULES,"
            " or override it with PUT and enabled: false",
        )
    alert_rules.delete_rule(session, row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/alerts")
def list_alerts(
    session: DbSession,
    _key: ReadKey,
    state: Annotated[AlertStatus | None, Query(description="Only this status.")] = None,
    model: str | None = None,
) -> list[dict[str, Any]]:
    rows = list_states(session, status=state, model=model, limit=1000)
    return [_state_json(row) for row in rows]


@router.post("/silences", status_code=status.HTTP_201_CREATED)
def post_silence(spec: SilenceSpec, session: WriteSession, _key: AdminKey) -> dict[str, Any]:
    try:
        row = create_silence(session, spec, _now())
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return _silence_json(row)


@router.get("/silences")
def get_silences(session: DbSession, _key: ReadKey, active: bool = True) -> list[dict[str, Any]]:
    rows = silences.list_silences(session, _now() if active else None)
    return [_silence_json(row) for row in rows]


@router.delete("/silences/{silence_id}", status_code=status.HTTP_204_NO_CONTENT)
def expire_silence(silence_id: int, session: WriteSession, _key: AdminKey) -> Response:
    row = silences.get_silence(session, silence_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no silence {silence_id}")
    silences.expire_silence(session, row, _now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/alert-notifications")
def get_notifications(
    session: DbSession,
    _key: ReadKey,
    state: Annotated[NotificationState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """The outbox: ``state=dead`` lists notifications that were given up on."""
    return [_notification_json(r) for r in list_notifications(session, state, limit)]


@router.post("/alert-notifications/{notification_id}/retry", responses=CONFLICT)
def retry_notification(notification_id: int, session: WriteSession,
                       _key: AdminKey) -> dict[str, Any]:
    """Send a dead notification again (its age counts from now)."""
    row = get_notification(session, notification_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no notification {notification_id}")
    if row.state != "dead":
        raise HTTPException(status.HTTP_409_CONFLICT, f"notification is {row.state}, not dead")
    requeue(session, row, _now())
    return _notification_json(row)
