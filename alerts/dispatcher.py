"""The dispatcher: drains the outbox, sends, retries with backoff, gives up into ``dead``.

Each round claims due notifications in a short transaction (leasing them so other
dispatchers skip them — ``FOR UPDATE SKIP LOCKED`` on Postgres), sends them outside any
transaction with the channel's timeout, then records each outcome. A dispatcher killed at
any point loses nothing: an unrecorded send is retried after its lease expires, so delivery
is at-least-once and receivers dedupe by the ``Idempotency-Key``.

Run it in the worker (``Dispatcher.run_in_thread``) or on its own (``Dispatcher.run``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from infersight.alerts.channels import DeliveryError, deliver
from infersight.alerts.config import AlertConfig
from infersight.alerts.outbox import claim_due, record_failure, record_success
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 30.0


@dataclass
class DispatchStats:
    """Outcome of one round."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Delivers pending notifications; ``config`` is called each round (rules file reloads)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: Callable[[], AlertConfig] | AlertConfig,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = _utc_now,
        batch_size: int = 50,
    ) -> None:
        self._sessions = sessions
        self._config = config if callable(config) else (lambda: config)
        self._client = client or httpx.Client(follow_redirects=False)
        self._owns_client = client is None
        self._clock = clock
        self._batch_size = batch_size
        self._stop = threading.Event()

    def run_once(self) -> DispatchStats:
        """Claim, send and record one batch of due notifications."""
        config = self._config()
        now = self._clock()
        timeouts = [c.timeout for c in config.channels.values()] or [10.0]
        lease = max(timeouts) + LEASE_MARGIN_SECONDS
        with self._sessions.begin() as session:
            claimed = [
                (row.id, row.channel, dict(row.payload))
                for row in claim_due(session, now, lease, self._batch_size)
            ]
        stats = DispatchStats()
        for notification_id, channel, payload in claimed:
            self._send_one(config, notification_id, channel, payload, stats)
        return stats

    def _send_one(
        self,
        config: AlertConfig,
        notification_id: int,
        channel: str,
        payload: dict[str, Any],
        stats: DispatchStats,
    ) -> None:
        try:
            deliver(self._client, config, channel, payload, self._clock())
        except DeliveryError as error:
            with self._sessions.begin() as session:
                state = record_failure(
                    session,
                    notification_id,
                    str(error),
                    self._clock(),
                    initial=config.backoff_initial,
                    maximum=config.backoff_max,
                    give_up_after=config.give_up_after,
                )
            if state == "dead":
                stats.dead += 1
                log.error("notification %s to %s is dead: %s", notification_id, channel, error)
            else:
                stats.retrying += 1
                log.warning("notification %s to %s failed: %s", notification_id, channel, error)
            return
        with self._sessions.begin() as session:
            record_success(session, notification_id, self._clock())
        stats.sent += 1

    def run(self, interval: float) -> None:
        """Deliver until :meth:`stop` is called; database errors pause, they lose nothing."""
        while not self._stop.is_set():
            try:
                stats = self.run_once()
            except Exception:  # the database may be down: try again next round
                log.exception("alert dispatch round failed")
                stats = DispatchStats()
            if stats.sent + stats.retrying + stats.dead == 0:
                self._stop.wait(interval)

    def run_in_thread(self, interval: float) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(interval,), name="infersight-alerts", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.stop()
        if self._owns_client:
            self._client.close()
