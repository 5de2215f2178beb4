"""Alembic configuration built in code, so migrations run from any directory.

``script_location`` points at this installed package; no ``alembic.ini`` is needed.
The database URL comes from the caller or, when absent, from ``INFERSIGHT_DATABASE_URL``.

>>> cfg = alembic_config("sqlite:///example.db")
>>> cfg.get_main_option("sqlalchemy.url")
'sqlite:///example.db'
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from infersight.storage.db import normalise_url
from sqlalchemy.engine import URL

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic ``Config`` for this package's migrations and the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("version_path_separator", "os")
    if url is not None:
        rendered = normalise_url(url).render_as_string(hide_password=False)
        # ConfigParser interpolation: a literal '%' (e.g. in a password) must be doubled.
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config
