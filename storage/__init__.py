"""Storage: the SQLAlchemy 2.x schema and repositories, on Postgres or SQLite.

- :mod:`~infersight.storage.db`: engines, sessions, ``upgrade(url)`` (Alembic).
- :mod:`~infersight.storage.models`: the tables (a contract shared with the API and dashboards);
  :mod:`~infersight.storage.alert_tables`: the alert tables, on the same metadata.
- repositories, each taking a ``Session`` and never committing: ``windows``, ``offsets``,
  ``metrics``, ``labels``, ``deadletters``, ``registry``, ``watermarks``, ``detectors``,
  ``retention``; for alerts ``alert_states``, ``alert_rules``, ``outbox``, ``silences`` and
  ``alert_points``; ``upsert`` is their shared ``INSERT ... ON CONFLICT``.
"""
