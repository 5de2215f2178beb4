"""Data drift on 100k reference rows vs 100k current rows x 25 features: infersight and its peers.

The data: 20 numeric features (normal, log-normal, exponential, uniform, gamma, Poisson counts,
Student t, bimodal mixtures) and 5 categorical ones (2 to 50 categories). Four features drift by
known amounts (``DRIFTS`` below); the other 21 are drawn afresh from the same distribution, so any
alarm on them is a false positive.

Timed in one run, on the same pandas DataFrames, best of ``--repeat`` runs each:

* infersight: reference build (``Reference.from_data``), window update (``new_window().update``),
  compare (``compare``), and the three together;
* Evidently's data drift preset (``Report([DataDriftPreset()])``, defaults), if importable;
* NannyML's ``UnivariateDriftCalculator`` (defaults: Jensen-Shannon, 10 chunks), if importable;
* a plain scipy loop: KS test and normed Wasserstein distance per numeric feature, two-sample
  chi-squared test per categorical feature, Benjamini-Hochberg at 5 %.

``--part multivariate`` times multivariate drift instead: 100k rows x 25 features driven by
five latent factors (20 numeric, 5 categorical cut from them), current data with the sign of
one factor's loading flipped on half its features (every marginal unchanged), and an
unchanged current frame; infersight's reconstruction error (reference build with the PCA
fit, window update, compare) beside NannyML's ``DataReconstructionDriftCalculator``
(defaults: 65 % variance, alert when a chunk leaves the reference chunks' mean ± 3 sd), with
each one's decision on both frames.

``--part embedding`` times embedding drift: 100k reference and 100k current vectors of 384
dimensions (four topics; the current frame moves 10 points of the topic mix, and an unchanged
frame), infersight's embedding state (profile fit, window update in batches of 1,000 vectors
as the worker's, metrics) beside Evidently's
embedding drift methods (its default domain classifier, the drifted-components ratio, the
distance between means, MMD) called directly on the same DataFrames, and a plain
numpy/scikit-learn/scipy baseline (PCA, KS per component, Benjamini-Hochberg).

It prints seconds and ratios, each tool's decisions against the known truth, the statistic values
side by side where the definitions match (Wasserstein normed by the reference standard deviation;
categorical PSI; categorical Jensen-Shannon distance, Evidently's natural-log value converted to
base 2; KS statistic and chi-squared p-value against scipy), and the targets met or missed.

The peers pin other pandas/numpy versions than the project, so they live in their own venv
(the pins of ``bench/requirements-peers.txt``, shared with ``bench/alert_quality_peers.py``)::

    python3.11 -m venv bench/.venv-peers
    bench/.venv-peers/bin/pip install -e '.[drift]' -r bench/requirements-peers.txt
    bench/.venv-peers/bin/python bench/drift_vs_peers.py      # --rows 100000 --repeat 3
    bench/.venv-peers/bin/python bench/drift_vs_peers.py --part multivariate
    bench/.venv-peers/bin/python bench/drift_vs_peers.py --part embedding

(Evidently 0.7 does not import under pandas 3, hence the pin.) infersight's worker runs numpy on
one BLAS thread per process (its CLI sets ``OPENBLAS_NUM_THREADS=1`` unless told otherwise);
prefix a run with ``OPENBLAS_NUM_THREADS=1`` to time every tool that way, which is what the
per-core figures mean. The peers' usage telemetry is
switched off through their environment variables before they are imported. Run with the project's own venv,
the peers are skipped with a message and infersight and scipy still run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from scipy import stats

# The peers phone home (usage telemetry) unless told not to; a network wait must not be timed.
os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently
os.environ.setdefault("ITERATIVE_DO_NOT_TRACK", "1")  # Evidently's telemetry library
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML

N_NUMERIC = 20
N_CATEGORICAL = 5

#: The features that drift, and by how much (the ground truth).
DRIFTS = {
    "num_00": "normal: mean +0.25 standard deviation",
    "num_01": "log-normal: sigma 0.50 -> 0.65",
    "num_02": "exponential: mean x 1.2",
    "cat_0": "proportions .40/.30/.20/.10 -> .25/.30/.25/.20",
}

CATEGORY_PROBABILITIES = {
    "cat_0": [0.4, 0.3, 0.2, 0.1],
    "cat_1": [0.5, 0.3, 0.2],
    "cat_2": list(1.0 / np.arange(1, 11) / np.sum(1.0 / np.arange(1, 11))),
    "cat_3": list(np.full(50, 1 / 50)),
    "cat_4": [0.93, 0.07],
}
CAT_0_DRIFTED = [0.25, 0.30, 0.25, 0.20]


# -- data --------------------------------------------------------------------------------------


def _numeric(index: int, rng: np.random.Generator, rows: int, drifted: bool) -> np.ndarray:
    kind = index % 8
    if index == 0:
        return rng.normal(10.0 + (0.25 * 2.0 if drifted else 0.0), 2.0, rows)
    if index == 1:
        return rng.lognormal(3.0, 0.65 if drifted else 0.5, rows)
    if index == 2:
        return rng.exponential(5.0 * (1.2 if drifted else 1.0), rows)
    if kind == 0:
        return rng.normal(index, 1.0 + index / 10, rows)
    if kind == 1:
        return rng.lognormal(1.0, 0.8, rows)
    if kind == 2:
        return rng.exponential(2.0 + index, rows)
    if kind == 3:
        return rng.uniform(-index, index, rows)
    if kind == 4:
        return rng.gamma(2.0, 3.0, rows)
    if kind == 5:
        return rng.poisson(3.0, rows).astype(np.float64)
    if kind == 6:
        return rng.standard_t(4, rows) * 3.0
    bimodal = rng.random(rows) < 0.3
    return np.where(bimodal, rng.normal(-4.0, 1.0, rows), rng.normal(2.0, 0.5, rows))


def _categorical(name: str, rng: np.random.Generator, rows: int, drifted: bool) -> np.ndarray:
    probabilities = CAT_0_DRIFTED if drifted else CATEGORY_PROBABILITIES[name]
    labels = np.array([f"{name}_v{i:02d}" for i in range(len(probabilities))], dtype=object)
    return labels[rng.choice(len(probabilities), size=rows, p=probabilities)]


def make_data(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, bool]]:
    """Reference and current frames, and the truth: feature -> drifted."""
    rng = np.random.default_rng(seed)
    reference: dict[str, Any] = {}
    current: dict[str, Any] = {}
    truth: dict[str, bool] = {}
    for i in range(N_NUMERIC):
        name = f"num_{i:02d}"
        truth[name] = name in DRIFTS
        reference[name] = _numeric(i, rng, rows, drifted=False)
        current[name] = _numeric(i, rng, rows, drifted=truth[name])
    for i in range(N_CATEGORICAL):
        name = f"cat_{i}"
        truth[name] = name in DRIFTS
        reference[name] = _categorical(name, rng, rows, drifted=False)
        current[name] = _categorical(name, rng, rows, drifted=truth[name])
    return pd.DataFrame(reference), pd.DataFrame(current), truth


# -- timing helpers ----------------------------------------------------------------------------


@dataclass
class ToolResult:
    """What one tool produced: step timings (best of the repeats), decisions, statistic values."""

    name: str
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    decisions: dict[str, bool] = field(default_factory=dict)
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    note: str = ""


def _best(result: ToolResult, step: str, wall: float, cpu: float) -> None:
    if wall < result.seconds.get(step, math.inf):
        result.seconds[step] = wall
        result.cpu_seconds[step] = cpu


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


# -- the tools ---------------------------------------------------------------------------------


def run_infersight(reference: pd.DataFrame, current: pd.DataFrame, repeat: int) -> ToolResult:
    from infersight.drift import Reference, compare

    result = ToolResult("infersight")
    report: Any = None
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        ref, wall, cpu = _timed(lambda: Reference.from_data(reference))
        _best(result, "reference build", wall, cpu)
        window = ref.new_window()
        _, wall, cpu = _timed(lambda: window.update(current))  # noqa: B023
        _best(result, "window update", wall, cpu)
        report, wall, cpu = _timed(lambda: compare(ref, window))  # noqa: B023
        _best(result, "compare", wall, cpu)
        _best(
            result,
            "end to end",
            time.perf_counter() - started,
            time.process_time() - started_cpu,
        )
    for name in reference.columns:
        result.decisions[name] = report.drifted(name)
        result.values[name] = dict(report.features[name])
    rules = {t.test for d in report.details.values() for t in d.tests}
    result.note = f"default decision table ({', '.join(sorted(rules))})"
    return result


def run_evidently(reference: pd.DataFrame, current: pd.DataFrame, repeat: int) -> ToolResult:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numeric = [c for c in reference.columns if c.startswith("num_")]
    categorical = [c for c in reference.columns if c.startswith("cat_")]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)

    def run(preset: Any) -> Any:
        ref = Dataset.from_pandas(reference, data_definition=definition)
        cur = Dataset.from_pandas(current, data_definition=definition)
        return Report([preset]).run(cur, ref)

    result = ToolResult("Evidently DataDriftPreset")
    snapshot: Any = None
    for _ in range(repeat):
        snapshot, wall, cpu = _timed(lambda: run(DataDriftPreset()))
        _best(result, "end to end", wall, cpu)
    methods = set()
    for column, method, threshold, value in _evidently_value_drifts(snapshot):
        methods.add(method)
        p_value = "p_value" in method.lower()
        result.decisions[column] = value < threshold if p_value else value >= threshold
        result.values.setdefault(column, {})[EVIDENTLY_METRICS.get(method, method)] = float(value)
    # Untimed: categorical PSI with the same preset, for the side-by-side values.
    for column, method, _, value in _evidently_value_drifts(run(DataDriftPreset(cat_method="psi"))):
        if column.startswith("cat_"):
            result.values[column][EVIDENTLY_METRICS.get(method, method)] = float(value)
    result.note = f"defaults ({', '.join(sorted(methods))})"
    return result


#: Evidently's method names -> ours, where the definitions match.
EVIDENTLY_METRICS = {
    "Wasserstein distance (normed)": "wasserstein_normed",
    "Jensen-Shannon distance": "js_distance_natural_log",
    "psi": "psi",
}


def _evidently_value_drifts(snapshot: Any) -> list[tuple[str, str, float, float]]:
    rows = []
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            rows.append((config["column"], config["method"], config["threshold"], metric["value"]))
    return rows


def run_nannyml(reference: pd.DataFrame, current: pd.DataFrame, repeat: int) -> ToolResult:
    import nannyml

    columns = list(reference.columns)
    categorical = [c for c in columns if c.startswith("cat_")]

    def run(**kwargs: Any) -> pd.DataFrame:
        calculator = nannyml.UnivariateDriftCalculator(
            column_names=columns, treat_as_categorical=categorical, **kwargs
        )
        calculator.fit(reference)
        return calculator.calculate(current).filter(period="analysis").to_df()

    result = ToolResult("NannyML UnivariateDriftCalculator")
    frame: Any = None
    for _ in range(repeat):
        frame, wall, cpu = _timed(run)
        _best(result, "end to end", wall, cpu)
    for column in columns:
        result.decisions[column] = bool(frame[(column, "jensen_shannon", "alert")].any())
    with warnings.catch_warnings():  # untimed: one chunk gives the whole-sample distance
        warnings.simplefilter("ignore")
        whole = run(chunk_number=1)
    for column in columns:
        result.values[column] = {
            "js_distance": float(whole[(column, "jensen_shannon", "value")].iloc[0])
        }
    result.note = "defaults (Jensen-Shannon, 10 chunks, alert if any chunk exceeds its threshold)"
    return result


def run_scipy(reference: pd.DataFrame, current: pd.DataFrame, repeat: int) -> ToolResult:
    def loop() -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for column in reference.columns:
            ref, cur = reference[column].to_numpy(), current[column].to_numpy()
            if column.startswith("num_"):
                ks = stats.ks_2samp(ref, cur)
                wasserstein = stats.wasserstein_distance(ref, cur) / np.std(ref)
                out[column] = {
                    "ks_statistic": float(ks.statistic),
                    "pvalue": float(ks.pvalue),
                    "wasserstein_normed": float(wasserstein),
                }
            else:
                counts = pd.DataFrame(
                    {"ref": pd.Series(ref).value_counts(), "cur": pd.Series(cur).value_counts()}
                ).fillna(0)
                chi2 = stats.chi2_contingency(counts.to_numpy().T)
                out[column] = {"chi2_pvalue": float(chi2.pvalue), "pvalue": float(chi2.pvalue)}
        names = list(out)
        adjusted = stats.false_discovery_control([out[n]["pvalue"] for n in names], method="bh")
        for name, p in zip(names, adjusted, strict=True):
            out[name]["adjusted_pvalue"] = float(p)
        return out

    result = ToolResult("scipy loop (KS, chi2, BH 5 %)")
    values: dict[str, dict[str, float]] = {}
    for _ in range(repeat):
        values, wall, cpu = _timed(loop)
        _best(result, "end to end", wall, cpu)
    result.values = values
    result.decisions = {name: v["adjusted_pvalue"] < 0.05 for name, v in values.items()}
    result.note = "KS / chi-squared p-values, Benjamini-Hochberg at 5 %"
    return result


# -- printing ----------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.2e}"
    return f"{value:.{digits}f}"


def print_timings(results: list[ToolResult], rows: int, n_features: int) -> None:
    ours = results[0]
    base, base_cpu = ours.seconds["end to end"], ours.cpu_seconds["end to end"]
    print("\n## Time (best of the repeats; CPU seconds are less sensitive to a busy machine)\n")
    print(f"{'tool / step':40} {'seconds':>9} {'CPU s':>8} {'x ours':>8} {'x ours CPU':>11}")
    for step in ("reference build", "window update", "compare", "end to end"):
        extra = ""
        if step == "window update":
            rate = rows * n_features / ours.cpu_seconds[step]
            extra = f"{rate / 1e6:.1f} M feature-values/s/core"
        if step == "compare":
            extra = f"{ours.seconds[step] * 1000:.1f} ms"
        print(
            f"{'infersight ' + step:40} {ours.seconds[step]:9.3f} {ours.cpu_seconds[step]:8.3f}"
            f" {'':>8} {'':>11}   {extra}"
        )
    for result in results[1:]:
        seconds, cpu = result.seconds["end to end"], result.cpu_seconds["end to end"]
        print(
            f"{result.name:40} {seconds:9.3f} {cpu:8.3f} {seconds / base:7.1f}x"
            f" {cpu / base_cpu:10.1f}x"
        )


def print_decisions(results: list[ToolResult], truth: dict[str, bool]) -> None:
    drifted = [n for n, d in truth.items() if d]
    unchanged = [n for n, d in truth.items() if not d]
    print("\n## Drift decisions against the truth\n")
    print(f"{'tool':36} {'caught':>8} {'false alarms':>13}  settings")
    for result in results:
        caught = sum(result.decisions.get(n, False) for n in drifted)
        false = [n for n in unchanged if result.decisions.get(n, False)]
        print(
            f"{result.name:36} {caught:>4}/{len(drifted):<3} {len(false):>6}/{len(unchanged):<6}"
            f"  {result.note}" + (f"; false on {', '.join(false)}" if false else "")
        )
    header = "".join(f"{r.name.split()[0][:10]:>12}" for r in results)
    print(f"\n{'feature':10} {'truth':>7}{header}   drift applied")
    for name, is_drifted in truth.items():
        marks = "".join(
            f"{('DRIFT' if r.decisions.get(name) else '.') if name in r.decisions else '-':>12}"
            for r in results
        )
        print(f"{name:10} {'DRIFT' if is_drifted else '.':>7}{marks}   {DRIFTS.get(name, '')}")


def print_values(results: dict[str, ToolResult]) -> None:
    ours = results["infersight"].values
    evidently = results.get("evidently")
    nanny = results.get("nannyml")
    scipy_values = results["scipy"].values
    to_base_2 = 1 / math.sqrt(math.log(2))
    print("\n## Statistic values side by side (same definitions)\n")
    print("Numeric: Wasserstein-1 normed by the reference std; KS statistic D")
    print(
        f"{'feature':10} {'W ours':>9} {'W Evid.':>9} {'W scipy':>9} {'D ours':>9} {'D scipy':>9}"
    )
    for name in [n for n in ours if n.startswith("num_")]:
        ev = evidently.values.get(name, {}) if evidently else {}
        print(
            f"{name:10} {_fmt(ours[name].get('wasserstein_normed')):>9}"
            f" {_fmt(ev.get('wasserstein_normed')):>9}"
            f" {_fmt(scipy_values[name]['wasserstein_normed']):>9}"
            f" {_fmt(ours[name].get('ks_statistic')):>9} {_fmt(scipy_values[name]['ks_statistic']):>9}"
        )
    print(
        "\nCategorical: Jensen-Shannon distance base 2 (Evidently's natural-log value x 1/sqrt(ln 2)),"
        " PSI, chi-squared two-sample p-value"
    )
    print(
        f"{'feature':10} {'JS ours':>9} {'JS Evid.':>9} {'JS Nanny':>9}"
        f" {'PSI ours':>9} {'PSI Evid.':>9} {'p ours':>9} {'p scipy':>9}"
    )
    for name in [n for n in ours if n.startswith("cat_")]:
        ev = evidently.values.get(name, {}) if evidently else {}
        ev_js = ev.get("js_distance_natural_log")
        print(
            f"{name:10} {_fmt(ours[name].get('js_distance')):>9}"
            f" {_fmt(ev_js * to_base_2 if ev_js is not None else None):>9}"
            f" {_fmt(nanny.values[name]['js_distance'] if nanny else None):>9}"
            f" {_fmt(ours[name].get('psi')):>9} {_fmt(ev.get('psi')):>9}"
            f" {_fmt(ours[name].get('chi2_pvalue')):>9} {_fmt(scipy_values[name]['chi2_pvalue']):>9}"
        )


def print_targets(results: dict[str, ToolResult], truth: dict[str, bool], rows: int) -> None:
    ours = results["infersight"]
    n_features = len(truth)
    checks: list[tuple[str, bool | None, str]] = []
    evidently = results.get("evidently")
    if evidently:
        ratio = evidently.seconds["end to end"] / ours.seconds["end to end"]
        cpu_ratio = evidently.cpu_seconds["end to end"] / ours.cpu_seconds["end to end"]
        detail = f"{ratio:.1f}x wall clock, {cpu_ratio:.1f}x CPU time"
        checks.append(("end to end >= 10x faster than Evidently", ratio >= 10, detail))
    else:
        checks.append(("end to end >= 10x faster than Evidently", None, "Evidently not run"))
    rate = rows * n_features / ours.cpu_seconds["window update"]
    checks.append(
        ("window update >= 20M feature-values/s/core", rate >= 20e6, f"{rate / 1e6:.2f} M/s")
    )
    compare_ms = ours.seconds["compare"] * 1000
    checks.append(
        (f"compare <= 20 ms for {n_features} features", compare_ms <= 20, f"{compare_ms:.1f} ms")
    )
    false = [n for n, d in truth.items() if not d and ours.decisions[n]]
    checks.append(
        ("no false positive on unchanged features", not false, ", ".join(false) or "none")
    )
    missed = [n for n, d in truth.items() if d and not ours.decisions[n]]
    checks.append(("every drifted feature caught", not missed, ", ".join(missed) or "all caught"))
    print("\n## Targets\n")
    for label, ok, detail in checks:
        status = "skipped" if ok is None else ("met" if ok else "MISSED")
        print(f"{label:48} {status:8} {detail}")


# -- multivariate ------------------------------------------------------------------------------


def make_factor_data(rows: int, seed: int, broken: bool) -> pd.DataFrame:
    """25 features from 5 latent factors; ``broken`` flips factor 0's loading on half of its
    features, which keeps every marginal and inverts their correlations."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(5, rows))
    data: dict[str, Any] = {}
    for i in range(25):
        factor = i % 5
        sign = -1.0 if broken and factor == 0 and i % 2 == 1 else 1.0
        value = sign * factors[factor] + rng.normal(size=rows) / 3
        if i < 20:
            data[f"num_{i:02d}"] = value
        else:  # categorical: the factor cut into four levels
            data[f"cat_{i - 20}"] = np.array(list("abcd"))[np.digitize(value, [-0.7, 0.0, 0.7])]
    return pd.DataFrame(data)


def run_multivariate(rows: int, repeat: int, seed: int) -> int:
    from infersight.drift import Reference, compare

    reference = make_factor_data(rows, seed, broken=False)
    frames = {"broken correlations": make_factor_data(rows, seed + 1, broken=True),
              "unchanged": make_factor_data(rows, seed + 2, broken=False)}
    print(f"# multivariate drift: {rows:,} reference rows vs {rows:,} current rows x 25 features "
          f"(5 latent factors); best of {repeat}")
    timings: dict[str, dict[str, tuple[float, float]]] = {"infersight": {}, "NannyML": {}}
    decisions: dict[str, dict[str, str]] = {"infersight": {}, "NannyML": {}}

    def keep(tool: str, step: str, wall: float, cpu: float) -> None:
        if wall < timings[tool].get(step, (math.inf, 0.0))[0]:
            timings[tool][step] = (wall, cpu)

    from infersight.drift.multivariate import ReconstructionProfile

    for _ in range(repeat):
        ref, wall, cpu = _timed(lambda: Reference.from_data(reference))
        keep("infersight", "reference build (with the PCA fit)", wall, cpu)
        kinds = {n: p if ref.feature_kinds[n] == "categorical" else None
                 for n, p in ref.features.items()}
        profile, wall, cpu = _timed(lambda: ReconstructionProfile.fit(dict(reference.items()), kinds))  # noqa: B023
        keep("infersight", "  of which the PCA fit alone", wall, cpu)
        state = profile.new_state()
        _, wall, cpu = _timed(lambda: state.update(  # noqa: B023
            profile.errors(frames["unchanged"], rows), profile.edges))  # noqa: B023
        keep("infersight", "  reconstruction errors alone, unchanged", wall, cpu)
        for name, frame in frames.items():
            window = ref.new_window()
            _, wall, cpu = _timed(lambda: window.update(frame))  # noqa: B023
            keep("infersight", f"window update, {name}", wall, cpu)
            model = compare(ref, window).model
            decisions["infersight"][name] = (
                f"drift={model['multivariate_drift'] == 1.0} "
                f"(z {model['reconstruction_error_drift']:.1f}, error "
                f"{model['reconstruction_error']:.3f} vs {ref.multivariate.reference_mean:.3f})")
    try:
        import nannyml
    except Exception as error:  # the project's own venv: NannyML is not installed there
        print(f"skipping NannyML: it does not import here ({type(error).__name__}: {error})")
    else:
        columns = list(reference.columns)
        for _ in range(repeat):
            calculator = nannyml.DataReconstructionDriftCalculator(column_names=columns)
            _, wall, cpu = _timed(lambda: calculator.fit(reference))  # noqa: B023
            keep("NannyML", "fit", wall, cpu)
            for name, frame in frames.items():
                result, wall, cpu = _timed(
                    lambda: calculator.calculate(frame).filter(period="analysis").to_df())  # noqa: B023
                keep("NannyML", f"calculate, {name}", wall, cpu)
                alerts = result[("reconstruction_error", "alert")]
                decisions["NannyML"][name] = (
                    f"drift={bool(alerts.any())} ({int(alerts.sum())} of {len(alerts)} chunks)")
    for tool, steps in timings.items():
        for step, (wall, cpu) in steps.items():
            print(f"{tool:<11} {step:<42} {wall:8.3f} s wall {cpu:8.3f} s cpu")
    ours = sum(wall for step, (wall, _) in timings["infersight"].items()
               if not step.startswith("  "))
    theirs = sum(wall for wall, _ in timings["NannyML"].values())
    if theirs:
        print(f"whole run (fit + both frames): infersight {ours:.2f} s (every univariate statistic "
              f"too), NannyML {theirs:.2f} s (reconstruction error only), {theirs / ours:.1f}x")
        alone = timings["infersight"]
        mv = alone["  of which the PCA fit alone"][0] + \
            2 * alone["  reconstruction errors alone, unchanged"][0]
        print(f"multivariate alone (fit + both frames): infersight {mv:.2f} s, "
              f"{theirs / mv:.1f}x")
    for tool, by_frame in decisions.items():
        for name, decision in by_frame.items():
            print(f"{tool:<11} {name:<20} {decision}")
    return 0


# -- embeddings --------------------------------------------------------------------------------

EMBEDDING_DIM = 384
EMBEDDING_BATCH = 1_000
"""Vectors per window update, as the worker's batches bring them."""
TOPIC_MIX = (0.4, 0.3, 0.2, 0.1)


def make_topic_vectors(rows: int, seed: int, mix: tuple[float, ...] = TOPIC_MIX,
                       dim: int = EMBEDDING_DIM) -> np.ndarray:
    """Sentence-embedding-like unit vectors: one of four topic centres plus noise."""
    centres = np.random.default_rng(99).normal(size=(4, dim))
    rng = np.random.default_rng(seed)
    vectors = centres[rng.choice(4, rows, p=list(mix))] + 0.8 * rng.normal(size=(rows, dim))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _scipy_embedding_drift(reference: np.ndarray, current: np.ndarray) -> tuple[bool, float]:
    """The plain baseline: scikit-learn PCA (16 components) of the reference, scipy's KS per
    component, Benjamini-Hochberg, drift when an adjusted p-value is below 0.001."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=16, random_state=0).fit(reference)
    ref, cur = pca.transform(reference), pca.transform(current)
    pvalues = [stats.ks_2samp(ref[:, k], cur[:, k]).pvalue for k in range(16)]
    adjusted = stats.false_discovery_control(pvalues, method="bh")
    return bool(adjusted.min() < 0.001), float(np.mean(adjusted < 0.05))


MMD_ROWS = 5_000
MMD_LABEL = f"mmd (first {MMD_ROWS:,} rows of each frame)"
"""Evidently's MMD builds the full (reference + current)^2 kernel: 298 GiB at 100k + 100k."""


def run_embedding(rows: int, repeat: int, seed: int) -> int:
    """100k x 384-dimension vectors: infersight's embedding state (profile fit, window
    update, metrics) beside Evidently's embedding drift methods and a numpy/scikit-learn/scipy
    baseline, with each one's decision on a shifted topic mix and an unchanged frame."""
    from infersight.drift.embedding import EmbeddingProfile

    reference = make_topic_vectors(rows, seed)
    frames = {"topic mix shifted": make_topic_vectors(rows, seed + 1, (0.3, 0.3, 0.25, 0.15)),
              "unchanged": make_topic_vectors(rows, seed + 2)}
    print(f"# embedding drift: {rows:,} reference vs {rows:,} current vectors x "
          f"{EMBEDDING_DIM} dimensions (4 topics; the shift moves 10 points of the mix); "
          f"best of {repeat}")
    timings: dict[str, dict[str, tuple[float, float]]] = {}
    decisions: dict[str, dict[str, str]] = {}

    def keep(tool: str, step: str, wall: float, cpu: float) -> None:
        if wall < timings.setdefault(tool, {}).get(step, (math.inf, 0.0))[0]:
            timings[tool][step] = (wall, cpu)

    state_bytes = 0
    for _ in range(repeat):
        profile, wall, cpu = _timed(lambda: EmbeddingProfile.fit(reference))
        keep("infersight", "profile fit", wall, cpu)
        for name, frame in frames.items():
            state = profile.new_state()
            batches = np.array_split(frame, max(1, rows // EMBEDDING_BATCH))
            _, wall, cpu = _timed(lambda: [state.update(b, profile) for b in batches])  # noqa: B023
            keep("infersight", f"window update, {name}", wall, cpu)
            metrics, wall, cpu = _timed(lambda: profile.metrics(state))  # noqa: B023
            keep("infersight", f"metrics, {name}", wall, cpu)
            decisions.setdefault("infersight", {})[name] = (
                f"drift={metrics['embedding_drift'] == 1.0} (drifted components "
                f"{metrics['embedding_drifted_components']:.2f}, mean distance "
                f"{metrics['embedding_mean_distance']:.4f})")
            state_bytes = len(msgspec.msgpack.encode(state.to_dict()))
        for name, frame in frames.items():
            (drifted, share), wall, cpu = _timed(
                lambda: _scipy_embedding_drift(reference, frame))  # noqa: B023
            keep("numpy/scikit-learn/scipy", f"PCA + KS per component, {name}", wall, cpu)
            decisions.setdefault("numpy/scikit-learn/scipy", {})[name] = (
                f"drift={drifted} (drifted components {share:.2f})")
    try:
        from evidently.legacy.metrics.data_drift import embedding_drift_methods as evidently
    except Exception as error:  # the project's own venv: Evidently is not installed there
        print(f"skipping Evidently: it does not import here ({type(error).__name__}: {error})")
    else:
        ref_frame = pd.DataFrame(reference)
        methods = {"model (default)": evidently.model(), "ratio": evidently.ratio(),
                   "distance": evidently.distance(), MMD_LABEL: evidently.mmd()}
        for _ in range(repeat):
            for method_name, method in methods.items():
                rows_used = MMD_ROWS if method_name == MMD_LABEL else rows
                for name, frame in frames.items():
                    # fresh frames each call: the domain classifier adds a target column
                    current = pd.DataFrame(frame[:rows_used])
                    ref_copy = ref_frame.iloc[:rows_used].copy()
                    (score, drifted, _label), wall, cpu = _timed(
                        lambda: method(current, ref_copy))  # noqa: B023
                    keep("Evidently", f"{method_name}, {name}", wall, cpu)
                    decisions.setdefault("Evidently", {})[f"{method_name}, {name}"] = (
                        f"drift={bool(drifted)} (score {float(score):.3f})")
    for tool, steps in timings.items():
        for step, (wall, cpu) in steps.items():
            print(f"{tool:<25} {step:<45} {wall:8.3f} s wall {cpu:8.3f} s cpu")
    ours = timings["infersight"]
    update_cpu = min(cpu for step, (_w, cpu) in ours.items() if step.startswith("window"))
    rate = rows * EMBEDDING_DIM / update_cpu
    whole = sum(wall for _step, (wall, _c) in ours.items())
    baseline = sum(wall for wall, _c in timings["numpy/scikit-learn/scipy"].values())
    print(f"whole run (fit, both frames): infersight {whole:.2f} s, numpy/scikit-learn/scipy "
          f"{baseline:.2f} s ({baseline / whole:.1f}x)")
    if "Evidently" in timings:
        default = sum(wall for step, (wall, _c) in timings["Evidently"].items()
                      if step.startswith("model"))
        print(f"Evidently's default (domain classifier), both frames: {default:.2f} s "
              f"({default / whole:.1f}x infersight's whole run)")
    for tool, by_frame in decisions.items():
        for name, decision in by_frame.items():
            print(f"{tool:<25} {name:<35} {decision}")
    print("\n## Targets\n")
    print(f"{'window update >= 1M vector components/s/core':48} "
          f"{'met' if rate >= 1e6 else 'MISSED':8} {rate / 1e6:.1f} M/s")
    print(f"{'window state of a 384-dim embedding <= 64 KB':48} "
          f"{'met' if state_bytes <= 64 * 1024 else 'MISSED':8} {state_bytes / 1024:.1f} KB")
    return 0


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in each of the two frames")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the best is kept")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--part", choices=("univariate", "multivariate", "embedding"),
                        default="univariate")
    args = parser.parse_args(argv)
    if args.part == "multivariate":
        return run_multivariate(args.rows, args.repeat, args.seed)
    if args.part == "embedding":
        return run_embedding(args.rows, args.repeat, args.seed)

    reference, current, truth = make_data(args.rows, args.seed)
    print(
        f"# {args.rows:,} reference rows vs {args.rows:,} current rows x {len(truth)} features"
        f" ({N_NUMERIC} numeric, {N_CATEGORICAL} categorical); {sum(truth.values())} drifted;"
        f" python {sys.version.split()[0]}, pandas {pd.__version__}, numpy {np.__version__},"
        f" {os.cpu_count()} CPUs; best of {args.repeat}"
    )

    results: dict[str, ToolResult] = {
        "infersight": run_infersight(reference, current, args.repeat),
    }
    peers: list[tuple[str, Callable[..., ToolResult]]] = [
        ("evidently", run_evidently),
        ("nannyml", run_nannyml),
    ]
    for key, runner in peers:
        try:
            __import__(key)
        except Exception as error:
            print(f"skipping {key}: it does not import here ({type(error).__name__}: {error})")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[key] = runner(reference, current, args.repeat)
    results["scipy"] = run_scipy(reference, current, args.repeat)

    ordered = list(results.values())
    print_timings(ordered, args.rows, len(truth))
    print_decisions(ordered, truth)
    print_values(results)
    print_targets(results, truth, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
