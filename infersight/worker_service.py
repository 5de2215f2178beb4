"""Building and running a worker from the settings: Kafka + Postgres, or embedded.

``run_kafka_worker`` is what ``infersight worker`` runs; ``start_embedded_worker`` is what
``infersight up``/``demo`` start in a thread: the same :class:`Worker` on the in-process
bus and the SQLite database.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.loop import Worker
from infersight.collector.worker.self_metrics import WorkerMetrics
from infersight.sdk import wire
from infersight.settings import Settings

log = logging.getLogger(__name__)


def worker_config(settings: Settings) -> WorkerConfig:
    """The worker's tunables from ``INFERSIGHT_*`` settings."""
    return WorkerConfig(
        window_s=settings.window,
        eval_interval_s=settings.eval_interval,
        group=settings.worker_group,
        lateness_fraction=settings.worker_lateness,
        label_ttl_s=settings.label_ttl,
        skew_ttl_s=settings.skew_ttl,
        prediction_retention_s=settings.prediction_retention,
        dead_letter_retention_s=settings.dead_letter_retention,
        window_state_retention_s=settings.window_state_retention,
        health_state_retention_s=settings.health_state_retention,
        metric_retention_s=settings.metric_retention,
        max_records=settings.worker_max_records,
        housekeeping_interval_s=settings.worker_housekeeping_interval,
    )


def build_kafka_worker(settings: Settings, metrics: WorkerMetrics | None = None) -> Worker:
    """A worker in the Kafka consumer group on the events and labels topics."""
    from infersight.collector.worker.kafka_bus import KafkaConsumerBus, KafkaDeadLetterPublisher
    from infersight.storage.db import make_engine

    session_ms = int(settings.worker_session_timeout * 1000)
    security = settings.kafka_security().client_options()
    bus = KafkaConsumerBus(
        settings.kafka_bootstrap_servers,
        settings.worker_group,
        [wire.EVENTS_TOPIC, wire.LABELS_TOPIC],
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=max(100, session_ms // 5),
        max_poll_interval_ms=max(300_000, session_ms),
        **security,
    )
    deadletters = KafkaDeadLetterPublisher(settings.kafka_bootstrap_servers, wire.DEADLETTER_TOPIC,
                                           **security)
    engine = make_engine(settings.resolved_database_url())
    return Worker(bus, engine, worker_config(settings), deadletters=deadletters, metrics=metrics,
                  alerting=build_alerting(settings, engine))


def build_alerting(settings: Settings, engine: Any) -> Any:
    """Alert evaluation for the worker (rules judged once per (model, version) and evaluation round)."""
    from infersight.alerting import alerting_from_settings
    from infersight.storage.db import session_factory

    return alerting_from_settings(settings, session_factory(engine))


def run_kafka_worker(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; serve ``/metrics`` if ``worker_metrics_port`` is set."""
    metrics = WorkerMetrics()
    if settings.worker_metrics_port:
        metrics.serve(settings.worker_metrics_port, settings.worker_metrics_host)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker = build_kafka_worker(settings, metrics)
    if worker.alerting is not None:
        worker.alerting.start_dispatcher()
    try:
        worker.run(stop)
    finally:
        if worker.alerting is not None:
            worker.alerting.close()


@dataclass
class EmbeddedWorker:
    """A worker thread of the embedded mode; ``stop()`` ends it after its current batch."""

    worker: Worker
    thread: threading.Thread
    stop_event: threading.Event

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)


def start_embedded_worker(
    settings: Settings, engine: Engine | None = None, bus: Any = None,
    metrics: WorkerMetrics | None = None, alerting: Any = None,
) -> EmbeddedWorker:
    """Start the worker in a daemon thread on the in-process bus and ``engine`` (default: one
    on the settings' database; the schema must exist: run ``infersight.storage.db.upgrade``
    first). ``alerting`` (:class:`infersight.alerts.service.Alerting`) judges alert rules
    once per (model, version) and evaluation round."""
    from infersight.collector.worker.local_consumer import (
        LocalConsumerBus,
        LocalDeadLetterPublisher,
    )
    from infersight.sdk.local_bus import get_local_bus
    from infersight.storage.db import make_engine

    local = bus if bus is not None else get_local_bus()
    consumer = LocalConsumerBus(local, [wire.EVENTS_TOPIC, wire.LABELS_TOPIC])
    worker = Worker(
        consumer,
        engine if engine is not None else make_engine(settings.resolved_database_url()),
        worker_config(settings),
        deadletters=LocalDeadLetterPublisher(local, wire.DEADLETTER_TOPIC),
        metrics=metrics,
        alerting=alerting,
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="infersight-worker",
                              daemon=True)
    thread.start()
    return EmbeddedWorker(worker, thread, stop)
