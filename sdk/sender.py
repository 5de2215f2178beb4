"""Hands encoded messages to the transport: bounded in-flight window, retries with backoff.

Runs on the background thread only. A message is retried (exponential backoff, capped)
until the transport accepts and delivers it, unless the failure is permanent
(``send_error``) or the shutdown deadline has passed (``shutdown``, or ``exit_timeout`` at
interpreter exit). While it retries,
the worker does not drain the queue, so new events wait there up to the queue's bound
and are dropped (``queue_full``) beyond it: buffering is bounded, and sending resumes by
itself when the destination comes back.

>>> from infersight.sdk.counters import Counters
>>> from infersight.sdk.transport_memory import MemoryTransport
>>> counters = Counters()
>>> sender = Sender(MemoryTransport(), counters, max_in_flight=4, max_backoff=1.0)
>>> sender.submit(OutgoingBatch("infersight.events", b"fraud", b"{}", events=3))
>>> sender.wait_idle(deadline=None), counters.snapshot()["sent"]
(True, 3)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from .counters import Counters
from .transport import Delivery, PermanentSendError, Transport

__all__ = ["OutgoingBatch", "Sender"]

_FIRST_BACKOFF = 0.05


@dataclass
class OutgoingBatch:
    """One encoded batch on its way out."""

    topic: str
    key: bytes | None
    value: bytes
    events: int
    attempts: int = 0


class Sender:
    """Delivers messages through a transport; see the module docstring."""

    def __init__(self, transport: Transport, counters: Counters, max_in_flight: int, max_backoff: float) -> None:
        self.transport = transport
        self._counters = counters
        self._max_in_flight = max(1, max_in_flight)
        self._max_backoff = max_backoff
        self._in_flight: deque[tuple[Delivery, OutgoingBatch]] = deque()
        self._give_up_at: float | None = None
        self._give_up_reason = "shutdown"
        self._stop = threading.Event()
        self.in_flight_events = 0

    @property
    def deadline(self) -> float | None:
        """When retrying stops (monotonic seconds), once shutdown has set it."""
        return self._give_up_at

    def give_up_at(self, deadline: float, reason: str = "shutdown") -> None:
        """From ``deadline`` (monotonic) on, stop retrying: count what is left as ``reason``."""
        self._give_up_reason = reason
        self._give_up_at = deadline
        self._stop.set()  # interrupts a backoff sleep

    def count_into(self, counters: Counters) -> None:
        """Report to ``counters`` from now on."""
        self._counters = counters

    def _past_deadline(self) -> bool:
        return self._give_up_at is not None and time.monotonic() >= self._give_up_at

    def submit(self, message: OutgoingBatch) -> None:
        """Hand ``message`` over (retrying as needed); returns once the in-flight window has room."""
        pending = deque([message])
        while pending:
            current = pending.popleft()
            if self._hand_over(current):
                pending.extend(self._settle(block=True))

    def _hand_over(self, message: OutgoingBatch) -> bool:
        self.in_flight_events += message.events  # from here until delivered or dropped
        while True:
            if message.attempts:
                delay = min(self._max_backoff, _FIRST_BACKOFF * 2 ** (message.attempts - 1))
                self._stop.wait(delay)
            if self._past_deadline():
                self._drop(self._give_up_reason, message)
                return False
            try:
                delivery = self.transport.send(message.topic, message.key, message.value)
            except PermanentSendError as exc:
                self._drop("send_error", message, str(exc))
                return False
            except Exception as exc:
                message.attempts += 1
                self._counters.error(exc)
                continue
            self._in_flight.append((delivery, message))
            return True

    def _drop(self, reason: str, message: OutgoingBatch, detail: str | None = None) -> None:
        self.in_flight_events -= message.events
        self._counters.dropped(reason, message.events, detail)

    def _settle(self, block: bool) -> list[OutgoingBatch]:
        """Record finished deliveries (oldest first); return those to retry.

        With ``block``, waits while more than ``max_in_flight`` messages are in flight.
        """
        retry: list[OutgoingBatch] = []
        while self._in_flight:
            delivery, message = self._in_flight[0]
            must_wait = block and len(self._in_flight) > self._max_in_flight
            if not delivery.wait(0.1 if must_wait else 0.0):
                if must_wait and not self._past_deadline():
                    continue
                break
            self._in_flight.popleft()
            self.in_flight_events -= message.events
            error = delivery.error
            if error is None:
                self._counters.sent(message.events)
            elif isinstance(error, PermanentSendError):
                self._counters.dropped("send_error", message.events, str(error))
            else:
                message.attempts += 1
                self._counters.error(error)
                retry.append(message)
        return retry

    def poll(self) -> None:
        """Record finished deliveries without waiting; resend the failed ones."""
        for message in self._settle(block=False):
            self.submit(message)

    def wait_idle(self, deadline: float | None) -> bool:
        """Wait (until ``deadline``, monotonic) for every in-flight message to be delivered."""
        while self._in_flight:
            delivery, _ = self._in_flight[0]
            remaining = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if remaining <= 0:
                return False
            if delivery.wait(remaining):
                self.poll()
        return True

    def abandon(self) -> None:
        """Count everything still in flight as dropped (``shutdown`` or the give-up reason)."""
        while self._in_flight:
            _, message = self._in_flight.popleft()
            self._counters.dropped(self._give_up_reason, message.events)
        self.in_flight_events = 0
