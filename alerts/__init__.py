"""Alerts: rules, the state machine, retraining recommendations, the outbox and channels.

Entry points: :func:`infersight.alerts.engine.evaluate_window` (called by the worker in its
transaction), :class:`infersight.alerts.dispatcher.Dispatcher` (delivers the outbox),
:func:`infersight.alerts.routes.alerts_router` (HTTP API), :class:`infersight.alerts.service.
Alerting` (all three wired from the settings). ``docs/alerts.md`` describes rules, channels
and payloads.
"""
