"""Alerts: rules, the state machine, retraining recommendations, the outbox and channels.

Entry points: :func:`infersight.alerts.judge.judge_window` (called by the worker in its
transaction, with the reference's own metrics), :class:`infersight.alerts.dispatcher.Dispatcher`
(delivers the outbox), :class:`infersight.alerts.service.Alerting` (both for one process).
The HTTP routes are in ``collector/api/routes/alerts.py``, the tables and queries in
``storage/``. ``docs/alerts.md`` describes rules, channels and payloads.
"""
