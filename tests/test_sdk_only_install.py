"""`pip install infersight` is the SDK alone: it monitors a model, and every server command
says which extra it needs (exit code 2) instead of a traceback. Checked in a real venv."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER_COMMANDS = [
    ["demo"], ["up"], ["api"], ["worker"], ["db", "upgrade"], ["apikey", "list"],
    ["reference", "upload", "m", "1", "reference.csv"],
]


@pytest.fixture(scope="module")
def sdk_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv with a plain (non-editable) ``pip install`` of the project, no extras (built
    from a copy of the tree: a build writes ``build/`` next to the sources)."""
    base = tmp_path_factory.mktemp("sdk-only")
    source, venv = base / "source", base / "venv"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(source)], check=True,
                   timeout=600)
    yield venv


def test_the_sdk_alone_has_no_heavy_dependency_and_monitors_a_model(sdk_venv: Path,
                                                                    tmp_path: Path) -> None:
    script = (
        "import importlib.util, infersight\n"
        "heavy = [m for m in ('numpy', 'pandas', 'sqlalchemy', 'fastapi')"
        " if importlib.util.find_spec(m)]\n"
        "assert not heavy, heavy\n"
        "infersight.init(transport='local')\n"
        "@infersight.monitor(model='m', version='1')\n"
        "def predict(x: float) -> float:\n"
        "    return 2 * x\n"
        "assert predict(3.0) == 6.0\n"
        "infersight.flush()\n"
        "print('ok')\n"
    )
    result = subprocess.run([str(sdk_venv / "bin" / "python"), "-c", script], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("command", SERVER_COMMANDS, ids=" ".join)
def test_a_server_command_names_the_extra_it_needs(sdk_venv: Path, command: list[str],
                                                   tmp_path: Path) -> None:
    (tmp_path / "reference.csv").write_text("x,prediction\n1.0,0.5\n")
    result = subprocess.run([str(sdk_venv / "bin" / "infersight"), *command], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "INFERSIGHT_AUTH": "off"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "pip install 'infersight[server]'" in result.stderr, output
    assert "Traceback" not in output
