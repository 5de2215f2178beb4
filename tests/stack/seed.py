"""Metric points and alert states shaped like the worker's output, for the dashboard SQL tests.

Three models over four days of hourly windows: ``fraud`` (binary, versions 1 and 2, drift
injected into ``amount`` on the last day), ``churn`` (binary, one version, with an
apostrophe-free but mixed-case feature set) and ``price`` (regression). Values come from a
seeded generator, so every test can recompute what a panel should show from ``SeedData``.

Every model also has the inference-health points (requests, errors by type, latency of failed
calls); ``fraud`` is also generative and priced (tokens, time to first token, cost). They
come from a generator of their own, so the drift figures are the same with or without them.
``fraud`` also has multivariate drift (reconstruction error, its z and the decision) and one
embedding feature, ``EMBEDDING``, from a third generator: the embedding has only its
embedding metrics (no ``count``), so the feature lists of the other panels stay the same.

Each model's watermark leaves its last window open; ``fraud``'s holds only ``OPEN_ROWS``
rows, with the wild drift scores a tiny sample gives (PSI 2.76), which the drift panels
must leave out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from infersight.storage.alert_tables import AlertState
from infersight.storage.db import make_engine, session_factory
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from infersight.storage.registry import ensure_model_versions
from infersight.storage.watermarks import advance_watermarks

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 4
WINDOW = timedelta(hours=1)
NUMERIC = ("amount", "age", "balance")
CATEGORICAL = ("country", "channel")
MODELS = {
    "fraud": {"versions": ("1", "2"), "task": "binary"},
    "churn": {"versions": ("7",), "task": "binary"},
    "price": {"versions": ("1",), "task": "regression"},
}
LAST_HOUR = DAYS * 24 - 1
OPEN_ROWS = 33
NOISY_PSI = 2.76
MIN_ROWS = 500
"""The rows an open window needs before its drift scores are drawn (the drift rules')."""
LATENESS = 0.1
ERROR_TYPES = ("TimeoutError", "RateLimitError")
GENERATIVE = "fraud"
JOINT = "fraud"
"""The model with multivariate drift and an embedding feature."""
EMBEDDING = "query"


@dataclass
class SeedData:
    points: list[MetricPointRecord] = field(default_factory=list)
    alert_starts: dict[str, datetime] = field(default_factory=dict)
    watermarks: dict[str, datetime] = field(default_factory=dict)
    """Per model, the latest event time (``watermarks.max_event_ts``)."""

    def is_open(self, point: MetricPointRecord) -> bool:
        """Whether the point's window is still open (the watermark has not passed its end)."""
        length = point.window_end - point.window_start
        return self.watermarks[point.model] - LATENESS * length < point.window_end

    def drift_shown(self, point: MetricPointRecord) -> bool:
        """What a drift panel shows: closed windows, and open ones with enough rows."""
        if not self.is_open(point):
            return True
        (rows,) = [p.value for p in self.values(point.model, "count", version=point.version,
                                                start=point.window_start, end=point.window_start)]
        return (rows or 0) >= MIN_ROWS

    def values(self, model: str, metric: str, feature: str = "", version: str | None = None,
               start: datetime | None = None, end: datetime | None = None) -> list[MetricPointRecord]:
        return [p for p in self.points
                if p.model == model and p.metric == metric and (p.feature or "") == feature
                and (version is None or p.version == version)
                and (start is None or p.window_start >= start)
                and (end is None or p.window_start <= end)]


def _feature_points(rng: random.Random, drifted: bool, numeric: bool,
                    noisy: bool = False) -> dict[str, float]:
    shift = NOISY_PSI if noisy else 0.5 if drifted else 0.0
    psi = rng.uniform(0.0, 0.08) + shift
    metrics = {"count": float(rng.randint(900, 1100)), "missing_rate": rng.uniform(0, 0.02),
               "psi": psi, "js_distance": min(1.0, psi / 2), "hellinger": psi / 2,
               "kl_divergence": psi}
    if numeric:
        metrics |= {"wasserstein_normed": psi / 3, "ks_statistic": psi / 4,
                    "ks_pvalue": 1e-6 if drifted else rng.uniform(0.1, 1.0)}
    else:
        metrics["chi2_pvalue"] = 1e-8 if drifted else rng.uniform(0.1, 1.0)
    return metrics


def _health_points(rng: random.Random, calls: int, generative: bool) -> list[
        tuple[str | None, str, float, int]]:
    """``(feature, metric, value, sample_size)`` of one window's inference health."""
    errors = {name: rng.randint(0, calls // 50) for name in ERROR_TYPES}
    failed = sum(errors.values())
    points = [(None, "request_count", float(calls), calls),
              (None, "request_rate", calls / WINDOW.total_seconds(), calls),
              (None, "error_count", float(failed), calls),
              (None, "error_rate", failed / calls, calls),
              ("@error", "latency_p95_ms", rng.uniform(200, 900), failed)]
    points += [(name, "error_count", float(n), failed) for name, n in errors.items()]
    if generative:
        points += [(None, "input_tokens", float(rng.randint(300, 500) * calls), calls),
                   (None, "output_tokens", float(rng.randint(50, 150) * calls), calls),
                   (None, "cost", rng.uniform(0.5, 2.0), calls)]
        points += [(None, f"time_to_first_token_{q}_ms", base * rng.uniform(0.9, 1.2), calls)
                   for q, base in (("p50", 300.0), ("p95", 700.0), ("p99", 1100.0))]
    return points


def _joint_points(rng: random.Random, drifted: bool) -> list[tuple[str | None, str, float]]:
    """``(feature, metric, value)`` of one window's multivariate and embedding drift."""
    z = rng.uniform(5.0, 12.0) if drifted else rng.uniform(-2.0, 2.5)
    error = rng.uniform(1.2, 1.5) if drifted else rng.uniform(0.95, 1.05)
    share = rng.uniform(0.3, 0.8) if drifted else rng.uniform(0.0, 0.05)
    return [(None, "reconstruction_error", error), (None, "reconstruction_error_drift", z),
            (None, "multivariate_drift", float(drifted)),
            (EMBEDDING, "embedding_drifted_components", share),
            (EMBEDDING, "embedding_mean_distance", share / 2 + rng.uniform(0.0, 0.02)),
            (EMBEDDING, "embedding_mean_cosine_distance", share / 10),
            (EMBEDDING, "embedding_drift", float(drifted))]


QUALITY = "fraud"
"""The model whose last day has data-quality problems (a separate random stream)."""
VANISHED = "channel"
"""A feature of QUALITY missing from every row of its last two closed windows."""
UNEXPECTED = ("device", "zip_code")
"""Names the reference never had, carried in QUALITY's last six windows."""


def _quality_points(rng: random.Random, hour: int, events: int) -> list[
        tuple[str | None, str, float, int]]:
    """``(feature, metric, value, sample_size)`` of one window's data quality."""
    points: list[tuple[str | None, str, float, int]] = []
    recent = hour >= LAST_HOUR - 5
    vanished = LAST_HOUR - 2 <= hour < LAST_HOUR
    for name in NUMERIC + CATEGORICAL:
        missing = 1.0 if name == VANISHED and vanished else 0.0
        points += [(name, "reference_missing_rate", 0.01, 20_000),
                   (name, "feature_missing", missing, events),
                   (name, "schema_change", missing, events)]
        if name in NUMERIC:
            points += [(name, "invalid_rate", rng.uniform(0, 0.01), events),
                       (name, "out_of_range_rate", rng.uniform(0, 0.2 if recent else 0.01),
                        events)]
        else:
            points.append((name, "new_category_rate", rng.uniform(0, 0.05), events))
    if recent:
        for name in UNEXPECTED:
            rows = float(rng.randint(1, events))
            points += [(name, "unexpected_feature", rows, events),
                       (name, "schema_change", 1.0, events)]
    points.append((None, "unexpected_features", float(len(UNEXPECTED)) * recent, events))
    return points


def build_points(seed: int = 7) -> SeedData:
    rng = random.Random(seed)
    health = random.Random(seed + 1)
    joint = random.Random(seed + 2)
    quality = random.Random(seed + 3)
    data = SeedData()
    for model, spec in MODELS.items():
        for version in spec["versions"]:
            for hour in range(DAYS * 24):
                start = START + hour * WINDOW
                end = start + WINDOW
                drifted = model == "fraud" and hour >= (DAYS - 1) * 24
                def add(feature: str | None, metric: str, value: float | None, size: int,
                        start: datetime = start, end: datetime = end,
                        version: str = version, model: str = model) -> None:
                    data.points.append(MetricPointRecord(model, version, start, end, feature,
                                                         metric, value, size))
                events = rng.randint(900, 1100)
                noisy = model == "fraud" and hour == LAST_HOUR  # open, and a tiny sample
                if noisy:
                    events = OPEN_ROWS
                for name in NUMERIC + CATEGORICAL:
                    for metric, value in _feature_points(rng, drifted and name == "amount",
                                                         name in NUMERIC, noisy).items():
                        add(name, metric, value, events)
                for metric, value in _feature_points(rng, drifted, True, noisy).items():
                    add("@prediction", metric, value, events)
                labelled = rng.randint(0, events // 2)
                add(None, "count", float(events), events)
                add(None, "drift_share", 1.0 if noisy else 1 / 5 if drifted else 0.0, 5)
                add(None, "label_coverage", labelled / events, events)
                for q, base in (("p50", 4.0), ("p95", 9.0), ("p99", 15.0)):
                    add(None, f"latency_{q}_ms", base * rng.uniform(0.9, 1.2), events)
                for feature, metric, value, size in _health_points(health, events,
                                                                   model == GENERATIVE):
                    add(feature, metric, value, size)
                if model == QUALITY:
                    for feature, metric, value, size in _quality_points(quality, hour, events):
                        add(feature, metric, value, size)
                if model == JOINT:
                    for feature, metric, value in _joint_points(joint, drifted):
                        add(feature, metric, value, events)
                if spec["task"] == "binary":
                    for metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
                        add(None, metric, rng.uniform(0.6, 0.95), labelled)
                        add(None, f"estimated_{metric}", rng.uniform(0.6, 0.95), events)
                else:
                    add(None, "mae", rng.uniform(1, 3), labelled)
                    add(None, "rmse", rng.uniform(2, 5), labelled)
                if model == "fraud" and version == "2" and hour == DAYS * 24 - 3:
                    add(None, "roc_auc", None, labelled)  # undefined: one class labelled
    last = START + (DAYS * 24 - 6) * WINDOW
    data.alert_starts = {"firing": last, "resolved": START + 30 * WINDOW}
    # events half-way into the last window: it is open, the one before is closed
    data.watermarks = {model: START + LAST_HOUR * WINDOW + WINDOW / 2 for model in MODELS}
    return data


def alert_states(data: SeedData) -> list[AlertState]:
    return [
        AlertState(dedup_key="data_drift_share|fraud|2|", rule="data_drift_share", model="fraud",
                   version="2", feature="", status="firing", severity="warning", streak=4,
                   value=0.2, threshold=0.3, window_start=data.alert_starts["firing"],
                   pending_since=data.alert_starts["firing"] - WINDOW,
                   firing_since=data.alert_starts["firing"], notified_firing=True),
        AlertState(dedup_key="prediction_drift|fraud|1|@prediction", rule="prediction_drift",
                   model="fraud", version="1", feature="@prediction", status="resolved",
                   severity="critical", streak=0, value=0.05, threshold=0.2,
                   window_start=data.alert_starts["resolved"] + 3 * WINDOW,
                   firing_since=data.alert_starts["resolved"],
                   resolved_at=data.alert_starts["resolved"] + 3 * WINDOW),
        AlertState(dedup_key="latency_p99_slo|churn|7|", rule="latency_p99_slo", model="churn",
                   version="7", feature="", status="pending", severity="critical", streak=1,
                   value=650.0, threshold=500.0, window_start=data.alert_starts["firing"],
                   pending_since=data.alert_starts["firing"]),
        AlertState(dedup_key="label_coverage_low|price|1|", rule="label_coverage_low",
                   model="price", version="1", feature="", status="inactive"),
    ]


def seed(url: str, data: SeedData) -> None:
    """Write models, versions, metric points and alert states (schema must exist)."""
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            ensure_model_versions(session, [(m, v) for m, s in MODELS.items()
                                            for v in s["versions"]])
            upsert_metric_points(session, data.points)
            session.add_all(alert_states(data))
            advance_watermarks(session, data.watermarks)
    finally:
        engine.dispose()
