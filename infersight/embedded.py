"""Everything in one process (``infersight up`` / ``infersight demo``): the SQLite schema,
the in-process bus, the worker thread with alert evaluation, the alert dispatcher, and
the API with the web page served by uvicorn from a thread.

One writer path: the worker, the alert dispatcher and the API's writes share one engine
whose SQLite transactions take the write lock when they begin (``BEGIN IMMEDIATE``), so a
writer waits for another (up to the busy timeout) instead of failing with "database is
locked" half-way through — which used to make a dispatch round fail after its webhook was
sent, and the notification go out twice. The API reads through a second engine. One alert
configuration source serves the worker, the dispatcher and the API.

>>> settings = embedded_settings(Settings(database_url="sqlite://"))
>>> settings.auth, settings.api_bus, settings.worker_metrics_port
('off', 'local', 0)
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from infersight.settings import Settings

log = logging.getLogger(__name__)


def embedded_settings(settings: Settings, **overrides: Any) -> Settings:
    """The settings of an embedded process: auth off, HTTP ingest onto the in-process bus,
    no separate worker ``/metrics`` port, and a consumer group of its own.

    The in-process bus starts empty with every process, so offsets stored by an earlier
    process mean nothing to it: a fresh group name makes the worker start at offset 0
    instead of waiting for the bus to reach the old offsets.
    """
    values: dict[str, Any] = {
        "auth": "off",
        "api_bus": "local",
        "worker_metrics_port": 0,
        "worker_group": f"embedded-{uuid.uuid4().hex[:12]}",
    }
    values.update(overrides)
    return settings.model_copy(update=values)


@dataclass
class Embedded:
    """A running embedded stack; ``stop()`` ends it (server, worker, dispatcher)."""

    settings: Settings
    url: str
    engine: Engine
    """Reads (the API's queries, the demo's console)."""
    write_engine: Engine
    """Every write: the worker, the dispatcher, the API's changes."""
    bus: Any
    worker: Any
    alerting: Any
    server: Any
    server_thread: threading.Thread
    stopped: bool = field(default=False)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting requests, then stop the worker after its current batch."""
        if self.stopped:
            return
        self.stopped = True
        self.server.should_exit = True
        self.server_thread.join(timeout)
        self.worker.stop(timeout)
        self.alerting.close()
        self.write_engine.dispose()
        self.engine.dispose()

    def __enter__(self) -> Embedded:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class StartupError(RuntimeError):
    """The embedded stack could not start (e.g. the port is taken)."""


def start_embedded(
    settings: Settings, host: str = "127.0.0.1", port: int = 8000, *, bus: Any = None,
    startup_timeout: float = 30.0,
) -> Embedded:
    """Upgrade the schema, start the worker, the dispatcher and the API; return when the
    API answers. ``settings`` should come from :func:`embedded_settings`.

    The worker's and the API's metrics share one registry, served at the API's ``/metrics``
    (the embedded process has no separate worker metrics port)."""
    import uvicorn
    from prometheus_client import CollectorRegistry

    from infersight.alerting import alerting_from_settings
    from infersight.api_service import build_api
    from infersight.collector.worker.self_metrics import WorkerMetrics
    from infersight.sdk.local_bus import get_local_bus
    from infersight.storage.db import make_engine, session_factory, upgrade, write_engine_for
    from infersight.worker_service import start_embedded_worker

    url = settings.resolved_database_url()
    upgrade(url)
    local_bus = bus if bus is not None else get_local_bus()
    engine = make_engine(url)
    writer = write_engine_for(engine)
    alerting = alerting_from_settings(settings, session_factory(writer))
    alerting.start_dispatcher()
    registry = CollectorRegistry()
    worker = start_embedded_worker(settings, writer, local_bus, metrics=WorkerMetrics(registry),
                                   alerting=alerting)
    app = build_api(settings, engine=engine, write_engine=writer, bus=local_bus,
                    registry=registry, alert_config=alerting.source.current)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="infersight-api", daemon=True)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    embedded = Embedded(settings, f"http://{shown_host}:{port}", engine, writer, local_bus,
                        worker, alerting, server, thread)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            embedded.stop(timeout=2.0)
            raise StartupError(f"the API could not listen on {host}:{port} "
                               "(is the port taken? choose another with --port)")
        time.sleep(0.05)
    return embedded
