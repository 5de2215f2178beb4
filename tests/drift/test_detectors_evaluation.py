"""The evaluation helper: delays, false alarms, repeated alarms and missed drifts on known streams."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from infersight.drift.detectors import (
    ADWIN,
    DDM,
    PageHinkley,
    alarm_positions,
    evaluate,
    match_alarms,
)
from river import drift as river_drift


class ScriptedDetector:
    """Raises its drift flag exactly at the given positions (a detector with a known answer)."""

    def __init__(self, alarms: set[int]) -> None:
        self._alarms = alarms
        self._position = -1
        self.drift_detected = False

    def update(self, x: Any) -> ScriptedDetector:
        self._position += 1
        self.drift_detected = self._position in self._alarms
        return self


def test_scripted_alarms_are_sorted_into_detections_false_repeats_and_misses() -> None:
    # Change points at 1000, 2000, 3000 in a stream of 4000; a detection may lag by 200 at most.
    scripted = {10, 1000, 1150, 1199, 1201, 2200, 2201, 3999}
    report = evaluate(
        lambda: ScriptedDetector(scripted), range(4000), [1000, 2000, 3000], tolerance=200
    )
    assert report.alarms == (10, 1000, 1150, 1199, 1201, 2200, 2201, 3999)
    assert report.detections == (1000, 2200, None)
    assert report.delays == (0, 200, None)  # 2200 is exactly on the edge: it counts
    assert report.repeated_alarms == (1150, 1199)
    assert report.false_alarms == (10, 1201, 2201, 3999)
    assert report.missed_drifts == (3000,)
    assert report.n_detected == 2
    assert report.mean_delay == 100.0
    assert report.detection_rate == pytest.approx(2 / 3)
    assert report.false_alarm_rate(per=1000) == 1.0
    assert report.n_samples == 4000


def test_without_tolerance_a_detection_window_runs_to_the_next_change_point() -> None:
    report = match_alarms([1999, 2000, 2500], [1000, 2000], n_samples=3000)
    assert report.detections == (1999, 2000)  # 1999 still belongs to the first change
    assert report.delays == (999, 0)
    assert report.repeated_alarms == (2500,)
    assert report.false_alarms == ()


def test_a_tolerance_window_is_cut_short_by_the_next_change_point() -> None:
    report = match_alarms([1050, 1120], [1000, 1100], n_samples=2000, tolerance=500)
    assert report.detections == (1050, 1120)
    assert report.repeated_alarms == ()


def test_a_stream_without_change_points_has_only_false_alarms() -> None:
    report = match_alarms([5, 50], [], n_samples=100, tolerance=10)
    assert report.false_alarms == (5, 50)
    assert math.isnan(report.detection_rate) and math.isnan(report.mean_delay)
    data = report.to_dict()
    assert data["mean_delay"] is None and data["detection_rate"] is None
    json.dumps(data, allow_nan=False)


def _stream_with_three_changes(seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    means = [0.0, 2.0, -1.0, 1.0]
    stream = np.concatenate([rng.normal(mean, 1.0, 2000) for mean in means])
    return stream, [2000, 4000, 6000]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evaluate_reports_rivers_alarm_positions_for_the_same_detector(seed: int) -> None:
    stream, changes = _stream_with_three_changes(seed)
    ours = evaluate(ADWIN, stream, changes, tolerance=300)
    # The alarms themselves come from river, the matching is checked against them by hand.
    river_alarms = alarm_positions(river_drift.ADWIN(), stream)
    assert list(ours.alarms) == river_alarms
    for change, detection in zip(changes, ours.detections, strict=True):
        in_window = [a for a in river_alarms if change <= a <= change + 300]
        assert detection == (in_window[0] if in_window else None)
    assert ours.missed_drifts == ()  # shifts of one to three standard deviations are obvious
    assert all(0 <= delay <= 300 for delay in ours.delays if delay is not None)
    assert evaluate(river_drift.ADWIN, stream, changes, tolerance=300) == ours


def test_a_hair_trigger_detector_shows_its_false_alarms() -> None:
    stream, changes = _stream_with_three_changes(4)
    calm = evaluate(PageHinkley, stream, changes, tolerance=300)
    jumpy = evaluate(
        lambda: PageHinkley(threshold=2.0, min_instances=5), stream, changes, tolerance=300
    )
    assert len(jumpy.false_alarms) > len(calm.false_alarms)
    assert jumpy.false_alarms and all(
        not any(c <= a <= c + 300 for c in changes) for a in jumpy.false_alarms
    )


def test_evaluate_accepts_a_generator_stream() -> None:
    rng = np.random.default_rng(3)
    errors = (rng.random(5000) < np.where(np.arange(5000) < 3000, 0.05, 0.5)).astype(int)
    from_list = evaluate(DDM, errors.tolist(), [3000], tolerance=500)
    from_generator = evaluate(DDM, (int(e) for e in errors), [3000], tolerance=500)
    assert from_generator == from_list
    assert from_generator.n_samples == 5000
    assert from_generator.missed_drifts == ()
    assert list(from_generator.alarms) == alarm_positions(river_drift.binary.DDM(), errors)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"change_points": [500, 100]}, "strictly increasing"),
        ({"change_points": [100, 100]}, "strictly increasing"),
        ({"change_points": [-1]}, "non-negative"),
        ({"change_points": [5000]}, "beyond a stream of 1000"),
        ({"change_points": [True]}, "integer positions"),
        ({"change_points": [1.5]}, "integer positions"),
        ({"tolerance": -1}, "tolerance"),
        ({"tolerance": 2.5}, "tolerance"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"change_points": [500], "tolerance": 100, **kwargs}
    with pytest.raises((TypeError, ValueError), match=message):
        evaluate(ADWIN, np.zeros(1000), **arguments)


def test_a_factory_that_does_not_build_a_detector_is_refused() -> None:
    with pytest.raises(TypeError, match="update"):
        evaluate(lambda: 42, [0.0], [])  # type: ignore[arg-type, return-value]


def test_match_alarms_refuses_alarms_out_of_order() -> None:
    with pytest.raises(ValueError, match="alarms must be strictly increasing"):
        match_alarms([10, 5], [1], n_samples=20)
