"""The CLI: every DESIGN §7 command is present and the console entry point runs."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from infersight.cli import app

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ["up", "demo", "api", "worker", "db", "reference", "grafana", "apikey", "alerts"]:
        assert command in result.output


def test_console_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infersight", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "infersight" in result.stdout
