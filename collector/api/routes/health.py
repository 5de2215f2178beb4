"""``/healthz`` (the process is up), ``/readyz`` (database and bus reachable), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from infersight.collector.api.context import ApiContext
from infersight.collector.api.deps import Context
from infersight.collector.api.publisher import PublishError
from infersight.storage.registry import probe
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    """``ready`` when every check passed; each check says ``ok`` or what failed."""

    status: str
    checks: dict[str, str]


@router.get("/healthz")
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


def _checks(context: ApiContext) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with context.sessions() as session:
            probe(session)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    try:
        context.publisher.check(timeout_s=2.0)
        checks["bus"] = "ok"
    except PublishError as exc:
        checks["bus"] = f"unavailable: {exc}"
    return checks


@router.get("/readyz", responses={503: {"model": Readiness}})
async def readyz(context: Context, response: Response) -> Readiness:
    """Readiness: the database (with its schema) and the bus are reachable."""
    checks = await run_in_threadpool(_checks, context)
    ready = all(v == "ok" for v in checks.values())
    if not ready:
        response.status_code = 503
    return Readiness(status="ready" if ready else "not ready", checks=checks)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}})
def metrics(context: Context) -> Response:
    """The API's Prometheus metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)
