"""The model dashboard's "Data quality" row on Postgres, against the seeded points
(tests/stack/seed.py): the latest closed window's rates per feature, and the schema changes
of the range, each recomputed in Python."""

from __future__ import annotations

from typing import Any

import pytest

from tests.stack.seed import (
    CATEGORICAL,
    LAST_HOUR,
    NUMERIC,
    QUALITY,
    START,
    UNEXPECTED,
    VANISHED,
    WINDOW,
    SeedData,
)
from tests.stack.test_panel_sql import LAST_DAY, by_key, context, run, seeded

pytestmark = pytest.mark.postgres
__all__ = ["seeded"]  # the module's seeded database (a fixture)


def _table(conn: Any, title: str, model: str = QUALITY) -> list[dict[str, Any]]:
    query = by_key(f"infersight-model/{title}")
    columns, rows = run(conn, context(query, model).expand(query.sql))
    return [dict(zip(columns, r, strict=True)) for r in rows]


def _value(data: SeedData, metric: str, feature: str, version: str, hour: int) -> Any:
    start = START + hour * WINDOW
    found = [p.value for p in data.values(QUALITY, metric, feature, version, start, start)]
    return found[0] if found else None


def test_the_latest_closed_windows_rates_per_feature(seeded: Any) -> None:
    conn, data = seeded
    rows = _table(conn, "Data quality per feature (latest closed window)")
    latest = LAST_HOUR - 1  # the last window is still open
    assert {r["window"] for r in rows} == {START + latest * WINDOW}
    got = {(r["feature"], r["version"]): r for r in rows}
    assert set(got) == {(f, v) for f in (*NUMERIC, *CATEGORICAL, *UNEXPECTED) for v in "12"}
    for (feature, version), row in got.items():
        for metric in ("missing_rate", "reference_missing_rate", "invalid_rate",
                       "out_of_range_rate", "new_category_rate"):
            assert row[metric] == pytest.approx(_value(data, metric, feature, version, latest))
        expected = ("unexpected" if feature in UNEXPECTED else
                    "missing" if feature == VANISHED else "ok")
        assert row["schema"] == expected
        assert row["unexpected_rows"] == _value(data, "unexpected_feature", feature, version,
                                                latest)
    order = [r["schema"] for r in rows]
    assert order == sorted(order, key=lambda s: s == "ok")  # schema changes first


def test_schema_changes_of_the_range(seeded: Any) -> None:
    conn, data = seeded
    rows = {(r["feature"], r["version"]): r
            for r in _table(conn, "Schema changes (selected range)")}
    assert set(rows) == {(f, v) for f in (VANISHED, *UNEXPECTED) for v in "12"}
    for version in "12":
        gone = rows[(VANISHED, version)]
        assert (gone["change"], gone["windows"]) == ("missing", 2)
        assert gone["last_window"] == START + (LAST_HOUR - 1) * WINDOW
        for name in UNEXPECTED:
            new = rows[(name, version)]
            carried = [p.value for p in data.values(QUALITY, "unexpected_feature", name,
                                                    version, start=LAST_DAY[0])]
            assert (new["change"], new["windows"]) == ("unexpected", 6) and len(carried) == 6
            assert float(new["rows_carried"]) == pytest.approx(sum(carried))
            assert new["first_window"] == START + (LAST_HOUR - 5) * WINDOW


def test_a_model_without_schema_changes_lists_none(seeded: Any) -> None:
    conn, _data = seeded
    assert _table(conn, "Schema changes (selected range)", "churn") == []
