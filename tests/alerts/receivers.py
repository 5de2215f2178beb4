"""Real HTTP receivers on 127.0.0.1 for the delivery tests (``http.server`` in a thread)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records every request; verifies the webhook signature and timestamp when given a secret.

    ``fail_next`` answers that many requests with 503; ``hang`` blocks requests until
    released; ``handler`` may answer requests itself (``(method, path, body) -> (status, json)``).
    """

    def __init__(
        self,
        secret: str | None = None,
        handler: Callable[[str, str, bytes, dict[str, str]], tuple[int, Any]] | None = None,
        port: int = 0,
    ) -> None:
        self.secret = secret
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        """Every correctly signed request."""
        self.accepted: list[dict[str, Any]] = []
        """Requests answered 2xx (deliveries)."""
        self.bad_signatures = 0
        self.fail_next = 0
        self.hang = threading.Event()
        self.got_request = threading.Event()
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.got_request.set()
                while receiver.hang.is_set():
                    time.sleep(0.01)
                status, answer = receiver._handle(self.command, self.path, body, headers)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PATCH = do_PUT = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any]:
        with self._lock:
            record: dict[str, Any] = {
                "method": method,
                "path": path,
                "headers": headers,
                "raw": body,
            }
            try:
                record["json"] = json.loads(body) if body else None
            except ValueError:
                record["json"] = None
            if self.secret is not None:
                expected = (
                    "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
                )
                given = headers.get("x-infersight-signature", "")
                timestamp_ok = (
                    record["json"] is None
                    or "timestamp" not in record["json"]
                    or str(record["json"]["timestamp"]) == headers.get("x-infersight-timestamp")
                )
                if not hmac.compare_digest(expected, given) or not timestamp_ok:
                    self.bad_signatures += 1
                    return 401, {"error": "bad signature"}
            self.requests.append(record)
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"error": "unavailable"}
        status, answer = (200, {"ok": True})
        if self.handler is not None:
            status, answer = self.handler(method, path, body, headers)
        if 200 <= status < 300:
            with self._lock:
                self.accepted.append(record)
        return status, answer

    def delivered_keys(self) -> list[str]:
        """Idempotency keys of the accepted deliveries, in arrival order."""
        return [r["headers"].get("idempotency-key", "") for r in self.accepted]
