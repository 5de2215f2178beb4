"""End to end: drifted traffic through the real worker (in-process bus, SQLite) → window
metric points → alert rules → outbox → a retraining recommendation at a signed webhook."""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infersight.drift import Reference
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, encode_batch
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.registry import set_reference

from infersight.alerting import alerting_from_settings
from infersight.settings import Settings
from infersight.worker_service import start_embedded_worker
from tests.alerts.receivers import Receiver

WINDOW_S = 60
PER_WINDOW = 600
BASE = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def row(rng: random.Random, drifted: bool) -> tuple[dict[str, Any], float, int]:
    amount = rng.lognormvariate(3.0 + (1.0 if drifted else 0.0), 0.5)
    features = {
        "amount": amount,
        "age": rng.gauss(50.0 if drifted else 40.0, 8.0),
        "score_a": rng.random(),
        "country": rng.choice(["DE", "FR", "US", "IN", "BR"] if drifted else ["DE", "FR", "US"]),
    }
    score = 1 / (1 + math.exp(-(math.log(amount) - 3.0) * 3))
    truth = int(rng.random() < (1 - score if drifted else score))  # the concept flips too
    return features, score, truth


def test_drifted_traffic_yields_a_retraining_recommendation_at_the_webhook(
    tmp_path: Path, monkeypatch
) -> None:
    rng = random.Random(11)
    reference_rows = [row(rng, False) for _ in range(3000)]
    reference = Reference.from_data(
        {name: [r[0][name] for r in reference_rows] for name in reference_rows[0][0]},
        predictions=[r[1] for r in reference_rows],
        labels=[r[2] for r in reference_rows],
    )
    receiver = Receiver(secret="e2e-secret").start()
    monkeypatch.setenv("E2E_SECRET", "e2e-secret")
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"channels:\n  hook: {{type: webhook, url: '{receiver.url}', secret_env: E2E_SECRET}}\n"
        "default_channels: [hook]\n"
    )
    url = f"sqlite:///{tmp_path / 'infersight.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        set_reference(session, "fraud", "1", reference.to_bytes())
    settings = Settings(
        database_url=url,
        window=f"{WINDOW_S}s",
        eval_interval="1s",
        alert_rules=rules,
        alert_dispatch_interval=0.1,
    )
    bus = LocalBus()
    for window in range(4):
        events, labels = [], []
        for i in range(PER_WINDOW):
            features, score, truth = row(rng, drifted=window >= 2)
            ts = (
                BASE + timedelta(seconds=window * WINDOW_S + i * WINDOW_S / PER_WINDOW)
            ).isoformat()
            pid = f"p{window}-{i}"
            events.append(
                {
                    "type": "prediction",
                    "model": "fraud",
                    "version": "1",
                    "prediction_id": pid,
                    "ts": ts,
                    "features": features,
                    "prediction": score,
                    "latency_ms": 5.0,
                }
            )
            labels.append(
                {"type": "label", "model": "fraud", "prediction_id": pid, "label": truth, "ts": ts}
            )
        for start in range(0, PER_WINDOW, 100):
            bus.publish(EVENTS_TOPIC, b"fraud", encode_batch(events[start : start + 100]))
            bus.publish(LABELS_TOPIC, b"fraud", encode_batch(labels[start : start + 100]))

    alerting = alerting_from_settings(settings, sessions)
    alerting.start_dispatcher()
    worker = start_embedded_worker(settings, bus=bus, alerting=alerting)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if any(r["json"]["rule"] == "retraining_recommended" for r in receiver.accepted):
                break
            time.sleep(0.2)
    finally:
        worker.stop()
        alerting.close()
        receiver.stop()
        engine.dispose()

    by_rule = {r["json"]["rule"]: r["json"] for r in receiver.accepted}
    assert "retraining_recommended" in by_rule, sorted(by_rule)
    assert receiver.bad_signatures == 0
    recommendation = by_rule["retraining_recommended"]
    evidence = recommendation["evidence"]
    drifted = {f["feature"] for f in evidence["top_features"]}
    assert {"amount", "country"} <= drifted and "score_a" not in drifted
    [performance] = [p for p in evidence["performance"] if p["metric"] == "f1"]
    assert performance["delta"] < -0.2 and performance["sample_size"] >= 200
    assert performance["reference"] == reference.performance["f1"]
    assert len(receiver.delivered_keys()) == len(set(receiver.delivered_keys()))
