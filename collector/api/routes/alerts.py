"""Alerts: ``/v1/alerts?state=``, ``/v1/alert-rules`` (CRUD), ``/v1/silences``.

The routes themselves belong to the alerts package (:func:`infersight.alerts.routes.alerts_router`);
this module mounts them on the API's database with the API's configuration source. The app
adds the auth dependency: ``read`` for GET, ``admin`` for changes.
"""

from __future__ import annotations

from fastapi import APIRouter
from infersight.collector.api.context import ApiContext


def build_router(context: ApiContext) -> APIRouter:
    """The alert routes on the context's database and alert configuration."""
    from infersight.alerts.routes import alerts_router
    from infersight.alerts.rules_file import AlertConfigSource

    source = AlertConfigSource(context.settings)
    context.extras["alert_config"] = source
    return alerts_router(context.write_sessions, source.current)
