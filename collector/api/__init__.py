"""The HTTP API (FastAPI): ingest, models and references, metrics, drift ranking, alerts,
health and Prometheus metrics. Build it with :func:`infersight.collector.api.app.create_app`.
"""
