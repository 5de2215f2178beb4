"""Tunables of one worker; the CLI fills them from ``INFERSIGHT_*`` settings.

>>> WorkerConfig(window_s=60).lateness_fraction
0.1
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Tunables of one worker (the CLI fills them from ``INFERSIGHT_*`` settings)."""

    window_s: float = 3600.0
    eval_interval_s: float = 10.0
    eval_round_s: float = 1.0
    """Closed dirty windows wait at most this long for their evaluation round while the worker
    is busy (an idle worker evaluates them at once); touches in between are coalesced."""
    group: str = "infersight-workers"
    lateness_fraction: float = 0.1
    label_ttl_s: float = 7 * 86400.0
    skew_ttl_s: float = 7 * 86400.0
    """How long a side of the train/serve skew join waits for the other (and a compared
    row's tombstone is kept)."""
    prediction_retention_s: float = 30 * 86400.0
    dead_letter_retention_s: float = 30 * 86400.0
    """``dead_letters`` rows older than this (by ``created_at``) are purged by housekeeping."""
    window_state_retention_s: float | None = None
    health_state_retention_s: float | None = None
    metric_retention_s: float | None = None
    """``window_states``, ``health_states``, ``metric_points``: kept this long by window start
    (None: kept; the services pass ``INFERSIGHT_WINDOW_STATE_RETENTION`` and the others, 90,
    90 and 400 days by default). Predictions older than the window-state retention are
    dead-lettered."""
    poll_timeout_s: float = 0.5
    max_records: int = 200
    max_cached_states: int = 5000
    housekeeping_interval_s: float = 60.0
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
    bootstrap_min_events: int = 1000
    """Build a first-window reference once this many predictions are held (or the window
    closed)."""
    bootstrap_max_rows: int = 20_000
    bootstrap_interval_s: float = 1.0
