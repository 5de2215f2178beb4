"""The API app factory: ``create_app(config, engine=..., publisher=..., alert_config=...)``.

Nothing is created at import time, and nothing here reads the settings: the composition
root (:func:`infersight.api_service.build_api`) turns them into an
:class:`~infersight.collector.api.config.ApiConfig` and makes the engine and the bus
publisher. The factory mounts the router of every module of
:mod:`infersight.collector.api.routes` (the alert routes are built on the context, with
the auth dependency their routes do not declare themselves).

>>> from infersight.alerts.config import AlertConfig
>>> from infersight.collector.api.config import ApiConfig
>>> from infersight.collector.api.publisher import LocalPublisher
>>> from infersight.sdk.local_bus import LocalBus
>>> from infersight.storage.db import make_engine
>>> config = ApiConfig(auth_required=False, max_body_bytes=5_000_000,
...                    max_reference_bytes=1 << 20, publish_timeout_s=10.0, rollups=False,
...                    rollup_interval_s=60.0, window_s=3600.0, lateness_fraction=0.1)
>>> app = create_app(config, engine=make_engine("sqlite://"),
...                  publisher=LocalPublisher(LocalBus()), alert_config=AlertConfig)
>>> "/v1/models/{model}/drift" in app.openapi()["paths"]
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from infersight.alerts.config import AlertConfig
from infersight.collector.api.config import ApiConfig
from infersight.collector.api.context import ApiContext
from infersight.collector.api.docs import install_docs
from infersight.collector.api.errors import install_error_handlers, use_error_body_in_openapi
from infersight.collector.api.metrics import ApiMetrics
from infersight.collector.api.publisher import Publisher
from infersight.collector.api.routes import (
    alerts,
    drift,
    health,
    ingest,
    metrics,
    models,
    page,
    skew,
)
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

log = logging.getLogger(__name__)


def _model_names(session: Any) -> list[str]:
    from infersight.storage.registry import list_models

    return [m.name for m in list_models(session)]


def create_app(
    config: ApiConfig, *, engine: Engine, publisher: Publisher,
    alert_config: Callable[[], AlertConfig], registry: CollectorRegistry | None = None,
    write_engine: Engine | None = None, dispose_engine: bool = False,
) -> FastAPI:
    """The HTTP API on ``engine``, publishing ingested events through ``publisher`` (closed
    when the app shuts down, as is ``engine`` when ``dispose_engine``). ``alert_config``
    gives the current alert configuration (rules, channels) to the alert routes. The API's
    writes go through ``write_engine`` (the embedded mode's one writer; default: one made
    here for ``engine``, see :func:`~infersight.storage.db.write_engine_for`, and disposed
    with the app). The API's metrics go to ``registry`` (default: a registry of its own),
    which ``/metrics`` serves whole: the embedded mode passes the one its worker's metrics
    are on, so one scrape shows both."""
    from infersight.storage.db import session_factory, write_engine_for

    owns_write_engine = write_engine is None
    write_engine = write_engine if write_engine is not None else write_engine_for(engine)
    context = ApiContext(
        config=config,
        engine=engine,
        sessions=session_factory(engine),
        write_sessions=session_factory(write_engine),
        publisher=publisher,
        metrics=ApiMetrics(registry),
        alert_config=alert_config,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from infersight.collector.api.rollup_maintainer import RollupMaintainer

        maintainer = None
        if config.rollups:
            maintainer = RollupMaintainer(context.sessions, _model_names, context.references.reference,
                                          config.rollup_interval_s,
                                          write_sessions=context.write_sessions)
            maintainer.start()
        if not config.auth_required:
            log.warning("INFERSIGHT_AUTH=off: the API accepts requests without an API key")
        try:
            yield
        finally:
            if maintainer is not None:
                maintainer.stop()
            context.publisher.close()
            if owns_write_engine and write_engine is not engine:
                write_engine.dispose()
            if dispose_engine:
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
    for router in (health.router, ingest.router, models.router, skew.router, metrics.router,
                   drift.router):
        app.include_router(router)
    app.include_router(alerts.router)
    app.include_router(page.router)

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
