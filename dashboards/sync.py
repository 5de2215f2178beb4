# mypy: disable-error-code="no-untyped-call"
# (grafana-client has no type hints)
"""``infersight grafana sync``: create or update the data sources and dashboards in a running
Grafana through its HTTP API (``grafana-client``), idempotently.

Data sources are matched by UID (``GET/PUT /api/datasources/uid/{uid}``, else ``POST
/api/datasources``); the dashboards go into one folder (``GET/POST /api/folders``) with
``POST /api/dashboards/db`` (``overwrite``). Nothing is written when Grafana already holds
the same definition, so running sync twice creates no new dashboard versions. Stored
secrets cannot be read back: a changed password alone is sent with ``rotate_secrets``.

``grafana-client`` is the ``infersight[grafana]`` extra, loaded when a client is made (see
:mod:`infersight.extras`): without it :func:`connect` raises :class:`SyncError` saying what
to install, and this module still imports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infersight.dashboards.datasources import (
    PostgresConnection,
    postgres_datasource,
    prometheus_datasource,
)
from infersight.dashboards.generate import FOLDER_UID, dashboards

from infersight.extras import MissingExtraError, grafana_client

if TYPE_CHECKING:
    from grafana_client.api import GrafanaApi
    from grafana_client.client import GrafanaClientError

FEATURE = "infersight grafana sync"

log = logging.getLogger(__name__)

DATASOURCE_FIELDS = ("name", "type", "access", "url", "user", "jsonData", "isDefault")
"""What Grafana returns of a data source and sync compares (secrets are write-only)."""
SERVICE_DASHBOARD = "service-health.json"
"""Needs the Prometheus data source; left out when no Prometheus URL is configured."""


class SyncError(RuntimeError):
    """Grafana refused or could not be reached; the message says which call and why."""


@dataclass(frozen=True)
class SyncResult:
    kind: str
    """``datasource``, ``folder`` or ``dashboard``."""
    uid: str
    action: str
    """``created``, ``updated``, ``unchanged`` or ``skipped``."""

    def __str__(self) -> str:
        return f"{self.kind} {self.uid}: {self.action}"


def _missing(error: GrafanaClientError) -> bool:
    return bool(error.status_code == 404)


def _get(call: Any, *args: Any) -> dict[str, Any] | None:
    client = grafana_client(FEATURE).client
    try:
        found: dict[str, Any] = call(*args)
        return found
    except client.GrafanaClientError as error:
        if _missing(error):
            return None
        raise


def sync_datasource(api: GrafanaApi, wanted: dict[str, Any], rotate_secrets: bool) -> SyncResult:
    uid = wanted["uid"]
    wanted = {"isDefault": False, **wanted}
    current = _get(api.datasource.get_datasource_by_uid, uid)
    if current is None:
        api.datasource.create_datasource(wanted)
        return SyncResult("datasource", uid, "created")
    secrets = wanted.get("secureJsonData") or {}
    stored = current.get("secureJsonFields") or {}
    same = all(current.get(key) == wanted.get(key) for key in DATASOURCE_FIELDS)
    if same and not rotate_secrets and all(stored.get(key) for key in secrets):
        return SyncResult("datasource", uid, "unchanged")
    body = {**wanted, "id": current.get("id"), "version": current.get("version")}
    if not secrets:
        body.pop("secureJsonData", None)
    api.datasource.update_datasource_by_uid(uid, body)
    return SyncResult("datasource", uid, "updated")


def sync_folder(api: GrafanaApi, uid: str, title: str) -> SyncResult:
    current = _get(api.folder.get_folder, uid)
    if current is None:
        api.folder.create_folder(title, uid=uid)
        return SyncResult("folder", uid, "created")
    if current.get("title") != title:
        api.folder.update_folder(uid, title=title, overwrite=True)
        return SyncResult("folder", uid, "updated")
    return SyncResult("folder", uid, "unchanged")


def _comparable(board: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in board.items() if k not in ("id", "version")}


def sync_dashboard(api: GrafanaApi, board: dict[str, Any], folder_uid: str) -> SyncResult:
    uid = board["uid"]
    current = _get(api.dashboard.get_dashboard, uid)
    if current is not None:
        same_folder = (current.get("meta") or {}).get("folderUid") == folder_uid
        if same_folder and _comparable(current.get("dashboard") or {}) == _comparable(board):
            return SyncResult("dashboard", uid, "unchanged")
    api.dashboard.update_dashboard({
        "dashboard": {**board, "id": None},
        "folderUid": folder_uid,
        "message": "infersight grafana sync",
        "overwrite": True,
    })
    return SyncResult("dashboard", uid, "created" if current is None else "updated")


def sync(
    api: GrafanaApi,
    postgres: PostgresConnection,
    prometheus_url: str | None = None,
    *,
    folder_title: str = "infersight",
    rotate_secrets: bool = False,
) -> list[SyncResult]:
    """Bring Grafana to the generated definitions; returns what was done to each object."""
    client = grafana_client(FEATURE).client
    results: list[SyncResult] = []
    try:
        results.append(sync_datasource(api, postgres_datasource(postgres), rotate_secrets))
        if prometheus_url:
            results.append(sync_datasource(api, prometheus_datasource(prometheus_url),
                                           rotate_secrets))
        results.append(sync_folder(api, FOLDER_UID, folder_title))
        for name, board in dashboards().items():
            if name == SERVICE_DASHBOARD and not prometheus_url:
                results.append(SyncResult("dashboard", board["uid"], "skipped"))
                continue
            results.append(sync_dashboard(api, board, FOLDER_UID))
    except client.GrafanaUnauthorizedError as error:
        raise SyncError(f"Grafana refused the token (401): {error.response}") from error
    except client.GrafanaException as error:
        done = ", ".join(map(str, results)) or "nothing"
        raise SyncError(f"Grafana answered {error.status_code or 'no response'}: "
                        f"{error.message} (done before the error: {done})") from error
    except OSError as error:
        raise SyncError(f"cannot reach Grafana: {type(error).__name__}: {error}") from error
    for result in results:
        log.info("%s", result)
    return results


def connect(url: str, token: str | None, timeout: float = 10.0) -> GrafanaApi:
    """A client for Grafana at ``url`` (service-account token, or ``user:password@`` in URL)."""
    if not url.startswith(("http://", "https://")):
        raise SyncError(f"Grafana URL must start with http:// or https://, got {url!r}")
    try:
        library = grafana_client(FEATURE)
    except MissingExtraError as error:
        raise SyncError(str(error)) from error
    api: GrafanaApi = library.api.GrafanaApi.from_url(url, credential=token, timeout=timeout)
    return api
