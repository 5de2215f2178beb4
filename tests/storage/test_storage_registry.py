"""Models, versions and reference blobs."""

from __future__ import annotations

import pytest
from infersight.storage.registry import (
    configure_model,
    ensure_model_versions,
    get_model,
    get_reference,
    list_models,
    list_versions,
    probe,
    set_reference,
    version_summaries,
)
from sqlalchemy.orm import Session


def test_ensure_creates_models_and_versions_once(session: Session, unique_name: str) -> None:
    pairs = [(unique_name, "1"), (unique_name, "2"), (unique_name, "1")]
    ensure_model_versions(session, pairs)
    ensure_model_versions(session, pairs)
    session.commit()
    model = get_model(session, unique_name)
    assert model is not None
    assert (model.task, model.threshold, model.window_seconds) == (None, 0.5, None)
    assert model.created_at.tzinfo is not None
    assert [v.version for v in list_versions(session, unique_name)] == ["1", "2"]
    assert unique_name in [m.name for m in list_models(session)]


def test_configure_changes_only_the_given_settings(session: Session, unique_name: str) -> None:
    configure_model(session, unique_name, task="binary", positive_label="fraud", threshold=0.7)
    session.commit()
    configure_model(session, unique_name, window_seconds=60, drift_config={"age": {"test": "psi"}})
    session.commit()
    session.expire_all()
    model = get_model(session, unique_name)
    assert model is not None
    assert (model.task, model.positive_label, model.threshold) == ("binary", "fraud", 0.7)
    assert (model.window_seconds, model.drift_config) == (60, {"age": {"test": "psi"}})
    configure_model(session, unique_name, task=None)
    session.commit()
    assert get_model(session, unique_name).task is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"task": "ranking"}, "task must be one of"),
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"threshold": "high"}, "threshold must be a finite number"),
        ({"window_seconds": 0}, "window_seconds must be a positive int"),
        ({"drift_config": ["psi"]}, "drift_config must be a mapping"),
    ],
)
def test_invalid_settings_are_refused_with_a_reason(
    session: Session, unique_name: str, settings: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        configure_model(session, unique_name, **settings)  # type: ignore[arg-type]


def test_uploaded_reference_wins_over_first_window(session: Session, unique_name: str) -> None:
    assert get_reference(session, unique_name, "1") is None
    assert set_reference(session, unique_name, "1", b"first", source="first_window")
    session.commit()
    assert not set_reference(session, unique_name, "1", b"second", source="first_window")
    assert get_reference(session, unique_name, "1") == (b"first", "first_window")
    assert set_reference(session, unique_name, "1", b"\x00uploaded" * 1000, source="upload")
    session.commit()
    assert get_reference(session, unique_name, "1") == (b"\x00uploaded" * 1000, "upload")
    assert not set_reference(session, unique_name, "1", b"later", source="first_window")
    [version] = list_versions(session, unique_name)
    assert version.reference_source == "upload"


@pytest.mark.parametrize(
    ("reference", "source", "reason"),
    [(b"", "upload", "non-empty bytes"), (b"x", "guess", "reference source")],
)
def test_bad_references_are_refused(
    session: Session, unique_name: str, reference: bytes, source: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        set_reference(session, unique_name, "1", reference, source=source)  # type: ignore[arg-type]


def test_version_summaries_tell_which_versions_have_a_reference(
    session: Session, unique_name: str
) -> None:
    ensure_model_versions(session, [(unique_name, "1"), (unique_name, "2")])
    set_reference(session, unique_name, "2", b"blob", "first_window")
    probe(session)
    found = version_summaries(session, [unique_name, "absent"])
    assert found["absent"] == []
    assert [(v.version, v.has_reference, v.reference_source) for v in found[unique_name]] == [
        ("1", False, None), ("2", True, "first_window")]
    assert version_summaries(session, []) == {}
