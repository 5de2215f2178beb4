"""Alerts: ``/v1/alerts?state=``, ``/v1/alert-rules`` (CRUD), ``/v1/silences``.

The routes themselves belong to the alerts package (:func:`infersight.alerts.routes.alerts_router`);
this module mounts them on the API's database with the API's configuration source, plus a
guard that refuses numeric ids outside the 64-bit range the database stores (a 422, not a
database overflow). The app adds the auth dependency: ``read`` for GET, ``admin`` for changes.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from infersight.collector.api.context import ApiContext
from infersight.collector.api.errors import invalid

ID_PARAMETERS = ("notification_id", "silence_id")
_INT64_MAX = 2**63 - 1


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


def build_router(context: ApiContext) -> APIRouter:
    """The alert routes on the context's database and alert configuration."""
    from infersight.alerts.routes import alerts_router

    router = APIRouter(dependencies=[Depends(ids_in_range)])
    router.include_router(alerts_router(context.write_sessions, context.alert_config))
    return router
