"""The README's first screen: its test command is what CI runs; its SDK example runs when pasted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _first_screen_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert block is not None
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_first_screen_gives_two_commands_a_demo_and_the_tests() -> None:
    assert _first_screen_commands() == ["make demo", "make test"]
    targets = (ROOT / "Makefile").read_text()
    assert "$(BIN)/infersight demo" in targets and "$(BIN)/python -m pytest" in targets


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = _first_screen_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines


def test_sdk_example_runs_when_pasted_even_with_no_server_listening() -> None:
    example = re.search(r"```python\n(.*?)```", README, re.S)
    assert example is not None
    code = example.group(1).replace("127.0.0.1:8000", "127.0.0.1:9")  # nothing listens on port 9
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
