"""Compare a window with its reference: every applicable metric and the drift decisions.

Examples
--------
>>> import numpy as np
>>> from infersight.drift import Reference
>>> rng = np.random.default_rng(0)
>>> ref = Reference.from_data({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b"], 5000)})
>>> w = ref.new_window()
>>> w.update({"x": rng.normal(1, 1, 5000), "c": rng.choice(["a", "b"], 5000)})
>>> report = compare(ref, w)
>>> report.drifted("x"), report.drifted("c"), report.drift_share
(True, False, 0.5)
>>> round(report.features["x"]["wasserstein_normed"], 1)
1.0
"""

from __future__ import annotations

import numpy as np

from .categorical import CategoricalProfile, CategoricalState
from .config import DriftConfig
from .distances import distances_to
from .embedding import DECISION_SIGNIFICANCE, EmbeddingProfile, EmbeddingState
from .estimation import CBPE
from .numeric import NumericProfile, NumericState, wasserstein_binned
from .performance import (
    ClassificationState,
    RegressionState,
    classification_metrics,
    regression_metrics,
)
from .quality import missing_rate_points
from .reference import Profile, Reference
from .report import DriftReport, FeatureDrift, TestResult
from .sampling_error import classification_stderrs, regression_stderrs
from .stattests import TESTS, benjamini_hochberg, chi2_two_sample, ks_pvalues, ks_statistic_cdf
from .window import State, WindowState

_DEFAULT = DriftConfig()


def numeric_metrics(profile: NumericProfile, state: NumericState,
                    with_pvalue: bool = True) -> dict[str, float]:
    """Drift metrics of a numeric feature (only those defined for this window).

    ``with_pvalue=False`` leaves ``ks_pvalue`` out (compare() computes them all at once).
    """
    metrics = {"count": float(state.count),
               "missing_rate": (state.missing + state.invalid) / state.count
               if state.count else float("nan"),
               "invalid_rate": state.invalid / state.count if state.count else float("nan")}
    side = profile.side  # the reference's half of every statistic, derived once
    n, m = state.n, side.total
    if n == 0 or m == 0 or side.coarse is None:
        return {k: v for k, v in metrics.items() if not np.isnan(v)}
    if state.counts.size >= 3:  # the first bin is below the reference minimum, the last above
        metrics["out_of_range_rate"] = float(state.counts[0] + state.counts[-1]) / n
    metrics.update(distances_to(profile.coarse(state.counts), side.coarse))
    w1 = wasserstein_binned(profile, state)
    std = profile.moments.get("std", 0.0)
    metrics["wasserstein_normed"] = w1 / std if std > 0 else w1
    d = ks_statistic_cdf(state.counts, side.cdf)
    metrics["ks_statistic"] = d
    if with_pvalue:
        metrics["ks_pvalue"] = float(ks_pvalues([d], [n], [m])[0])
    return metrics


def categorical_metrics(profile: CategoricalProfile, state: CategoricalState) -> dict[str, float]:
    """Drift metrics of a categorical feature (only those defined for this window)."""
    metrics = {"count": float(state.count)}
    if state.count:
        metrics["missing_rate"] = state.missing / state.count
    n, m = state.n, int(profile.ref_counts.sum())
    if n == 0 or m == 0:
        return metrics
    current = state.binned().astype(np.float64)
    side = profile.side  # the reference's half of the distances, derived once
    metrics.update(distances_to(current, side))
    metrics["chi2_pvalue"] = chi2_two_sample(current, profile.ref_counts)[1]
    if profile.tracks_new:
        metrics["new_category_rate"] = state.unseen / n
    return metrics


def _metrics(profile: Profile, state: State) -> tuple[str, dict[str, float], int]:
    if isinstance(profile, NumericProfile) and isinstance(state, NumericState):
        return "numeric", numeric_metrics(profile, state, with_pvalue=False), state.n
    if isinstance(profile, CategoricalProfile) and isinstance(state, CategoricalState):
        return "categorical", categorical_metrics(profile, state), state.n
    if isinstance(profile, EmbeddingProfile) and isinstance(state, EmbeddingState):
        return "embedding", profile.metrics(state), state.n
    raise ValueError("window state and reference profile kinds differ")


def _missing_rate_test(profile: Profile, state: State, metrics: dict[str, float]) -> None:
    """Add the missing-rate test's points (not for embeddings: their reference holds valid
    vectors only, so it has no missing rate)."""
    if isinstance(profile, EmbeddingProfile) or not state.count:
        return
    missing = state.missing + (state.invalid if isinstance(state, NumericState) else 0)
    metrics.update(missing_rate_points(missing, state.count, profile.missing, profile.count))


def _fill_ks_pvalues(items: list[tuple[FeatureDrift, Profile]]) -> None:
    todo = [(d, p) for d, p in items
            if "ks_statistic" in d.metrics and not isinstance(p, EmbeddingProfile)]
    pvalues = ks_pvalues([d.metrics["ks_statistic"] for d, _ in todo],
                         [d.sample_size for d, _ in todo],
                         [p.side.total if isinstance(p, NumericProfile) else int(p.ref_counts.sum())
                          for _, p in todo])
    for (detail, _), pvalue in zip(todo, pvalues.tolist(), strict=True):
        detail.metrics["ks_pvalue"] = pvalue


def _decide(details: dict[str, FeatureDrift], config: DriftConfig) -> None:
    """Apply each feature's rules; p-value rules are Benjamini-Hochberg adjusted together.
    An embedding decides by its own global test over its components (``embedding_drift``)."""
    pending: list[tuple[str, str, float, float]] = []
    for name, detail in details.items():
        if detail.kind == "embedding":
            if "embedding_drift" in detail.metrics:
                detail.tests.append(TestResult(
                    "embedding", DECISION_SIGNIFICANCE,
                    detail.metrics["embedding_drifted_components"],
                    detail.metrics["embedding_drift"] == 1.0))
            continue
        for rule in config.rules_for(name, detail.kind, detail.sample_size):
            test = TESTS[rule.test]
            value = detail.metrics.get(test.metric, float("nan"))
            if test.kind == "pvalue":
                if not np.isnan(value):
                    pending.append((name, rule.test, rule.threshold, value))
                else:
                    detail.tests.append(TestResult(rule.test, rule.threshold, value, False))
            else:
                detail.tests.append(TestResult(rule.test, rule.threshold, value,
                                               test.drifted(value, rule.threshold)))
    adjusted = benjamini_hochberg([p for *_, p in pending])
    for (name, test_name, threshold, raw), adj in zip(pending, adjusted.tolist(), strict=True):
        details[name].tests.append(TestResult(test_name, threshold, raw,
                                              TESTS[test_name].drifted(adj, threshold), adj))


def _performance(ref: Reference, window: WindowState) -> tuple[dict[str, float], int, int]:
    out: dict[str, float] = {}
    labelled = 0
    perf = window.performance
    if isinstance(perf, ClassificationState) and perf.count:
        out.update(classification_metrics(perf))
        out.update(classification_stderrs(perf))
        labelled = perf.count
    elif isinstance(perf, RegressionState) and perf.count:
        out.update(regression_metrics(perf))
        out.update(regression_stderrs(perf))
        labelled = perf.count
    predicted = window.prediction.count if window.prediction is not None else window.rows
    if labelled or predicted:
        out["label_coverage"] = labelled / predicted if predicted else float("nan")
    scored = 0
    if isinstance(ref.cbpe, CBPE) and window.score_counts is not None:
        scored = int(window.score_counts.sum())
        if scored:
            out.update(ref.cbpe.estimate(window.score_counts))
    return {k: v for k, v in out.items() if not np.isnan(v)}, labelled, scored


def compare(reference: Reference, window: WindowState,
            config: DriftConfig | None = None) -> DriftReport:
    """Compare ``window`` with ``reference`` and decide drift per feature.

    Parameters
    ----------
    reference
        The profile the window was built from.
    window
        A window state (possibly merged from many windows/partitions).
    config
        Decision rules; the documented default table when None.

    Returns
    -------
    DriftReport
        ``features[name][metric]``, ``drifted(name)``, ``drift_share``, ``prediction``,
        ``performance``, ``model``, ``rows()``, ``to_dict()``.
    """
    if window.fingerprint != reference.fingerprint:
        raise ValueError("the window state was built for a different reference")
    config = config or _DEFAULT
    details: dict[str, FeatureDrift] = {}
    items: list[tuple[FeatureDrift, Profile]] = []
    for name, profile in reference.features.items():
        state = window.features.get(name)
        if state is None:
            state = profile.new_state()
        kind, metrics, n = _metrics(profile, state)
        _missing_rate_test(profile, state, metrics)
        if state.count:  # absent from every row of the window (a schema change)
            metrics["feature_missing"] = float(state.missing == state.count)
            metrics["schema_change"] = metrics["feature_missing"]
        details[name] = FeatureDrift(kind, metrics, n, reference_rows=profile.count)
        items.append((details[name], profile))
    prediction_detail = None
    if reference.prediction is not None and window.prediction is not None:
        kind, metrics, n = _metrics(reference.prediction, window.prediction)
        _missing_rate_test(reference.prediction, window.prediction, metrics)
        prediction_detail = FeatureDrift(kind, metrics, n,
                                         reference_rows=reference.prediction.count)
        items.append((prediction_detail, reference.prediction))
    _fill_ks_pvalues(items)
    _decide(details, config)
    if prediction_detail is not None:
        _decide({"@prediction": prediction_detail}, config)
    decided = [d for d in details.values() if d.tests]
    unexpected = window.unexpected.listed()
    model = {"count": float(window.rows),
             "drift_share": sum(d.drifted for d in decided) / len(decided) if decided else 0.0,
             "unexpected_features": float(len(unexpected))}
    if reference.multivariate is not None and window.reconstruction is not None:
        model.update(reference.multivariate.metrics(window.reconstruction))
    performance, labelled, scored = _performance(reference, window)
    return DriftReport(details, prediction_detail, performance, model, labelled, scored,
                       unexpected)


def compare_configured(reference: Reference, window: WindowState,
                       stored_config: object = None) -> tuple[DriftReport, str | None]:
    """:func:`compare` with a model's stored ``drift_config`` (a dict, or None).

    A stored configuration that is invalid, or that does not apply to the reference (a test
    on a feature of the wrong kind), falls back to the documented defaults: a bad setting
    must not stop evaluation. Returns the report and a note saying why the defaults were
    used (None when the stored configuration, or none, applied).

    Examples
    --------
    >>> from infersight.drift import Reference
    >>> ref = Reference.from_data({"x": [1.0, 2.0, 3.0, 4.0]})
    >>> w = ref.new_window()
    >>> w.update({"x": [1.0, 2.0]})
    >>> _report, note = compare_configured(ref, w, {"numeric_small": "ks"})
    >>> note.startswith("the model's drift_config is invalid")
    True
    """
    if not stored_config:
        return compare(reference, window), None
    try:
        config = DriftConfig.from_dict(stored_config)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        note = f"the model's drift_config is invalid ({exc}); default tests used"
        return compare(reference, window), note
    try:
        return compare(reference, window, config), None
    except ValueError as exc:
        note = f"the model's drift_config does not apply ({exc}); default tests used"
        return compare(reference, window), note
