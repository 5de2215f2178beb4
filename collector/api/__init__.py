"""The HTTP API (FastAPI): ingest, models and references, metrics, drift ranking, alerts,
health and Prometheus metrics. Build it from the settings with
:func:`infersight.api_service.build_api`, or from an
:class:`~infersight.collector.api.config.ApiConfig` with
:func:`infersight.collector.api.app.create_app`.
"""
