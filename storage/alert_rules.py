"""Alert rules managed through the API (``alert_rules``): one JSON document per name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from infersight.storage.alert_tables import AlertRuleRow
from sqlalchemy import select
from sqlalchemy.orm import Session


def rule_definitions(session: Session) -> list[Any]:
    """Every stored rule document, by name."""
    return [row.definition for row in session.scalars(
        select(AlertRuleRow).order_by(AlertRuleRow.name))]


def get_rule(session: Session, name: str) -> AlertRuleRow | None:
    """The stored rule named ``name``."""
    return session.get(AlertRuleRow, name)


def add_rule(session: Session, name: str, definition: Any) -> None:
    """Store a new rule (the caller checked that the name is free)."""
    session.add(AlertRuleRow(name=name, definition=definition))
    session.flush()


def put_rule(session: Session, name: str, definition: Any, now: datetime) -> None:
    """Store ``definition`` under ``name``, replacing the stored one if any."""
    row = get_rule(session, name)
    if row is None:
        session.add(AlertRuleRow(name=name, definition=definition))
    else:
        row.definition = definition
        row.updated_at = now
    session.flush()


def delete_rule(session: Session, row: AlertRuleRow) -> None:
    """Remove a stored rule."""
    session.delete(row)
    session.flush()
