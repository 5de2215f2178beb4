"""The docstring examples of the API and its storage modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "infersight.api_service",
    "infersight.collector.api.app",
    "infersight.collector.api.config",
    "infersight.collector.api.deps",
    "infersight.collector.api.docs",
    "infersight.collector.api.metrics",
    "infersight.collector.api.publisher",
    "infersight.collector.api.reference_upload",
    "infersight.collector.api.rollups",
    "infersight.collector.api.skew_upload",
    "infersight.storage.apikeys",
    "infersight.storage.rollups",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    result = doctest.testmod(importlib.import_module(module_name))
    assert result.attempted > 0
    assert result.failed == 0
