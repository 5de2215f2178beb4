"""Small builders for Grafana dashboard JSON (schema of Grafana 11/12).

Each function returns plain dicts, so the generated files are ordinary dashboard JSON that
Grafana's file provisioning and its HTTP API accept as they are.

>>> panel = timeseries("Events", [sql_target("SELECT 1")], grid(0, 0, 12, 8))
>>> panel["type"], panel["targets"][0]["datasource"]["uid"]
('timeseries', 'infersight-postgres')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SCHEMA_VERSION = 41
"""Dashboard schema version written by Grafana 11.3+ and 12."""

POSTGRES_UID = "infersight-postgres"
PROMETHEUS_UID = "infersight-prometheus"
POSTGRES = {"type": "grafana-postgresql-datasource", "uid": POSTGRES_UID}
PROMETHEUS = {"type": "prometheus", "uid": PROMETHEUS_UID}

Json = dict[str, Any]


def grid(x: int, y: int, w: int, h: int) -> Json:
    """A panel's place on the 24-column grid."""
    return {"h": h, "w": w, "x": x, "y": y}


def sql_target(sql: str, fmt: str = "time_series", ref: str = "A") -> Json:
    """A raw SQL query of the Postgres data source (``fmt``: ``time_series`` or ``table``)."""
    return {
        "datasource": POSTGRES,
        "editorMode": "code",
        "format": fmt,
        "rawQuery": True,
        "rawSql": sql.strip(),
        "refId": ref,
    }


def prom_target(expr: str, legend: str = "__auto", ref: str = "A") -> Json:
    """A PromQL range query of the Prometheus data source."""
    return {
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": expr.strip(),
        "legendFormat": legend,
        "range": True,
        "refId": ref,
    }


def thresholds(*steps: tuple[float, str]) -> Json:
    """Absolute thresholds: green below the first step, then each (value, colour)."""
    return {
        "mode": "absolute",
        "steps": [{"color": "green", "value": None}]
        + [{"color": color, "value": value} for value, color in steps],
    }


def timeseries(
    title: str,
    targets: list[Json],
    position: Json,
    *,
    unit: str = "none",
    description: str = "",
    threshold_steps: tuple[tuple[float, str], ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    overrides: Sequence[Json] = (),
    draw_style: str = "line",
) -> Json:
    """A time series panel (``draw_style``: ``line`` or ``bars``); ``threshold_steps`` are
    drawn as dashed lines."""
    custom: Json = {
        "drawStyle": draw_style,
        "lineWidth": 1,
        "pointSize": 4,
        "showPoints": "auto",
        "spanNulls": False,
        "thresholdsStyle": {"mode": "dashed" if threshold_steps else "off"},
    }
    defaults: Json = {
        "custom": custom,
        "thresholds": thresholds(*threshold_steps),
        "unit": unit,
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    return {
        "datasource": targets[0]["datasource"],
        "description": description,
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "gridPos": position,
        "options": {
            "legend": {"calcs": ["lastNotNull", "max"], "displayMode": "table",
                       "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
        "title": title,
        "type": "timeseries",
    }


PROVISIONAL_SUFFIX = " (provisional)"
"""Appended to the name of a series of still-open windows (see ``open_windows.py``)."""


def provisional_style() -> Json:
    """A field override: series named ``… (provisional)`` dashed, with hollow points."""
    return {
        "matcher": {"id": "byRegexp", "options": r".*\(provisional\)$"},
        "properties": [
            {"id": "custom.lineStyle", "value": {"dash": [4, 4], "fill": "dash"}},
            {"id": "custom.showPoints", "value": "always"},
            {"id": "custom.pointSize", "value": 8},
            {"id": "custom.fillOpacity", "value": 0},
        ],
    }


def table(
    title: str,
    target: Json,
    position: Json,
    *,
    description: str = "",
    units: dict[str, str] | None = None,
    sort_by: str | None = None,
) -> Json:
    """A table panel; ``units`` sets the unit of named columns."""
    overrides = [
        {"matcher": {"id": "byName", "options": column},
         "properties": [{"id": "unit", "value": unit}]}
        for column, unit in (units or {}).items()
    ]
    options: Json = {"cellHeight": "sm", "showHeader": True}
    if sort_by:
        options["sortBy"] = [{"desc": True, "displayName": sort_by}]
    return {
        "datasource": target["datasource"],
        "description": description,
        "fieldConfig": {"defaults": {"custom": {"align": "auto"}}, "overrides": overrides},
        "gridPos": position,
        "options": options,
        "targets": [target],
        "title": title,
        "type": "table",
    }


def stat(
    title: str,
    target: Json,
    position: Json,
    *,
    unit: str = "none",
    description: str = "",
    threshold_steps: tuple[tuple[float, str], ...] = (),
) -> Json:
    """A single-value panel showing the last value of its query."""
    return {
        "datasource": target["datasource"],
        "description": description,
        "fieldConfig": {
            "defaults": {"thresholds": thresholds(*threshold_steps), "unit": unit},
            "overrides": [],
        },
        "gridPos": position,
        "options": {
            "colorMode": "background" if threshold_steps else "value",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "value_and_name",
        },
        "targets": [target],
        "title": title,
        "type": "stat",
    }


def row(title: str, y: int) -> Json:
    """A row header spanning the dashboard."""
    return {"collapsed": False, "gridPos": grid(0, y, 24, 1), "panels": [], "title": title,
            "type": "row"}


def sql_variable(
    name: str, label: str, sql: str, *, multi: bool = False, on_time_change: bool = False
) -> Json:
    """A template variable whose options come from a SQL query (first column).

    Multi-value variables expand to a quoted list (``'a','b'``): use them as ``IN ($name)``.
    """
    current: Json = (
        {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {}
    )
    return {
        "current": current,
        "datasource": POSTGRES,
        "definition": sql.strip(),
        "includeAll": multi,
        "label": label,
        "multi": multi,
        "name": name,
        "options": [],
        "query": sql.strip(),
        "refresh": 2 if on_time_change else 1,
        "sort": 1,
        "type": "query",
    }


def dashboard(
    uid: str,
    title: str,
    panels: list[Json],
    *,
    description: str,
    variables: Sequence[Json] = (),
    annotations: Sequence[Json] = (),
    builtin_annotations: bool = True,
    time_from: str = "now-7d",
    refresh: str = "1m",
) -> Json:
    """A complete dashboard; panel ids are assigned in order.

    ``builtin_annotations=False`` turns off Grafana's "all annotations of this dashboard"
    query, for dashboards that filter annotations themselves (e.g. by model tag).
    """
    numbered = [{**panel, "id": index} for index, panel in enumerate(panels, start=1)]
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": builtin_annotations,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "annotations": {"list": [builtin, *annotations]},
        "description": description,
        "editable": True,
        "graphTooltip": 1,
        "links": [],
        "panels": numbered,
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["infersight"],
        "templating": {"list": list(variables)},
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "title": title,
        "uid": uid,
        "version": 1,
    }
