"""Without the ``grafana`` extra (``grafana-client``), the alerts and dashboards code imports
and works; only the Grafana channel and ``infersight grafana sync`` fail, with an error that
says to install ``infersight[grafana]``.

Each check runs in a fresh interpreter where ``grafana_client`` cannot be imported
(``sys.modules['grafana_client'] = None``), since this test environment has it installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.alerts.receivers import Receiver

ROOT = Path(__file__).resolve().parents[2]
HINT = "install infersight[grafana]"

BLOCK_GRAFANA_CLIENT = """
import sys
sys.modules["grafana_client"] = None  # as if grafana-client were not installed
"""

PAYLOAD = {
    "model": "fraud",
    "version": "3",
    "rule": "slow",
    "severity": "critical",
    "status": "firing",
    "dedup_key": "fraud|3|slow|",
    "starts_at": "2026-03-02T01:00:00+00:00",
    "ends_at": None,
    "summary": "latency_p99_ms is 150 (> 100)",
    "labels": {"model": "fraud", "version": "3", "severity": "critical"},
    "annotations": {"summary": "latency_p99_ms is 150 (> 100)"},
    "links": {},
}


def run_without_grafana_client(code: str, env: dict[str, str] | None = None) -> str:
    script = BLOCK_GRAFANA_CLIENT + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_alert_channels_and_other_channels_work_without_grafana_client() -> None:
    receiver = Receiver().start()
    try:
        out = run_without_grafana_client(
            """
            import json, os
            from datetime import UTC, datetime
            import httpx
            import infersight.alerts.dispatcher, infersight.alerts.judge, infersight.alerts.service
            from infersight.alerts.channels import DeliveryError, deliver
            from infersight.alerts.config import AlertConfig

            payload = json.loads(os.environ["PAYLOAD"])
            config = AlertConfig.model_validate({"channels": {
                "hook": {"type": "webhook", "url": os.environ["HOOK_URL"]},
                "grafana": {"type": "grafana", "url": "http://127.0.0.1:9"},
            }})
            now = datetime.now(UTC)
            with httpx.Client() as client:
                deliver(client, config, "hook", payload, now)
                try:
                    deliver(client, config, "grafana", payload, now)
                except DeliveryError as error:
                    print("DeliveryError:", error)
            assert sys.modules["grafana_client"] is None
            """,
            env={"PAYLOAD": json.dumps(PAYLOAD), "HOOK_URL": receiver.url},
        )
    finally:
        receiver.stop()
    assert len(receiver.accepted) == 1  # the webhook channel delivered
    assert out.startswith("DeliveryError: grafana channel 'grafana': the Grafana alert channel")
    assert HINT in out


def test_grafana_sync_imports_and_says_which_extra_it_needs() -> None:
    out = run_without_grafana_client(
        """
        import infersight.dashboards.generate
        from infersight.dashboards.sync import SyncError, connect
        try:
            connect("http://127.0.0.1:9", "token")
        except SyncError as error:
            print("SyncError:", error)
        """
    )
    assert out.startswith("SyncError: infersight grafana sync needs grafana-client")
    assert HINT in out


def test_cli_grafana_sync_reports_the_missing_extra() -> None:
    out = run_without_grafana_client(
        """
        from typer.testing import CliRunner
        from infersight.cli import app
        result = CliRunner().invoke(app, ["grafana", "sync"])
        print(result.exit_code, result.output)
        """,
        env={
            "INFERSIGHT_GRAFANA_URL": "http://127.0.0.1:9",
            "INFERSIGHT_DATABASE_URL": "postgresql+psycopg://user:secret@db:5432/infersight",
        },
    )
    assert out.startswith("1 ")  # a failure, not a crash
    assert HINT in out


def test_the_same_code_uses_grafana_client_when_it_is_installed() -> None:
    from infersight.dashboards.sync import connect

    api = connect("http://127.0.0.1:9", "token")
    assert type(api).__module__.startswith("grafana_client")
