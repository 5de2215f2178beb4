"""``missing_rate_increase``: the built-in's one-sided two-proportion test, from the points
``compare`` writes to the verdict the significance machinery gives (``pool``): its exact
false-alarm rate over the binomial, and unchanged against jumped windows simulated through
the window state."""

from __future__ import annotations

import numpy as np
import pytest
from infersight.alerts.builtin import builtin_rules
from infersight.alerts.pooling import Observation, pool
from infersight.drift import Reference, compare
from infersight.drift.quality import missing_rate_points
from scipy import stats

RULE = next(r for r in builtin_rules() if r.name == "missing_rate_increase")


def breaches(value: float, points: dict[str, float], rows: int) -> bool:
    """The rule's verdict on one window (as ``alerts.evaluation`` gives it, one horizon)."""
    if rows < RULE.min_samples:
        return False
    baseline = points["reference_missing_rate"]
    limit = RULE.threshold.resolve(baseline)
    assert limit is not None
    evidence = pool([Observation(value=value, stderr=points["missing_rate_stderr"], limit=limit,
                                 baseline=baseline,
                                 baseline_stderr=points["reference_missing_rate_stderr"])],
                    worse=RULE.worse)
    return evidence.value > evidence.limit and evidence.z >= (RULE.critical_z or 0.0)


def exact_false_alarm_rate(rate: float, rows: int, reference_rows: int) -> float:
    """P(breach) for a window whose rows go missing at the reference's own rate."""
    reference_missing = round(rate * reference_rows)
    q = reference_missing / reference_rows
    firing = [k for k in range(rows + 1)
              if breaches(k / rows, missing_rate_points(k, rows, reference_missing,
                                                        reference_rows), rows)]
    return float(stats.binom.pmf(firing, rows, q).sum()) if firing else 0.0


def unconditional_false_alarm_rate(rate: float, rows: int, reference_rows: int) -> float:
    """P(breach) over the reference's sampling too: a small reference's missing count is
    itself a binomial draw (one that happens to be low makes every window look worse)."""
    total = 0.0
    for x in range(reference_rows + 1):
        q = x / reference_rows
        firing = [k for k in range(rows + 1) if k / rows > q + 0.05 and breaches(
            k / rows, missing_rate_points(k, rows, x, reference_rows), rows)]
        if firing:
            total += float(stats.binom.pmf(x, reference_rows, rate)
                           * stats.binom.pmf(firing, rows, rate).sum())
    return total


def test_the_rule_is_the_documented_test() -> None:
    assert (RULE.metric, RULE.op, str(RULE.threshold), RULE.baseline) == (
        "missing_rate", ">", "reference + 0.05", "window")
    assert RULE.reference_metric_name == "reference_missing_rate"
    assert RULE.significance == 0.001 and RULE.evidence_windows == [1]
    assert RULE.min_samples == 500 and RULE.feature == "any"


def test_exact_false_alarm_rate_is_about_one_in_a_thousand_at_worst() -> None:
    rates = np.linspace(0.0, 0.95, 96)
    worst = {rows: max(exact_false_alarm_rate(float(q), rows, 20_000) for q in rates)
             for rows in (500, 1000)}
    # discreteness of the binomial lifts the worst case a hair over the level (1.01e-3 near
    # a 48 % missing rate at 500 rows); where the minimum effect decides it is far below
    assert worst[500] <= 1.05e-3 and worst[1000] <= 1.0e-3
    assert exact_false_alarm_rate(0.01, 500, 20_000) < 1e-12
    assert exact_false_alarm_rate(0.5, 500, 20_000) > 1e-4  # the test can fire by chance


def test_a_small_reference_keeps_the_bound_over_its_own_sampling() -> None:
    worst = max(unconditional_false_alarm_rate(float(q), 500, 50)
                for q in (0.02, 0.06, 0.1, 0.3, 0.5, 0.6))
    assert worst <= 1.15e-3  # 1.11e-3 at worst near 60 % (3.6e-2 without the pooled rate)


def test_plain_wald_errors_would_break_the_bound_near_a_full_missing_rate() -> None:
    """Why the window's error is taken at the larger variance: with the window's own rate
    only, a feature missing 80 % of the time would alarm twice as often as the level."""
    rows, reference_rows, q = 500, 20_000, 0.8
    firing = 0.0
    for k in range(rows + 1):
        p = k / rows
        wald = {"reference_missing_rate": q, "missing_rate_stderr": (p * (1 - p) / rows) ** 0.5,
                "reference_missing_rate_stderr": (q * (1 - q) / reference_rows) ** 0.5}
        if breaches(p, wald, rows):
            firing += float(stats.binom.pmf(k, rows, q))
    assert firing > 1.5e-3
    assert exact_false_alarm_rate(q, rows, reference_rows) <= 1e-3


def column(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    values = rng.normal(size=n)
    values[rng.uniform(size=n) < rate] = np.nan
    return values


@pytest.mark.parametrize("rate, windows, expected", [(0.01, 2000, 0), (0.10, 200, 200)])
def test_unchanged_one_percent_never_fires_and_a_jump_to_ten_percent_always_does(
        rate: float, windows: int, expected: int) -> None:
    rng = np.random.default_rng(21)
    reference_frame = {"income": column(rng, 20_000, 0.01)}
    ref = Reference.from_data(reference_frame)
    fired = 0
    for _ in range(windows):
        state = ref.new_window()
        frame = {"income": column(rng, 500, rate)}
        state.update(frame)
        metrics = compare(ref, state).features["income"]
        # the rates are pandas' own counts of the same data
        assert metrics["missing_rate"] == float(np.isnan(frame["income"]).mean())
        assert metrics["reference_missing_rate"] == float(
            np.isnan(reference_frame["income"]).mean())
        fired += breaches(metrics["missing_rate"], metrics, int(metrics["count"]))
    assert fired == expected
