"""The built-in web page (``GET /``, assets under ``/ui/``) and the two read-only endpoints
it needs beyond the public API:

- ``GET /v1/models/{model}/overview``: the model's data span (first/last window), latest
  headline values, features with their kinds, firing alerts, and, while the newest version
  has no reference, what the worker waits for to take one — so the page can anchor its
  time range on the data rather than on the wall clock (a replay or the demo may run in
  the past) and say what fills its drift panels;
- ``GET /v1/models/{model}/histogram?feature=``: reference vs current distribution of one
  feature over a time range, over the reference's bins (deciles plus overflow bins for
  numbers, top categories plus "other" for categories), from the merged window states.

The page itself is static HTML/CSS/JS in ``dashboards/web`` with a vendored chart library
(nothing loaded from the internet); it reads everything through these and the public
endpoints, so it shows exactly what API clients see.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path as FilePath
from types import SimpleNamespace
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse
from infersight.collector.api import rollups
from infersight.collector.api.context import ApiContext
from infersight.collector.api.deps import (
    Context,
    ModelName,
    Range,
    ReadKey,
    name_query,
    unknown_model,
)
from infersight.collector.api.errors import ERROR_RESPONSES, ApiError
from pydantic import BaseModel

WEB_ROOT = FilePath(__file__).resolve().parents[3] / "dashboards" / "web"
"""``dashboards/web``: ``index.html``, ``app.js``, ``app.css`` and ``vendor/``."""
_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html",
                ".svg": "image/svg+xml", ".png": "image/png", ".md": "text/plain",
                ".LICENSE": "text/plain"}
HEADLINE_METRICS = ("count", "drift_share", "f1", "estimated_f1", "label_coverage",
                    "latency_p99_ms")

router = APIRouter(responses=ERROR_RESPONSES)


@router.get("/", include_in_schema=False)
def index() -> HTMLResponse:
    """The page (no caching: a new release of the page is picked up at once)."""
    html = (WEB_ROOT / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get("/ui/{asset:path}", include_in_schema=False)
def asset(asset: str) -> FileResponse:
    """A static file of the page; only files inside ``dashboards/web`` are served."""
    path = (WEB_ROOT / asset).resolve()
    if not path.is_relative_to(WEB_ROOT) or not path.is_file() or path.suffix not in _MEDIA_TYPES:
        raise ApiError(404, "not_found", f"no page asset {asset!r}")
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix],
                        headers={"Cache-Control": "no-cache"})


class FeatureInfo(BaseModel):
    name: str
    kind: str
    """``numeric`` or ``categorical``."""


class ReferenceBootstrap(BaseModel):
    """The newest version without a reference, whose first-window reference the worker
    builds (docs/pipeline.md §5) once ``min_events`` predictions are held or the first held
    window is closed by the watermark."""

    version: str
    held: int
    """Predictions held for it so far."""
    min_events: int
    first_window: datetime | None
    """Start of the first held window (null while none is held)."""


class ModelOverview(BaseModel):
    """What the page shows in the models list and uses to choose its time range."""

    model: str
    task: str | None
    window_seconds: float
    versions: list[str]
    versions_with_reference: list[str]
    first_window: datetime | None
    last_window: datetime | None
    """Start of the latest window with metric points (null before the first evaluation)."""
    latest: dict[str, float | None]
    """Headline metrics (dataset level) of the latest closed window (the watermark passed
    its end; the latest window when none is); ``f1`` and ``label_coverage`` of the latest
    window with a realised F1 (labels arrive late)."""
    latest_window: datetime | None
    """The window ``latest`` describes (apart from ``f1`` and ``label_coverage``)."""
    latest_labelled_window: datetime | None
    features: list[FeatureInfo]
    """Features of the newest version that has a reference."""
    reference_performance: dict[str, float]
    """Performance of the newest reference (e.g. ``f1``, ``roc_auc``), when it had labels."""
    firing_alerts: int
    closed_until: datetime | None
    """The model's watermark: windows ending at or before it are closed; later ones are
    still open, their points provisional (null before the first event)."""
    drift_min_rows: int
    """Rows an open window needs before the page draws its drift scores: the smallest
    ``min_samples`` of the alert rules in force on ``drift_share`` (built-in: 500)."""
    multivariate_drift_z: float
    """The reconstruction error's z from which a window can count as multivariate drift
    (``reconstruction_error_drift``; the page draws it as a line)."""
    reference_bootstrap: ReferenceBootstrap | None
    """Null when the newest version has a reference (or the model has no version yet)."""


def _bootstrap(session: Any, model: str, versions: list[Any]) -> ReferenceBootstrap | None:
    """When the newest version has no reference: what the worker waits for to take one."""
    from infersight.collector.worker.config import WorkerConfig
    from infersight.storage.held import held_summary

    if not versions or versions[-1].reference is not None:
        return None
    version = versions[-1].version
    held, first = held_summary(session, model, version)
    return ReferenceBootstrap(version=version, held=held, first_window=_utc(first),
                              min_events=WorkerConfig().bootstrap_min_events)


def _overview(context: ApiContext, model: str) -> ModelOverview:
    from infersight.alerts.config import api_rules
    from infersight.collector.api.provisional import drift_min_rows, window_closing
    from infersight.drift.multivariate import DRIFT_Z
    from infersight.storage.alert_states import count_firing
    from infersight.storage.metrics import REFERENCE_WINDOW_START as AFTER
    from infersight.storage.metrics import dataset_value, latest_dataset_window, window_span
    from infersight.storage.registry import get_model, list_versions

    with context.sessions.begin() as session:
        row = get_model(session, model)
        if row is None:
            raise unknown_model(session, model)
        versions = list_versions(session, model)
        with_reference = [v.version for v in versions if v.reference is not None]
        first, last = window_span(session, model, after=AFTER)
        window = float(row.window_seconds or context.config.window_s)
        watermark = window_closing(session, model,
                                   context.config.lateness_fraction).closed_until(window)
        # closed: the watermark passed the window's end (WindowSpec.is_closed, in the query)
        latest_window = latest_dataset_window(session, model, after=AFTER,
                                              ended_by=watermark) or _utc(last)
        labelled_window = latest_dataset_window(session, model, after=AFTER, metric="f1",
                                                defined=True)
        latest: dict[str, float | None] = {}
        for metric in HEADLINE_METRICS:
            at = labelled_window if metric in ("f1", "label_coverage") else latest_window
            value = None if at is None else dataset_value(session, model, metric, at,
                                                          after=AFTER)
            latest[metric] = value if value is None or math.isfinite(value) else None
        features: list[FeatureInfo] = []
        performance: dict[str, float] = {}
        if with_reference:
            cached = context.references.get(session, model, with_reference[-1])
            if cached is not None:
                kinds = cached.reference.feature_kinds
                features = [FeatureInfo(name=n, kind=str(k)) for n, k in kinds.items()]
                performance = {
                    k: float(v) for k, v in (cached.reference.performance or {}).items()
                    if "[" not in k and v is not None and math.isfinite(v)
                }
        firing = count_firing(session, model)
        bootstrap = _bootstrap(session, model, versions)
        min_rows = drift_min_rows(context.alert_config().active_rules(api_rules(session)),
                                  model)
    return ModelOverview(
        model=model, task=row.task, window_seconds=window,
        versions=[v.version for v in versions], versions_with_reference=with_reference,
        first_window=_utc(first), last_window=_utc(last), latest=latest,
        latest_window=_utc(latest_window), latest_labelled_window=_utc(labelled_window),
        features=features, reference_performance=performance, firing_alerts=firing,
        closed_until=watermark, drift_min_rows=min_rows,
        multivariate_drift_z=DRIFT_Z, reference_bootstrap=bootstrap,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


@router.get("/v1/models/{model}/overview", tags=["page"])
async def get_overview(model: ModelName, context: Context, _key: ReadKey) -> ModelOverview:
    """The model's data span, latest headline metrics, features and firing alerts."""
    return await run_in_threadpool(_overview, context, model)


class HistogramBin(BaseModel):
    label: str
    lower: float | None = None
    """Numeric bins: lower edge (null for the open-ended low overflow bin)."""
    upper: float | None = None
    """Numeric bins: upper edge (null for the open-ended high overflow bin)."""
    reference: float
    """Share of the reference's non-missing values in this bin."""
    current: float
    """Share of the range's non-missing values in this bin."""


class FeatureHistogram(BaseModel):
    """Reference vs current distribution of one feature over ``[start, end)``."""

    model: str
    version: str
    feature: str
    kind: Literal["numeric", "categorical", "embedding"]
    """An embedding's bins are those of its projection on its first principal component."""
    start: datetime
    end: datetime
    reference_count: int
    current_count: int
    current_missing: int
    bins: list[HistogramBin]


def _shares(counts: Any) -> list[float]:
    total = float(sum(counts))
    return [float(c) / total if total else 0.0 for c in counts]


def _numeric_bins(profile: Any, state: Any) -> list[HistogramBin]:
    edges = [float(e) for e in profile.edges]
    starts = [int(s) for s in profile.coarse_starts]
    reference = _shares(profile.coarse(profile.ref_counts))
    current = _shares(profile.coarse(state.counts))
    if not edges:  # a reference without finite values: one bin
        return [HistogramBin(label="all values", reference=reference[0], current=current[0])]
    top = len(edges) - 1
    bins = []
    for i, first in enumerate(starts):
        last = starts[i + 1] - 1 if i + 1 < len(starts) else profile.n_bins - 1
        # fine bin 0 is below the reference minimum, bin j covers [edges[j-1], edges[j]),
        # bin len(edges) holds the maximum itself and the last one what lies above it
        lower = edges[min(first - 1, top)] if first >= 1 else None
        upper = edges[min(last, top)] if last <= len(edges) else None
        if lower is None:
            label = f"< {_fmt(upper)}"
        elif upper is None:
            label = f"> {_fmt(lower)}"
        else:
            label = f"{_fmt(lower)} to {_fmt(upper)}"
        bins.append(HistogramBin(label=label, lower=lower, upper=upper,
                                 reference=reference[i], current=current[i]))
    return bins


def _categorical_bins(profile: Any, state: Any) -> list[HistogramBin]:
    labels = [*profile.vocabulary, "other"]
    reference = _shares(profile.ref_counts)
    current = _shares(state.binned())
    return [HistogramBin(label=str(label), reference=r, current=c)
            for label, r, c in zip(labels, reference, current, strict=True)]


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}"


def _histogram(context: ApiContext, model: str, feature: str, version: str | None,
               start: datetime, end: datetime) -> FeatureHistogram:
    from infersight.drift.categorical import CategoricalProfile
    from infersight.drift.embedding import EmbeddingProfile
    from infersight.storage.registry import get_model, list_versions

    with context.sessions.begin() as session:
        if get_model(session, model) is None:
            raise unknown_model(session, model)
        candidates = [v.version for v in list_versions(session, model) if v.reference is not None]
        if version is not None:
            if version not in candidates:
                raise ApiError(404, "unknown_version",
                               f"model {model!r} has no version {version!r} with a reference; "
                               f"versions with a reference: {', '.join(candidates) or 'none'}")
            chosen = version
        elif candidates:
            chosen = candidates[-1]
        else:
            raise ApiError(404, "no_reference", f"model {model!r} has no reference yet")
        reference = context.references.reference(session, model, chosen)
        if reference is None:  # pragma: no cover - raced with a version deletion
            raise ApiError(404, "no_reference", f"{model!r} v{chosen} has no reference")
        profile = reference.features.get(feature)
        if profile is None:
            known = ", ".join(sorted(reference.features))
            raise ApiError(404, "unknown_feature",
                           f"{model!r} v{chosen} has no feature {feature!r}; features: {known}")
        signatures = rollups.range_signatures(session, model, start, end, chosen).get(chosen)
        state = reference.new_window()
        if signatures is not None:
            lo = max(start, signatures.first)
            hi = min(end, signatures.last + timedelta(seconds=rollups.FINEST))
            parts = rollups.collect_parts(session, model, chosen, rollups.plan_range(lo, hi),
                                          signatures)
            state = rollups.merge_parts(reference, parts).state
    feature_state = state.features[feature]
    if isinstance(profile, EmbeddingProfile):
        if not profile.projections:
            raise ApiError(404, "no_components", f"embedding {feature!r} has no component")
        first = SimpleNamespace(counts=feature_state.counts[0])
        return FeatureHistogram(
            model=model, version=chosen, feature=feature, kind="embedding", start=start,
            end=end, reference_count=int(profile.projections[0].count),
            current_count=int(feature_state.n),
            current_missing=int(feature_state.missing + feature_state.invalid),
            bins=_numeric_bins(profile.projections[0], first))
    categorical = isinstance(profile, CategoricalProfile)
    bins = (_categorical_bins(profile, feature_state) if categorical
            else _numeric_bins(profile, feature_state))
    return FeatureHistogram(
        model=model, version=chosen, feature=feature,
        kind="categorical" if categorical else "numeric", start=start, end=end,
        reference_count=int(profile.count - profile.missing),
        current_count=int(feature_state.n), current_missing=int(feature_state.missing),
        bins=bins,
    )


@router.get("/v1/models/{model}/histogram", tags=["page"])
async def get_histogram(
    model: ModelName,
    context: Context,
    _key: ReadKey,
    feature: Annotated[str, name_query(min_length=1)],
    time_range: Range,
    version: Annotated[str | None, name_query("Default: the newest with a reference.")] = None,
) -> FeatureHistogram:
    """Reference vs current shares of one feature over the reference's bins."""
    return await run_in_threadpool(_histogram, context, model, feature, version,
                                   time_range.start, time_range.end)
