"""The background thread: drains the queue, builds events, batches, encodes and sends.

Woken by an Event when the queue holds a batch's worth of records or a flush is
requested, otherwise by a timer when the oldest open batch is due. Every step is
guarded: a failure is counted (``stats()``), never raised, and the thread keeps going.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from .batcher import Batch, Batcher, encode_within_limit
from .config import SdkConfig
from .counters import Counters
from .events import EventBuilder, ExtractError, InvalidEvent
from .keys import message_key
from .records import FLUSH, QueueItem
from .sender import OutgoingBatch, Sender
from .transport import Transport
from .wire import encode_batch, encode_batch_v2

__all__ = ["BackgroundThread"]

logger = logging.getLogger("infersight.sdk")

MAX_IN_FLIGHT = 4  # messages awaiting the broker's acknowledgement
_RECORDS_PER_ROUND = 2000
_YIELD_EVERY = 8  # check due batches and deliveries at least this often while draining


class BackgroundThread:
    """Owns the batching state; runs :meth:`run` on a daemon thread."""

    def __init__(
        self, queue: deque[QueueItem], wake: threading.Event, config: SdkConfig,
        transport: Transport, counters: Counters,
    ) -> None:
        self._queue = queue
        self._wake = wake
        self._config = config
        self._counters = counters
        self._builder = EventBuilder(config, counters)
        self._batcher = Batcher(config.batch_size, config.batch_bytes, config.flush_interval)
        self._encode = encode_batch_v2 if config.wire_format == "v2" else encode_batch
        self._sender = Sender(transport, counters, MAX_IN_FLIGHT, config.max_backoff)
        self._stopping = False
        self._drop_reason = "shutdown"
        self.abandoned = False
        self.buffered_events = 0
        self.thread = threading.Thread(target=self.run, name="infersight-sdk-worker", daemon=True)

    @property
    def in_flight_events(self) -> int:
        return self._sender.in_flight_events

    def start(self) -> None:
        self.thread.start()

    def stop(self, deadline: float, drop_reason: str = "shutdown") -> None:
        """Finish: drain and send what is queued until ``deadline`` (monotonic), then close;
        what is left then is dropped as ``drop_reason``."""
        self._drop_reason = drop_reason
        self._stopping = True
        self._sender.give_up_at(deadline, drop_reason)
        self._wake.set()

    def abandon(self) -> int:
        """For a thread stuck past its deadline: the events it still holds (queued, batched,
        in flight), which the caller counts; whatever the thread does later goes uncounted."""
        unsent = sum(1 for record in list(self._queue) if record[0] != FLUSH)
        unsent += self.buffered_events + self.in_flight_events
        self.abandoned = True
        self._queue.clear()
        self._counters = Counters(silent=True)
        self._sender.count_into(self._counters)
        return unsent

    def run(self) -> None:
        while True:
            try:
                self._wake.wait(self._timeout())
                self._wake.clear()
                self._drain()
                self._send(self._batcher.due(time.monotonic()))
                self._sender.poll()
            except Exception as exc:  # keep the thread alive whatever happens
                self._counters.error(exc)
                logger.exception("infersight worker step failed")
            if self._stopping and not self._queue:
                break
        self._finish()

    def _timeout(self) -> float:
        deadline = self._batcher.next_deadline()
        if deadline is None:
            return self._config.flush_interval
        return max(0.0, deadline - time.monotonic())

    def _drain(self) -> None:
        queue = self._queue
        handled = 0
        self._builder.sync_clock()
        while True:
            try:
                record = queue.popleft()
            except IndexError:
                return
            if record[0] == FLUSH:
                self._flush(record[1], record[2])
                continue
            self._add(record)
            handled += 1
            if handled % _RECORDS_PER_ROUND == 0:
                self._send(self._batcher.due(time.monotonic()))
                self._sender.poll()

    def _add(self, record: QueueItem) -> None:
        try:
            routed = self._builder.build(record)
        except ExtractError as exc:
            self._counters.dropped("extract_error", 1, str(exc))
            return
        except InvalidEvent as exc:
            self._counters.dropped("invalid_event", 1, str(exc))
            return
        except Exception as exc:
            self._counters.dropped("extract_error", 1, f"{type(exc).__name__}: {exc}")
            return
        now = time.monotonic()
        for topic, event in routed:
            self.buffered_events += 1
            self._send(self._batcher.add(topic, event, now))

    def _send(self, batches: list[Batch]) -> None:
        for batch in batches:
            self.buffered_events -= len(batch.events)
            result = encode_within_limit(batch.events, self._encode, self._config.batch_bytes)
            for _, reason in result.failed:
                self._counters.dropped("encode_error", 1, reason)
            for value, count in result.messages:
                self._batcher.observe_encoded(count, len(value))
                key = message_key(batch.model, value)
                self._sender.submit(OutgoingBatch(batch.topic, key, value, count))

    def _flush(self, done: threading.Event, deadline: float) -> None:
        self._send(self._batcher.take_all())
        if self._sender.wait_idle(deadline):
            done.set()

    def _finish(self) -> None:
        try:
            self._send(self._batcher.take_all())
            self._sender.wait_idle(self._sender_deadline())
        except Exception as exc:
            self._counters.error(exc)
        leftover = self._queue
        while leftover:
            record: Any = leftover.popleft()
            if record[0] == FLUSH:
                continue
            self._counters.dropped(self._drop_reason, 1)
        self._sender.abandon()
        try:
            remaining = self._sender_deadline()
            self._sender.transport.close(0.0 if remaining is None else max(0.0, remaining - time.monotonic()))
        except Exception as exc:
            self._counters.error(exc)

    def _sender_deadline(self) -> float | None:
        return self._sender.deadline
