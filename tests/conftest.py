"""Shared fixtures: the real Tansu broker and a throwaway Postgres database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """A Tansu broker on a free loopback port, shared by the session (topics accumulate)."""
    log: Path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    broker = TansuBroker(log_path=log)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def fresh_kafka_broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of the test's own, for tests that stop or restart it."""
    broker = TansuBroker(log_path=tmp_path / "tansu.log")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of an empty Postgres database created for this test session."""
    with temporary_database() as url:
        yield url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A loud closing banner when tests were skipped: which, why, and what installs them."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: dict[str, int] = {}
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    terminalreporter.write_sep("!", f"{len(skipped)} TESTS SKIPPED: this run tested less", red=True,
                               bold=True)
    for reason, count in sorted(reasons.items()):
        terminalreporter.write_line(f"  {count:4d} skipped: {reason}", red=True)
    terminalreporter.write_line(
        "  As root on Debian or Ubuntu, `make test` installs what they need "
        "(apt-get install chromium prometheus).", bold=True)
