"""Every Postgres query of the generated dashboards, with how Grafana runs it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards" / "grafana" / "dashboards"
POSTGRES_TYPE = "grafana-postgresql-datasource"


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    """Dashboard UID."""
    title: str
    """Panel title, ``variable:<name>`` or ``annotation:<name>``."""
    sql: str
    fmt: str
    """``time_series`` or ``table``."""
    multi: frozenset[str]
    """Multi-value / include-All variables of the dashboard."""

    @property
    def key(self) -> str:
        return f"{self.dashboard}/{self.title}"


def load_dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))]


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def postgres_queries() -> list[PanelQuery]:
    queries: list[PanelQuery] = []
    for board in load_dashboards():
        uid = board["uid"]
        variables = board["templating"]["list"]
        multi = frozenset(v["name"] for v in variables if v.get("multi") or v.get("includeAll"))
        for panel in _panels(board):
            for target in panel.get("targets", []):
                if target["datasource"]["type"] == POSTGRES_TYPE:
                    queries.append(PanelQuery(uid, panel["title"], target["rawSql"],
                                              target["format"], multi))
        for variable in variables:
            if variable["datasource"]["type"] == POSTGRES_TYPE:
                queries.append(PanelQuery(uid, f"variable:{variable['name']}",
                                          variable["query"], "table", multi))
        for annotation in board["annotations"]["list"]:
            if annotation["datasource"]["type"] == POSTGRES_TYPE:
                target = annotation["target"]
                queries.append(PanelQuery(uid, f"annotation:{annotation['name']}",
                                          target["rawSql"], "table", multi))
    return queries
