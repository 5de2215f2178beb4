"""Train/serve skew on the embedded stack (``infersight up``: the in-process bus and SQLite):
offline rows uploaded before the stream and after it join as on Kafka and Postgres, and the
skew points equal a pandas merge on the id."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import EVENTS_TOPIC
from infersight.storage.db import upgrade

from infersight.settings import Settings
from infersight.worker_service import start_embedded_worker
from tests.collector.conftest import install_references
from tests.collector.harness import evaluated_after_updates, metric_snapshot, wait_until_done
from tests.collector.test_skew_e2e import expected_by_window, ready_rows
from tests.collector.test_skew_exactly_once import (
    MODEL,
    STREAM,
    offline_frame,
    served_frame,
    upload,
)


def test_skew_joins_in_either_order_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    install_references(url, (MODEL,))
    served = served_frame()
    offline = offline_frame(served)
    upload(url, offline.iloc[::3])
    bus = LocalBus()
    for _partition, key, value in STREAM.events:
        bus.publish(EVENTS_TOPIC, key, value)
    settings = Settings(database_url=url, window="60s", eval_interval="1s",
                        worker_housekeeping_interval="0.3s")
    embedded = start_embedded_worker(settings, bus=bus)
    try:
        wait_until_done(url, settings.worker_group, {(EVENTS_TOPIC, 0): len(STREAM.events)})
        upload(url, offline.drop(offline.index[::3]))
        deadline = time.monotonic() + 60
        while not (ready_rows(url) == 0 and evaluated_after_updates(url)):
            assert time.monotonic() < deadline, "the uploaded-after rows were not joined"
            time.sleep(0.1)
    finally:
        embedded.stop()
    want = expected_by_window(served, offline)
    got = {(start, feature, metric): value for (model, _v, start, feature, metric), (value, _n)
           in metric_snapshot(url).items() if model == MODEL and metric.startswith("skew_")}
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
