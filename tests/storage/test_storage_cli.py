"""``infersight db upgrade``: from any directory, on the database named by the settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from infersight.migrations.config import alembic_config
from infersight.storage.db import current_revision
from typer.testing import CliRunner

from infersight.cli import app


def _run_cli(database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INFERSIGHT_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "infersight", "db", "upgrade"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_creates_the_schema_from_another_directory(tmp_path: Path) -> None:
    database = tmp_path / "data" / "fresh.db"
    url = f"sqlite:///{database}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    first = _run_cli(url, elsewhere)
    assert first.returncode == 0, first.stderr
    assert f"upgraded from empty to revision {head}" in first.stdout
    assert current_revision(url) == head

    second = _run_cli(url, elsewhere)
    assert second.returncode == 0, second.stderr
    assert f"already at revision {head}" in second.stdout


def test_db_upgrade_reports_an_unusable_database_url() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["db", "upgrade"], env={"INFERSIGHT_DATABASE_URL": "mysql://u@h/db"}
    )
    assert result.exit_code == 1
    assert "unsupported database" in result.output


def test_db_upgrade_reports_an_unreachable_server() -> None:
    runner = CliRunner()
    url = "postgresql://postgres@127.0.0.1:1/nothing"
    result = runner.invoke(app, ["db", "upgrade"], env={"INFERSIGHT_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "db upgrade failed" in result.output
