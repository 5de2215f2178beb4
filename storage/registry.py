"""Models, their versions and reference profiles."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from infersight.sdk.reference import TASKS
from infersight.storage.models import Model, ModelVersion
from infersight.storage.types import utc_now
from infersight.storage.upsert import insert_missing
from sqlalchemy import literal, select, update
from sqlalchemy.orm import Session

REFERENCE_SOURCES = ("upload", "first_window")
ReferenceSource = Literal["upload", "first_window"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""Marks a model setting left unchanged by :func:`configure_model`."""


def ensure_model_versions(session: Session, pairs: Iterable[tuple[str, str]]) -> None:
    """Create the models and (model, version) rows that do not exist yet (cheap when they do)."""
    unique = set(pairs)
    if not unique:
        return
    now = utc_now()
    models = [{"name": m, "created_at": now, "updated_at": now} for m in {m for m, _ in unique}]
    insert_missing(session, Model, sorted(models, key=lambda r: r["name"]), conflict=("name",))
    versions = [{"model": m, "version": v, "created_at": now} for m, v in sorted(unique)]
    insert_missing(session, ModelVersion, versions, conflict=("model", "version"))


def get_model(session: Session, name: str) -> Model | None:
    """The model called ``name``, or None."""
    return session.get(Model, name)


def list_models(session: Session) -> list[Model]:
    """All models by name."""
    return list(session.scalars(select(Model).order_by(Model.name)))


def probe(session: Session) -> None:
    """Read the models table once: raises when the database or its schema is unreachable."""
    session.execute(select(literal(1)).select_from(Model).limit(1))


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """A version without its reference blob: whether it has one, and where it came from."""

    model: str
    version: str
    has_reference: bool
    reference_source: str | None
    """``upload`` or ``first_window``; None while the version has no reference."""
    created_at: datetime


def version_summaries(session: Session, models: Sequence[str]) -> dict[str, list[VersionSummary]]:
    """``{model: its versions, oldest first}`` for each of ``models`` (no blob is read)."""
    if not models:
        return {}
    rows = session.execute(
        select(ModelVersion.model, ModelVersion.version, ModelVersion.reference_source,
               ModelVersion.created_at, ModelVersion.reference.is_not(None))
        .where(ModelVersion.model.in_(list(models)))
        .order_by(ModelVersion.created_at, ModelVersion.version)
    )
    out: dict[str, list[VersionSummary]] = {name: [] for name in models}
    for model, version, source, created, has in rows:
        out[model].append(VersionSummary(model, version, bool(has), source if has else None,
                                         created))
    return out


def list_versions(session: Session, model: str) -> list[ModelVersion]:
    """The versions of ``model``, oldest first."""
    query = (
        select(ModelVersion)
        .where(ModelVersion.model == model)
        .order_by(ModelVersion.created_at, ModelVersion.version)
    )
    return list(session.scalars(query))


def configure_model(
    session: Session,
    name: str,
    *,
    task: str | None = UNSET,
    positive_label: Any = UNSET,
    threshold: float = UNSET,
    window_seconds: int | None = UNSET,
    drift_config: dict[str, Any] | None = UNSET,
    skew_enabled: bool = UNSET,
) -> Model:
    """Create ``name`` or change the given settings (the others stay as they are)."""
    if task is not UNSET and task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)} or None, got {task!r}")
    if threshold is not UNSET and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not math.isfinite(threshold)
    ):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    if (
        window_seconds is not UNSET
        and window_seconds is not None
        and (
            isinstance(window_seconds, bool)
            or not isinstance(window_seconds, int)
            or window_seconds <= 0
        )
    ):
        raise ValueError(f"window_seconds must be a positive int or None, got {window_seconds!r}")
    if (
        drift_config is not UNSET
        and drift_config is not None
        and not isinstance(drift_config, dict)
    ):
        raise ValueError(
            f"drift_config must be a mapping or None, got {type(drift_config).__name__}"
        )
    model = session.get(Model, name)
    if model is None:
        insert_missing(
            session,
            Model,
            [{"name": name, "created_at": utc_now(), "updated_at": utc_now()}],
            conflict=("name",),
        )
        model = session.get(Model, name)
        assert model is not None
    changes = {
        "task": task,
        "positive_label": positive_label,
        "threshold": threshold,
        "window_seconds": window_seconds,
        "drift_config": drift_config,
        "skew_enabled": skew_enabled,
    }
    for attribute, value in changes.items():
        if value is not UNSET:
            setattr(model, attribute, float(value) if attribute == "threshold" else value)
    model.updated_at = utc_now()
    session.flush()
    return model


def set_reference(
    session: Session,
    model: str,
    version: str,
    reference: bytes,
    source: ReferenceSource = "upload",
) -> bool:
    """Store the reference profile of (model, version).

    An ``upload`` always replaces the reference; a ``first_window`` reference is only
    stored when there is none yet. Returns whether the reference was stored.
    """
    if source not in REFERENCE_SOURCES:
        raise ValueError(f"reference source must be 'upload' or 'first_window', got {source!r}")
    if not isinstance(reference, bytes | bytearray | memoryview) or len(reference) == 0:
        raise ValueError("reference must be non-empty bytes (Reference.to_bytes())")
    ensure_model_versions(session, [(model, version)])
    stmt = (
        update(ModelVersion)
        .where(ModelVersion.model == model, ModelVersion.version == version)
        .values(reference=bytes(reference), reference_source=source)
        .execution_options(synchronize_session=False)
    )
    if source == "first_window":
        stmt = stmt.where(ModelVersion.reference.is_(None))
    stored = session.execute(stmt).rowcount > 0  # type: ignore[attr-defined]
    cached = session.identity_map.get(session.identity_key(ModelVersion, (model, version)))
    if cached is not None:
        session.expire(cached)
    return stored


def get_reference(
    session: Session, model: str, version: str
) -> tuple[bytes, ReferenceSource] | None:
    """The reference blob of (model, version) and its source, or None."""
    query = select(ModelVersion.reference, ModelVersion.reference_source).where(
        ModelVersion.model == model, ModelVersion.version == version
    )
    row = session.execute(query).first()
    if row is None or row[0] is None:
        return None
    source: ReferenceSource = "first_window" if row[1] == "first_window" else "upload"
    return bytes(row[0]), source
