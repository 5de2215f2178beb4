"""The Grafana data sources the dashboards read: Postgres (infersight's database) and Prometheus.

The same definitions feed the provisioning file (values as ``$ENV`` placeholders that
Grafana expands when it starts) and ``infersight grafana sync`` (real values).

>>> pg = postgres_datasource(PostgresConnection("db:5432", "infersight", "reader", "s3cret"))
>>> pg["uid"], pg["type"], pg["jsonData"]["database"], pg["secureJsonData"]["password"]
('infersight-postgres', 'grafana-postgresql-datasource', 'infersight', 's3cret')
>>> PostgresConnection.from_url("postgresql+psycopg://u:p@h:5433/d?sslmode=require")
PostgresConnection(host='h:5433', database='d', user='u', password='p', sslmode='require')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from infersight.dashboards.panels import POSTGRES, POSTGRES_UID, PROMETHEUS, PROMETHEUS_UID

POSTGRES_NAME = "infersight Postgres"
PROMETHEUS_NAME = "infersight Prometheus"


@dataclass(frozen=True)
class PostgresConnection:
    """Where Grafana reaches the database (``host`` is ``host:port`` as Grafana wants it)."""

    host: str
    database: str
    user: str
    password: str | None = None
    sslmode: str = "disable"

    @classmethod
    def from_url(cls, url: str) -> PostgresConnection:
        """Parse ``postgresql[+driver]://user:password@host:port/database?sslmode=...``."""
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise ValueError(
                f"Grafana reads Postgres only: {parts.scheme or 'no'} scheme in the database URL"
            )
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError("the Postgres URL needs a host and a database name")
        host = parts.hostname + (f":{parts.port}" if parts.port else ":5432")
        sslmode = parse_qs(parts.query).get("sslmode", ["disable"])[0]
        return cls(
            host=host,
            database=unquote(parts.path.strip("/")),
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password is not None else None,
            sslmode=sslmode,
        )


def postgres_datasource(connection: PostgresConnection) -> dict[str, Any]:
    """The Postgres data source as Grafana's HTTP API and provisioning files describe it."""
    source: dict[str, Any] = {
        "name": POSTGRES_NAME,
        "type": POSTGRES["type"],
        "uid": POSTGRES_UID,
        "access": "proxy",
        "url": connection.host,
        "user": connection.user,
        "jsonData": {
            "database": connection.database,
            "sslmode": connection.sslmode,
            "postgresVersion": 1500,
            "timescaledb": False,
            "maxOpenConns": 10,
            "connMaxLifetime": 14400,
        },
        "secureJsonData": {},
    }
    if connection.password is not None:
        source["secureJsonData"]["password"] = connection.password
    return source


def prometheus_datasource(url: str) -> dict[str, Any]:
    """The Prometheus data source of the service health dashboard."""
    return {
        "name": PROMETHEUS_NAME,
        "type": PROMETHEUS["type"],
        "uid": PROMETHEUS_UID,
        "access": "proxy",
        "url": url,
        "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
    }
