"""The HTTP transport: each batch is one ``POST`` to the API (stdlib ``http.client``).

Predictions go to ``{url}/v1/events``, labels to ``{url}/v1/labels``, with
``Authorization: Bearer <INFERSIGHT_API_KEY>`` when a key is set. The connection is
kept alive between batches. 2xx is success; 408, 429, 5xx and network errors are
retried with backoff; any other status drops the batch (``send_error``).

>>> HttpTransport("http://127.0.0.1:8000/").description
'http://127.0.0.1:8000'
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from .transport import DELIVERED, Delivery, PermanentSendError, Transport
from .wire import EVENTS_TOPIC, LABELS_TOPIC

__all__ = ["HttpTransport"]

_PATHS = {EVENTS_TOPIC: "/v1/events", LABELS_TOPIC: "/v1/labels"}
_RETRIABLE_STATUS = {408, 429}


class HttpSendError(Exception):
    """A retriable HTTP failure (network error, 408, 429 or 5xx)."""


class HttpTransport(Transport):
    """Posts wire-format batches to the infersight API."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 5.0) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"http transport {url!r}: expected http(s)://host[:port]")
        self.description = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._connection: Any = None

    def _connect(self) -> Any:
        if self._connection is None:
            import http.client  # lazily: keeps `import infersight` fast

            factory = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._connection = factory(self._host, self._port, timeout=self._timeout)
        return self._connection

    def send(self, topic: str, key: bytes | None, value: bytes) -> Delivery:
        path = _PATHS.get(topic)
        if path is None:
            raise PermanentSendError(f"the http transport cannot send to topic {topic!r}")
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        connection = self._connect()
        try:
            connection.request("POST", self._base_path + path, body=value, headers=headers)
            response = connection.getresponse()
            status = response.status
            body = response.read(2048)
        except Exception as exc:
            self._drop_connection()
            raise HttpSendError(f"POST {self.description}{path} failed: {type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return DELIVERED
        excerpt = body.decode("utf-8", "replace")[:200]
        message = f"POST {self.description}{path} returned {status}: {excerpt}"
        if status in _RETRIABLE_STATUS or status >= 500:
            self._drop_connection()
            raise HttpSendError(message)
        raise PermanentSendError(message)

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                connection.close()

    def close(self, timeout: float) -> None:
        self._drop_connection()

    def after_fork(self) -> Transport:
        self._connection = None  # the parent's socket: leave it to the parent
        return HttpTransport(self.description, self._api_key, self._timeout)
