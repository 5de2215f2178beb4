"""``POST /v1/events`` and ``POST /v1/labels``: wire-format batches onto the bus.

The body is a v1 or a columnar v2 batch, decoded with the shared codec
(:func:`infersight.sdk.wire.decode_batch`, which dispatches on its ``schema``); the
accepted events are re-encoded as v1 batches, one per model (split to stay under the codec's
message limit) and published keyed by model and content (:func:`infersight.sdk.keys.message_key`:
one model's messages spread over every partition) — predictions to ``infersight.events``,
labels to ``infersight.labels``, whichever endpoint received them — and refused events go to
``infersight.deadletter`` with their reason. The answer (202) counts both and gives each
refused event's index, reason and detail, and its ``X-Infersight-Rejected`` header the
number refused, so a client that reads only statuses and headers still sees a batch refused
in full. A body that is not a batch at all is a 400.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from infersight.collector.api.context import ApiContext
from infersight.collector.api.deps import Context, IngestKey
from infersight.collector.api.errors import ERROR_RESPONSES, ApiError, Problem
from infersight.collector.api.limits import read_body
from infersight.collector.api.publisher import Message, PublishError
from infersight.sdk import wire
from infersight.sdk.batcher import encode_within_limit
from infersight.sdk.keys import message_key
from pydantic import BaseModel

router = APIRouter(prefix="/v1", tags=["ingest"], responses=ERROR_RESPONSES)

MAX_LISTED_REJECTIONS = 1000
REJECTED_HEADER = "X-Infersight-Rejected"
"""Header of a 202: how many events of the batch were refused (``0`` when none)."""


class RejectedEvent(BaseModel):
    """Why one event of the batch was refused."""

    index: int | None
    reason: str
    detail: str


class IngestResult(BaseModel):
    """How many events were accepted (published) and rejected, and why."""

    accepted: int
    rejected: int
    errors: list[RejectedEvent]
    errors_truncated: bool = False


_BATCH_EXAMPLE = {
    "schema": "infersight.events/v1",
    "events": [{"type": "prediction", "model": "fraud", "version": "3", "prediction_id": "p-1",
                "ts": "2026-01-01T12:00:00Z", "features": {"amount": 12.5}, "prediction": 0.93}],
}
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {
            "schema": {"oneOf": [
                {"type": "object", "required": ["schema", "events"], "properties": {
                    "schema": {"type": "string", "enum": [wire.SCHEMA]},
                    "events": {"type": "array", "items": {"type": "object"}}}},
                {"type": "object", "required": ["schema"], "properties": {
                    "schema": {"type": "string", "enum": [wire.SCHEMA_V2]},
                    "predictions": {"type": "array", "items": {"type": "object"}},
                    "labels": {"type": "array", "items": {"type": "object"}}}},
            ]},
            "example": _BATCH_EXAMPLE,
        }},
    }
}


def split_encode(events: Sequence[Any], limit: int = wire.MAX_MESSAGE_BYTES) -> list[bytes]:
    """Encode ``events`` as few batches as possible, each at most ``limit`` bytes, in order
    (split as the SDK splits, :func:`infersight.sdk.batcher.encode_within_limit`).

    A single event still over the limit is published alone (the worker dead-letters it as
    ``oversize``, as from any producer); one that cannot be encoded raises.
    """
    result = encode_within_limit(events, wire.encode_batch, limit)
    failed = iter(result.failed)
    messages = iter(result.messages)
    pending = next(failed, None)
    out: list[bytes] = []
    index = 0
    while index < len(events):
        if pending is not None and pending[0] is events[index]:
            out.append(wire.encode_batch([events[index]]))
            pending = next(failed, None)
            index += 1
        else:
            data, count = next(messages)
            out.append(data)
            index += count
    return out


def _messages(decoded: wire.DecodedBatch, endpoint: str) -> list[Message]:
    by_model: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for prediction in decoded.predictions:
        by_model[(wire.EVENTS_TOPIC, prediction.model)].append(prediction)
    for label in decoded.labels:
        by_model[(wire.LABELS_TOPIC, label.model)].append(label)
    messages: list[Message] = []
    for (topic, model), events in by_model.items():
        messages.extend((topic, message_key(model, value), value) for value in split_encode(events))
    for rejected in decoded.rejected:
        letter = wire.encode_deadletter(rejected.raw, rejected.reason, rejected.detail,
                                        topic=f"http:{endpoint}", partition=None, offset=None)
        messages.append((wire.DEADLETTER_TOPIC, None, letter))
    return messages


def _ingest(context: ApiContext, body: bytes, endpoint: str) -> IngestResult:
    decoded = wire.decode_batch(body, max_bytes=context.config.max_body_bytes)
    metrics = context.metrics
    whole = [r for r in decoded.rejected if r.index is None]
    if whole:
        problem = whole[0]
        metrics.events_rejected.labels(reason=problem.reason).inc()
        status = 413 if problem.reason == "oversize" else 400
        raise ApiError(status, problem.reason, problem.detail,
                       [Problem(field="body", problem=problem.detail)])
    try:
        context.publisher.publish_all(_messages(decoded, endpoint),
                                      context.config.publish_timeout_s)
    except PublishError as exc:
        raise ApiError(503, "bus_unavailable", f"{exc}; retry later",
                       headers={"Retry-After": "5"}) from exc
    if decoded.predictions:
        metrics.events_accepted.labels(topic=wire.EVENTS_TOPIC).inc(len(decoded.predictions))
    if decoded.labels:
        metrics.events_accepted.labels(topic=wire.LABELS_TOPIC).inc(len(decoded.labels))
    for rejected in decoded.rejected:
        metrics.events_rejected.labels(reason=rejected.reason).inc()
    listed = decoded.rejected[:MAX_LISTED_REJECTIONS]
    return IngestResult(
        accepted=len(decoded.predictions) + len(decoded.labels),
        rejected=len(decoded.rejected),
        errors=[RejectedEvent(index=r.index, reason=r.reason, detail=r.detail) for r in listed],
        errors_truncated=len(decoded.rejected) > len(listed),
    )


_REJECTED_DOC = {"202": {"headers": {REJECTED_HEADER: {
    "description": "How many events of the batch were refused (listed in `errors`)",
    "schema": {"type": "integer"}}}}}


async def _answer(request: Request, response: Response, context: ApiContext, what: str,
                  endpoint: str) -> IngestResult:
    body = await read_body(request, context.config.max_body_bytes, what)
    result = await run_in_threadpool(_ingest, context, body, endpoint)
    response.headers[REJECTED_HEADER] = str(result.rejected)
    return result


@router.post("/events", status_code=202, openapi_extra=_BODY_DOC, responses=_REJECTED_DOC)
async def post_events(request: Request, response: Response, context: Context,
                      _key: IngestKey) -> IngestResult:
    """Ingest a batch of prediction events (labels in it go to the labels topic)."""
    return await _answer(request, response, context, "the event batch", "/v1/events")


@router.post("/labels", status_code=202, openapi_extra=_BODY_DOC, responses=_REJECTED_DOC)
async def post_labels(request: Request, response: Response, context: Context,
                      _key: IngestKey) -> IngestResult:
    """Ingest a batch of label events (ground truth joined to predictions by id)."""
    return await _answer(request, response, context, "the label batch", "/v1/labels")
