"""Authentication and scopes: no key, malformed header, wrong key, revoked key, wrong scope."""

from __future__ import annotations

from infersight.storage.apikeys import hash_token, list_api_keys, revoke_api_key
from infersight.storage.models import Base
from sqlalchemy import select

from tests.api.conftest import Api, serve

BATCH = b'{"schema": "infersight.events/v1", "events": []}'


def _problem_field(response_json: dict) -> str:
    return response_json["problems"][0]["field"]


def test_request_without_key_is_401_with_bearer_challenge(api: Api) -> None:
    response = api.client.get("/v1/models")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["error"] == "unauthorized" and "Authorization" in body["detail"]
    assert _problem_field(body) == "header.authorization"


def test_wrong_key_and_malformed_header_are_401(api: Api) -> None:
    api.key("read")
    for header in ("Bearer isk_00000000_" + "A" * 43, "Bearer nonsense", "Basic dXNlcjpwYXNz"):
        response = api.client.get("/v1/models", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["error"] == "unauthorized"


def test_revoked_key_is_refused_from_the_next_request_on(api: Api) -> None:
    token = api.key("read", name="to-revoke")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/v1/models", headers=headers).status_code == 200
    with api.sessions.begin() as session:
        assert revoke_api_key(session, "to-revoke") is not None
    response = api.client.get("/v1/models", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_scopes_are_enforced_per_route(api: Api) -> None:
    ingest = {"Authorization": f"Bearer {api.key('ingest')}"}
    read = {"Authorization": f"Bearer {api.key('read')}"}
    admin = {"Authorization": f"Bearer {api.key('admin')}"}
    assert api.client.post("/v1/events", content=BATCH, headers=ingest).status_code == 202
    refused = api.client.get("/v1/models", headers=ingest)
    assert refused.status_code == 403 and "'read'" in refused.json()["detail"]
    assert api.client.post("/v1/events", content=BATCH, headers=read).status_code == 403
    assert api.client.put("/v1/models/m", json={"threshold": 0.3}, headers=read).status_code == 403
    assert api.client.get("/v1/alert-rules", headers=read).status_code == 200
    rule = {"name": "r1", "metric": "psi", "op": ">", "threshold": 0.2}
    assert api.client.post("/v1/alert-rules", json=rule, headers=read).status_code == 403
    # admin may do everything
    assert api.client.post("/v1/events", content=BATCH, headers=admin).status_code == 202
    assert api.client.put("/v1/models/m", json={"threshold": 0.3}, headers=admin).status_code == 200
    assert api.client.get("/v1/models", headers=admin).status_code == 200
    assert api.client.post("/v1/alert-rules", json=rule, headers=admin).status_code == 201


def test_keys_are_stored_hashed_never_in_clear(api: Api) -> None:
    token = api.key("read", name="hashed")
    with api.sessions() as session:
        row = next(k for k in list_api_keys(session) if k.name == "hashed")
        stored = [tuple(r) for r in session.execute(select(*Base.metadata.tables["api_keys"].c))]
    assert row.token_sha256 == hash_token(token)
    assert all(token not in str(value) for r in stored for value in r)


def test_health_and_metrics_need_no_key(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").status_code == 200
    assert api.client.get("/metrics").status_code == 200


def test_auth_off_lets_requests_through(sqlite_url: str) -> None:
    with serve(sqlite_url, auth="off") as running:
        assert running.client.get("/v1/models").status_code == 200
        assert running.client.post("/v1/events", content=BATCH).status_code == 202


def test_openapi_document_and_docs_page_are_served(sqlite_api: Api) -> None:
    document = sqlite_api.client.get("/openapi.json").json()
    for path in ("/v1/events", "/v1/labels", "/v1/models", "/v1/models/{model}",
                 "/v1/models/{model}/versions/{version}/reference", "/v1/models/{model}/metrics",
                 "/v1/models/{model}/drift", "/v1/alert-rules", "/v1/alerts", "/healthz",
                 "/readyz", "/metrics"):
        assert path in document["paths"], path
    assert "ApiKey" in document["components"]["securitySchemes"]
    drift = document["paths"]["/v1/models/{model}/drift"]["get"]["responses"]
    assert drift["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    page = sqlite_api.client.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
