"""Service settings from ``INFERSIGHT_*`` environment variables (pydantic-settings).

Settings are read when a command starts (``load_settings()``), never at import time.

>>> Settings(window="5m", eval_interval="200ms").window
300.0
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infersight.alerts.durations import Duration
from infersight.sdk.durations import parse_duration
from infersight.sdk.kafka_security import KafkaSecurity

__all__ = ["Duration", "Settings", "load_settings", "parse_duration"]


def default_data_dir() -> Path:
    """Where the embedded mode keeps its SQLite file (``$XDG_DATA_HOME/infersight``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "infersight"


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'infersight.db'}"


class Settings(BaseSettings):
    """All ``INFERSIGHT_*`` settings; the README lists them."""

    model_config = SettingsConfigDict(env_prefix="INFERSIGHT_", extra="ignore",
                                      hide_input_in_errors=True)  # no secrets in errors

    transport: str | None = None
    """SDK transport (``kafka://host:9092``, ``http://host:8000``, ``local``, ``memory``); the SDK
    reads it itself. Unset: HTTP to ``api_url``, where ``infersight up`` listens."""
    api_url: str = "http://127.0.0.1:8000"
    api_key: str | None = None
    database_url: str = ""
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    """``PLAINTEXT``, ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL`` (every Kafka client: SDK, API,
    worker; see :class:`~infersight.sdk.kafka_security.KafkaSecurity`)."""
    kafka_sasl_mechanism: str | None = None
    """``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512`` (with a ``SASL_*`` protocol)."""
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    """CA bundle of the brokers' certificates (default: the system's trust store)."""
    kafka_ssl_certfile: str | None = None
    """Client certificate (mutual TLS)."""
    kafka_ssl_keyfile: str | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = True
    window: Duration = 3600.0
    eval_interval: Duration = 10.0
    auth: Literal["on", "off"] = "on"
    prediction_retention: Duration = 30 * 86400.0
    """How long the prediction index (for the label join) keeps a prediction."""
    label_ttl: Duration = 7 * 86400.0
    """How long a label waits for its prediction before it is dead-lettered as unmatched."""
    skew_ttl: Duration = 7 * 86400.0
    """How long offline (or served) feature values wait for the other side of the train/serve
    skew join."""
    dead_letter_retention: Duration = 30 * 86400.0
    """How long dead letters are kept for inspection."""
    window_state_retention: Duration = 90 * 86400.0
    """How long the windows' drift states are kept (by window start; whole days on Postgres)."""
    health_state_retention: Duration = 90 * 86400.0
    """How long the windows' health states are kept (by window start; whole days on Postgres)."""
    metric_retention: Duration = 400 * 86400.0
    """How long metric points are kept (by window start; whole days on Postgres)."""

    worker_group: str = "infersight-workers"
    """Kafka consumer group of the collector workers (offsets are stored per group)."""
    worker_metrics_port: int = 9464
    """Port of the worker's Prometheus ``/metrics`` (0 turns it off)."""
    worker_metrics_host: str = "127.0.0.1"
    """Interface of the worker's ``/metrics`` endpoint."""
    worker_session_timeout: Duration = 10.0
    """Kafka consumer-group session timeout: how soon a dead worker's partitions move."""
    worker_max_records: int = 200
    """Kafka messages (each a batch of events) per polled batch and database transaction."""
    worker_lateness: float = 0.1
    """Allowed lateness as a share of the window length (the watermark lags by it)."""
    worker_housekeeping_interval: Duration = 60.0
    """How often a worker joins labels that raced their prediction on another worker, expires
    pending labels, applies retention and re-reads the watermarks."""

    alert_rules: Path | None = None
    """YAML file of alert rules and channels (``docs/alerts.md``); reloaded when it changes."""
    alert_disabled_rules: str = ""
    """Comma-separated names of built-in alert rules to turn off."""
    alert_give_up_after: Duration = 86400.0
    """An undelivered notification older than this is marked dead (visible in the API)."""
    alert_backoff_initial: Duration = 5.0
    """First retry delay of a failed notification (then exponential with jitter)."""
    alert_backoff_max: Duration = 900.0
    """Longest delay between two delivery attempts."""
    alert_dispatch_interval: Duration = 2.0
    """How often the alert dispatcher looks for due notifications."""
    alert_page_url: str | None = None
    """Base URL of the web page used in alert links (default: ``api_url``)."""
    alert_grafana_url: str | None = None
    """Grafana base URL used in alert links (no dashboard link when unset)."""
    alert_dashboard_uid: str = "infersight-model"
    """UID of the per-model Grafana dashboard (links and annotations)."""

    grafana_url: str | None = None
    """Grafana base URL for ``infersight grafana sync`` (e.g. ``http://grafana:3000``)."""
    grafana_token: str | None = None
    """Grafana service-account token (Editor or Admin) used by ``grafana sync``."""
    grafana_database_url: str | None = None
    """Postgres URL as Grafana reaches it, ideally a read-only role (default: ``database_url``)."""
    grafana_prometheus_url: str | None = None
    """Prometheus URL as Grafana reaches it; unset: no Prometheus data source or service dashboard."""
    grafana_folder: str = "infersight"
    """Title of the Grafana folder that holds the dashboards."""
    grafana_timeout: Duration = 10.0
    """Timeout of each Grafana API call."""

    api_bus: Literal["kafka", "local"] = "kafka"
    """Where HTTP ingest publishes: the Kafka topics, or the in-process bus (embedded mode)."""
    api_max_body_bytes: int = 5_000_000
    """Largest accepted body of ``POST /v1/events`` and ``/v1/labels`` (413 beyond)."""
    api_max_reference_bytes: int = 512 * 1024 * 1024
    """Largest accepted reference upload (JSON, CSV or Parquet; 413 beyond)."""
    api_publish_timeout: Duration = 10.0
    """How long HTTP ingest waits for the bus to take a batch before answering 503."""
    api_rollup_interval: Duration = 60.0
    """How often the API refreshes the pre-merged rollups behind the drift ranking."""
    api_rollups: bool = True
    """Whether the API process maintains rollups (one API process per deployment is enough)."""

    @model_validator(mode="after")
    def _check_kafka_security(self) -> Settings:
        self.kafka_security()  # a bad combination fails when the settings are read
        return self

    def kafka_security(self) -> KafkaSecurity:
        """The TLS/SASL settings of every Kafka client of the services."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=_secret(self.kafka_sasl_password),
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
            ssl_key_password=_secret(self.kafka_ssl_key_password),
            ssl_check_hostname=self.kafka_ssl_check_hostname,
        )

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file."""
        return self.database_url or default_database_url()


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def load_settings() -> Settings:
    """Read the settings from the environment now."""
    return Settings()
