"""The metadata the migrations must produce: every table of every part of the service.

Every table is declared in ``storage/`` on one ``Base``; importing the modules registers
them.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

MODEL_MODULES = (
    "infersight.storage.models",
    "infersight.storage.alert_tables",
    "infersight.storage.apikeys",
    "infersight.storage.rollups",
)


def target_metadata() -> MetaData:
    """``Base.metadata`` with the tables of every model module registered."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    from infersight.storage.models import Base

    return Base.metadata
