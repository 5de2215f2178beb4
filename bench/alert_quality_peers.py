"""NannyML's and Evidently's default decisions on the streams of ``bench/alert_quality.py``.

The same scenarios, seeds and windows (``bench/alert_quality_grid.py``,
``bench/alert_quality_streams.py``): each window is one NannyML chunk (``chunk_size`` = the
window's rows, the reference chunked the same way) and one Evidently current dataset. Printed
in the same table shape: firing events per 1,000 unchanged windows, and the detection delay in
windows (median over the seeds). A firing event is the first alerting window of a run of
alerting windows (as an infersight alert fires once and resolves when a window is fine again).

What runs, with each tool's defaults (read from their source, versions in
``bench/requirements-peers.txt``):

NannyML 0.13.1 (every threshold: ``StandardDeviationThreshold()``, the mean ± 3 standard
deviations of the metric over the reference chunks; univariate drift: upper side only)

- ``nml_cbpe_f1``: ``CBPE(metrics=["f1"])``, estimated F1 outside the band of the reference
  chunks' realised F1 (binary models);
- ``nml_realised_f1`` / ``nml_mae``, ``nml_rmse``, ``nml_mape``: ``PerformanceCalculator``;
- ``nml_univariate``: ``UnivariateDriftCalculator`` (default method ``jensen_shannon`` for
  continuous columns), firing when any feature alerts (NannyML alerts per feature);
- ``nml_reconstruction``: ``DataReconstructionDriftCalculator`` (PCA keeping 65 % of the
  variance), its reconstruction error above the band.

Evidently 0.7.23

- ``ev_dataset_drift``: ``DataDriftPreset``'s decision, the share of drifted columns ≥
  ``drift_share`` (0.5, its test ``Share of Drifted Columns: Less 0.500``), each column tested
  with the stat test Evidently picks by default (``get_stattest``: with a reference of more than
  1,000 rows, Wasserstein distance normed by the reference's standard deviation ≥ 0.1). The
  per-column test is Evidently's own function, called directly: a ``Report`` takes ~2 s a
  window here, too slow for thousands of windows; ``--check-report`` runs the full ``Report``
  on a few windows and asserts that it decides the same;
- ``ev_f1`` / ``ev_mae``, ``ev_rmse``, ``ev_mape``: the default test conditions of its metrics
  with a reference (``F1Score``: ``eq(Reference(relative=0.2))``; ``MAE``, ``RMSE``,
  ``MAPE``: ``eq(Reference(relative=0.1))``): the window's value more than 20 % (10 %) away
  from the reference's, either side; the metric computed as Evidently does (scikit-learn).

Not run: NannyML's DLE (estimated regression performance; it trains a LightGBM model per
metric) and its multivariate domain classifier; Evidently's prediction drift (the same
column test on the prediction) — the infersight table has ``prediction_drift`` for that.

The peers pin their own pandas/numpy, so they live in their own venv (gitignored)::

    python3.11 -m venv bench/.venv-peers
    bench/.venv-peers/bin/pip install -r bench/requirements-peers.txt
    bench/.venv-peers/bin/python bench/alert_quality_peers.py --seeds 1 --quiet-windows 50
    bench/.venv-peers/bin/python bench/alert_quality_peers.py --quick --check-report

The first (the full grid's scenarios, one seed, unchanged streams cut to 50 windows) took
16 CPU minutes here (25 minutes wall at load 6); the peers cost ~0.5 s a window, so the full
grid with 3 seeds and 150-window unchanged streams would take over an hour.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML's

import numpy as np
import pandas as pd
from alert_quality_grid import Row, change_scenarios, print_table, quiet_scenarios
from alert_quality_streams import (
    Aspect,
    Sample,
    Scenario,
    feature_names,
    reference_sample,
    stream,
)

#: Each peer decision and what it watches (as in ``bench/alert_quality.py``).
COLUMNS: dict[str, Aspect] = {
    "nml_univariate": "inputs", "nml_reconstruction": "inputs", "nml_cbpe_f1": "outputs",
    "nml_realised_f1": "performance", "nml_mae": "performance", "nml_rmse": "performance",
    "nml_mape": "performance", "ev_dataset_drift": "inputs", "ev_f1": "performance",
    "ev_mae": "performance", "ev_rmse": "performance", "ev_mape": "performance",
}
CLASSIFICATION_ONLY = {"nml_cbpe_f1", "nml_realised_f1", "ev_f1"}
REGRESSION_ONLY = {"nml_mae", "nml_rmse", "nml_mape", "ev_mae", "ev_rmse", "ev_mape"}


def frame(sample: Sample) -> pd.DataFrame:
    """One window (or the reference) as the peers read it."""
    data = pd.DataFrame(sample.x, columns=feature_names(sample.x.shape[1]))
    data["y"] = sample.y
    data["score"] = sample.prediction
    data["pred"] = (sample.prediction >= 0.5).astype(int)
    return data


def onsets(alerts: list[bool]) -> list[int]:
    """Windows where a run of alerting windows starts (one firing event each).

    >>> onsets([False, True, True, False, True])
    [1, 4]
    """
    return [i for i, a in enumerate(alerts) if a and (i == 0 or not alerts[i - 1])]


# -- NannyML -----------------------------------------------------------------------------------


def _chunk_alerts(result: object, column: tuple[str, ...]) -> list[bool]:
    table = result.filter(period="analysis").to_df()  # type: ignore[attr-defined]
    return [bool(v) for v in table[column].fillna(False)]


def nannyml_decisions(scenario: Scenario, reference: pd.DataFrame,
                      analysis: pd.DataFrame) -> dict[str, list[bool]]:
    """Per window, whether each NannyML default calculator alerts."""
    import nannyml as nml

    names = feature_names(scenario.features)
    size = scenario.rows
    out: dict[str, list[bool]] = {}
    univariate = nml.UnivariateDriftCalculator(column_names=names, chunk_size=size)
    result = univariate.fit(reference).calculate(analysis)
    per_feature = [_chunk_alerts(result, (name, "jensen_shannon", "alert")) for name in names]
    out["nml_univariate"] = [any(a) for a in zip(*per_feature, strict=True)]
    reconstruction = nml.DataReconstructionDriftCalculator(column_names=names, chunk_size=size)
    result = reconstruction.fit(reference).calculate(analysis)
    out["nml_reconstruction"] = _chunk_alerts(result, ("reconstruction_error", "alert"))
    if scenario.task == "regression":
        calculator = nml.PerformanceCalculator(y_pred="score", y_true="y", chunk_size=size,
                                               metrics=["mae", "rmse", "mape"],
                                               problem_type="regression")
        result = calculator.fit(reference).calculate(analysis)
        for metric in ("mae", "rmse", "mape"):
            out[f"nml_{metric}"] = _chunk_alerts(result, (metric, "alert"))
        return out
    cbpe = nml.CBPE(y_pred_proba="score", y_pred="pred", y_true="y", metrics=["f1"],
                    chunk_size=size, problem_type="classification_binary")
    out["nml_cbpe_f1"] = _chunk_alerts(cbpe.fit(reference).estimate(analysis), ("f1", "alert"))
    calculator = nml.PerformanceCalculator(y_pred_proba="score", y_pred="pred", y_true="y",
                                           metrics=["f1"], chunk_size=size,
                                           problem_type="classification_binary")
    result = calculator.fit(reference).calculate(analysis)
    out["nml_realised_f1"] = _chunk_alerts(result, ("f1", "alert"))
    return out


# -- Evidently ---------------------------------------------------------------------------------


def _column_drifted(reference: pd.Series, current: pd.Series) -> bool:
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    test = get_stattest(reference, current, ColumnType.Numerical, None)
    return bool(test(reference, current, ColumnType.Numerical, None).drifted)


def _dataset_drift_share() -> float:
    from evidently.presets import DataDriftPreset

    return float(DataDriftPreset().drift_share)


def evidently_dataset_drift(reference: pd.DataFrame, window: pd.DataFrame,
                            names: list[str]) -> bool:
    """DataDriftPreset's decision: the share of drifted columns reaches ``drift_share``."""
    drifted = sum(_column_drifted(reference[n], window[n]) for n in names)
    return drifted / len(names) >= _dataset_drift_share()


def _metrics(task: str) -> dict[str, tuple[Callable[[pd.DataFrame], float], float]]:
    """Evidently's metric name → (value of a window, relative tolerance of its default test)."""
    from sklearn.metrics import (
        f1_score,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_error,
    )

    if task != "regression":
        return {"ev_f1": (lambda d: f1_score(d["y"], d["pred"]), 0.2)}
    return {
        "ev_mae": (lambda d: mean_absolute_error(d["y"], d["score"]), 0.1),
        "ev_rmse": (lambda d: float(np.sqrt(mean_squared_error(d["y"], d["score"]))), 0.1),
        "ev_mape": (lambda d: mean_absolute_percentage_error(d["y"], d["score"]), 0.1),
    }


def evidently_decisions(scenario: Scenario, reference: pd.DataFrame,
                        windows: list[pd.DataFrame]) -> dict[str, list[bool]]:
    """Per window, whether each Evidently default test fails."""
    names = feature_names(scenario.features)
    out = {"ev_dataset_drift": [evidently_dataset_drift(reference, w, names) for w in windows]}
    for column, (value, relative) in _metrics(scenario.task).items():
        expected = value(reference)
        out[column] = [abs(value(w) - expected) > relative * abs(expected) for w in windows]
    return out


def check_report(scenario: Scenario, seed: int, windows: int = 3) -> None:
    """Assert that the full Evidently ``Report`` decides dataset drift as this bench does."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    names = feature_names(scenario.features)
    definition = DataDefinition(numerical_columns=names)
    reference = frame(reference_sample(scenario, seed))[names]
    report = Report([DataDriftPreset(columns=names)], include_tests=True)
    for sample in list(stream(scenario, seed))[-windows:]:
        window = frame(sample)[names]
        snapshot = report.run(Dataset.from_pandas(window, data_definition=definition),
                              Dataset.from_pandas(reference, data_definition=definition))
        share_test = next(t for t in snapshot.dict()["tests"] if t["id"] == "lt")
        assert (share_test["status"] == "FAIL") == evidently_dataset_drift(reference, window,
                                                                           names), scenario.name
    print(f"Evidently Report agrees with the direct decision: {scenario.name}, "
          f"last {windows} windows")


# -- one table ---------------------------------------------------------------------------------


def applies(scenario: Scenario, column: str) -> bool:
    if column in CLASSIFICATION_ONLY:
        return scenario.task != "regression"
    if column in REGRESSION_ONLY:
        return scenario.task == "regression"
    return True


def run(scenario: Scenario, seed: int) -> dict[str, list[int]]:
    """Firing windows of every peer decision on one seeded run of the scenario."""
    reference = frame(reference_sample(scenario, seed))
    windows = [frame(sample) for sample in stream(scenario, seed)]
    analysis = pd.concat(windows, ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decisions = {**nannyml_decisions(scenario, reference, analysis),
                     **evidently_decisions(scenario, reference, windows)}
    for column, alerts in decisions.items():
        assert len(alerts) == scenario.windows, (column, len(alerts))
    return {column: onsets(alerts) for column, alerts in decisions.items()}


def measure(scenario: Scenario, seeds: list[int]) -> Row:
    started = time.perf_counter()
    runs = [run(scenario, seed) for seed in seeds]
    print(f"{scenario.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    firings = {c: [r.get(c, []) for r in runs] for c in COLUMNS if applies(scenario, c)}
    return Row(scenario, firings, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grid, one seed")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per change scenario (default 3, quick 1)")
    parser.add_argument("--quiet-windows", type=int, default=None,
                        help="windows per unchanged stream (default: the grid's)")
    parser.add_argument("--check-report", action="store_true",
                        help="also run Evidently's full Report on a few windows")
    args = parser.parse_args()
    seeds = list(range(1, 1 + (args.seeds or (1 if args.quick else 3))))
    started = time.perf_counter()
    quiet = [measure(replace(s, windows=min(s.windows, args.quiet_windows or s.windows)), [1])
             for s in quiet_scenarios(args.quick)]
    changed = [measure(s, seeds) for s in change_scenarios(args.quick)]
    if args.check_report:
        for scenario in (quiet[0].scenario, changed[-1].scenario):
            check_report(scenario, seeds[0])
    windows = sum(r.scenario.windows for r in quiet)
    print_table(f"NannyML and Evidently defaults: false alarms per 1,000 unchanged windows "
                f"({windows:,} windows, seed 1) and detection delay (median of {len(seeds)} "
                "seed(s))", [*quiet, *changed], COLUMNS)
    print(f"\n{time.perf_counter() - started:.0f} s wall, "
          f"{time.process_time():.0f} s CPU in the main process")


if __name__ == "__main__":
    main()
