"""Fixtures of the worker tests: a migrated database, references, a broker of the module's own."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from infersight.drift import Reference
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.registry import set_reference

from tests.collector.streams import reference_frame
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker


def reference_bytes(seed: int = 7) -> bytes:
    """A binary-classifier reference built from the unshifted distribution."""
    frame = reference_frame(seed)
    rng = random.Random(seed + 1)
    scores = [rng.betavariate(2, 5) for _ in frame["amount"]]
    labels = [int(rng.random() < s) for s in scores]
    return Reference.from_data(frame, predictions=scores, labels=labels).to_bytes()


def install_references(db_url: str, models: tuple[str, ...] = ("fraud", "churn")) -> None:
    engine = make_engine(db_url)
    try:
        with session_factory(engine).begin() as session:
            for model in models:
                set_reference(session, model, "1", reference_bytes(), "upload")
    finally:
        engine.dispose()


@pytest.fixture
def migrated_postgres() -> Iterator[str]:
    """A fresh Postgres database at the latest schema, with the test models' references."""
    with temporary_database("infersight_worker") as url:
        upgrade(url)
        install_references(url)
        yield url


@pytest.fixture
def migrated_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    install_references(url)
    return url


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """A broker for one test module alone (its topics hold that module's stream)."""
    broker = TansuBroker(log_path=tmp_path_factory.mktemp("tansu") / "tansu.log")
    broker.start()
    yield broker
    broker.stop()
