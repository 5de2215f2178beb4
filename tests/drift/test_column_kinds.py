"""Feature-kind inference and the non-number listing of reference columns, checked against a
plain value-by-value reading on seeded random columns, whatever container holds them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from infersight.drift.columns import infer_kind, non_numbers

TOKENS: list[Any] = ["1.5", "-3", "abc", "", None, "n/a", "1e3", "inf", "nan", " 7 "]


def _naive_non_numbers(values: list[Any]) -> list[tuple[int, Any]]:
    out = []
    for row, value in enumerate(values):
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            continue
        try:
            if isinstance(value, str) and math.isfinite(float(value)):
                continue
        except ValueError:
            pass
        out.append((row, value))
    return out


def _columns(values: list[Any]) -> list[Any]:
    """The same values as a list, an object array, a pandas object Series and, for text
    only, a pandas string Series."""
    out: list[Any] = [values, np.array(values, dtype=object), pd.Series(values, dtype=object)]
    if all(v is None or isinstance(v, str) for v in values):
        out.append(pd.Series(values, dtype="string"))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_non_numbers_of_text_columns_match_a_value_by_value_reading(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = [TOKENS[i] for i in rng.integers(0, len(TOKENS), 300)]
    expected = _naive_non_numbers(values)
    for column in _columns(values):
        found = [(row, None if value is pd.NA else value) for row, value in non_numbers(column)]
        assert found == expected


@pytest.mark.parametrize("seed", range(6))
def test_non_numbers_of_mixed_columns_match_a_value_by_value_reading(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool: list[Any] = [*TOKENS, 2.5, 7, float("nan"), True]
    values = [pool[i] for i in rng.integers(0, len(pool), 300)]
    for column in _columns(values):
        assert non_numbers(column) == _naive_non_numbers(values)


@pytest.mark.parametrize(("values", "kind"), [
    (["12.5", "3"] * 100 + ["abc"], "numeric"),            # a typo in a number column
    (["a", "b", "c"] * 50 + ["1"], "categorical"),          # a code among categories
    ([None, None], "categorical"),
    ([True, False, None], "categorical"),
    ([1.5, None, 2], "numeric"),
    ([[0.1, 0.2], None, (0.3, 0.4)], "embedding"),
])
def test_infer_kind_is_the_same_whatever_holds_the_column(values: list[Any], kind: str) -> None:
    for column in _columns(values):
        assert infer_kind(column) == kind


def test_a_really_mixed_column_is_refused_naming_a_value_and_its_row() -> None:
    values: list[Any] = [float(i) for i in range(90)] + ["x"] * 10
    for column in _columns(values):
        with pytest.raises(ValueError, match=r"90 of 100 values are numbers .*'x' at row 91"):
            infer_kind(column)
