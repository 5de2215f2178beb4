"""Static checks run by the test command: ruff over the project, mypy --strict on the pure packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_reports_no_problems() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean_on_sdk_and_drift() -> None:
    result = _run("mypy", "--strict", "sdk", "drift")
    assert result.returncode == 0, result.stdout + result.stderr
