"""Storage: the SQLAlchemy 2.x schema and repositories, on Postgres or SQLite.

- :mod:`~infersight.storage.db`: engines, sessions, ``upgrade(url)`` (Alembic).
- :mod:`~infersight.storage.models`: the tables (a contract shared with the API and dashboards).
- repositories, each taking a ``Session`` and never committing: ``windows``, ``offsets``,
  ``metrics``, ``labels``, ``deadletters``, ``registry``, ``watermarks``, ``detectors``,
  ``retention``; ``upsert`` is their shared bulk ``INSERT ... ON CONFLICT``.
"""
