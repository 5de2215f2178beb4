"""Prometheus: the stack's config and alert rules pass promtool (and their unit tests), the
service dashboard's PromQL parses, and a real Prometheus on loopback scrapes a running
`infersight worker` and answers PromQL about it. Needs the Debian `prometheus` package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from infersight.dashboards.service_health import service_health
from infersight.sdk import wire
from infersight.storage.db import upgrade
from kafka import KafkaProducer

from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker, free_port

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "prometheus"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus not installed (apt-get install prometheus)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=PROMETHEUS_DIR,
                          timeout=60)


@needs_promtool
def test_prometheus_config_is_valid() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_alert_rules_are_valid_and_pass_their_unit_tests() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def dashboard_expressions(rate_interval: str) -> list[str]:
    return [target["expr"].replace("$__rate_interval", rate_interval)
            for panel in service_health()["panels"] for target in panel["targets"]]


@needs_promtool
def test_service_dashboard_promql_parses(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"infersight:dashboard_{i}", "expr": expr}
        for i, expr in enumerate(dashboard_expressions("1m"))]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [
        {"record": "x:y", "expr": "sum by (le (rate(x[1m]))"}]}]}))
    assert promtool("check", "rules", str(broken)).returncode != 0


# -- a real Prometheus scraping a real worker -------------------------------------------

def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def _wait(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError, KeyError) as error:
            last = error
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def store_reference(url: str) -> None:
    """The uploaded reference of model ``promtest`` v1 (as the API's upload stores it)."""
    import numpy as np
    from infersight.drift import Reference
    from infersight.storage.db import make_engine, session_factory
    from infersight.storage.registry import set_reference

    rng = np.random.default_rng(3)
    reference = Reference.from_data({"x": rng.normal(25, 10, 2000),
                                     "c": rng.choice(["a", "b"], 2000)},
                                    predictions=rng.uniform(0, 1, 2000))
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            set_reference(session, "promtest", "1", reference.to_bytes())
    finally:
        engine.dispose()


@pytest.fixture
def worker_metrics_port(kafka_broker: TansuBroker, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with temporary_database("infersight_prom") as url:
        upgrade(url)
        store_reference(url)
        env = {**os.environ,
               "INFERSIGHT_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap,
               "INFERSIGHT_DATABASE_URL": url,
               "INFERSIGHT_WORKER_GROUP": f"prom-{uuid.uuid4().hex[:8]}",
               "INFERSIGHT_WORKER_METRICS_PORT": str(port),
               "INFERSIGHT_WORKER_METRICS_HOST": "127.0.0.1",
               "INFERSIGHT_WORKER_SESSION_TIMEOUT": "6s",
               "INFERSIGHT_WINDOW": "1m"}
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen([sys.executable, "-m", "infersight", "worker"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            yield port
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            log.close()


@pytest.fixture
def prometheus_url(worker_metrics_port: int, tmp_path: Path) -> Iterator[str]:
    assert PROMETHEUS is not None
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(PROMETHEUS_DIR / "alerts.yml")],
        "scrape_configs": [{"job_name": "infersight-worker",
                            "static_configs": [{"targets": [f"127.0.0.1:{worker_metrics_port}"]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait("prometheus ready", lambda: urllib.request.urlopen(f"{base}/-/ready", timeout=2)
              .status == 200, timeout=30)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def _events(count: int) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return wire.encode_batch([
        {"type": "prediction", "model": "promtest", "version": "1",
         "prediction_id": f"p{i}", "ts": now, "features": {"x": float(i), "c": "a"},
         "prediction": 0.5, "latency_ms": 2.0}
        for i in range(count)])


@needs_prometheus
@pytest.mark.kafka
@pytest.mark.postgres
def test_prometheus_scrapes_a_running_worker(
    kafka_broker: TansuBroker, prometheus_url: str, tmp_path: Path
) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    try:
        for _ in range(3):
            producer.send(wire.EVENTS_TOPIC, key=b"promtest", value=_events(50))
        producer.send(wire.EVENTS_TOPIC, key=b"promtest", value=b"{not json")
        producer.flush(10)
    finally:
        producer.close()

    logs = tmp_path / "worker.log"
    up = _wait("worker target up", lambda: [
        r for r in _query(prometheus_url, 'up{job="infersight-worker"}') if r["value"][1] == "1"])
    assert len(up) == 1

    def consumed() -> float:
        result = _query(prometheus_url, 'sum(infersight_events_consumed_total'
                                        '{job="infersight-worker", topic="infersight.events"})')
        return float(result[0]["value"][1]) if result else 0.0

    assert _wait("150 events counted", lambda: consumed() >= 150, timeout=90), logs.read_text()
    assert _wait("the bad message dead-lettered", lambda: _query(
        prometheus_url, 'sum(infersight_events_deadlettered_total{job="infersight-worker"}) > 0'))

    groups = _wait("rules loaded", lambda: _get(f"{prometheus_url}/api/v1/rules")["data"]["groups"])
    rules = {r["name"]: r for g in groups for r in g["rules"]}
    assert {"InfersightWorkerDown", "InfersightConsumerLagGrowing", "InfersightDeadLetters"} <= set(rules)
    _wait("rules evaluated", lambda: all(
        r["health"] == "ok" for g in _get(f"{prometheus_url}/api/v1/rules")["data"]["groups"]
        for r in g["rules"]) and rules)
    for expr in dashboard_expressions("5s"):
        _query(prometheus_url, expr)  # every dashboard query is accepted by a real server
