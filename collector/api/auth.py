"""API-key authentication: ``Authorization: Bearer <key>`` checked against the hashed keys.

Scopes: ``ingest`` for POST events/labels, ``read`` for queries, ``admin`` for changes
(model settings, references, alert rules) — ``admin`` may do everything. With
``INFERSIGHT_AUTH=off`` (the embedded demo only) every request is let through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from infersight.collector.api.errors import ApiError, Problem

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `infersight apikey create NAME --scope read|ingest|admin`.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name and scopes (``auth off`` when authentication is off)."""

    name: str
    scopes: tuple[str, ...]


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail,
                    [Problem(field="header.authorization", problem=detail)],
                    headers={"WWW-Authenticate": "Bearer"})


def require(scope: str) -> Callable[..., Principal]:
    """A dependency admitting keys holding ``scope`` (or ``admin``)."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        return check(request, credentials, scope)

    dependency.__name__ = f"require_{scope}"
    return dependency


def check(
    request: Request, credentials: HTTPAuthorizationCredentials | None, scope: str
) -> Principal:
    from infersight.storage.apikeys import SCOPES, authenticate

    context = request.app.state.context
    if not context.config.auth_required:
        return Principal("auth off", SCOPES)
    if credentials is None:
        if request.headers.get("authorization"):
            raise _unauthorized("the Authorization header must be 'Bearer <API key>'")
        raise _unauthorized("missing 'Authorization: Bearer <API key>' header")
    with context.sessions() as session:
        key = authenticate(session, credentials.credentials)
        if key is None:
            raise _unauthorized("unknown or revoked API key")
        principal = Principal(key.name, tuple(key.scopes or ()))
        allowed = key.allows(scope)
    if not allowed:
        raise ApiError(
            403, "forbidden",
            f"API key {principal.name!r} lacks the {scope!r} scope "
            f"(it has: {', '.join(principal.scopes) or 'none'})",
            [Problem(field="header.authorization", problem=f"needs scope {scope!r}")],
        )
    return principal
