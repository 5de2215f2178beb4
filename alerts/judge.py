"""Judge the alert rules for a window: advance the state machine and queue outbox rows.

The worker calls :func:`judge_window` after it writes a window's metric points (and again
when late labels change a window), inside its own transaction: the alert states and the
notifications commit or roll back together with the points they were derived from. It hands
in the reference's own metrics (``Reference.performance``) for relative thresholds.

Example (SQLite in memory; the built-in ``data_drift_share`` fires after two windows)::

    with session_factory(engine).begin() as session:
        transitions = judge_window(session, "fraud", "3", reference.performance, now, config)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from infersight.alerts.config import AlertConfig, api_rules
from infersight.alerts.evaluation import Judgement, judge, reference_values
from infersight.alerts.outbox import enqueue, idempotency_key
from infersight.alerts.payload import Candidate, build_payload
from infersight.alerts.recommendation import (
    RetrainingRule,
    decide,
    drift_evidence,
    performance_evidence,
    summarise,
    top_drifted_features,
)
from infersight.alerts.silences import active_silences, is_silenced
from infersight.alerts.state import Snapshot, Status, advance
from infersight.storage.alert_states import insert_state_if_absent, lock_state, lock_states
from infersight.storage.alert_tables import AlertState
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Transition:
    """What one evaluation did to one dedup key."""

    dedup_key: str
    status: str
    event: str | None
    """``firing``, ``resolved``, or None when the status changed without an event."""
    notified: bool
    """Whether notifications were queued (not when silenced or without channels)."""


def judge_window(
    session: Session,
    model: str,
    version: str,
    reference_performance: Mapping[str, float],
    now: datetime,
    config: AlertConfig | None = None,
) -> list[Transition]:
    """Judge every rule for (model, version) and apply the state machine.

    Rules are judged at their latest qualifying windows (a change to an older window can
    complete or break a streak, so streaks are recomputed from the stored points);
    ``reference_performance`` is the reference's own metrics (``{}`` without a reference),
    which reference metric points override. Nothing is committed here.
    """
    config = config or AlertConfig()
    stored = api_rules(session)
    active = {r.name for r in config.active_rules(stored)}
    retraining = [r for r in config.active_retraining_rules() if r.matches_model(model)]
    feeding = {name for r in retraining for name in (*r.drift_rules, *r.performance_rules)}
    # a disabled rule is judged only when it feeds a retraining recommendation
    all_rules = [r for r in config.all_rules(stored)
                 if r.matches_model(model) and (r.name in active or r.name in feeding)]
    references = reference_values(session, model, version, reference_performance)
    judgements = {
        rule.name: judge(session, rule, model, version, now, references) for rule in all_rules
    }

    candidates = [
        _threshold_candidate(j)
        for name, found in judgements.items()
        if name in active
        for j in found
    ]
    for rule in retraining:
        candidate = _retraining_candidate(session, rule, model, version, judgements)
        if candidate is not None:
            candidates.append(candidate)

    silences = active_silences(session, now)
    locked = lock_states(session, [c.dedup_key for c in candidates])  # one read, not one each
    return [_apply(session, c, now, config, silences, locked.get(c.dedup_key))
            for c in candidates]


def _threshold_candidate(judgement: Judgement) -> Candidate:
    rule, latest = judgement.rule, judgement.latest
    target = rule.metric + (f"[{judgement.feature}]" if judgement.feature else "")
    threshold = "n/a" if judgement.threshold is None else _number(judgement.threshold)
    value = "n/a" if latest.value is None else _number(latest.value)
    reference = "" if judgement.reference is None else f", reference {_number(judgement.reference)}"
    evidence = judgement.evidence()
    if rule.total == "day":
        summary = (
            f"{judgement.model} (all versions): {target} on {latest.window_start:%Y-%m-%d} "
            f"(UTC) so far = {value} {rule.op} {threshold} ({latest.sample_size} calls)"
        )
    elif evidence is None:
        summary = (
            f"{judgement.model} v{judgement.version}: {target} = {value} {rule.op} {threshold}"
            f"{reference} ({latest.sample_size} rows, {judgement.streak} window(s) in a row)"
        )
    else:  # the decision first: the pooled value, against what, how far beyond noise
        low, high = evidence["interval"]
        against = "reference" if rule.baseline == "reference" else rule.reference_metric_name
        summary = (
            f"{judgement.model} v{judgement.version}: {target} {evidence['value']:.4g} over the "
            f"latest {evidence['windows']} window(s) ({evidence['sample_size']} rows, 95 % "
            f"interval {low:.4g} to {high:.4g}) vs {against} {evidence['baseline']:.4g}: "
            f"{evidence['effect']:+.4g}, {evidence['z']:.1f} standard errors worse (one-sided "
            f"test at {rule.significance:g}); latest window {value} ({latest.sample_size} rows)"
        )
    return Candidate(
        rule=rule.name,
        model=judgement.model,
        version=judgement.version,
        feature=judgement.feature,
        severity=rule.severity,
        channels=rule.channels,
        cooldown=rule.cooldown,
        for_windows=rule.for_windows,
        breaching=judgement.breaching,
        streak=judgement.streak,
        labels=rule.labels,
        annotations=rule.annotations,
        metric=rule.metric,
        value=latest.value,
        threshold=judgement.threshold,
        reference=judgement.reference,
        sample_size=latest.sample_size,
        condition=rule.describe(),
        summary=summary,
        window_start=latest.window_start,
        window_end=latest.window_end,
        windows=[w.to_dict() for w in judgement.windows],
        evidence=evidence,
    )


def _number(value: float) -> str:
    """Four significant digits, without an exponent for everyday magnitudes.

    >>> _number(30000.0), _number(0.09167), _number(61.234)
    ('30,000', '0.09167', '61.23')
    """
    return f"{value:,.0f}" if 1e4 <= abs(value) < 1e15 else f"{value:.4g}"


def _retraining_candidate(
    session: Session,
    rule: RetrainingRule,
    model: str,
    version: str,
    judgements: dict[str, list[Judgement]],
) -> Candidate | None:
    involved = [
        j for name in [*rule.drift_rules, *rule.performance_rules] for j in judgements.get(name, ())
    ]
    if not involved:
        return None
    drift, performance = decide(rule, judgements)
    breaching = bool(drift and performance)
    latest = max(involved, key=lambda j: j.latest.window_start).latest
    condition = (
        f"({' or '.join(rule.drift_rules)}) sustained and "
        f"({' or '.join(rule.performance_rules)}) breaching"
    )
    evidence: dict[str, Any] | None = None
    summary = f"{model} v{version}: retraining recommendation ({condition})"
    if breaching:
        drift_window = max(drift, key=lambda j: j.latest.window_start).latest.window_start
        features = top_drifted_features(session, rule, model, version, drift_window)
        perf = [performance_evidence(j) for j in performance]
        summary = summarise(model, version, drift, perf, features)
        evidence = {
            "drift": [drift_evidence(j) for j in drift],
            "top_features": features,
            "performance": perf,
            "windows": sorted(
                {w.window_start.isoformat() for j in [*drift, *performance] for w in j.windows}
            ),
        }
    windows = [
        {"rule": j.rule.name, "feature": j.feature or None, **w.to_dict()}
        for j in [*drift, *performance]
        for w in j.windows
    ]
    return Candidate(
        rule=rule.name,
        model=model,
        version=version,
        feature="",
        severity=rule.severity,
        channels=rule.channels,
        cooldown=rule.cooldown,
        for_windows=1,
        breaching=breaching,
        streak=1 if breaching else 0,
        labels=rule.labels,
        annotations=rule.annotations,
        metric=None,
        value=None,
        threshold=None,
        reference=None,
        sample_size=latest.sample_size,
        condition=condition,
        summary=summary,
        window_start=latest.window_start,
        window_end=latest.window_end,
        windows=windows,
        evidence=evidence,
    )


def _apply(
    session: Session,
    candidate: Candidate,
    now: datetime,
    config: AlertConfig,
    silences: Sequence[Any],
    row: AlertState | None,
) -> Transition:
    """Advance the state of ``candidate.dedup_key``; ``row`` is that state, already locked
    (None when it did not exist)."""
    if row is None:
        if not candidate.breaching:
            return Transition(candidate.dedup_key, "inactive", None, False)
        # Two workers may judge a new key at once: insert-if-absent, then lock the row.
        insert_state_if_absent(session, {
            "dedup_key": candidate.dedup_key,
            "rule": candidate.rule,
            "model": candidate.model,
            "version": candidate.version,
            "feature": candidate.feature,
            "status": "inactive",
            "severity": candidate.severity,
            "streak": 0,
            "notified_firing": False,
            "updated_at": now,
        })
        row = lock_state(session, candidate.dedup_key)
        assert row is not None
    before = Snapshot(
        status=cast(Status, row.status),
        pending_since=row.pending_since,
        firing_since=row.firing_since,
        resolved_at=row.resolved_at,
        last_fired_at=row.last_fired_at,
    )
    after, event = advance(
        before,
        breaching=candidate.breaching,
        streak=candidate.streak,
        for_windows=candidate.for_windows,
        cooldown=candidate.cooldown,
        now=now,
    )
    row.status = after.status
    row.pending_since, row.firing_since = after.pending_since, after.firing_since
    row.resolved_at, row.last_fired_at = after.resolved_at, after.last_fired_at
    row.severity, row.streak = candidate.severity, candidate.streak
    row.value, row.threshold, row.window_start = (
        candidate.value,
        candidate.threshold,
        candidate.window_start,
    )
    row.updated_at = now

    notified = False
    silenced = is_silenced(list(silences), candidate.alert_labels())
    starts_at = row.firing_since or now
    if after.status == "firing" and not row.notified_firing and not silenced:
        # A new firing, or one that was silenced and no longer is: notify once.
        payload = build_payload(
            candidate, status="firing", starts_at=starts_at, ends_at=None, link_config=config.links
        )
        notified = _enqueue_all(session, candidate, "firing", starts_at, payload, now, config)
        row.notified_firing = True
        row.last_fired_at = now
        row.details = payload
    elif event == "resolved":
        if row.notified_firing:
            payload = build_payload(
                candidate,
                status="resolved",
                starts_at=starts_at,
                ends_at=now,
                link_config=config.links,
            )
            notified = _enqueue_all(session, candidate, "resolved", starts_at, payload, now, config)
            row.details = payload
        row.notified_firing = False
    session.flush()
    return Transition(candidate.dedup_key, row.status, event, notified)


def _enqueue_all(
    session: Session,
    candidate: Candidate,
    event: str,
    episode_start: datetime,
    payload: dict[str, Any],
    now: datetime,
    config: AlertConfig,
) -> bool:
    inserted = False
    for channel in config.channels_for(candidate.channels):
        key = idempotency_key(candidate.dedup_key, event, episode_start.isoformat(), channel)
        inserted |= enqueue(
            session,
            key=key,
            channel=channel,
            event=event,
            dedup_key=candidate.dedup_key,
            payload=payload,
            now=now,
        )
    return inserted
