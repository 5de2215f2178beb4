"""The docstring examples of the storage and migrations modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "infersight.storage.db",
    "infersight.storage.retention",
    "infersight.migrations.config",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    result = doctest.testmod(importlib.import_module(module_name))
    assert result.attempted > 0
    assert result.failed == 0
