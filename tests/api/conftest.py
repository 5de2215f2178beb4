"""Fixtures for the API tests: a fresh migrated database per test (SQLite and Postgres) and
the API served by a real uvicorn server on 127.0.0.1.

Each backend's schema is migrated once into a template (a SQLite file; a Postgres template
database); every test gets its own copy (file copy; ``CREATE DATABASE ... TEMPLATE``), so
tests never see each other's rows and nothing needs cleaning up.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from infersight.sdk.local_bus import LocalBus
from infersight.storage.apikeys import create_api_key
from infersight.storage.db import make_engine, session_factory, upgrade
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from infersight.api_service import build_api
from infersight.settings import Settings
from tests.support.postgres import temporary_database

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("api-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """Name of a migrated Postgres database that each test's database is copied from."""
    with temporary_database("infersight_api_tmpl") as url:
        upgrade(url)
        yield url.rsplit("/", 1)[1]


@contextmanager
def _postgres_copy(template: str) -> Iterator[str]:
    with temporary_database("infersight_api", template=template) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "api.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        with _postgres_copy(request.getfixturevalue("postgres_template")) as url:
            yield url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database of this test's own (for tests run on one backend)."""
    path = tmp_path / "api.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


class LiveServer:
    """A uvicorn server in a thread on a free loopback port."""

    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Api:
    """A running API and what the tests need around it."""

    url: str
    client: httpx.Client
    engine: Engine
    sessions: sessionmaker[Session]
    bus: LocalBus
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def key(self, *scopes: str, name: str | None = None) -> str:
        with self.sessions.begin() as session:
            _row, token = create_api_key(session, name or f"k-{uuid.uuid4().hex[:8]}", scopes)
        return token

    def headers(self, scope: str = "admin") -> dict[str, str]:
        if scope not in self.tokens:
            self.tokens[scope] = self.key(scope)
        return {"Authorization": f"Bearer {self.tokens[scope]}"}

    def get(self, path: str, scope: str = "read", **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers(scope), **kwargs)

    def post(self, path: str, scope: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(scope), **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)

    def put(self, path: str, scope: str = "admin", **kwargs: Any) -> httpx.Response:
        return self.client.put(path, headers=self.headers(scope), **kwargs)


@contextmanager
def serve(url: str, **overrides: Any) -> Iterator[Api]:
    """The API on the database at ``url``, with a LocalBus, served on a free port."""
    values: dict[str, Any] = {"database_url": url, "auth": "on", "api_rollups": False}
    values.update(overrides)
    settings = Settings(**values)
    engine = make_engine(url)
    bus = LocalBus()
    app = build_api(settings, engine=engine, bus=bus)
    try:
        with LiveServer(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            writer = make_engine(url, sqlite_immediate=True)  # the test's own writes wait their turn
            try:
                yield Api(base, client, engine, session_factory(writer), bus, settings)
            finally:
                writer.dispose()
    finally:
        engine.dispose()


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    """The API on this test's database, on each backend."""
    with serve(database_url) as running:
        yield running


@pytest.fixture
def sqlite_api(sqlite_url: str) -> Iterator[Api]:
    """The API on a SQLite database of this test's own."""
    with serve(sqlite_url) as running:
        yield running
