"""A stand-in for Grafana's HTTP API on 127.0.0.1 (Grafana itself cannot run in CI).

It implements the endpoints ``grafana-client`` calls for ``infersight grafana sync``, with
the request and response shapes of Grafana's HTTP API documentation
(grafana.com/docs/grafana/latest/developers/http_api/: data_source, folder, dashboard):

- ``GET /api/datasources/uid/{uid}`` → the data source without secrets, with
  ``secureJsonFields`` (``{"password": true}``) and ``version``; 404 ``Data source not found``.
- ``POST /api/datasources`` → ``{"datasource", "id", "message": "Datasource added", "name"}``;
  409 when the name or UID exists; 400 without ``name``/``type``/``access``.
- ``PUT /api/datasources/uid/{uid}`` → ``{"datasource", "id", "message": "Datasource
  updated", "name"}``; secrets given replace the stored ones, absent ones are kept;
  409 when ``version`` is older than the stored one.
- ``GET /api/folders/{uid}``, ``POST /api/folders`` (``{"uid", "title"}``; 409 if the UID
  exists), ``PUT /api/folders/{uid}``.
- ``GET /api/dashboards/uid/{uid}`` → ``{"dashboard", "meta": {"folderUid", "version",
  "provisioned": false, ...}}``; ``POST /api/dashboards/db`` → ``{"id", "uid", "url",
  "status": "success", "version", "slug"}``, 412 ``name-exists`` when the UID exists and
  ``overwrite`` is false, 400 when the folder does not exist or the title is missing.
- Annotations (developers/http_api/annotations/), used by the alerts' Grafana channel:
  ``POST /api/annotations`` → ``{"message": "Annotation added", "id"}`` (400 without
  ``time``/``tags``/``text``); ``GET /api/annotations?dashboardUID=&tags=&limit=`` → the
  matching annotations; ``PATCH /api/annotations/{id}`` → ``{"message": "Annotation
  patched"}`` (404 when unknown).

Every request needs ``Authorization: Bearer <token>`` (401 otherwise).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

Answer = tuple[int, Any]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class GrafanaStub:
    """In-memory Grafana: data sources, folders, dashboards (with versions)."""

    def __init__(self, token: str = "glsa_test") -> None:
        self.token = token
        self.datasources: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, str]] = {}
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.dashboard_meta: dict[str, dict[str, Any]] = {}
        self.annotations: dict[int, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self._ids = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- HTTP -----------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> GrafanaStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with stub._lock:
                    status, answer = stub.handle(self.command, self.path, body, headers)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> GrafanaStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- API ------------------------------------------------------------------
    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def handle(self, method: str, raw_path: str, body: bytes, headers: dict[str, str]) -> Answer:
        url = urlparse(raw_path)
        path = url.path
        self._query = parse_qs(url.query)
        self.calls.append((method, path))
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Unauthorized"}
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return 400, {"message": "bad request data"}
        routes = [
            ("GET", r"/api/datasources/uid/([^/]+)", self._get_datasource),
            ("POST", r"/api/datasources", self._create_datasource),
            ("PUT", r"/api/datasources/uid/([^/]+)", self._update_datasource),
            ("GET", r"/api/folders/([^/]+)", self._get_folder),
            ("POST", r"/api/folders", self._create_folder),
            ("PUT", r"/api/folders/([^/]+)", self._update_folder),
            ("GET", r"/api/dashboards/uid/([^/]+)", self._get_dashboard),
            ("POST", r"/api/dashboards/db", self._save_dashboard),
            ("POST", r"/api/annotations", self._add_annotation),
            ("GET", r"/api/annotations", self._find_annotations),
            ("PATCH", r"/api/annotations/(\d+)", self._patch_annotation),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return handler(data, *match.groups())
        return 404, {"message": "Not found"}

    def _public_datasource(self, uid: str) -> dict[str, Any]:
        source = dict(self.datasources[uid])
        source["secureJsonFields"] = {key: True for key in self.secrets.get(uid, {})}
        return source

    def _get_datasource(self, _data: Any, uid: str) -> Answer:
        if uid not in self.datasources:
            return 404, {"message": "Data source not found"}
        return 200, self._public_datasource(uid)

    def _create_datasource(self, data: Any) -> Answer:
        if not isinstance(data, dict) or not all(data.get(k) for k in ("name", "type", "access")):
            return 400, {"message": "bad request data"}
        uid = data.get("uid") or f"ds{self._ids + 1}"
        if uid in self.datasources or any(d["name"] == data["name"]
                                          for d in self.datasources.values()):
            return 409, {"message": "data source with the same name or uid already exists"}
        source = {k: v for k, v in data.items() if k != "secureJsonData"}
        source |= {"id": self._next_id(), "uid": uid, "orgId": 1, "version": 1,
                   "readOnly": False, "isDefault": bool(data.get("isDefault"))}
        self.datasources[uid] = source
        self.secrets[uid] = dict(data.get("secureJsonData") or {})
        return 200, {"datasource": self._public_datasource(uid), "id": source["id"],
                     "message": "Datasource added", "name": source["name"]}

    def _update_datasource(self, data: Any, uid: str) -> Answer:
        if uid not in self.datasources:
            return 404, {"message": "Data source not found"}
        if not isinstance(data, dict) or not all(data.get(k) for k in ("name", "type", "access")):
            return 400, {"message": "bad request data"}
        stored = self.datasources[uid]
        if data.get("version") is not None and data["version"] < stored["version"]:
            return 409, {"message": "Datasource has already been updated by someone else"}
        source = {k: v for k, v in data.items() if k != "secureJsonData"}
        source |= {"id": stored["id"], "uid": uid, "orgId": 1,
                   "version": stored["version"] + 1, "readOnly": False,
                   "isDefault": bool(data.get("isDefault"))}
        self.datasources[uid] = source
        self.secrets[uid] |= dict(data.get("secureJsonData") or {})
        return 200, {"datasource": self._public_datasource(uid), "id": source["id"],
                     "message": "Datasource updated", "name": source["name"]}

    def _get_folder(self, _data: Any, uid: str) -> Answer:
        if uid not in self.folders:
            return 404, {"message": "folder not found", "status": "not-found"}
        return 200, self.folders[uid]

    def _create_folder(self, data: Any) -> Answer:
        if not isinstance(data, dict) or not data.get("title"):
            return 400, {"message": "folder title cannot be empty"}
        uid = data.get("uid") or f"f{self._ids + 1}"
        if uid in self.folders:
            return 409, {"message": "a folder with the same uid already exists"}
        self.folders[uid] = {"id": self._next_id(), "uid": uid, "title": data["title"],
                             "url": f"/dashboards/f/{uid}/{_slug(data['title'])}",
                             "hasAcl": False, "canSave": True, "canEdit": True,
                             "canAdmin": True, "version": 1}
        return 200, self.folders[uid]

    def _update_folder(self, data: Any, uid: str) -> Answer:
        if uid not in self.folders:
            return 404, {"message": "folder not found", "status": "not-found"}
        folder = self.folders[uid]
        folder["title"] = data.get("title") or folder["title"]
        folder["version"] += 1
        return 200, folder

    def _get_dashboard(self, _data: Any, uid: str) -> Answer:
        if uid not in self.dashboards:
            return 404, {"message": "Dashboard not found"}
        return 200, {"dashboard": self.dashboards[uid], "meta": self.dashboard_meta[uid]}

    def _save_dashboard(self, data: Any) -> Answer:
        board = data.get("dashboard") if isinstance(data, dict) else None
        if not isinstance(board, dict) or not board.get("title"):
            return 400, {"message": "Dashboard title cannot be empty"}
        folder_uid = data.get("folderUid") or ""
        if folder_uid and folder_uid not in self.folders:
            return 400, {"message": "folder not found"}
        uid = board.get("uid") or f"d{self._ids + 1}"
        existing = self.dashboards.get(uid)
        if existing is not None and not data.get("overwrite"):
            return 412, {"message": "A dashboard with the same uid already exists",
                         "status": "name-exists"}
        version = existing["version"] + 1 if existing else 1
        stored = {**board, "uid": uid, "id": existing["id"] if existing else self._next_id(),
                  "version": version}
        self.dashboards[uid] = stored
        slug = _slug(board["title"])
        self.dashboard_meta[uid] = {"type": "db", "canSave": True, "canEdit": True,
                                    "slug": slug, "url": f"/d/{uid}/{slug}",
                                    "folderUid": folder_uid, "version": version,
                                    "provisioned": False}
        return 200, {"id": stored["id"], "uid": uid, "url": f"/d/{uid}/{slug}",
                     "status": "success", "version": version, "slug": slug}

    def _add_annotation(self, data: Any) -> Answer:
        if not isinstance(data, dict) or "time" not in data or not isinstance(
            data.get("tags"), list
        ) or not data.get("text"):
            return 400, {"message": "bad request data"}
        new_id = len(self.annotations) + 1
        self.annotations[new_id] = {
            "id": new_id, "dashboardUID": data.get("dashboardUID"),
            "panelId": data.get("panelId") or 0, "time": data["time"],
            "timeEnd": data.get("timeEnd") or data["time"], "tags": data["tags"],
            "text": data["text"], "type": "annotation",
        }
        return 200, {"message": "Annotation added", "id": new_id}

    def _find_annotations(self, _data: Any) -> Answer:
        query = self._query
        found = [
            a for a in self.annotations.values()
            if ("dashboardUID" not in query or a["dashboardUID"] == query["dashboardUID"][0])
            and all(tag in a["tags"] for tag in query.get("tags", []))
        ]
        return 200, found[: int(query.get("limit", ["100"])[0])]

    def _patch_annotation(self, data: Any, annotation_id: str) -> Answer:
        annotation = self.annotations.get(int(annotation_id))
        if annotation is None:
            return 404, {"message": "Annotation not found"}
        for field in ("time", "timeEnd", "tags", "text"):
            if isinstance(data, dict) and data.get(field) is not None:
                annotation[field] = data[field]
        return 200, {"message": "Annotation patched"}
