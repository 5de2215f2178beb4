"""`infersight grafana sync` against a local server implementing Grafana's HTTP API
(tests/support/grafana_stub.py): creates, then changes nothing, repairs drift, keeps secrets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from infersight.dashboards.datasources import PostgresConnection
from infersight.dashboards.generate import dashboards
from infersight.dashboards.sync import SyncError, connect, sync
from typer.testing import CliRunner

from infersight.cli import app
from tests.support.grafana_stub import GrafanaStub

PG = PostgresConnection("db:5432", "infersight", "grafana_reader", "s3cret")
PROM = "http://prometheus:9090"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def grafana() -> Iterator[GrafanaStub]:
    with GrafanaStub(token="glsa_test") as stub:
        yield stub


def run(stub: GrafanaStub, **kwargs: object) -> dict[str, str]:
    api = connect(stub.url, stub.token, timeout=5)
    results = sync(api, kwargs.pop("postgres", PG), kwargs.pop("prometheus", PROM), **kwargs)  # type: ignore[arg-type]
    return {f"{r.kind}:{r.uid}": r.action for r in results}


def without_ids(board: dict) -> dict:
    return {k: v for k, v in board.items() if k not in ("id", "version")}


def test_first_sync_creates_everything_grafana_needs(grafana: GrafanaStub) -> None:
    done = run(grafana)
    assert set(done.values()) == {"created"}
    assert set(grafana.datasources) == {"infersight-postgres", "infersight-prometheus"}
    postgres = grafana.datasources["infersight-postgres"]
    assert (postgres["url"], postgres["user"], postgres["jsonData"]["database"]) == (
        "db:5432", "grafana_reader", "infersight")
    assert grafana.secrets["infersight-postgres"] == {"password": "s3cret"}
    assert "secureJsonData" not in postgres
    for board in dashboards().values():
        assert without_ids(grafana.dashboards[board["uid"]]) == without_ids(board)
        assert grafana.dashboard_meta[board["uid"]]["folderUid"] == "infersight"


def test_second_sync_writes_nothing(grafana: GrafanaStub) -> None:
    run(grafana)
    grafana.calls.clear()
    done = run(grafana)
    assert set(done.values()) == {"unchanged"}
    assert [c for c in grafana.calls if c[0] in WRITES] == []
    assert {b["version"] for b in grafana.dashboards.values()} == {1}


def test_a_dashboard_edited_in_grafana_is_restored(grafana: GrafanaStub) -> None:
    run(grafana)
    grafana.dashboards["infersight-model"]["panels"] = []
    done = run(grafana)
    assert done["dashboard:infersight-model"] == "updated"
    assert done["dashboard:infersight-overview"] == "unchanged"
    assert grafana.dashboards["infersight-model"]["version"] == 2
    assert grafana.dashboards["infersight-model"]["panels"] == dashboards()["model-detail.json"]["panels"]


def test_a_moved_database_updates_the_data_source_and_keeps_the_password(grafana: GrafanaStub) -> None:
    run(grafana)
    moved = PostgresConnection("db2:5432", "infersight", "grafana_reader", None)
    done = run(grafana, postgres=moved)
    assert done["datasource:infersight-postgres"] == "updated"
    assert grafana.datasources["infersight-postgres"]["url"] == "db2:5432"
    assert grafana.secrets["infersight-postgres"] == {"password": "s3cret"}


def test_a_new_password_alone_is_sent_only_when_rotating(grafana: GrafanaStub) -> None:
    run(grafana)
    rotated = PostgresConnection("db:5432", "infersight", "grafana_reader", "n3w")
    assert run(grafana, postgres=rotated)["datasource:infersight-postgres"] == "unchanged"
    assert run(grafana, postgres=rotated, rotate_secrets=True)[
        "datasource:infersight-postgres"] == "updated"
    assert grafana.secrets["infersight-postgres"] == {"password": "n3w"}


def test_without_prometheus_the_service_dashboard_is_skipped(grafana: GrafanaStub) -> None:
    done = run(grafana, prometheus=None)
    assert done["dashboard:infersight-service"] == "skipped"
    assert "infersight-prometheus" not in grafana.datasources
    assert "infersight-service" not in grafana.dashboards


def test_a_wrong_token_is_a_clear_error(grafana: GrafanaStub) -> None:
    api = connect(grafana.url, "wrong", timeout=5)
    with pytest.raises(SyncError, match="401"):
        sync(api, PG, PROM)
    assert grafana.datasources == {}


def test_an_unreachable_grafana_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = connect(f"http://127.0.0.1:{port}", "t", timeout=2)
    with pytest.raises(SyncError, match=r"reach Grafana|no response"):
        sync(api, PG, PROM)


def test_bad_urls_are_refused_with_reasons() -> None:
    with pytest.raises(SyncError, match="http"):
        connect("grafana:3000", "t")
    with pytest.raises(ValueError, match="Postgres only"):
        PostgresConnection.from_url("sqlite:///x.db")


def test_cli_sync_reads_the_settings(grafana: GrafanaStub, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.delenv("INFERSIGHT_GRAFANA_URL", raising=False)
    result = runner.invoke(app, ["grafana", "sync"])
    assert result.exit_code == 2 and "INFERSIGHT_GRAFANA_URL" in result.output
    monkeypatch.setenv("INFERSIGHT_GRAFANA_URL", grafana.url)
    monkeypatch.setenv("INFERSIGHT_GRAFANA_TOKEN", grafana.token)
    monkeypatch.setenv("INFERSIGHT_DATABASE_URL", "postgresql+psycopg://app:pw@pg:5432/infersight")
    monkeypatch.setenv("INFERSIGHT_GRAFANA_PROMETHEUS_URL", PROM)
    result = runner.invoke(app, ["grafana", "sync"])
    assert result.exit_code == 0, result.output
    assert "dashboard infersight-model: created" in result.output
    assert grafana.datasources["infersight-postgres"]["url"] == "pg:5432"
    assert grafana.secrets["infersight-postgres"] == {"password": "pw"}
    result = runner.invoke(app, ["grafana", "sync"])
    assert result.exit_code == 0 and "created" not in result.output
    monkeypatch.setenv("INFERSIGHT_GRAFANA_TOKEN", "nope")
    result = runner.invoke(app, ["grafana", "sync"])
    assert result.exit_code == 1 and "401" in result.output
