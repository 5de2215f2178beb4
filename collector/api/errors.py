"""One JSON shape for every error, and handlers that map failures onto it.

Every error body is ``{"error": code, "detail": message, "problems": [{"field", "problem"}]}``
plus optional extra keys (e.g. ``known_models``). Validation errors name each field as
``<where>.<name>`` (``query.start``, ``body.threshold``). Bad input is always a 4xx; an
unexpected failure is a 500 that says nothing internal, is logged, and is counted.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class Problem(BaseModel):
    """One thing wrong with the request: where, and what."""

    field: str
    problem: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str
    detail: str
    problems: list[Problem] = []


class ApiError(Exception):
    """Raise in a route to answer ``status`` with an :class:`ErrorBody` (and ``extra`` keys)."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        problems: list[Problem] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.problems = problems or []
        self.headers = headers
        self.extra = extra

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "error": self.error,
            "detail": self.detail,
            "problems": [p.model_dump() for p in self.problems],
        }
        body.update(self.extra)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def invalid(field: str, problem: str, status: int = 422) -> ApiError:
    """A 422 naming one field: ``invalid("body.threshold", "must be in [0, 1]")``."""
    return ApiError(status, "invalid_request", f"{field}: {problem}", [Problem(field=field, problem=problem)])


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def _validation_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [Problem(field=_field(e.get("loc", ())), problem=str(e.get("msg", "invalid")))
                for e in exc.errors()]
    summary = "; ".join(f"{p.field}: {p.problem}" for p in problems[:5]) or "invalid request"
    return ApiError(422, "invalid_request", summary, problems).response()


def _http_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    code = _STATUS_CODES.get(exc.status_code, "error")
    headers = dict(exc.headers) if exc.headers else None
    return ApiError(exc.status_code, code, detail, headers=headers).response()


def _api_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


def _unexpected_response(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ApiError(500, "internal_error", "the server failed to handle this request; "
                    "it has been logged").response()


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with an :class:`ErrorBody`."""
    app.add_exception_handler(RequestValidationError, _validation_response)
    app.add_exception_handler(StarletteHTTPException, _http_response)
    app.add_exception_handler(HTTPException, _http_response)
    app.add_exception_handler(ApiError, _api_response)
    app.add_exception_handler(Exception, _unexpected_response)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in _STATUS_CODES.items()
    if status in (400, 401, 403, 404, 413, 422)
}
"""OpenAPI ``responses`` documenting the error body on every route."""


def use_error_body_in_openapi(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers do: every 4xx response of every
    route (FastAPI's default 422 included) has an :class:`ErrorBody`."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                             description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ErrorBody", ErrorBody.model_json_schema(
            ref_template="#/components/schemas/{model}"))
        for name, sub in ErrorBody.model_json_schema(
                ref_template="#/components/schemas/{model}").get("$defs", {}).items():
            components.setdefault(name, sub)
        components["ErrorBody"].pop("$defs", None)
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if str(status).startswith("4"):
                        response["content"] = content
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
