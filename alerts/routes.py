"""HTTP routes for alerts: ``/v1/alert-rules`` (CRUD), ``/v1/alerts``, ``/v1/silences``,
``/v1/alert-notifications`` (the outbox, dead ones included).

The API's app factory mounts :func:`alerts_router` with its own auth dependencies::

    app.include_router(alerts_router(sessions, config_source.current), dependencies=[auth])

(No ``from __future__ import annotations`` here: FastAPI resolves the local dependency alias.)
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from infersight.alerts.builtin import builtin_rules
from infersight.alerts.config import AlertConfig, api_rules
from infersight.alerts.rules import AlertRule
from infersight.alerts.silences import SilenceSpec, create_silence
from infersight.storage import alert_rules, silences
from infersight.storage.alert_states import list_states
from infersight.storage.alert_tables import AlertNotification, AlertSilence, AlertState
from infersight.storage.outbox import get_notification, list_notifications, requeue
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

AlertStatus = Literal["inactive", "pending", "firing", "resolved"]
NotificationState = Literal["pending", "sent", "dead"]


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


def alerts_router(sessions: sessionmaker[Session], config: Callable[[], AlertConfig]) -> APIRouter:
    """The alert routes on ``sessions``; ``config`` returns the current configuration."""
    router = APIRouter(prefix="/v1", tags=["alerts"])

    def session_dependency() -> Iterator[Session]:
        # Writers commit before returning, so a client never reads ahead of its own write
        # (code after ``yield`` may run after the response is sent).
        with sessions() as session:
            yield session

    DbSession = Annotated[Session, Depends(session_dependency)]

    def views(session: Session) -> dict[str, RuleView]:
        current = config()
        stored = api_rules(session)
        active = {r.name for r in current.active_rules(stored)}
        out: dict[str, RuleView] = {}
        for source, rules in (
            ("builtin", builtin_rules()),
            ("file", current.rules),
            ("api", stored),
        ):
            for rule in rules:
                out[rule.name] = RuleView(
                    source=source,  # type: ignore[arg-type]
                    active=rule.name in active,
                    rule=_rule_json(rule),
                )
        return out

    @router.get("/alert-rules")
    def list_rules(session: DbSession) -> list[RuleView]:
        """Every threshold rule in effect: built-ins, the rules file, and API rules."""
        return sorted(views(session).values(), key=lambda v: v.rule["name"])

    @router.get("/alert-rules/{name}")
    def get_rule(name: str, session: DbSession) -> RuleView:
        view = views(session).get(name)
        if view is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert rule named {name!r}")
        return view

    @router.post("/alert-rules", status_code=status.HTTP_201_CREATED)
    def create_rule(rule: AlertRule, session: DbSession) -> RuleView:
        """Create a rule; a built-in's or file rule's name overrides that rule."""
        if alert_rules.get_rule(session, rule.name) is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"alert rule {rule.name!r} exists; PUT /v1/alert-rules/{rule.name} replaces it",
            )
        _check_channels(rule, config())
        alert_rules.add_rule(session, rule.name, _rule_json(rule))
        session.commit()
        return views(session)[rule.name]

    @router.put("/alert-rules/{name}")
    def replace_rule(name: str, rule: AlertRule, session: DbSession) -> RuleView:
        if rule.name != name:
            raise HTTPException(
                422,
                f"the body's name {rule.name!r} differs from the path's {name!r}",
            )
        _check_channels(rule, config())
        alert_rules.put_rule(session, name, _rule_json(rule), _now())
        session.commit()
        return views(session)[name]

    @router.delete("/alert-rules/{name}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_rule(name: str, session: DbSession) -> Response:
        row = alert_rules.get_rule(session, name)
        if row is None:
            view = views(session).get(name)
            if view is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert rule named {name!r}")
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"alert rule {name!r} comes from the {view.source} rules, not the API: "
                "disable it in the rules file (disable: [...]) or INFERSIGHT_ALERT_DISABLED_RULES,"
                " or override it with PUT and enabled: false",
            )
        alert_rules.delete_rule(session, row)
        session.commit()
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/alerts")
    def list_alerts(
        session: DbSession,
        state: Annotated[AlertStatus | None, Query(description="Only this status.")] = None,
        model: str | None = None,
    ) -> list[dict[str, Any]]:
        rows = list_states(session, status=state, model=model, limit=1000)
        return [_state_json(row) for row in rows]

    @router.post("/silences", status_code=status.HTTP_201_CREATED)
    def post_silence(spec: SilenceSpec, session: DbSession) -> dict[str, Any]:
        try:
            row = create_silence(session, spec, _now())
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        session.commit()
        return _silence_json(row)

    @router.get("/silences")
    def get_silences(session: DbSession, active: bool = True) -> list[dict[str, Any]]:
        rows = silences.list_silences(session, _now() if active else None)
        return [_silence_json(row) for row in rows]

    @router.delete("/silences/{silence_id}", status_code=status.HTTP_204_NO_CONTENT)
    def expire_silence(silence_id: int, session: DbSession) -> Response:
        row = silences.get_silence(session, silence_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no silence {silence_id}")
        silences.expire_silence(session, row, _now())
        session.commit()
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/alert-notifications")
    def get_notifications(
        session: DbSession,
        state: Annotated[NotificationState | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """The outbox: ``state=dead`` lists notifications that were given up on."""
        return [_notification_json(r) for r in list_notifications(session, state, limit)]

    @router.post("/alert-notifications/{notification_id}/retry")
    def retry_notification(notification_id: int, session: DbSession) -> dict[str, Any]:
        """Send a dead notification again (its age counts from now)."""
        row = get_notification(session, notification_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no notification {notification_id}")
        if row.state != "dead":
            raise HTTPException(status.HTTP_409_CONFLICT, f"notification is {row.state}, not dead")
        requeue(session, row, _now())
        session.commit()
        return _notification_json(row)

    return router


def _check_channels(rule: AlertRule, config: AlertConfig) -> None:
    unknown = [c for c in rule.channels if c not in config.channels]
    if unknown:
        raise HTTPException(
            422,
            f"unknown channel(s) {', '.join(unknown)}; configured: "
            f"{', '.join(sorted(config.channels)) or 'none'}",
        )


def _silence_json(row: AlertSilence) -> dict[str, Any]:
    return {
        "id": row.id,
        "matchers": row.matchers,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "created_by": row.created_by,
        "comment": row.comment,
    }
