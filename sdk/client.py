"""The client: the bounded queue, the lazily started worker, flush/shutdown, fork safety.

The call path touches :meth:`Client.submit` only: a length check and a
``deque.append`` (atomic, no lock), plus starting the worker with the first record and
setting its wake-up Event when a batch's worth is waiting. With many threads submitting at once the queue may overshoot
its bound by at most one record per thread.

No thread starts at import: the worker starts with the first event. A forked child
(gunicorn, multiprocessing) gets a fresh queue, worker and transport
(``os.register_at_fork``, with a pid check as a second line of defence).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from .config import SdkConfig, build_config
from .counters import Counters, sdk_logger
from .records import FLUSH, QueueItem
from .transport import PermanentSendError, Transport, create_transport

if TYPE_CHECKING:
    from .background import BackgroundThread

__all__ = ["Client", "current", "install", "uninstall"]

class Client:
    """One configured SDK instance (the module keeps the current one)."""

    def __init__(self, config: SdkConfig, transport: Transport) -> None:
        self.config = config
        self.transport = transport
        self.sample_rate = config.sample_rate
        self._capacity = config.queue_size
        self._closed = False
        self._reset_runtime_state()

    def _reset_runtime_state(self) -> None:
        self._queue: deque[QueueItem] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self.counters = Counters()
        self._background: BackgroundThread | None = None
        self._wake_at = 0  # queue length that calls _nudge: 0 until the worker runs
        self._pid = os.getpid()

    # -- call path ---------------------------------------------------------------------
    def submit(self, record: QueueItem) -> None:
        """Queue one record without blocking; drop and count it when the queue is full."""
        queue = self._queue
        size = len(queue)
        if size >= self._capacity:
            if self._closed:
                self.counters.dropped("shutdown")
            else:
                self.counters.queue_full()
            return
        queue.append(record)
        if size >= self._wake_at:
            self._nudge()

    def _nudge(self) -> None:
        """Start the worker with the first record; wake it once a batch's worth is queued."""
        if self._background is None:
            self._start_background()
        elif not self._wake.is_set():
            self._wake.set()

    # -- background --------------------------------------------------------------------
    def _start_background(self) -> None:
        with self._lock:
            if self._background is not None or self._closed:
                return
            if self._pid != os.getpid():  # forked without the at-fork hook having run
                self._after_fork_in_child()
            from .background import BackgroundThread  # lazily: keeps `import infersight` fast

            background = BackgroundThread(self._queue, self._wake, self.config, self.transport,
                                      self.counters)
            try:
                background.start()
            except RuntimeError:  # the interpreter is shutting down
                return
            self._background = background
            self._wake_at = self.config.batch_size - 1
            _register_exit_flush(self)

    def _after_fork_in_child(self) -> None:
        self.transport = self.transport.after_fork()
        self._reset_runtime_state()

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything queued so far; whether it all went out within ``timeout`` seconds."""
        if self._pid != os.getpid():
            self._after_fork_in_child()
        if self._background is None:
            if not self._queue:
                return True
            self._start_background()
            if self._background is None:
                return False
        done = threading.Event()
        self._queue.append((FLUSH, done, time.monotonic() + max(0.0, timeout)))
        self._wake.set()
        return done.wait(max(0.0, timeout))

    def shutdown(self, timeout: float = 5.0, drop_reason: str = "shutdown") -> bool:
        """Flush, stop the background thread and close the transport, all within ``timeout``;
        what is still unsent then is dropped as ``drop_reason``, and so are later events."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        flushed = self.flush(timeout)
        self._capacity = 0
        background = self._background
        if background is None:
            self._drop_queued(drop_reason)
            try:
                self.transport.close(max(0.0, deadline - time.monotonic()))
            except Exception as exc:
                self.counters.error(exc)
            return flushed
        background.stop(deadline, drop_reason)
        if background.thread is not threading.current_thread():
            background.thread.join(max(0.0, deadline - time.monotonic()))
            if background.thread.is_alive():  # stuck in a transport call past the deadline
                unsent = background.abandon()
                if unsent:
                    self.counters.dropped(drop_reason, unsent)
        return flushed

    def _drop_queued(self, reason: str) -> None:
        while self._queue:
            record = self._queue.popleft()
            if record[0] != FLUSH:
                self.counters.dropped(reason)

    def stats(self) -> dict[str, Any]:
        """Counts for ``infersight.stats()``."""
        snapshot = self.counters.snapshot()
        background = self._background
        queued = sum(1 for record in list(self._queue) if record[0] != FLUSH)
        if background is not None and not background.abandoned:
            queued += background.buffered_events + background.in_flight_events
        return {
            "queued": queued,
            **snapshot,
            "transport": self.transport.description,
            "queue_size": self.config.queue_size,
            "closed": self._closed,
        }


# -- the current client -------------------------------------------------------------------

_current: Client | None = None
_install_lock = threading.Lock()


def install(config: SdkConfig) -> Client:
    """Make a client for ``config`` the current one (shutting the previous one down)."""
    global _current
    transport = create_transport(config.transport, api_key=config.api_key)
    if config.transport_from_default:
        _warn_default_transport(config, called_init=True)
    client = Client(config, transport)
    with _install_lock:
        previous, _current = _current, client
    if previous is not None:
        previous.shutdown(previous.config.exit_timeout)
    return client


def uninstall(timeout: float) -> None:
    """Shut the current client down (it stays current, closed, so later events are counted)."""
    client = _current
    if client is not None:
        client.shutdown(timeout)


def current() -> Client:
    """The current client, initialised from the environment on first use. Never raises."""
    client = _current
    return client if client is not None else _auto_init()


class _MisconfiguredTransport(Transport):
    """Stands in when the environment's configuration is invalid: every send is refused."""

    def __init__(self, reason: str) -> None:
        self.description = f"invalid ({reason})"
        self._reason = reason

    def send(self, topic: str, key: bytes | None, value: bytes) -> Any:
        raise PermanentSendError(f"infersight is misconfigured: {self._reason}")


def _auto_init() -> Client:
    global _current
    with _install_lock:
        if _current is not None:
            return _current
        try:
            config = build_config()
            transport = create_transport(config.transport, api_key=config.api_key)
            if config.transport_from_default:
                _warn_default_transport(config, called_init=False)
        except Exception as exc:
            sdk_logger().error("infersight: invalid configuration in the environment: %s", exc)
            config = build_config(transport="memory", environ={})
            transport = _MisconfiguredTransport(str(exc))
        _current = Client(config, transport)
        return _current


def _warn_default_transport(config: SdkConfig, called_init: bool) -> None:
    how = "infersight.init() got no transport" if called_init else "infersight.init() was not called"
    sdk_logger().warning(
        "%s and INFERSIGHT_TRANSPORT is not set: sending events over HTTP to %s (where "
        "`infersight up` listens). Call infersight.init(transport=...) with kafka://host:port, "
        "http(s)://host:port, local or memory to choose.", how, config.api_url,
    )


_exit_registered = False


def _register_exit_flush(client: Client) -> None:
    """Flush at interpreter exit (atexit), and at a multiprocessing child's exit."""
    global _exit_registered
    if not _exit_registered:
        atexit.register(_flush_at_exit)
        _exit_registered = True
    # multiprocessing children leave through os._exit, skipping atexit; they run their
    # Finalize callbacks first. Registered here (not at fork) because a child clears the
    # inherited registry when it starts.
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None and client._pid != _main_pid:
        mp_util.Finalize(None, _flush_at_exit, exitpriority=0)


def _flush_at_exit() -> None:
    client = _current
    if client is not None and client._pid == os.getpid():
        with contextlib.suppress(Exception):  # nothing may escape at exit
            client.shutdown(client.config.exit_timeout, drop_reason="exit_timeout")


_main_pid = os.getpid()


def _after_fork_in_child() -> None:
    global _install_lock
    _install_lock = threading.Lock()
    client = _current
    if client is not None:
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
