"""Optional dependencies imported on first use, with an error that names the extra to install.

``grafana-client`` is its own extra, ``infersight[grafana]``, and not part of ``server``: it
depends on ``niquests``, which installs ``urllib3-future``, and that package overwrites the
``urllib3`` package of the environment, after which ``requests`` fails
(``'TrafficPolice' object has no attribute 'keys'``). Only the Grafana alert channel and
``infersight grafana sync`` need it, so they load it here and nothing else imports it.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def grafana_client(feature: str) -> ModuleType:
    """The ``grafana_client`` package with its ``api`` and ``client`` modules loaded.

    Raises :class:`MissingExtraError` naming ``feature`` and ``infersight[grafana]`` when
    ``grafana-client`` is not installed.

    Examples
    --------
    >>> import sys
    >>> saved = sys.modules.get("grafana_client")
    >>> sys.modules["grafana_client"] = None  # as if grafana-client were not installed
    >>> try:
    ...     grafana_client("grafana sync")
    ... except MissingExtraError as error:
    ...     print(error)
    ... finally:
    ...     if saved is None:
    ...         del sys.modules["grafana_client"]
    ...     else:
    ...         sys.modules["grafana_client"] = saved
    grafana sync needs grafana-client: install infersight[grafana] (pip install 'infersight[grafana]')
    """
    try:
        package = importlib.import_module("grafana_client")
        importlib.import_module("grafana_client.api")
        importlib.import_module("grafana_client.client")
    except ImportError as error:
        raise MissingExtraError(
            f"{feature} needs grafana-client: install infersight[grafana] "
            "(pip install 'infersight[grafana]')"
        ) from error
    return package
