"""Migrations: upgrade from empty, downgrade to empty, and no drift from the models."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from infersight.migrations.config import alembic_config
from infersight.migrations.metadata import target_metadata
from infersight.storage.db import current_revision, downgrade, make_engine, upgrade
from sqlalchemy import Column, Integer, MetaData, inspect

from tests.support.postgres import temporary_database

SCHEMA_TABLES = {
    "models",
    "model_versions",
    "window_states",
    "consumer_offsets",
    "metric_points",
    "prediction_index",
    "pending_labels",
    "dead_letters",
    "detector_states",
    "watermarks",
}


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        with temporary_database("infersight_migrations") as url:
            yield url


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _differences(url: str, metadata: MetaData) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True, "include_name": _not_a_partition})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _not_a_partition(name: str | None, type_: str, parent_names: Any) -> bool:
    """Partitions (Postgres) are made by the migrations and the worker, not declared in the
    models."""
    table = name if type_ == "table" else parent_names.get("table_name")
    return not re.search(r"_(p\d{8}|default)$", table or "")


def _revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_the_migration_chain_is_linear_and_starts_with_the_schema() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert _revisions_oldest_first()[0] == "0001"


def test_upgrade_from_empty_matches_the_models_exactly(empty_url: str) -> None:
    upgrade(empty_url)
    assert _tables(empty_url) >= SCHEMA_TABLES
    assert _differences(empty_url, target_metadata()) == []
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(empty_url) == head


def test_the_drift_check_notices_a_difference(empty_url: str) -> None:
    upgrade(empty_url)
    changed = MetaData()
    for table in target_metadata().tables.values():
        table.to_metadata(changed)
    changed.tables["metric_points"].append_column(Column("extra", Integer))
    differences = _differences(empty_url, changed)
    assert [d[0] for d in differences] == ["add_column"]


def test_every_revision_downgrades_and_upgrades_again(empty_url: str) -> None:
    revisions = _revisions_oldest_first()
    upgrade(empty_url)
    for expected in reversed(revisions[:-1]):
        downgrade(empty_url, "-1")
        assert current_revision(empty_url) == expected
    downgrade(empty_url, "base")
    assert current_revision(empty_url) is None
    assert _tables(empty_url) == {"alembic_version"}
    for revision in revisions:
        upgrade(empty_url, revision)
        assert current_revision(empty_url) == revision
    assert _differences(empty_url, target_metadata()) == []
