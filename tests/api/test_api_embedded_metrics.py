"""The embedded stack (``infersight up``) serves the worker's metrics and the API's on one
``/metrics``: events posted over HTTP show up as accepted by the API and consumed by the
worker in the same scrape."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from infersight.sdk.local_bus import LocalBus
from prometheus_client.parser import text_string_to_metric_families

from infersight.embedded import embedded_settings, start_embedded
from infersight.settings import Settings
from tests.support.tansu import free_port

EVENTS = 25


def _batch() -> bytes:
    now = datetime.now(UTC).isoformat()
    events = [{"type": "prediction", "model": "shop", "version": "1", "prediction_id": f"p-{i}",
               "ts": now, "features": {"amount": float(i)}, "prediction": 0.5}
              for i in range(EVENTS)]
    return json.dumps({"schema": "infersight.events/v1", "events": events}).encode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_of_the_embedded_stack_show_the_api_and_the_worker(tmp_path: Path) -> None:
    settings = embedded_settings(Settings(database_url=f"sqlite:///{tmp_path / 'up.db'}"))
    port = free_port()
    with start_embedded(settings, port=port, bus=LocalBus()) as stack, \
            httpx.Client(base_url=stack.url, timeout=10) as client:
        assert client.post("/v1/events", content=_batch()).status_code == 202
        deadline = time.monotonic() + 30
        consumed = 0.0
        while consumed < EVENTS:
            assert time.monotonic() < deadline, f"the worker consumed {consumed} of {EVENTS}"
            time.sleep(0.2)
            samples = _samples(client.get("/metrics").text)
            consumed = samples.get(("infersight_events_consumed_total",
                                    (("topic", "infersight.events"),)), 0.0)
    names = {name for name, _labels in samples}
    assert samples[("infersight_api_events_accepted_total",
                    (("topic", "infersight.events"),))] == EVENTS
    assert consumed == EVENTS
    assert {"infersight_api_requests_total", "infersight_batch_seconds_count",
            "infersight_db_transaction_seconds_count"} <= names
