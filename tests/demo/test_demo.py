"""``infersight demo`` as a user runs it: a subprocess on a free port with its own data
directory; drift and the retraining recommendation are checked through the HTTP API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from infersight.collector.demo import assistant
from infersight.collector.demo import model as credit
from infersight.collector.demo.simulator import Scenario

import infersight
from tests.page.conftest import free_port

SPEED = 60.0
"""Speed used by the test: a 1-minute window per second, drift 8 s in."""
BUDGET_S = 50.0


def _environment(data_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERSIGHT_")}
    env["XDG_DATA_HOME"] = str(data_home)
    return env


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    response.raise_for_status()
    return response.json()


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.slow
def test_demo_detects_drift_and_fires_the_retraining_recommendation(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "infersight", "demo", "--speed", str(SPEED), "--duration", "55s",
         "--port", str(port)],
        env=_environment(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    started = time.monotonic()
    firing: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
            while time.monotonic() - started < BUDGET_S:
                assert process.poll() is None, process.communicate()[0]
                try:
                    alerts = _get(client, "/v1/alerts", state="firing", model=credit.MODEL)
                except httpx.HTTPError:
                    time.sleep(0.5)
                    continue
                firing = {a["rule"]: a for a in alerts}
                if {"retraining_recommended", "data_drift_share"} <= firing.keys():
                    break
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            assert "retraining_recommended" in firing, (
                f"no retraining recommendation after {elapsed:.0f} s; firing: {sorted(firing)}")
            assert "data_drift_share" in firing

            evidence = firing["retraining_recommended"]["details"]["evidence"]
            drifted = {f["feature"] for f in evidence["top_features"]}
            assert drifted and drifted <= set(credit.DRIFTING_FEATURES) | {"installment_to_income"}
            assert any(p["value"] < p["reference"] - 0.05 for p in evidence["performance"])

            # drift shows in the windows after the injection (once the ramp is over), not
            # before it; the alert may fire during the ramp, so wait for two later windows
            scenario = Scenario()
            after: list[Any] = []
            while len(after) < 3:
                assert time.monotonic() - started < BUDGET_S, "no windows after the ramp"
                points = _get(client, f"/v1/models/{credit.MODEL}/metrics",
                              metric="drift_share", feature="")
                first = _ts(points[0]["window_start"])
                before = [p for p in points if _ts(p["window_start"])
                          < first + timedelta(minutes=scenario.drift_after_min - 1)]
                after = [p for p in points if _ts(p["window_start"]) >= first + timedelta(
                    minutes=scenario.drift_after_min + scenario.drift_ramp_min)]
                time.sleep(0.5)
            assert len(before) >= 5
            assert max(p["value"] for p in before) <= 0.3
            assert min(p["value"] for p in after[:-1]) > 0.3  # the last may still be open

            # the generative assistant: health without a reference, its outage alerted
            assistant_alerts = {a["rule"] for a in _get(client, "/v1/alerts",
                                                         model=assistant.MODEL)}
            assert "error_rate_high" in assistant_alerts, assistant_alerts
            costs = _get(client, f"/v1/models/{assistant.MODEL}/metrics", metric="cost",
                         feature="")
            assert costs and all(0 < p["value"] < 5 for p in costs), costs[:3]
            errors = _get(client, f"/v1/models/{assistant.MODEL}/metrics",
                          metric="error_count")
            assert {"TimeoutError", "RateLimitError"} <= {p["feature"] for p in errors}

            page = client.get("/")
            assert page.status_code == 200 and "infersight" in page.text
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            pytest.fail(f"the demo did not stop within 20 s of Ctrl-C:\n{output}")
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output  # the URL to open is printed
    print(f"retraining recommendation fired after {elapsed:.1f} s at speed {SPEED:g}")


def test_demo_rejects_bad_options(tmp_path: Path) -> None:
    for args, needle in ((["--speed", "0"], "--speed"), (["--duration", "soon"], "--duration")):
        result = subprocess.run([sys.executable, "-m", "infersight", "demo", *args],
                                env=_environment(tmp_path), capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2
        assert needle in result.stderr


def test_up_serves_the_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "infersight", "up", "--port", str(port)],
                               env=_environment(tmp_path), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "infersight up did not answer in 30 s"
                time.sleep(0.3)
        assert response.status_code == 200 and response.json() == []
        assert "<title>infersight</title>" in httpx.get(f"http://127.0.0.1:{port}/").text
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "authentication is off" in stderr
    assert (tmp_path / "infersight" / "infersight.db").exists()  # the data dir's SQLite file
    assert "stopped" in stdout


def test_up_ingests_http_traffic_into_windows(tmp_path: Path) -> None:
    """The user path of ``infersight up``: reference upload and predictions over HTTP, metric
    points out of the embedded worker."""
    port = free_port()
    env = _environment(tmp_path)
    env["INFERSIGHT_EVAL_INTERVAL"] = "1s"
    process = subprocess.Popen([sys.executable, "-m", "infersight", "up", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                httpx.get(f"{base}/healthz", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "infersight up did not answer in 30 s"
                time.sleep(0.3)
        rng = np.random.default_rng(0)
        reference = {"amount": rng.normal(100, 10, 2000).tolist()}
        infersight.upload_reference("shop", "1", reference, api_url=base)
        infersight.init(transport=base)
        try:
            for value in rng.normal(130, 10, 300):  # shifted by three standard deviations
                infersight.log_prediction(model="shop", version="1", features={"amount": value},
                                          prediction=0.5)
            assert infersight.flush(timeout=10)
        finally:
            infersight.shutdown()
        deadline = time.monotonic() + 30
        counts: list[Any] = []
        with httpx.Client(base_url=base) as client:
            while not counts or counts[-1]["value"] < 300:
                assert time.monotonic() < deadline, f"no complete window in 30 s: {counts}"
                time.sleep(0.5)
                counts = _get(client, "/v1/models/shop/metrics", metric="count", feature="")
            psi = _get(client, "/v1/models/shop/metrics", metric="psi", feature="amount")
        assert psi[-1]["value"] > 1.0
    finally:
        process.send_signal(signal.SIGINT)
        _stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr


@pytest.mark.parametrize("command", ["up", "demo"])
def test_a_taken_port_is_refused_with_a_reason(tmp_path: Path, command: str) -> None:
    import socket

    demo_db = tmp_path / "infersight" / "demo.db"
    demo_db.parent.mkdir(parents=True)
    demo_db.write_bytes(b"the database of a demo already running")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "infersight", command, "--port", str(port)],
                                env=_environment(tmp_path), capture_output=True, text=True,
                                timeout=60)
    assert result.returncode == 1
    assert "--port" in result.stderr
    assert demo_db.read_bytes() == b"the database of a demo already running"
