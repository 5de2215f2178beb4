"""``import infersight`` stays light and fast; configuration from arguments and environment."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest
from infersight.sdk.config import build_config

import infersight

HEAVY = ["fastapi", "sqlalchemy", "alembic", "scipy", "pandas", "numpy", "pydantic", "kafka", "msgspec"]


def _python(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def test_import_is_light_fast_and_starts_no_thread() -> None:
    result = _python(f"""
        import json, sys, threading, time
        start = time.perf_counter()
        import infersight
        elapsed = time.perf_counter() - start
        heavy = [name for name in {HEAVY!r} if name in sys.modules]
        print(json.dumps({{"elapsed": elapsed, "heavy": heavy, "threads": threading.active_count()}}))
    """)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["heavy"] == []
    assert report["threads"] == 1
    assert report["elapsed"] < 0.5, report  # generous on a shared machine; typically ~15 ms

    timed = _python("import infersight", "-X", "importtime")
    own = [line for line in timed.stderr.splitlines() if line.rstrip().endswith("| infersight")]
    cumulative_us = int(own[-1].split("|")[1])
    assert cumulative_us < 500_000, timed.stderr[-2000:]


def test_first_call_without_init_warns_once_and_uses_the_environment(caplog: pytest.LogCaptureFixture) -> None:
    result = _python("""
        import logging, infersight
        logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
        @infersight.monitor(model="m")
        def predict(x):
            return x
        predict({"a": 1}); predict({"a": 2})
        print(infersight.stats()["transport"])
    """, env={"INFERSIGHT_TRANSPORT": "", "INFERSIGHT_API_URL": "http://127.0.0.1:9"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:9"
    warnings = [line for line in result.stderr.splitlines() if "init() was not called" in line]
    assert len(warnings) == 1

    memory_env = _python("""
        import infersight
        infersight.log_prediction(model="m", features={"a": 1}, prediction=1)
        print(infersight.flush(5), infersight.stats()["transport"], infersight.stats()["sent"])
    """, env={"INFERSIGHT_TRANSPORT": "memory"})
    assert memory_env.stdout.split() == ["True", "memory", "1"]
    assert "not called" not in memory_env.stderr


def test_events_logged_just_before_exit_are_flushed_at_exit() -> None:
    result = _python("""
        import atexit
        import infersight
        from infersight.sdk.local_bus import get_local_bus
        # atexit runs last-registered first: this runs after the SDK's own exit flush.
        atexit.register(lambda: print(get_local_bus().end_offset("infersight.events")))
        infersight.init(transport="local", flush_interval=60)  # only the exit flush can send it
        infersight.log_prediction(model="m", features={"a": 1}, prediction=1)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_configuration_precedence_and_validation() -> None:
    env = {"INFERSIGHT_TRANSPORT": "kafka://k:9092", "INFERSIGHT_SDK_QUEUE_SIZE": "50",
           "INFERSIGHT_SDK_FLUSH_INTERVAL": "50ms", "INFERSIGHT_API_KEY": "k1"}
    config = build_config(environ=env)
    assert (config.transport, config.queue_size, config.flush_interval, config.api_key) == (
        "kafka://k:9092", 50, 0.05, "k1")
    assert build_config(transport="memory", queue_size=7, environ=env).queue_size == 7
    with pytest.raises(ValueError, match="queue_size must be an integer"):
        build_config(environ={"INFERSIGHT_SDK_QUEUE_SIZE": "lots"})
    with pytest.raises(ValueError, match="flush_interval"):
        infersight.init(transport="memory", flush_interval="soon")
    with pytest.raises(ValueError, match="unknown keys"):
        infersight.init(transport="memory", models={"m": {"verison": "1"}})
    with pytest.raises(ValueError, match="not host:port"):
        infersight.init(transport="kafka://nohost")
    with pytest.raises(ValueError, match="unknown option"):
        infersight.init(transport="kafka://h:1?lingerms=3")


def test_invalid_environment_never_breaks_the_call_path() -> None:
    result = _python("""
        import infersight
        @infersight.monitor(model="m")
        def predict(x):
            return x * 2
        print(predict(21))
        infersight.flush(1)
        stats = infersight.stats()
        print(stats["dropped_by_reason"], stats["transport"].startswith("invalid"))
    """, env={"INFERSIGHT_TRANSPORT": "carrier-pigeon"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "42"
    assert lines[1] == "{'send_error': 1} True"
    assert "invalid configuration" in result.stderr


def test_log_records_go_to_the_infersight_sdk_logger(caplog: pytest.LogCaptureFixture) -> None:
    infersight.init(transport="memory")
    with caplog.at_level(logging.WARNING, logger="infersight.sdk"):
        infersight.log_prediction(model="", features={}, prediction=1)
        infersight.flush(2)
    assert any("invalid_event" in record.getMessage() and "model must not be empty" in record.getMessage()
               for record in caplog.records)


def test_sdk_durations_take_the_same_units_as_the_service_settings() -> None:
    from infersight.settings import Settings

    environ = {"INFERSIGHT_SDK_FLUSH_INTERVAL": "1m", "INFERSIGHT_SDK_EXIT_TIMEOUT": "1500ms"}
    config = build_config(transport="memory", environ=environ)
    assert (config.flush_interval, config.exit_timeout) == (60.0, 1.5)
    assert Settings(window="1m", eval_interval="1500ms").window == config.flush_interval
    with pytest.raises(ValueError, match="flush_interval"):
        build_config(transport="memory", environ={"INFERSIGHT_SDK_FLUSH_INTERVAL": "soon"})
