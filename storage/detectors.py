"""Serialised concept-drift detector states per (model, version, detector)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infersight.storage.models import DetectorState
from infersight.storage.types import utc_now
from infersight.storage.upsert import insert_missing, upsert
from sqlalchemy import select
from sqlalchemy.orm import Session

DetectorKey = tuple[str, str, str]
"""(model, version, detector)."""


def store_detector_states(session: Session, states: Mapping[DetectorKey, Any]) -> int:
    """Write detector states (JSON-serialisable) in bulk, replacing earlier ones."""
    now = utc_now()
    rows = [
        {"model": m, "version": v, "detector": d, "state": state, "updated_at": now}
        for (m, v, d), state in states.items()
    ]
    return upsert(
        session,
        DetectorState,
        rows,
        conflict=("model", "version", "detector"),
        update=("state", "updated_at"),
    )


def load_detector_states(
    session: Session, model: str, version: str | None = None
) -> dict[DetectorKey, Any]:
    """The detector states of ``model`` (one version, or all)."""
    query = select(DetectorState).where(DetectorState.model == model)
    if version is not None:
        query = query.where(DetectorState.version == version)
    return {(r.model, r.version, r.detector): r.state for r in session.scalars(query)}


def lock_detector_states(
    session: Session, model: str, version: str, detectors: Sequence[str]
) -> dict[str, Any]:
    """The stored states of the version's ``detectors``, their rows created if missing (empty
    state) and locked until the transaction ends, so two workers take turns."""
    insert_missing(
        session, DetectorState,
        [{"model": model, "version": version, "detector": name, "state": {},
          "updated_at": utc_now()} for name in detectors],
        conflict=("model", "version", "detector"),
    )
    return {
        name: state
        for name, state in session.execute(
            select(DetectorState.detector, DetectorState.state)
            .where(DetectorState.model == model, DetectorState.version == version)
            .with_for_update()
        )
    }
