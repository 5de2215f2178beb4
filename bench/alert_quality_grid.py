"""The alert-quality scenario grid and the one table both alert benches print.

``quiet_scenarios`` are streams with no change at all (false alarms per 1,000 windows);
``change_scenarios`` change at window ``AT`` (detection delay: the number of changed windows
seen when a rule first fires, so ``+2`` is the second changed window). A cell of a change
scenario is the median over the seeds, with how many seeds caught it:
``+2 (5/5)``; ``never`` when the median seed did not catch it within the stream. A column
whose watched aspect did not change in the scenario (a drift rule on a label-only change)
says ``quiet`` or ``false 1/3`` (fired after the change in 1 of 3 runs); a firing before the
change is counted apart (``false alarms before the change`` line).

>>> len(quiet_scenarios(quick=True)) < len(quiet_scenarios(quick=False))
True
>>> delay_cell([[12], [11], []], at=10)
'+3 (2/3)'
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from alert_quality_streams import Aspect, Change, Profile, Scenario

AT = 4
AFTER = 20
RAMP = 10

F1_DROPS = (0.01, 0.02, 0.025, 0.03, 0.05)
MAE_INCREASES = (0.05, 0.10, 0.25)


def quiet_scenarios(quick: bool) -> list[Scenario]:
    """No change at all: every firing is a false alarm."""
    grid: list[tuple[Profile, int, int, int]]
    if quick:
        grid = [("weak", 60, 10, 100), ("weak", 500, 10, 100), ("strong", 1000, 10, 100),
                ("regression", 1000, 10, 100), ("weak", 500, 100, 30)]
    else:
        profiles: tuple[Profile, ...] = ("weak", "strong", "regression")
        grid = [(p, rows, n, 150) for p in profiles for rows in (60, 500, 5000) for n in (5, 10)]
        grid += [("weak", 500, 100, 100), ("strong", 5000, 100, 30), ("strong", 50_000, 10, 30),
                 ("regression", 50_000, 5, 30)]
    return [Scenario(f"{profile}, {rows:,} rows, {n} features", profile, rows, n,
                     windows=windows) for profile, rows, n, windows in grid]


def _label_drops(profile: Profile, quick: bool) -> list[Scenario]:
    sizes = (0.025, 0.05) if quick or profile == "weak" else F1_DROPS
    rows = (1000,) if quick else (1000, 5000)
    out = [Scenario(f"{profile}: F1 -{d * 100:g} pts, {n:,} rows", profile, n,
                    windows=AT + AFTER, change=Change("labels", d, AT),
                    tags=("f1_2.5",) if d == 0.025 and profile == "strong" else ())
           for n in rows for d in sizes]
    if not quick and profile == "strong":
        out += [Scenario(f"{profile}: F1 -{d * 100:g} pts over {RAMP} windows, 1,000 rows",
                         profile, 1000, windows=AT + AFTER,
                         change=Change("labels", d, AT, ramp=RAMP))
                for d in (0.025, 0.05)]
    return out


def _error_increases(quick: bool) -> list[Scenario]:
    sizes = (0.10, 0.25) if quick else MAE_INCREASES
    rows = (1000,) if quick else (1000, 5000)
    out = [Scenario(f"regression: MAE +{d:.0%}, {n:,} rows", "regression", n,
                    windows=AT + AFTER, change=Change("errors", d, AT))
           for n in rows for d in sizes]
    if not quick:
        out += [Scenario(f"regression: MAE +{d:.0%} over {RAMP} windows, 1,000 rows",
                         "regression", 1000, windows=AT + AFTER,
                         change=Change("errors", d, AT, ramp=RAMP))
                for d in (0.10, 0.25)]
    return out


def _drifts(profile: Profile, quick: bool) -> list[Scenario]:
    drop = 0.25 if profile == "regression" else 0.03
    what = f"MAE +{drop:.0%}" if profile == "regression" else f"F1 -{drop * 100:g} pts"
    out = [Scenario(f"{profile}: 4/10 nuisance features +0.5 sd, {what}, 500 rows",
                    profile, 500, windows=AT + AFTER,
                    change=Change("drift", 0.5, AT, drifting=4, signal=False, drop=drop),
                    tags=("drift_4of10",))]
    if quick:
        return out
    out += [
        Scenario(f"{profile}: 4/10 nuisance features +0.5 sd, no drop, 500 rows",
                 profile, 500, windows=AT + AFTER,
                 change=Change("drift", 0.5, AT, drifting=4, signal=False)),
        Scenario(f"{profile}: 4/10 nuisance +0.5 sd over {RAMP} windows, {what}, 500 rows",
                 profile, 500, windows=AT + AFTER,
                 change=Change("drift", 0.5, AT, ramp=RAMP, drifting=4, signal=False,
                               drop=drop)),
        Scenario(f"{profile}: 2/10 nuisance features +0.5 sd, {what}, 500 rows",
                 profile, 500, windows=AT + AFTER,
                 change=Change("drift", 0.5, AT, drifting=2, signal=False, drop=drop)),
    ]
    if profile != "regression":
        out.append(Scenario(f"{profile}: 4/10 signal features -0.5 sd (scores move), 500 rows",
                            profile, 500, windows=AT + AFTER,
                            change=Change("drift", 0.5, AT, drifting=4, signal=True)))
    return out


def change_scenarios(quick: bool) -> list[Scenario]:
    """Abrupt and gradual changes of stated size, starting at window ``AT``."""
    return [*_label_drops("strong", quick), *_label_drops("weak", quick),
            *_error_increases(quick), *_drifts("strong", quick), *_drifts("weak", quick),
            *_drifts("regression", quick)]


# -- the table ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One scenario's outcome: per column, the firing windows of each seed's run."""

    scenario: Scenario
    firings: dict[str, list[list[int]]]
    """column → one list of firing window indices per seed (missing: does not apply)."""
    extra: Mapping[str, str]
    """Printed after the rule columns (e.g. the metric's standard error and the change)."""


def false_alarm_cell(runs: Sequence[Sequence[int]], windows: int) -> str:
    """Firings per 1,000 windows over all runs of an unchanged stream."""
    total = sum(len(r) for r in runs)
    return f"{1000 * total / (windows * len(runs)):.1f}/1k"


def delays(runs: Iterable[Sequence[int]], at: int) -> list[float]:
    """Per run: changed windows seen at the first firing at or after ``at`` (inf: none)."""
    out = []
    for run in runs:
        after = [i for i in run if i >= at]
        out.append(float(after[0] - at + 1) if after else float("inf"))
    return out


def delay_cell(runs: Sequence[Sequence[int]], at: int) -> str:
    found = delays(runs, at)
    median = statistics.median_low(found)
    caught = sum(d != float("inf") for d in found)
    text = "never" if median == float("inf") else f"+{median:.0f}"
    return f"{text} ({caught}/{len(found)})"


def unchanged_cell(runs: Sequence[Sequence[int]], at: int) -> str:
    """A column whose target did not change: how many runs fired after the change anyway.

    >>> unchanged_cell([[12], [], []], at=10)
    'false 1/3'
    """
    fired = sum(any(i >= at for i in run) for run in runs)
    return f"false {fired}/{len(runs)}" if fired else "quiet"


def cells(row: Row, columns: Mapping[str, Aspect]) -> list[str]:
    """The row's cell per column; ``columns`` maps a column to what it watches."""
    scenario, out = row.scenario, []
    for column, aspect in columns.items():
        runs = row.firings.get(column)
        if runs is None:
            out.append("—")
        elif scenario.change is None:
            out.append(false_alarm_cell(runs, scenario.windows))
        elif aspect not in scenario.change.changed:
            out.append(unchanged_cell(runs, scenario.change.at))
        else:
            out.append(delay_cell(runs, scenario.change.at))
    return out


def false_before_change(rows: Iterable[Row]) -> list[str]:
    """``scenario / column: n`` for every firing before a scenario's change."""
    notes = []
    for row in rows:
        if row.scenario.change is None:
            continue
        for column, runs in row.firings.items():
            early = sum(1 for run in runs for i in run if i < row.scenario.change.at)
            if early:
                notes.append(f"{row.scenario.name} / {column}: {early}")
    return notes


def print_table(title: str, rows: Sequence[Row], columns: Mapping[str, Aspect],
                extra: Sequence[str] = ()) -> None:
    """One markdown table: scenario by column, then the extra columns. A column watches one
    aspect of the stream (``columns[name]``); where that aspect did not change, its cell says
    whether it fired anyway (``false 1/3``: in 1 of 3 runs) instead of a delay."""
    print(f"\n### {title}\n")
    print("| scenario | " + " | ".join([*columns, *extra]) + " |")
    print("|---" * (1 + len(columns) + len(extra)) + "|")
    for row in rows:
        values = [*cells(row, columns), *(row.extra.get(e, "") for e in extra)]
        print(f"| {row.scenario.name} | " + " | ".join(values) + " |")
    early = false_before_change(rows)
    print(f"\nfalse alarms before the change (windows 0-{AT - 1}, all seeds): "
          + ("; ".join(early) if early else "none"))
