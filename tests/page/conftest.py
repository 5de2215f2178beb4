"""Fixtures of the page tests: a seeded database (SQLite, or Postgres), the API on a real
uvicorn server on 127.0.0.1, and the Debian chromium driven by playwright."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from infersight.sdk.local_bus import LocalBus
from infersight.storage.db import make_engine, upgrade
from sqlalchemy import Engine

from infersight.api_service import build_api
from infersight.settings import Settings
from tests.page.health_seed import seed_health
from tests.page.seed import Seeded, seed
from tests.support.postgres import temporary_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    engine: Engine
    seeded: Seeded | None


def serve(engine: Engine, settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    app = build_api(settings, engine=engine, bus=LocalBus())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def _served(url: str, auth: str = "off") -> Iterator[Served]:
    upgrade(url)
    engine = make_engine(url)
    seeded = seed(engine)
    seed_health(engine)
    settings = Settings(database_url=url, auth=auth, api_rollups=False, window=3600.0)  # type: ignore[arg-type]
    server, thread, base = serve(engine, settings)
    try:
        yield Served(base, engine, seeded)
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    path: Path = tmp_path_factory.mktemp("page") / "page.db"
    yield from _served(f"sqlite:///{path}")


@pytest.fixture(scope="module")
def postgres_page() -> Iterator[Served]:
    with temporary_database() as url:
        yield from _served(url)


@pytest.fixture(params=["sqlite", "postgres"])
def seeded_api(request: pytest.FixtureRequest) -> Served:
    """The seeded API on each backend (each with a database of this module's own)."""
    served: Served = request.getfixturevalue(f"{request.param}_page")
    return served


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()
