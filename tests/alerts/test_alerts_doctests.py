"""The docstring examples of the alerts package run (the shared doctest test covers the
SDK and drift packages only)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import infersight.alerts
import pytest

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(infersight.alerts.__path__, prefix="infersight.alerts.")
)


@pytest.mark.parametrize("module_name", MODULES)
def test_alerts_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest failures in {module_name}"
