"""Fixtures for the storage tests: one migrated database per backend, shared by the package.

Tests keep out of each other's way by using their own model names (``unique_name``), so
they commit for real instead of running inside a rolled-back transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from infersight.storage.db import make_engine, session_factory, upgrade
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.postgres import temporary_database

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="package")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("storage") / "infersight.db"
    return f"sqlite:///{path}"


@pytest.fixture(scope="package")
def postgres_storage_url() -> Iterator[str]:
    with temporary_database("infersight_storage") as url:
        yield url


@pytest.fixture(scope="package", params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a migrated database, once per backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_storage_url"
    url: str = request.getfixturevalue(fixture)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work the test commits itself (or not)."""
    with sessions() as session:
        yield session
        session.rollback()


@pytest.fixture
def unique_name() -> str:
    """A model name no other test uses."""
    return f"model-{uuid.uuid4().hex[:12]}"
