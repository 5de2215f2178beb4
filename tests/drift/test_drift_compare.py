"""compare(): decisions, the default table and overrides, reports, performance, edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from infersight.drift import PREDICTION, DriftConfig, Reference, Rule, compare
from sklearn import metrics as skm

DOCUMENTED_METRICS = {"psi", "js_distance", "hellinger", "kl_divergence", "wasserstein_normed",
                      "ks_statistic", "ks_pvalue", "chi2_pvalue", "drift_share", "count",
                      "missing_rate", "accuracy", "precision", "recall", "f1", "roc_auc",
                      "label_coverage", "mae", "rmse", "mape", "estimated_precision",
                      "estimated_recall", "estimated_f1", "estimated_roc_auc", "latency_p50_ms",
                      "latency_p95_ms", "latency_p99_ms"}
EXTRA_METRICS = {"new_category_rate", "invalid_rate", "out_of_range_rate", "feature_missing",
                 "schema_change", "unexpected_features", "missing_rate_stderr",
                 "reference_missing_rate", "reference_missing_rate_stderr",
                 "estimated_precision_stderr", "estimated_recall_stderr",
                 "estimated_f1_stderr", "estimated_roc_auc_stderr", "accuracy_stderr",
                 "precision_stderr", "recall_stderr", "f1_stderr", "roc_auc_stderr",
                 "mae_stderr", "rmse_stderr", "mape_stderr",
                 "reconstruction_error", "reconstruction_error_drift", "multivariate_drift"}


def _frame(rng: np.random.Generator, n: int, n_numeric: int = 4, n_categorical: int = 2,
           shift: float = 0.0) -> pd.DataFrame:
    data = {f"num{i}": rng.normal(shift if i == 0 else 0.0, 1.0, n) for i in range(n_numeric)}
    for j in range(n_categorical):
        data[f"cat{j}"] = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame(data)


@pytest.mark.parametrize("n", [300, 50_000])
def test_a_shifted_feature_is_flagged_and_the_others_are_not(n: int) -> None:
    rng = np.random.default_rng(11)
    ref = Reference.from_data(_frame(rng, 50_000))
    window = ref.new_window()
    window.update(_frame(rng, n, shift=1.0))
    report = compare(ref, window)
    assert report.drifted("num0")
    assert [name for name in report.features if report.drifted(name)] == ["num0"]
    assert report.drift_share == pytest.approx(1 / 6)
    test = report.details["num0"].tests[0].test
    assert test == ("ks" if n <= 1000 else "wasserstein_normed")


def test_false_alarm_rate_with_fifty_unchanged_features_at_100k() -> None:
    rng = np.random.default_rng(12)
    names = [f"f{i}" for i in range(50)]
    makers = [lambda k: rng.normal(0, 1, k), lambda k: rng.lognormal(1, 0.8, k),
              lambda k: rng.integers(0, 20, k).astype(float),
              lambda k: rng.choice(list("abcdefgh"), k)]
    ref = Reference.from_data({n: makers[i % 4](100_000) for i, n in enumerate(names)})
    window = ref.new_window()
    window.update({n: makers[i % 4](100_000) for i, n in enumerate(names)})
    report = compare(ref, window)
    assert report.drift_share == 0.0  # documented rate at this size: 0 (distance thresholds)
    # even the p-value tests, BH-controlled at 5 %, flag none of them at n = 100k
    pvalue_config = DriftConfig(numeric_large=(Rule("ks", 0.05),),
                                categorical_large=(Rule("chi2", 0.05),))
    assert compare(ref, window, pvalue_config).drift_share <= 0.05


def test_false_alarm_rate_with_fifty_unchanged_features_in_small_windows() -> None:
    rng = np.random.default_rng(13)
    names = [f"f{i}" for i in range(50)]
    ref = Reference.from_data({n: rng.normal(0, 1, 20_000) for n in names})
    flagged = 0
    for _ in range(10):
        window = ref.new_window()
        window.update({n: rng.normal(0, 1, 500) for n in names})
        report = compare(ref, window)
        flagged += sum(report.drifted(n) for n in names)
    assert flagged / (10 * 50) <= 0.05


def test_benjamini_hochberg_is_applied_over_the_p_value_features() -> None:
    rng = np.random.default_rng(14)
    ref = Reference.from_data({"a": rng.normal(0, 1, 5000), "b": rng.normal(0, 1, 5000)})
    window = ref.new_window()
    window.update({"a": rng.normal(0.25, 1, 200), "b": rng.normal(0, 1, 200)})
    report = compare(ref, window)
    raw = [report.features[n]["ks_pvalue"] for n in ("a", "b")]
    adjusted = [report.details[n].tests[0].adjusted_pvalue for n in ("a", "b")]
    from scipy.stats import false_discovery_control

    np.testing.assert_allclose(adjusted, false_discovery_control(raw))
    assert report.drifted("a") == (adjusted[0] < 0.05)


def test_per_feature_and_per_model_overrides() -> None:
    rng = np.random.default_rng(15)
    ref = Reference.from_data(_frame(rng, 20_000))
    window = ref.new_window()
    window.update(_frame(rng, 20_000, shift=0.05))
    default = compare(ref, window)
    assert not default.drifted("num0")  # W1 ≈ 0.05 std, PSI ≈ 0.003: under the default thresholds
    config = DriftConfig.from_dict({
        "features": {"num0": {"test": "ks", "threshold": 0.01}, "num1": [],
                     "cat0": [{"test": "psi", "threshold": 0.0}]},
        "numeric_large": [{"test": "psi", "threshold": 0.5}]})
    report = compare(ref, window, config)
    assert report.drifted("num0")
    assert report.details["num1"].tests == []
    assert report.drifted("cat0")
    assert report.drift_share == pytest.approx(2 / 5)  # num1 has no decision
    assert DriftConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="does not apply"):
        compare(ref, window, DriftConfig.from_dict({"features": {"cat0": {"test": "ks",
                                                                         "threshold": 0.05}}}))
    for bad in ({"features": {"x": {"test": "nope", "threshold": 1}}}, {"large_sample": 0},
                {"unknown": 1}, {"numeric_small": [{"test": "psi"}]}):
        with pytest.raises(ValueError):
            DriftConfig.from_dict(bad)


def test_report_rows_use_the_design_metric_names_and_json_is_safe() -> None:
    rng = np.random.default_rng(16)
    frame = _frame(rng, 5000)
    scores = rng.uniform(size=5000)
    labels = (rng.uniform(size=5000) < scores).astype(int)
    ref = Reference.from_data(frame, predictions=scores, labels=labels)
    window = ref.new_window()
    window.update(_frame(rng, 2000), predictions=rng.uniform(size=2000),
                  latency_ms=rng.exponential(4, 2000))
    window.add_labels(labels[:500], scores[:500])
    report = compare(ref, window)
    rows = list(report.rows())
    names = {r.metric for r in rows}
    assert names <= DOCUMENTED_METRICS | EXTRA_METRICS
    assert {"estimated_precision", "roc_auc", "drift_share",
            "label_coverage", "ks_pvalue", "chi2_pvalue"} <= names
    assert "latency_p99_ms" not in names  # latency points come from the health state
    assert all(isinstance(r.value, float) and math.isfinite(r.value) for r in rows)
    features = {r.feature for r in rows}
    assert {None, PREDICTION, "num0", "cat0", "class:0", "class:1", "average:macro"} <= features
    coverage = next(r for r in rows if r.metric == "label_coverage")
    assert coverage.value == pytest.approx(500 / 2000) and coverage.sample_size == 2000
    json.dumps(report.to_dict(), allow_nan=False)


def test_realised_performance_matches_scikit_learn() -> None:
    rng = np.random.default_rng(17)
    n = 3000
    scores = rng.uniform(size=n)
    labels = (rng.uniform(size=n) < scores).astype(int)
    ref = Reference.from_data({"x": rng.normal(size=n)}, predictions=scores, labels=labels)
    assert ref.performance["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, scores),
                                                       abs=0.01)
    window = ref.new_window()
    cur_scores = rng.uniform(size=1000)
    cur_labels = (rng.uniform(size=1000) < cur_scores ** 2).astype(int)
    window.update({"x": rng.normal(size=1000)}, predictions=cur_scores)
    window.add_labels(cur_labels, cur_scores)
    perf = compare(ref, window).performance
    predicted = (cur_scores >= 0.5).astype(int)
    assert perf["accuracy"] == pytest.approx(skm.accuracy_score(cur_labels, predicted))
    assert perf["precision"] == pytest.approx(skm.precision_score(cur_labels, predicted))
    assert perf["recall"] == pytest.approx(skm.recall_score(cur_labels, predicted))
    assert perf["f1"] == pytest.approx(skm.f1_score(cur_labels, predicted))
    assert perf["f1_macro"] == pytest.approx(skm.f1_score(cur_labels, predicted, average="macro"))
    assert perf["roc_auc"] == pytest.approx(skm.roc_auc_score(cur_labels, cur_scores), abs=0.01)
    assert perf["label_coverage"] == 1.0
    assert {"estimated_precision", "estimated_recall", "estimated_f1"} <= set(perf)


def test_multiclass_and_regression_models() -> None:
    rng = np.random.default_rng(18)
    classes = np.array(["cat", "dog", "eel"])
    probs = rng.dirichlet([1, 1, 1], 2000)
    truth = classes[rng.integers(0, 3, 2000)]
    ref = Reference.from_data({"x": rng.normal(size=2000)}, predictions=probs, labels=truth)
    assert ref.task == "multiclass"
    window = ref.new_window()
    window.update({"x": rng.normal(size=500)}, predictions=[{"label": "dog"}] * 500)
    window.add_labels(truth[:500], probs[:500])
    report = compare(ref, window)
    assert report.prediction_drifted and report.prediction["chi2_pvalue"] < 1e-6
    predicted = classes[probs[:500].argmax(axis=1)]
    assert report.performance["accuracy"] == pytest.approx(
        skm.accuracy_score(truth[:500], predicted))

    y = rng.normal(10, 2, 2000)
    ref = Reference.from_data({"x": rng.normal(size=2000)}, predictions=y + rng.normal(0, 1, 2000),
                              labels=y)
    assert ref.task == "regression"
    window = ref.new_window()
    pred = y[:300] + rng.normal(0, 1, 300)
    window.update({"x": rng.normal(size=300)}, predictions=pred)
    window.add_labels(y[:300], pred)
    perf = compare(ref, window).performance
    assert perf["mae"] == pytest.approx(skm.mean_absolute_error(y[:300], pred))
    assert perf["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y[:300], pred)))
    assert perf["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y[:300], pred))


def test_edge_cases_never_crash() -> None:
    rng = np.random.default_rng(19)
    ref = Reference.from_data({
        "normal": rng.normal(size=1000), "constant": np.full(1000, 3.0),
        "all_missing": [None] * 1000, "one_category": ["x"] * 1000,
        "with_bad": np.r_[rng.normal(size=990), [np.nan] * 5, [np.inf] * 5]},
        feature_types={"all_missing": "numeric"})
    assert ref.feature_kinds["one_category"] == "categorical"
    empty = compare(ref, ref.new_window())
    assert empty.drift_share == 0.0 and empty.features["normal"] == {"count": 0.0}
    json.dumps(empty.to_dict(), allow_nan=False)
    one = ref.new_window()
    one.update({"normal": [0.1], "constant": [3.0], "all_missing": [None],
                "one_category": ["x"], "with_bad": [float("-inf")]})
    report = compare(ref, one)
    assert report.features["normal"]["count"] == 1.0 and not report.drifted("normal")
    assert report.features["with_bad"]["missing_rate"] == 1.0
    assert report.features["all_missing"] == {
        "count": 1.0, "missing_rate": 1.0, "invalid_rate": 0.0, "feature_missing": 1.0,
        "schema_change": 1.0, "missing_rate_stderr": 0.0, "reference_missing_rate": 1.0,
        "reference_missing_rate_stderr": 0.0}
    assert report.features["with_bad"]["invalid_rate"] == 1.0  # -inf is not a value
    assert report.features["normal"]["feature_missing"] == 0.0
    moved = ref.new_window()
    moved.update({"constant": np.full(5000, 4.0), "one_category": ["y"] * 5000,
                  "normal": [np.nan, np.inf, -np.inf, None, 1.0] * 1000})
    report = compare(ref, moved)
    assert report.drifted("constant") and report.drifted("one_category")
    assert report.features["constant"]["wasserstein_normed"] == pytest.approx(1.0)
    assert report.features["one_category"]["new_category_rate"] == 1.0
    assert report.features["normal"]["missing_rate"] == pytest.approx(0.8)
    assert report.features["all_missing"]["missing_rate"] == 1.0
    json.dumps(report.to_dict(), allow_nan=False)


def test_bad_input_gives_clear_errors() -> None:
    ref = Reference.from_data({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    window = ref.new_window()
    with pytest.raises(ValueError, match="different lengths"):
        window.update({"x": [1.0, 2.0], "c": ["a"]})
    with pytest.raises(TypeError, match="cannot read a batch"):
        window.update(42)
    with pytest.raises(TypeError, match="expected an array"):
        window.update({"x": 1.0})
    with pytest.raises(ValueError, match="predictions has 1 values"):
        window.update({"x": [1.0, 2.0]}, predictions=[0.5])
    with pytest.raises(ValueError, match="no predictions"):
        window.add_labels([1], [0.5])
    with pytest.raises(ValueError, match="different lengths"):
        Reference.from_data({"x": [1.0, 2.0], "c": ["a"]})
    with pytest.raises(TypeError, match="DataFrame or a mapping"):
        Reference.from_data([1, 2, 3])
    with pytest.raises(ValueError, match="type must be"):
        Reference.from_data({"x": [1.0]}, feature_types={"x": "text"})
    with pytest.raises(ValueError, match="unknown features"):
        Reference.from_data({"x": [1.0]}, feature_types={"y": "numeric"})
    with pytest.raises(ValueError, match="task must be"):
        Reference.from_data({"x": [1.0]}, predictions=[0.5], task="ranking")
    window.update({"x": ["1.5", "oops", None], "c": [["a"], {"b": 1}, 3]})
    report = compare(ref, window)
    assert report.features["x"]["missing_rate"] == pytest.approx(2 / 3)
    assert report.features["c"]["count"] == 3.0


def test_data_quality_rates_equal_numpy_on_the_same_values() -> None:
    rng = np.random.default_rng(3)
    reference_values = rng.normal(size=4000)
    ref = Reference.from_data({"x": reference_values, "gone": rng.normal(size=4000)})
    values = rng.normal(0.5, 2.0, 700)
    column = [*values.tolist(), "n/a", "", float("inf"), None, None]
    window = ref.new_window()
    window.update({"x": column})  # "gone" is absent from every row
    report = compare(ref, window)
    x = report.features["x"]
    outside = (values < reference_values.min()) | (values > reference_values.max())
    assert x["out_of_range_rate"] == pytest.approx(outside.mean(), abs=1e-12)
    assert x["invalid_rate"] == pytest.approx(3 / len(column))  # two texts and an infinity
    assert x["missing_rate"] == pytest.approx(5 / len(column))
    assert x["feature_missing"] == 0.0 and report.features["gone"]["feature_missing"] == 1.0
