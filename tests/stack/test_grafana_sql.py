"""The test-side Grafana SQL expansion matches Grafana's own documented expansions
(pkg/tsdb/grafana-postgresql-datasource/macros_test.go and the SQL data sources'
interpolateVariable)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.stack.grafana_sql import MacroError, PanelQueryContext, go_rfc3339nano

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
CTX = PanelQueryContext(FROM, FROM + timedelta(minutes=5), interval="10m",
                        variables={"model": "o'brien", "version": ["1", "it's"],
                                   "one": "x"},
                        multi=frozenset({"version", "one"}))


@pytest.mark.parametrize(("sql", "expected"), [
    ("select $__time(time_column)", 'select time_column AS "time"'),
    ("select min($__time(time_column))", 'select min(time_column AS "time")'),
    ("WHERE $__timeFilter(time_column)",
     "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'"),
    ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
    ("select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
    ("SELECT $__timeGroup(time_column,'5m'), value",
     'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value'),
    ("SELECT $__timeGroup(time_column,'5m') as time, value",
     "SELECT floor(extract(epoch from time_column)/300)*300 as time, value"),
    ("$__timeGroupAlias(time_column , '5m')",
     'floor(extract(epoch from time_column)/300)*300 AS "time"'),
    ("SELECT $__interval", "SELECT 10m"),
    ("SELECT $__timeGroupAlias(t, $__interval)", 'SELECT floor(extract(epoch from t)/600)*600 AS "time"'),
    ("SELECT $__interval_ms", "SELECT 600000"),
    ("SELECT $__unixEpochFrom()", f"SELECT {int(FROM.timestamp())}"),
    ("model = '$model'", "model = 'o''brien'"),
    ("version IN ($version)", "version IN ('1','it''s')"),
    ("version IN (${version})", "version IN ('1','it''s')"),
    ("x IN ([[one]])", "x IN ('x')"),
    ("$unknown stays", "$unknown stays"),
])
def test_expansion_matches_grafana(sql: str, expected: str) -> None:
    assert CTX.expand(sql) == expected


def test_fractional_seconds_are_trimmed_like_go() -> None:
    moment = datetime(1960, 2, 1, 7, 0, 0, 500000, tzinfo=UTC)
    assert go_rfc3339nano(moment) == "1960-02-01T07:00:00.5Z"


@pytest.mark.parametrize("sql", ["$__nope(x)", "$__timeGroup(x)", "$__timeGroup(x, 'soon')",
                                 "$__timeFilter()"])
def test_macros_grafana_rejects_are_errors(sql: str) -> None:
    with pytest.raises(MacroError):
        CTX.expand(sql)
