"""The API app factory: ``create_app(settings, engine=..., bus=...)``.

Nothing is created at import time: the factory reads the settings (when not given), makes
the engine and the bus publisher, and mounts the route modules listed in
:data:`ROUTE_MODULES` — each exposes ``router`` or ``build_router(context)``. A listed
module that does not exist (``page``, the web page, until it lands) is skipped.

>>> from infersight.settings import Settings
>>> from infersight.sdk.local_bus import LocalBus
>>> app = create_app(Settings(database_url="sqlite://", auth="off", api_rollups=False), bus=LocalBus())
>>> "/v1/models/{model}/drift" in app.openapi()["paths"]
True
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from infersight.collector.api.context import ApiContext
from infersight.collector.api.docs import install_docs
from infersight.collector.api.errors import install_error_handlers, use_error_body_in_openapi
from infersight.collector.api.metrics import ApiMetrics
from infersight.collector.api.publisher import KafkaPublisher, LocalPublisher, Publisher
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from infersight.alerting import alert_config_source
from infersight.settings import Settings, load_settings

log = logging.getLogger(__name__)

ROUTE_PACKAGE = "infersight.collector.api.routes"
ROUTE_MODULES = ("health", "ingest", "models", "metrics", "drift", "alerts", "page")
"""Every route module, in mounting order (``page`` is optional)."""
OPTIONAL_MODULES = frozenset({"page"})


def make_publisher(settings: Settings, bus: Any = None) -> Publisher:
    """The given bus (a LocalBus or a Publisher), else the one ``INFERSIGHT_API_BUS`` names."""
    if bus is not None:
        return bus if hasattr(bus, "publish_all") else LocalPublisher(bus)
    if settings.api_bus == "local":
        from infersight.sdk.local_bus import get_local_bus

        return LocalPublisher(get_local_bus())
    return KafkaPublisher(settings.kafka_bootstrap_servers)


def _route_modules() -> list[tuple[str, Any]]:
    modules = []
    for name in ROUTE_MODULES:
        qualified = f"{ROUTE_PACKAGE}.{name}"
        try:
            modules.append((name, importlib.import_module(qualified)))
        except ModuleNotFoundError as exc:
            if name in OPTIONAL_MODULES and exc.name == qualified:
                continue
            raise
    return modules


def _references(context: ApiContext) -> Callable[[Any, str, str], Any | None]:
    def reference_for(session: Any, model: str, version: str) -> Any | None:
        found = context.references.get(session, model, version)
        return None if found is None else found[0]

    return reference_for


def _model_names(session: Any) -> list[str]:
    from infersight.storage.registry import list_models

    return [m.name for m in list_models(session)]


def _write_engine(engine: Engine) -> Engine:
    """On a SQLite file, a second engine whose transactions begin with ``BEGIN IMMEDIATE``."""
    from infersight.storage.db import make_engine

    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return engine
    writer: Engine = make_engine(engine.url, sqlite_immediate=True)
    return writer


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, bus: Any = None,
    registry: CollectorRegistry | None = None,
) -> FastAPI:
    """The HTTP API. ``engine`` and ``bus`` default to the settings' database and bus; an
    engine made here is disposed when the app shuts down. The API's metrics go to
    ``registry`` (default: a registry of its own), which ``/metrics`` serves whole: the
    embedded mode passes the one its worker's metrics are on, so one scrape shows both."""
    from infersight.storage.db import make_engine, session_factory

    settings = settings or load_settings()
    owns_engine = engine is None
    engine = engine if engine is not None else make_engine(settings.resolved_database_url())
    write_engine = _write_engine(engine)
    context = ApiContext(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        write_sessions=session_factory(write_engine),
        publisher=make_publisher(settings, bus),
        metrics=ApiMetrics(registry),
        alert_config=alert_config_source(settings).current,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from infersight.collector.api.rollups import RollupMaintainer

        maintainer = None
        if settings.api_rollups:
            maintainer = RollupMaintainer(context.sessions, _model_names, _references(context),
                                          settings.api_rollup_interval,
                                          write_sessions=context.write_sessions)
            maintainer.start()
        if settings.auth == "off":
            log.warning("INFERSIGHT_AUTH=off: the API accepts requests without an API key")
        try:
            yield
        finally:
            if maintainer is not None:
                maintainer.stop()
            context.publisher.close()
            if write_engine is not engine:
                write_engine.dispose()
            if owns_engine:
                engine.dispose()

    app = FastAPI(
        title="infersight",
        summary="Production ML observability: drift, performance and alerts from live traffic.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served from vendored files by install_docs: no CDN
        redoc_url=None,
    )
    app.state.context = context
    install_docs(app)
    install_error_handlers(app)
    use_error_body_in_openapi(app)
    for _name, module in _route_modules():
        router = module.build_router(context) if hasattr(module, "build_router") else module.router
        app.include_router(router)

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            context.metrics.observe(request.method, template, status,
                                    time.perf_counter() - started)

    return app
