"""The API's composition root: the settings turned into the API's config, engine, bus
publisher and alert configuration source, handed to
:func:`infersight.collector.api.app.create_app`.

>>> from infersight.sdk.local_bus import LocalBus
>>> app = build_api(Settings(database_url="sqlite://", auth="off", api_rollups=False), bus=LocalBus())
>>> app.state.context.config.auth_required
False
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from infersight.alerting import alert_config_source
from infersight.alerts.config import AlertConfig
from infersight.collector.api.config import ApiConfig
from infersight.collector.api.publisher import KafkaPublisher, LocalPublisher, Publisher
from infersight.settings import Settings, load_settings


def api_config(settings: Settings) -> ApiConfig:
    """What the API uses of the settings.

    >>> api_config(Settings(auth="off", window="5m")).window_s
    300.0
    """
    return ApiConfig(
        auth_required=settings.auth == "on",
        max_body_bytes=settings.api_max_body_bytes,
        max_reference_bytes=settings.api_max_reference_bytes,
        publish_timeout_s=settings.api_publish_timeout,
        rollups=settings.api_rollups,
        rollup_interval_s=settings.api_rollup_interval,
        window_s=settings.window,
        lateness_fraction=settings.worker_lateness,
        skew_ttl_s=settings.skew_ttl,
    )


def make_publisher(settings: Settings, bus: Any = None) -> Publisher:
    """The given bus (a LocalBus or a Publisher), else the one ``INFERSIGHT_API_BUS`` names."""
    if bus is not None:
        return bus if hasattr(bus, "publish_all") else LocalPublisher(bus)
    if settings.api_bus == "local":
        from infersight.sdk.local_bus import get_local_bus

        return LocalPublisher(get_local_bus())
    return KafkaPublisher(settings.kafka_bootstrap_servers,
                          security=settings.kafka_security())


def build_api(
    settings: Settings | None = None, *, engine: Engine | None = None,
    write_engine: Engine | None = None, bus: Any = None,
    registry: CollectorRegistry | None = None,
    alert_config: Callable[[], AlertConfig] | None = None,
) -> FastAPI:
    """The HTTP API from the settings (read from the environment when not given).

    ``engine`` and ``bus`` default to the settings' database and bus; an engine made here
    is disposed when the app shuts down. ``write_engine`` (default: one for ``engine``, see
    :func:`~infersight.storage.db.write_engine_for`) takes the API's writes; ``alert_config``
    (default: the settings' rules file, reloaded when it changes) the alert routes' rules;
    ``registry``: see :func:`~infersight.collector.api.app.create_app`.
    """
    from infersight.collector.api.app import create_app
    from infersight.storage.db import make_engine

    settings = settings or load_settings()
    owns_engine = engine is None
    engine = engine if engine is not None else make_engine(settings.resolved_database_url())
    app: FastAPI = create_app(
        api_config(settings), engine=engine, write_engine=write_engine,
        publisher=make_publisher(settings, bus),
        alert_config=alert_config or alert_config_source(settings).current, registry=registry,
        dispose_engine=owns_engine,
    )
    return app
