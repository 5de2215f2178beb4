"""Models: list, settings and pricing (``PUT``), cost recomputation, and reference uploads
(JSON columns, CSV, Parquet)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from infersight.collector.api import reference_upload as upload
from infersight.collector.api.context import ApiContext
from infersight.collector.api.deps import (
    EARLIEST,
    LATEST,
    AdminKey,
    Context,
    DbSession,
    Instant,
    ModelName,
    ReadKey,
    VersionName,
    WriteSession,
    existing_model,
)
from infersight.collector.api.errors import ERROR_RESPONSES, ApiError, Problem, invalid
from infersight.collector.api.limits import spool_body
from infersight.sdk.durations import parse_duration
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

router = APIRouter(prefix="/v1", tags=["models"], responses=ERROR_RESPONSES)

Task = Literal["binary", "multiclass", "regression"]
PriceValue = Annotated[float | None, Field(ge=0.0, allow_inf_nan=False)]
PAST_TOLERANCE = timedelta(seconds=60)
"""A pricing ``effective_from`` this close to now (clock skew) counts as now."""


class PricingIn(BaseModel):
    """A price revision (docs/api.md, "Pricing"); prices left out count as zero."""

    model_config = ConfigDict(extra="forbid")

    currency: str = Field(default="USD", pattern="^[A-Z]{3}$",
                          description="ISO 4217 code, e.g. USD or EUR; a model keeps one.")
    input_per_million: PriceValue = None
    output_per_million: PriceValue = None
    cached_input_per_million: PriceValue = Field(
        default=None, ge=0.0, allow_inf_nan=False,
        description="Price of cached input tokens; they are then not charged at the input "
        "price.")
    per_request: PriceValue = None
    per_second: PriceValue = Field(default=None, ge=0.0, allow_inf_nan=False,
                                   description="Price per second of latency.")
    effective_from: datetime | None = Field(
        default=None, description="When the revision comes into force: now when left out; "
        "never in the past, except for a model's first price (e.g. before replaying history).")

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("must carry a UTC offset, e.g. 2025-01-01T00:00:00Z")
        return value


class PricingView(BaseModel):
    """The price revision in force now."""

    currency: str
    input_per_million: float | None = None
    output_per_million: float | None = None
    cached_input_per_million: float | None = None
    per_request: float | None = None
    per_second: float | None = None
    effective_from: datetime


class VersionView(BaseModel):
    version: str
    has_reference: bool
    reference_source: str | None
    """``upload``, ``first_window``, or null while there is no reference."""
    created_at: datetime


class ModelView(BaseModel):
    """A model's settings and versions."""

    name: str
    task: str | None
    """Configured task; null means inferred from the reference or traffic."""
    positive_class: Any = None
    threshold: float
    window_seconds: int | None
    """Configured window length; null means ``INFERSIGHT_WINDOW``."""
    effective_window_seconds: float
    drift_config: dict[str, Any] | None
    skew: bool = False
    """Whether served feature values are kept for the train/serve skew join."""
    pricing: PricingView | None = None
    """The price in force now (null: the model has no price)."""
    versions: list[VersionView]
    created_at: datetime
    updated_at: datetime


class ModelSettingsIn(BaseModel):
    """Fields to change; those left out keep their value, ``null`` restores the default."""

    model_config = ConfigDict(extra="forbid")

    task: Task | None = None
    positive_class: str | int | bool | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    window: str | float | None = Field(
        default=None, description="Window length: seconds, or a duration such as 1m, 1h, 7d.")
    drift_config: dict[str, Any] | None = Field(
        default=None, description="Test and threshold overrides (docs/statistics.md), e.g. "
        '{"features": {"age": {"test": "psi", "threshold": 0.25}}}.')
    skew: bool | None = Field(
        default=None, description="Keep served feature values (for INFERSIGHT_SKEW_TTL) so "
        "offline values uploaded later (POST .../skew-rows) are compared with them.")
    pricing: PricingIn | None = Field(
        default=None, description="A new price revision, e.g. "
        '{"currency": "USD", "input_per_million": 2.5, "output_per_million": 10}.')

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | float | None) -> str | float | None:
        if value is None:
            return None
        seconds = parse_duration(value)
        if not math.isfinite(seconds) or seconds != int(seconds) or seconds > 366 * 86400:
            raise ValueError("must be a whole number of seconds, at most 366 days")
        return seconds

    @field_validator("drift_config")
    @classmethod
    def _drift_config(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        from infersight.drift.config import DriftConfig

        checked: dict[str, Any] = DriftConfig.from_dict(value).to_dict()
        return checked


class ReferenceResult(BaseModel):
    """The stored reference profile."""

    model: str
    version: str
    rows: int
    features: dict[str, str]
    """Feature name → ``numeric``, ``categorical`` or ``embedding``."""
    task: str | None
    reference_performance: dict[str, float]
    warnings: list[str] = []
    """What was accepted but is worth a look, e.g. a numeric column's values that are not
    numbers (profiled as missing), by row and value."""


def _versions(session: Session, names: list[str]) -> dict[str, list[VersionView]]:
    from infersight.storage.registry import version_summaries

    return {
        model: [VersionView(version=v.version, has_reference=v.has_reference,
                            reference_source=v.reference_source, created_at=v.created_at)
                for v in versions]
        for model, versions in version_summaries(session, names).items()
    }


def _prices(session: Session, names: list[str]) -> dict[str, PricingView | None]:
    from infersight.storage.prices import price_histories, price_in_force
    from infersight.storage.types import utc_now

    now = utc_now()
    current = {}
    for model, history in price_histories(session, names).items():
        revision = price_in_force(history, now)
        current[model] = None if revision is None else PricingView(
            **revision[1], effective_from=revision[0])
    return current


def _add_price(session: Session, model: str, pricing: PricingIn | None) -> None:
    """Store a price revision, refusing one in another currency, or in the past unless it is
    the model's first (nothing was priced before it, so nothing is rewritten)."""
    from infersight.storage.prices import add_price_revision, price_history
    from infersight.storage.types import utc_now

    if pricing is None:
        raise invalid("body.pricing", "a price cannot be removed; send a revision with the "
                      "prices to charge from now on (zero for none)")
    now = utc_now()
    start = pricing.effective_from or now
    history = price_history(session, model)
    if history and start < now - PAST_TOLERANCE:
        raise invalid("body.pricing.effective_from",
                      "must not be in the past once the model has a price (past windows keep "
                      "their cost; see POST /v1/models/{model}/recompute-cost)")
    if history and history[-1][1].get("currency") != pricing.currency:
        raise invalid("body.pricing.currency",
                      f"the model is priced in {history[-1][1].get('currency')}; its currency "
                      "cannot change (costs of different currencies do not add up)")
    values = pricing.model_dump(exclude={"effective_from"}, exclude_none=True)
    add_price_revision(session, model, start if not history else max(start, now), values)


def _view(model: Any, versions: list[VersionView], default_window: float,
          pricing: PricingView | None) -> ModelView:
    return ModelView(
        name=model.name, task=model.task, positive_class=model.positive_label,
        threshold=0.5 if model.threshold is None else model.threshold,
        window_seconds=model.window_seconds,
        effective_window_seconds=float(model.window_seconds or default_window),
        drift_config=model.drift_config, skew=bool(model.skew_enabled), pricing=pricing,
        versions=versions,
        created_at=model.created_at, updated_at=model.updated_at,
    )


@router.get("/models")
def list_models(session: DbSession, context: Context, _key: ReadKey) -> list[ModelView]:
    """Every model with its settings and versions."""
    from infersight.storage.registry import list_models as all_models

    models = all_models(session)
    names = [m.name for m in models]
    versions, prices = _versions(session, names), _prices(session, names)
    return [_view(m, versions[m.name], context.config.window_s, prices[m.name]) for m in models]


@router.get("/models/{model}")
def get_model(model: ModelName, session: DbSession, context: Context, _key: ReadKey) -> ModelView:
    """One model (404 lists the known models)."""
    from infersight.storage.registry import get_model as find

    existing_model(session, model)
    row = find(session, model)
    return _view(row, _versions(session, [model])[model], context.config.window_s,
                 _prices(session, [model])[model])


@router.put("/models/{model}")
def put_model(model: ModelName, changes: ModelSettingsIn, session: WriteSession, context: Context,
              _key: AdminKey) -> ModelView:
    """Create a model or change its task, positive class, threshold, window or drift tests,
    or add a price revision (in force from now, or from a given time to come)."""
    from infersight.storage.registry import UNSET, configure_model

    given = changes.model_fields_set
    if "pricing" in given:
        _add_price(session, model, changes.pricing)
    window = changes.window
    row = configure_model(
        session, model,
        task=changes.task if "task" in given else UNSET,
        positive_label=changes.positive_class if "positive_class" in given else UNSET,
        threshold=(0.5 if changes.threshold is None else changes.threshold)
        if "threshold" in given else UNSET,
        window_seconds=(None if window is None else int(float(window))) if "window" in given else UNSET,
        drift_config=changes.drift_config if "drift_config" in given else UNSET,
        skew_enabled=bool(changes.skew) if "skew" in given else UNSET,
    )
    return _view(row, _versions(session, [model])[model], context.config.window_s,
                 _prices(session, [model])[model])


class RecomputedWindow(BaseModel):
    version: str
    window_start: datetime
    cost: float
    cost_per_request: float | None


class RecomputeResult(BaseModel):
    """The windows whose cost was recomputed, with their new cost."""

    model: str
    windows: list[RecomputedWindow]


@router.post("/models/{model}/recompute-cost")
def recompute_cost(
    model: ModelName,
    session: WriteSession,
    _key: AdminKey,
    start: Annotated[Instant | None, Query(
        description="First window start (RFC 3339); default: the earliest.")] = None,
    end: Annotated[Instant | None, Query(
        description="Windows starting before this time (RFC 3339); default: no bound.")] = None,
) -> RecomputeResult:
    """Price the windows starting in ``[start, end)`` from their sums at the revision in force
    at each window's start, as the price history now stands; later evaluations keep it.
    Windows before the first revision keep their cost."""
    from infersight.collector.worker.evaluation import recompute_cost as recompute

    start, end = start or EARLIEST, end or LATEST
    if end <= start:
        raise invalid("query.end", "must be after start")
    existing_model(session, model)
    points = recompute(session, model, start, end)
    by_window: dict[tuple[str, datetime], dict[str, float | None]] = {}
    for point in points:
        if point.metric in ("cost", "cost_per_request"):
            by_window.setdefault((point.version, point.window_start), {})[point.metric] = (
                point.value)
    return RecomputeResult(model=model, windows=[
        RecomputedWindow(version=version, window_start=window_start,
                         cost=float(values.get("cost") or 0.0),
                         cost_per_request=values.get("cost_per_request"))
        for (version, window_start), values in sorted(by_window.items())])


_REFERENCE_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {
                "type": "object", "required": ["features"],
                "properties": {
                    "features": {"type": "object", "additionalProperties": {"type": "array", "items": {}}},
                    "predictions": {"type": "array", "items": {}, "nullable": True},
                    "labels": {"type": "array", "items": {}, "nullable": True},
                    "task": {"type": "string", "enum": list(upload.TASKS), "nullable": True},
                    "positive_class": {"nullable": True},
                    "threshold": {"type": "number", "nullable": True}}},
                "example": {"features": {"amount": [12.5, 3.0, 7.1], "country": ["FR", "DE", "FR"]},
                            "predictions": [0.2, 0.9, 0.4], "labels": [0, 1, 0]}},
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _parse(stream: IO[bytes], content_type: str, options: upload.UploadOptions) -> upload.ParsedReference:
    head = stream.read(4)
    stream.seek(0)
    if "parquet" in content_type or head == upload.PARQUET_MAGIC:
        return upload.parse_parquet(stream, options)
    if "csv" in content_type:
        return upload.parse_csv(stream, options)
    if content_type in ("", "application/json") or content_type.endswith("+json"):
        parsed = upload.parse_json(stream.read())
        for name in ("task", "positive_class", "threshold", "feature_types"):
            value = getattr(options, name)
            if value is not None:
                setattr(parsed, name, value)
        return parsed
    raise ApiError(415, "unsupported_media_type",
                   f"Content-Type {content_type!r}: send application/json, text/csv or "
                   "application/vnd.apache.parquet",
                   [Problem(field="header.content-type", problem="unsupported")])


def _store(context: ApiContext, model: str, version: str, stream: IO[bytes], content_type: str,
           options: upload.UploadOptions) -> ReferenceResult:
    from infersight.storage.registry import configure_model, get_model, set_reference

    try:
        parsed = _parse(stream, content_type, options)
        given = {name: getattr(parsed, name) for name in ("task", "positive_class", "threshold")}
        with context.sessions.begin() as session:  # the model's PUT settings fill the gaps
            row = get_model(session, model)
            if row is not None:
                for name, setting in (("task", row.task), ("positive_class", row.positive_label),
                                      ("threshold", row.threshold)):
                    if given[name] is None and setting is not None:
                        setattr(parsed, name, setting)
        reference = upload.build_reference(parsed)
        warnings = upload.non_number_warnings(reference, parsed)
    except upload.UploadProblem as exc:
        raise invalid(exc.field, exc.problem) from None
    finally:
        stream.close()
    if not reference.features:
        raise invalid("body", "no feature columns")
    with context.write_sessions.begin() as session:
        set_reference(session, model, version, reference.to_bytes(), "upload")
        changes: dict[str, Any] = {}  # what the upload gave is stored on the model
        if given["task"] is not None:
            changes["task"] = given["task"]
        if given["positive_class"] is not None:
            changes["positive_label"] = given["positive_class"]
        if given["threshold"] is not None:
            changes["threshold"] = float(given["threshold"])
        if changes:
            configure_model(session, model, **changes)
    context.references.forget(model, version)
    perf = {k: float(v) for k, v in reference.performance.items() if math.isfinite(v)}
    return ReferenceResult(model=model, version=version, rows=reference.rows,
                           features=reference.feature_kinds, task=reference.task,
                           reference_performance=perf, warnings=warnings)


@router.post("/models/{model}/versions/{version}/reference", status_code=201,
             openapi_extra=_REFERENCE_DOC)
async def upload_reference(
    request: Request,
    model: ModelName,
    version: VersionName,
    context: Context,
    _key: AdminKey,
    label_column: Annotated[str | None, Query(description="CSV/Parquet: the label column.")] = None,
    prediction_column: Annotated[str | None, Query(description="CSV/Parquet: predicted labels or values.")] = None,
    score_column: Annotated[str | None, Query(description="CSV/Parquet: scores (probability of the positive class).")] = None,
    task: Annotated[Task | None, Query()] = None,
    positive_class: Annotated[str | None, Query(description="Positive class (numbers are read as numbers).")] = None,
    threshold: Annotated[float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False)] = None,
    feature_types: Annotated[list[str] | None, Query(
        description="A column's kind, overriding the inferred one: NAME:numeric, "
        "NAME:categorical or NAME:embedding (repeat for several).")] = None,
) -> ReferenceResult:
    """Upload the reference (training/validation) data of a model version; it replaces any
    earlier reference of that version."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    positive: Any = positive_class
    if positive_class is not None:
        try:
            positive = int(positive_class)
        except ValueError:
            positive = {"true": True, "false": False}.get(positive_class.lower(), positive_class)
    kinds: dict[str, str] = {}
    for item in feature_types or []:
        name, sep, kind = item.rpartition(":")
        if not sep or not name or kind not in ("numeric", "categorical", "embedding"):
            raise invalid("query.feature_types", f"{item!r}: write NAME:numeric, "
                          "NAME:categorical or NAME:embedding")
        kinds[name] = kind
    options = upload.UploadOptions(label_column, prediction_column, score_column, task, positive,
                                   threshold, kinds or None)
    stream = await spool_body(request, context.config.max_reference_bytes, "the reference")
    return await run_in_threadpool(_store, context, model, version, stream, content_type, options)
