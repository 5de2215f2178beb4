"""The wiring the worker uses: evaluation in the caller's transaction with the rules file's
configuration, and the background dispatcher thread delivering to a real receiver."""

from __future__ import annotations

import time
from pathlib import Path

from infersight.storage.types import utc_now

from infersight.alerting import alerting_from_settings
from infersight.settings import Settings
from tests.alerts.conftest import seed
from tests.alerts.receivers import Receiver


def test_worker_wiring_evaluates_and_delivers_in_the_background(
    sessions, tmp_path: Path, monkeypatch
) -> None:
    receiver = Receiver(secret="svc-secret").start()
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "channels:\n"
        f"  hook: {{type: webhook, url: '{receiver.url}', secret_env: SVC_SECRET}}\n"
        "default_channels: [hook]\n"
        "rules:\n"
        "  - {name: slow, metric: latency_p99_ms, op: '>', threshold: 100}\n"
    )
    monkeypatch.setenv("SVC_SECRET", "svc-secret")
    alerting = alerting_from_settings(
        Settings(alert_rules=rules, alert_dispatch_interval=0.05), sessions
    )
    try:
        alerting.start_dispatcher()
        seed(sessions, "latency_p99_ms", [250.0])
        with sessions.begin() as session:
            alerting.judge(session, "fraud", "3", {}, utc_now())
        deadline = time.monotonic() + 10
        while not receiver.accepted and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [r["json"]["rule"] for r in receiver.accepted] == ["slow"]
        assert receiver.bad_signatures == 0
    finally:
        alerting.close()
        receiver.stop()
