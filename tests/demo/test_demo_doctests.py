"""The examples in the docstrings of the demo and embedded-mode modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["infersight.collector.demo.model", "infersight.collector.demo.simulator",
           "infersight.embedded"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
