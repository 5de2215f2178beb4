"""What the API takes of the service settings: a small frozen config, built by the
composition root (:func:`infersight.api_service.api_config`) and handed to
:func:`infersight.collector.api.app.create_app`.

>>> config = ApiConfig(auth_required=False, max_body_bytes=5_000_000,
...                    max_reference_bytes=1 << 20, publish_timeout_s=10.0, rollups=False,
...                    rollup_interval_s=60.0, window_s=3600.0, lateness_fraction=0.1)
>>> config.window_s
3600.0
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """The API's settings (the ``INFERSIGHT_*`` variable each comes from in brackets)."""

    auth_required: bool
    """Whether requests need an API key (``AUTH``: ``on``); off only in the embedded demo."""
    max_body_bytes: int
    """Largest ``POST /v1/events`` / ``/v1/labels`` body (``API_MAX_BODY_BYTES``, 413 beyond)."""
    max_reference_bytes: int
    """Largest reference upload (``API_MAX_REFERENCE_BYTES``, 413 beyond)."""
    publish_timeout_s: float
    """How long ingest waits for the bus before a 503 (``API_PUBLISH_TIMEOUT``)."""
    rollups: bool
    """Whether this process maintains the drift ranking's rollups (``API_ROLLUPS``)."""
    rollup_interval_s: float
    """How often they are refreshed (``API_ROLLUP_INTERVAL``)."""
    window_s: float
    """Window length of a model without its own (``WINDOW``)."""
    lateness_fraction: float
    """Allowed lateness as a share of the window length (``WORKER_LATENESS``)."""
    skew_ttl_s: float = 7 * 86400.0
    """How long uploaded offline feature values wait for their prediction (``SKEW_TTL``)."""
