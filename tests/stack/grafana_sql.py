"""What Grafana does to a Postgres panel's SQL before the database sees it.

Two stages, as in Grafana 11/12:

1. The browser interpolates template variables (``$name``, ``${name}``, ``[[name]]``) with
   the SQL data sources' ``interpolateVariable``: a multi-value or include-All variable
   becomes a list of single-quoted literals joined by ``,`` (quotes doubled); a
   single-value variable is inserted unquoted with its single quotes doubled. The built-in
   ``$__interval`` and ``$__interval_ms`` are replaced here too.
2. The backend (``pkg/tsdb/grafana-postgresql-datasource/macros.go`` and sqleng's
   ``Interpolate``) replaces ``$__interval``/``$__interval_ms``/``$__unixEpochFrom()``/
   ``$__unixEpochTo()``, then every ``$__macro(args)`` matching
   ``\\$([_a-zA-Z0-9]+)\\(([^\\)]*)\\)``: ``$__timeFilter(c)`` → ``c BETWEEN 'from' AND 'to'``
   with times in Go's RFC 3339 nano format (UTC, ``Z``, trailing zeros of the fraction
   dropped), ``$__timeFrom()``/``$__timeTo()`` → the quoted time, ``$__timeGroup(c, '5m')`` →
   ``floor(extract(epoch from c)/300)*300`` (seconds printed as Go's ``%v`` of a float64),
   ``$__timeGroupAlias`` → the same plus ``AS "time"``, ``$__time(c)`` → ``c AS "time"``,
   ``$__timeEpoch(c)`` → ``extract(epoch from c) as "time"``. An unknown macro is an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class MacroError(ValueError):
    """A macro Grafana would refuse (unknown name, missing argument, bad interval)."""


def go_rfc3339nano(moment: datetime) -> str:
    """Go's ``time.RFC3339Nano`` of a UTC time: ``2024-01-02T03:04:05.5Z``."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64 (shortest form; integers without ``.0``)."""
    if value == math.floor(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def parse_interval(text: str) -> float:
    """Seconds of a Grafana interval such as ``5m`` or ``1h`` (``gtime.ParseInterval``)."""
    match = _INTERVAL.match(text.strip().strip("'"))
    if match is None:
        raise MacroError(f"error parsing interval {text}")
    return float(match.group(1)) * _UNIT[match.group(2)]


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class PanelQueryContext:
    """The dashboard state a query runs in: time range, interval, variable values."""

    time_from: datetime
    time_to: datetime
    interval: str = "1h"
    variables: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    multi: frozenset[str] = frozenset()
    """Names of multi-value or include-All variables."""

    def interpolate_variables(self, sql: str) -> str:
        """Stage 1: the browser's template variable interpolation."""
        scoped = {"__interval": self.interval,
                  "__interval_ms": go_float(parse_interval(self.interval) * 1000)}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2) or match.group(4)
            if name in scoped:
                return scoped[name]
            if name not in self.variables:
                return match.group(0)
            value = self.variables[name]
            if isinstance(value, str):
                if name in self.multi:
                    return _quote_literal(value)
                return value.replace("'", "''")
            return ",".join(_quote_literal(v) for v in value)

        return _VARIABLE.sub(replace, sql)

    def _macro(self, name: str, args: list[str]) -> str:
        start, end = go_rfc3339nano(self.time_from), go_rfc3339nano(self.time_to)
        if name in ("__time", "__timeEpoch", "__timeFilter") and not args[0]:
            raise MacroError(f"missing time column argument for macro {name}")
        if name == "__time":
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{start}' AND '{end}'"
        if name == "__timeFrom":
            return f"'{start}'"
        if name == "__timeTo":
            return f"'{end}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            if len(args) < 2:
                raise MacroError(f"macro {name} needs time column and interval and optional fill value")
            seconds = go_float(parse_interval(args[1]))
            group = f"floor(extract(epoch from {args[0]})/{seconds})*{seconds}"
            return group + (' AS "time"' if name == "__timeGroupAlias" else "")
        raise MacroError(f"unknown macro {name!r}")

    def interpolate_macros(self, sql: str) -> str:
        """Stage 2: the data source backend's macro engine."""
        sql = sql.replace("$__interval_ms", go_float(parse_interval(self.interval) * 1000))
        sql = sql.replace("$__interval", self.interval)
        sql = sql.replace("$__unixEpochFrom()", str(int(self.time_from.timestamp())))
        sql = sql.replace("$__unixEpochTo()", str(int(self.time_to.timestamp())))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "__timeGroup":
                after = sql[sql.find(match.group(0)) + len(match.group(0)):]
                if after.startswith(","):  # Grafana's pre-5.3 compatibility rule
                    name = "__timeGroupAlias"
            args = [arg.strip(" ") for arg in match.group(2).split(",")]
            return self._macro(name, args)

        return _MACRO.sub(replace, sql)

    def expand(self, sql: str) -> str:
        """The SQL the database receives for ``sql`` in this context."""
        return self.interpolate_macros(self.interpolate_variables(sql))
