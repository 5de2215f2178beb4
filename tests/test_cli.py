"""The CLI: every command is present, the console entry point runs, and a command's numeric
work runs on one BLAS thread unless the environment says otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
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


_BLAS_THREADS = """
import json, sys
from infersight import cli
sys.argv = ["infersight", "--help"]
try:
    cli.main()
except SystemExit:
    pass
import numpy, threadpoolctl
pools = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
print(json.dumps(pools))
"""


@pytest.mark.parametrize(("environment", "expected"), [({}, 1), ({"OPENBLAS_NUM_THREADS": "2"}, 2)])
def test_commands_run_numpy_on_one_blas_thread_unless_told(environment: dict[str, str],
                                                           expected: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", _BLAS_THREADS], capture_output=True,
                            text=True, env={**env, **environment}, check=True)
    pools = json.loads(result.stdout.splitlines()[-1])
    assert pools and set(pools) == {expected}
