"""The database schema (SQLAlchemy 2.x ORM), shared by Postgres and SQLite.

Table and column names are a contract: the worker, the API, alerts and the Grafana
dashboards read them. Every timestamp is an aware UTC datetime (:class:`UtcDateTime`).
The hot-path tables (window states, metric points, prediction index, ...) key rows by
model name and version without foreign keys, so bulk writes never depend on write order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from infersight.storage.types import IdType, JsonType, UtcDateTime, utc_now
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import REAL

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME = String(255)
"""Model names, versions, prediction ids, topics, consumer groups."""


class Base(DeclarativeBase):
    """Declarative base whose metadata names every constraint (stable migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Model(Base):
    """A monitored model and its evaluation settings (``PUT /v1/models/{model}``)."""

    __tablename__ = "models"

    name: Mapped[str] = mapped_column(NAME, primary_key=True)
    task: Mapped[str | None] = mapped_column(String(32))
    """``binary``, ``multiclass``, ``regression``, or null (inferred from traffic)."""
    positive_label: Mapped[Any | None] = mapped_column(JsonType)
    threshold: Mapped[float] = mapped_column(Float, default=0.5)
    window_seconds: Mapped[int | None] = mapped_column(Integer)
    """Window length; null means the ``INFERSIGHT_WINDOW`` setting."""
    drift_config: Mapped[Any | None] = mapped_column(JsonType)
    """Per-feature test and threshold overrides."""
    skew_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Keep served feature values for the train/serve skew join (``storage/skew_rows.py``)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class ModelVersion(Base):
    """A version of a model and its reference profile (``Reference.to_bytes()``)."""

    __tablename__ = "model_versions"

    model: Mapped[str] = mapped_column(
        NAME, ForeignKey("models.name", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(NAME, primary_key=True)
    reference: Mapped[bytes | None] = mapped_column(LargeBinary)
    reference_source: Mapped[str | None] = mapped_column(String(32))
    """``upload`` or ``first_window``; null while there is no reference."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class _PartitionState:
    """Columns of a serialised mergeable state of one window from one input partition."""

    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    version: Mapped[str] = mapped_column(NAME, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    partition_key: Mapped[str] = mapped_column(NAME, primary_key=True)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    event_count: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class WindowState(_PartitionState, Base):
    """Serialised mergeable drift state of one window from one input partition.

    ``partition_key`` names the source, e.g. ``infersight.events/3`` or
    ``infersight.labels/0``; all rows of a window merge by addition.
    """

    __tablename__ = "window_states"
    __table_args__ = (Index(None, "model", "window_start"),)


class HealthState(_PartitionState, Base):
    """Serialised health state (:class:`infersight.drift.health.HealthState`) of one window
    from one events partition: every new call, with or without a reference. ``event_count``
    is the number of calls."""

    __tablename__ = "health_states"
    __table_args__ = (Index(None, "model", "window_start"),)


class ModelPrice(Base):
    """A revision of a model's pricing, in force from ``effective_from`` until the next."""

    __tablename__ = "model_prices"

    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    effective_from: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    pricing: Mapped[Any] = mapped_column(JsonType)
    """``{"currency": "USD", "input_per_million": 2.5, ...}`` (the prices given)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class CostRecomputation(Base):
    """A window whose cost is priced from its sums at one revision (``recompute-cost``)."""

    __tablename__ = "cost_recomputations"

    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    version: Mapped[str] = mapped_column(NAME, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    price_effective_from: Mapped[datetime] = mapped_column(UtcDateTime)
    """The ``model_prices`` revision the window is priced at."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ConsumerOffset(Base):
    """The next offset to consume, stored with the state derived from earlier offsets."""

    __tablename__ = "consumer_offsets"

    consumer_group: Mapped[str] = mapped_column(NAME, primary_key=True)
    topic: Mapped[str] = mapped_column(NAME, primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class MetricPoint(Base):
    """One metric of one window (and feature); re-evaluation upserts the same row.

    ``feature`` is ``''`` for dataset-level metrics (the API shows it as null). ``value``
    is null when the metric is undefined (NaN or infinite), e.g. ROC AUC over one class.
    """

    __tablename__ = "metric_points"
    __table_args__ = (
        UniqueConstraint("model", "version", "window_start", "feature", "metric"),
        Index(None, "model", "metric", "window_start"),
        Index(None, "model", "window_start"),
        Index(None, "model", "feature", "metric", "window_start"),  # one feature's series
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(NAME)
    version: Mapped[str] = mapped_column(NAME)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    feature: Mapped[str] = mapped_column(NAME, default="")
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    sample_size: Mapped[int] = mapped_column(BigInteger, default=0)
    evaluated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    first_evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    """When the point was first written, i.e. soon after its window's data first arrived;
    re-evaluation keeps it. Rule delays count from it as well as from the window's end, so a
    replayed history is not judged before its late data (labels) could arrive. Null on points
    written before it existed."""


class PredictionIndex(Base):
    """What the label join needs of each prediction, kept for the retention period.

    Compact (``storage/index_codec.py``): the 64-bit hash of ``(model, prediction_id)``, the
    event time, the window as a small id (``index_windows``: model, version, window start),
    a float prediction in ``score`` (float 32) or any other in ``value`` (MessagePack), and
    the label (MessagePack). On Postgres the table is range-partitioned by ``ts`` (one
    partition a day, ``storage/partitions.py``), each partition with its own unique index
    on ``key_hash``; SQLite keeps this single table.
    """

    __tablename__ = "prediction_index"

    key_hash: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    window_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(REAL)
    """A prediction that is one float (32-bit); null when ``value`` holds it."""
    value: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Any other prediction (MessagePack), or :data:`index_codec.HELD` for a held row."""
    label: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The joined label; null until one joins."""


class IndexWindow(Base):
    """The small id that stands for a (model, version, window start) in the prediction index."""

    __tablename__ = "index_windows"
    __table_args__ = (UniqueConstraint("model", "version", "window_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(NAME)
    version: Mapped[str] = mapped_column(NAME)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)


class HeldPrediction(Base):
    """The whole event of a prediction held until its version has a reference (bootstrap);
    its index row stores only the held marker."""

    __tablename__ = "held_predictions"
    __table_args__ = (Index(None, "model", "version", "window_start"),)

    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    prediction_id: Mapped[str] = mapped_column(NAME, primary_key=True)
    version: Mapped[str] = mapped_column(NAME)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    key_hash: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[Any] = mapped_column(JsonType)
    """``{BOOTSTRAP_KEY: event}``, as the bootstrap reads it."""


class PendingLabel(Base):
    """A label that arrived before its prediction; expires after ``INFERSIGHT_LABEL_TTL``."""

    __tablename__ = "pending_labels"
    __table_args__ = (Index(None, "received_at"),)

    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    prediction_id: Mapped[str] = mapped_column(NAME, primary_key=True)
    label: Mapped[Any] = mapped_column(JsonType)
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class DeadLetter(Base):
    """An event that could not be processed, with the reason and its raw bytes."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index(None, "created_at"), Index(None, "reason"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    topic: Mapped[str | None] = mapped_column(NAME)
    partition: Mapped[int | None] = mapped_column(Integer)
    offset: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class DetectorState(Base):
    """Serialised state of a concept-drift detector over the labelled error stream."""

    __tablename__ = "detector_states"

    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    version: Mapped[str] = mapped_column(NAME, primary_key=True)
    detector: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[Any] = mapped_column(JsonType)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class Watermark(Base):
    """The per-model event-time watermark (max event time seen) that closes windows."""

    __tablename__ = "watermarks"

    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    max_event_ts: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class OfflineRow(Base):
    """One request of the train/serve skew join (``storage/skew_rows.py``): the feature
    values computed offline (uploaded) and/or served (kept while the model has skew enabled),
    MessagePack, until the pair is compared (then both are cleared and the row stays as a
    tombstone against duplicates) or ``expires_at`` (``INFERSIGHT_SKEW_TTL``) passes."""

    __tablename__ = "offline_rows"
    __table_args__ = (Index(None, "expires_at"),)

    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    version: Mapped[str] = mapped_column(NAME, primary_key=True)
    key_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    """:func:`~infersight.storage.index_codec.key_hash` of (model, prediction_id)."""
    prediction_id: Mapped[str] = mapped_column(NAME)
    offline: Mapped[bytes | None] = mapped_column(LargeBinary)
    served: Mapped[bytes | None] = mapped_column(LargeBinary)
    window_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """The served prediction's window (null until it is served)."""
    compared: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
