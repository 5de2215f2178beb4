"""``GET /v1/models/{model}/drift``: features ranked by drift over any time range.

The range's window states are merged (through pre-merged rollups, see
:mod:`infersight.collector.api.rollups`) and the merged state is compared with the
reference once — the drift of the range itself, not an average of per-window values.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
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
from infersight.collector.api.errors import ERROR_RESPONSES
from pydantic import BaseModel

router = APIRouter(prefix="/v1", tags=["drift"], responses=ERROR_RESPONSES)

RankBy = Literal["psi", "js_distance", "hellinger", "kl_divergence", "wasserstein_normed",
                 "ks_statistic"]


class TestView(BaseModel):
    test: str
    threshold: float
    value: float | None
    drifted: bool
    adjusted_pvalue: float | None = None


class FeatureRank(BaseModel):
    """A feature's drift over the range; ``score`` is the ``rank_by`` metric."""

    rank: int
    feature: str
    kind: str
    drifted: bool
    score: float | None
    sample_size: int
    metrics: dict[str, float | None]
    tests: list[TestView]


class OutputDrift(BaseModel):
    kind: str
    drifted: bool
    sample_size: int
    metrics: dict[str, float | None]


class MergeInfo(BaseModel):
    """How the range was merged: window-state rows covered, rollups and rows read."""

    window_rows: int
    rollups_used: int
    raw_rows_read: int
    skipped_states: int
    cached_rollups: int = 0
    """Rollups taken decoded from the API's memory instead of the database."""


class UnexpectedFeature(BaseModel):
    """A name the events carried that the version's reference never had (a schema change)."""

    feature: str
    """The name; ``@other`` counts the names beyond the 50 a window keeps."""
    rows: int
    """Rows of the range that carried it with a value."""


class VersionDrift(BaseModel):
    version: str
    reference_source: str
    first_window: datetime | None
    last_window: datetime | None
    events: int
    drift_share: float
    drifted_features: list[str]
    features: list[FeatureRank]
    prediction: OutputDrift | None
    merge: MergeInfo
    note: str | None = None
    unexpected_features: list[UnexpectedFeature] = []
    """Names never seen in the reference, with the rows that carried them, most rows first."""


class DriftRanking(BaseModel):
    """Per model version, features ranked by drift (drifted first, then by score)."""

    model: str
    start: datetime
    end: datetime
    rank_by: str
    versions: list[VersionDrift]
    versions_without_reference: list[str]
    closed_until: datetime | None
    """The model's watermark: windows ending after it are still open (provisional) and
    their events so far are part of the merge (null before the first event)."""


def _num(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def rank_features(report: Any, rank_by: str) -> list[FeatureRank]:
    """Features drifted first, then by ``rank_by`` (largest first), then by name."""
    rows = []
    for name, detail in report.details.items():
        score = _num(detail.metrics.get(rank_by))
        rows.append((name, detail, score))
    rows.sort(key=lambda r: (not r[1].drifted, -(r[2] if r[2] is not None else -math.inf), r[0]))
    return [
        FeatureRank(
            rank=i + 1, feature=name, kind=detail.kind, drifted=detail.drifted, score=score,
            sample_size=detail.sample_size,
            metrics={k: _num(v) for k, v in detail.metrics.items()},
            tests=[TestView(test=t.test, threshold=t.threshold, value=_num(t.value),
                            drifted=t.drifted, adjusted_pvalue=t.adjusted_pvalue)
                   for t in detail.tests],
        )
        for i, (name, detail, score) in enumerate(rows)
    ]


def drift_ranking(context: ApiContext, model: str, start: datetime, end: datetime,
                  version: str | None, rank_by: str, limit: int | None) -> DriftRanking:
    """Merge each version's window states over ``[start, end)`` and rank its features."""
    from infersight.collector.api.provisional import window_closing
    from infersight.drift import compare_configured
    from infersight.storage.registry import get_model

    with context.sessions.begin() as session:
        row = get_model(session, model)
        if row is None:
            raise unknown_model(session, model)
        drift_config = row.drift_config
        closed_until = window_closing(session, model, context.config.lateness_fraction
                                      ).closed_until(row.window_seconds or context.config.window_s)
        signatures = rollups.range_signatures(session, model, start, end, version)
        versions: list[VersionDrift] = []
        without: list[str] = []
        for name in sorted(signatures):
            cached = context.references.get(session, model, name)
            if cached is None:
                without.append(name)
                continue
            reference, source = cached.reference, cached.source
            fine = signatures[name]
            lo = max(start, fine.first)
            hi = min(end, fine.last + timedelta(seconds=rollups.FINEST))
            pieces = rollups.plan_range(lo, hi)
            parts = rollups.collect_parts(session, model, name, pieces, fine,
                                          cache=context.states,
                                          fingerprint=reference.fingerprint)
            result = rollups.merge_parts(reference, parts, context.states)
            if result.skipped:  # states of a newer reference? read it again next time
                context.references.forget(model, name)
            report, note = compare_configured(reference, result.state, drift_config)
            ranked = rank_features(report, rank_by)
            output = report.prediction_detail
            versions.append(VersionDrift(
                version=name, reference_source=source,
                first_window=result.first_window, last_window=result.last_window,
                events=int(result.state.rows), drift_share=float(report.drift_share),
                drifted_features=[f.feature for f in ranked if f.drifted],
                features=ranked[:limit] if limit else ranked,
                prediction=None if output is None else OutputDrift(
                    kind=output.kind, drifted=output.drifted, sample_size=output.sample_size,
                    metrics={k: _num(v) for k, v in output.metrics.items()}),
                merge=rollups_info(result), note=note,
                unexpected_features=unexpected_features(report.unexpected),
            ))
    return DriftRanking(model=model, start=start, end=end, rank_by=rank_by, versions=versions,
                        versions_without_reference=without, closed_until=closed_until)


def unexpected_features(found: dict[str, int]) -> list[UnexpectedFeature]:
    """Most rows first, then by name."""
    return [UnexpectedFeature(feature=name, rows=rows)
            for name, rows in sorted(found.items(), key=lambda item: (-item[1], item[0]))]


def rollups_info(result: rollups.MergeResult) -> MergeInfo:
    return MergeInfo(window_rows=result.window_rows, rollups_used=result.rollups_used,
                     raw_rows_read=result.raw_rows_read, skipped_states=result.skipped,
                     cached_rollups=result.cache_hits)


@router.get("/models/{model}/drift")
async def get_drift(
    model: ModelName,
    context: Context,
    _key: ReadKey,
    time_range: Range,
    version: Annotated[str | None, name_query("Only this version.")] = None,
    rank_by: Annotated[RankBy, Query(description="Metric ranking features after the drift decision.")] = "psi",
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="Features listed per version.")] = None,
) -> DriftRanking:
    """Features ranked by drift over ``[start, end)``, per version, from the merged state of
    the range's windows compared once with the reference."""
    return await run_in_threadpool(drift_ranking, context, model, time_range.start,
                                   time_range.end, version, rank_by, limit)
