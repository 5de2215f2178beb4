"""Keeping the rollups of :mod:`~infersight.collector.api.rollups` fresh: each complete
bucket built from the level below it (smallest buckets first), once per change of its
source signature, by :func:`refresh_rollups` and, in the API process, the background
:class:`RollupMaintainer`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from infersight.collector.api.rollups import (
    EPOCH,
    LEVELS,
    bucket_signature,
    collect_parts,
    fine_signatures,
    lower_levels,
    merge_parts,
    plan_range,
)
from infersight.storage.rollups import (
    RollupRecord,
    bucket_of,
    load_rollups,
    upsert_rollups,
)
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def refresh_rollups(
    sessions: sessionmaker[Session],
    model: str,
    reference_for: Callable[[Session, str], Any | None],
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    levels: Sequence[int] = LEVELS,
    write_sessions: sessionmaker[Session] | None = None,
) -> int:
    """Build or rebuild the stale rollups of complete buckets of ``model``; returns how many.

    Levels are refreshed smallest first so each bucket is merged from fresh smaller ones.
    A bucket holding a single window-state row gets no rollup (it would only copy it).
    Each rollup is merged in a read transaction of ``sessions`` and stored in a short one
    of ``write_sessions`` (default ``sessions``), so a SQLite writer lock is held only for
    the write.
    """
    writer = write_sessions or sessions
    now = now or datetime.now(UTC)
    since = since or EPOCH
    written = 0
    for size in sorted(levels):
        with sessions.begin() as session:
            signatures = fine_signatures(session, model, since, now)
            stored = {
                (r.version, r.bucket_seconds, r.bucket_start): r.signature
                for r in load_rollups(session, model, since, now)
                if r.bucket_seconds == size
            }
        for version, fine in signatures.items():
            buckets = sorted({bucket_of(b, size) for b in fine})
            for bucket in buckets:
                end = bucket + timedelta(seconds=size)
                if end > now:
                    continue
                sig = bucket_signature(fine, bucket, end)
                if sig is None or sig.rows < 2 or stored.get((version, size, bucket)) == sig:
                    continue
                written += _build_rollup(
                    sessions, writer, model, version, bucket, size, reference_for, levels
                )
    return written


def _build_rollup(
    sessions: sessionmaker[Session],
    writer: sessionmaker[Session],
    model: str,
    version: str,
    bucket: datetime,
    size: int,
    reference_for: Callable[[Session, str], Any | None],
    levels: Sequence[int],
) -> int:
    end = bucket + timedelta(seconds=size)
    with sessions.begin() as session:
        reference = reference_for(session, version)
        if reference is None:
            return 0
        # Signature first, then the states: a state newer than the signature only makes the
        # rollup look stale later (rebuilt), never fresh with old data.
        fine = fine_signatures(session, model, bucket, end, version).get(version, {})
        sig = bucket_signature(fine, bucket, end)
        if sig is None:
            return 0
        pieces = plan_range(bucket, end, lower_levels(size, levels))
        result = merge_parts(reference, collect_parts(session, model, version, pieces, fine,
                                                      levels))
        if result.skipped:
            return 0  # states of another reference: leave the bucket to the raw path
        record = RollupRecord(version, size, bucket, sig, int(result.state.rows),
                              bytes(result.state.to_bytes()))
    with writer.begin() as session:
        upsert_rollups(session, model, [record])
    return 1


class RollupMaintainer:
    """A daemon thread that refreshes every model's rollups every ``interval_s`` seconds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        models: Callable[[Session], list[str]],
        reference_for: Callable[[Session, str, str], Any | None],
        interval_s: float,
        write_sessions: sessionmaker[Session] | None = None,
    ) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions
        self._models = models
        self._reference_for = reference_for
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        with self._sessions.begin() as session:
            names = self._models(session)
        written = 0
        for model in names:
            def reference(session: Session, version: str, model: str = model) -> Any | None:
                return self._reference_for(session, model, version)

            written += refresh_rollups(self._sessions, model, reference,
                                       write_sessions=self._write_sessions)
        return written

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.run_once()
            except Exception:  # the database may be down for a while: try again later
                log.exception("rollup refresh failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="infersight-rollups", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
