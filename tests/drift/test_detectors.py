"""The drift detectors raise river's alarms at river's positions, and keep their contract.

river (the installed version) is the reference: the same stream goes through river's detector
and ours, and alarm positions, warning flags and ADWIN's window statistics must be identical.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from infersight.drift.detectors import ADWIN, DDM, EDDM, DriftDetector, PageHinkley
from river import drift as river_drift

SEEDS = [0, 1, 2, 3, 4]
N = 1500  # values per concept


# -- streams -----------------------------------------------------------------------------------


def numeric_stream(kind: str, seed: int) -> np.ndarray:
    """Gaussian values: a jump of the mean, a slow ramp of the mean, or no change."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, 2 * N)
    if kind == "abrupt":
        return noise + np.where(np.arange(2 * N) < N, 0.0, 1.5)
    if kind == "gradual":
        ramp = np.clip((np.arange(2 * N) - N) / 500.0, 0.0, 1.0)
        return noise + 1.5 * ramp
    return noise


def error_stream(kind: str, seed: int) -> np.ndarray:
    """0/1 errors: the error rate jumps 0.1 -> 0.4, ramps 0.1 -> 0.4, or stays at 0.1."""
    rng = np.random.default_rng(seed + 1000)
    position = np.arange(2 * N)
    if kind == "abrupt":
        rate = np.where(position < N, 0.1, 0.4)
    elif kind == "gradual":
        rate = 0.1 + 0.3 * np.clip((position - N) / 500.0, 0.0, 1.0)
    else:
        rate = np.full(2 * N, 0.1)
    return (rng.random(2 * N) < rate).astype(int)


def trace(detector: Any, stream: Sequence[Any], read: Callable[[Any], Any]) -> list[Any]:
    """``read(detector)`` after every update."""
    out = []
    for value in stream:
        detector.update(value)
        out.append(read(detector))
    return out


def alarms(detector: Any, stream: Sequence[Any]) -> list[int]:
    flags = trace(detector, stream, lambda d: d.drift_detected)
    return [i for i, flag in enumerate(flags) if flag]


def warnings(detector: Any, stream: Sequence[Any]) -> list[int]:
    flags = trace(detector, stream, lambda d: d.warning_detected)
    return [i for i, flag in enumerate(flags) if flag]


def adwin_window(detector: Any) -> tuple[Any, ...]:
    return (
        detector.drift_detected,
        float(detector.width),
        detector.total,
        detector.variance,
        detector.estimation,
        detector.n_detections,
    )


# -- same alarms as river ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["abrupt", "gradual", "none"])
def test_adwin_window_and_alarms_equal_rivers_after_every_update(kind: str, seed: int) -> None:
    stream = numeric_stream(kind, seed)
    ours = trace(ADWIN(), stream, adwin_window)
    theirs = trace(river_drift.ADWIN(), stream, adwin_window)
    assert ours == theirs  # exact: same floats, same alarms
    if kind != "none":
        assert any(flags[0] for flags in theirs), "the drifting stream must raise an alarm"


ADWIN_SETTINGS = [
    {"clock": 1},
    {"delta": 0.05, "clock": 4, "max_buckets": 2},
    {"delta": 0.3, "clock": 1, "max_buckets": 3, "min_window_length": 1, "grace_period": 0},
    {"delta": 1e-5, "clock": 7, "max_buckets": 8, "min_window_length": 20, "grace_period": 100},
]


@pytest.mark.parametrize("settings", ADWIN_SETTINGS, ids=str)
@pytest.mark.parametrize("kind", ["abrupt", "gradual", "none"])
def test_adwin_with_other_parameters_equals_river(kind: str, settings: dict[str, Any]) -> None:
    stream = numeric_stream(kind, seed=11)
    assert trace(ADWIN(**settings), stream, adwin_window) == trace(
        river_drift.ADWIN(**settings), stream, adwin_window
    )


def test_adwin_on_integer_and_binary_streams_equals_river() -> None:
    rng = np.random.default_rng(5)
    integers = np.concatenate([rng.integers(0, 2, 1000), rng.integers(0, 8, 1000)])
    bits = error_stream("abrupt", 5).astype(bool)
    for stream in (integers, bits):
        expected = alarms(river_drift.ADWIN(), stream)
        assert expected
        assert alarms(ADWIN(), stream) == expected


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["abrupt", "gradual", "none"])
@pytest.mark.parametrize(
    "settings", [{}, {"mode": "up", "threshold": 20.0}, {"mode": "down", "delta": 0.05}], ids=str
)
def test_page_hinkley_alarms_equal_rivers(kind: str, seed: int, settings: dict[str, Any]) -> None:
    stream = numeric_stream(kind, seed)
    if settings.get("mode") == "down":
        stream = -stream
    expected = alarms(river_drift.PageHinkley(**settings), stream)
    assert alarms(PageHinkley(**settings), stream) == expected
    if kind != "none":
        assert expected, "the drifting stream must raise an alarm"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["abrupt", "gradual", "none"])
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (DDM, river_drift.binary.DDM),
        (lambda: DDM(warm_start=100, warning_threshold=1.5, drift_threshold=2.5),
         lambda: river_drift.binary.DDM(warm_start=100, warning_threshold=1.5, drift_threshold=2.5)),
        (EDDM, river_drift.binary.EDDM),
        (lambda: EDDM(warm_start=50, alpha=0.85, beta=0.7),
         lambda: river_drift.binary.EDDM(warm_start=50, alpha=0.85, beta=0.7)),
    ],
    ids=["DDM", "DDM-custom", "EDDM", "EDDM-custom"],
)  # fmt: skip
def test_binary_detectors_alarms_and_warnings_equal_rivers(
    kind: str, seed: int, ours: Callable[[], Any], theirs: Callable[[], Any]
) -> None:
    stream = error_stream(kind, seed)
    expected = alarms(theirs(), stream)
    assert alarms(ours(), stream) == expected
    assert warnings(ours(), stream) == warnings(theirs(), stream)
    if kind == "abrupt":
        assert any(a >= N for a in expected), "the error-rate jump must raise an alarm"


def test_boolean_error_streams_give_the_same_alarms_as_integers() -> None:
    stream = error_stream("abrupt", 3)
    for make in (DDM, EDDM, ADWIN, PageHinkley):
        assert alarms(make(), stream.astype(bool)) == alarms(make(), stream)
        assert alarms(make(), [bool(x) for x in stream]) == alarms(make(), stream.tolist())


# -- the contract every detector keeps ---------------------------------------------------------

DETECTORS: dict[str, tuple[Callable[[], DriftDetector], Callable[[int], np.ndarray]]] = {
    "ADWIN": (ADWIN, lambda seed: numeric_stream("abrupt", seed)),
    "ADWIN-clock1": (lambda: ADWIN(clock=1), lambda seed: numeric_stream("gradual", seed)),
    "PageHinkley": (lambda: PageHinkley(threshold=20.0), lambda seed: numeric_stream("abrupt", seed)),
    "DDM": (DDM, lambda seed: error_stream("abrupt", seed)),
    "EDDM": (EDDM, lambda seed: error_stream("gradual", seed)),
}  # fmt: skip


@pytest.fixture(params=sorted(DETECTORS))
def detector_case(request: pytest.FixtureRequest) -> tuple[Callable[[], DriftDetector], np.ndarray]:
    make, stream = DETECTORS[request.param]
    return make, stream(0)


def test_update_returns_the_detector_itself(detector_case: Any) -> None:
    make, stream = detector_case
    detector = make()
    for value in stream[:100]:
        assert detector.update(value) is detector


def test_drift_flag_refers_to_the_last_update_only(detector_case: Any) -> None:
    make, stream = detector_case
    detector = make()
    flags = trace(detector, stream, lambda d: d.drift_detected)
    raised = [i for i, flag in enumerate(flags) if flag]
    assert raised, "the stream must raise at least one alarm"
    for position in raised:
        # The next update starts afresh (every detector needs more than one value to alarm).
        if position + 1 < len(flags):
            assert not flags[position + 1]
    fresh = make()
    assert not fresh.drift_detected
    assert not getattr(fresh, "warning_detected", False)


def test_state_round_trip_mid_stream_continues_identically(detector_case: Any) -> None:
    make, stream = detector_case
    reference = make()
    flags = trace(
        reference, stream, lambda d: (d.drift_detected, getattr(d, "warning_detected", None))
    )
    raised = [i for i, (drift, _) in enumerate(flags) if drift]
    warned = [i for i, (_, warning) in enumerate(flags) if warning]
    # Cut points: before any value, early, just at an alarm (pending reset), in a warning zone.
    cuts = sorted({0, 1, 57, len(stream) // 2, raised[0] + 1, *(warned[:1])})
    for cut in cuts:
        original = make()
        for value in stream[:cut]:
            original.update(value)
        payload = json.dumps(original.to_dict(), allow_nan=False)  # strict JSON
        restored = type(original).from_dict(json.loads(payload))
        assert restored.to_dict() == original.to_dict()
        assert restored.drift_detected == original.drift_detected
        rest = stream[cut:]
        after_original = trace(original, rest, snapshot)
        after_restored = trace(restored, rest, snapshot)
        assert after_restored == after_original, f"diverged after a round trip at {cut}"
        assert [cut + i for i, (drift, _) in enumerate(after_restored) if drift] == [
            i for i in raised if i >= cut
        ]


def snapshot(detector: DriftDetector) -> tuple[bool, str]:
    return detector.drift_detected, json.dumps(detector.to_dict())


def test_base_class_from_dict_picks_the_detector_class(detector_case: Any) -> None:
    make, stream = detector_case
    detector = make()
    for value in stream[:300]:
        detector.update(value)
    restored = DriftDetector.from_dict(detector.to_dict())
    assert type(restored) is type(detector)
    assert restored.to_dict() == detector.to_dict()
    assert repr(restored) == repr(detector)


def test_parameter_names_and_defaults_are_rivers() -> None:
    pairs = [
        (ADWIN(), river_drift.ADWIN()),
        (PageHinkley(), river_drift.PageHinkley()),
        (DDM(), river_drift.binary.DDM()),
        (EDDM(), river_drift.binary.EDDM()),
    ]
    for ours, theirs in pairs:
        params = ours.to_dict()["params"]
        assert params == theirs._get_params(), type(ours).__name__


# -- bad input is refused with a reason, and leaves the state alone ----------------------------


@pytest.mark.parametrize("make", [ADWIN, PageHinkley, DDM, EDDM])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "1", None, b"0", [1], object()])
def test_bad_values_are_refused_without_touching_the_state(make: Any, bad: Any) -> None:
    detector = make()
    for value in [0, 1, 0, 0, 1] * 20:
        detector.update(value)
    before = detector.to_dict()
    with pytest.raises((TypeError, ValueError), match=type(detector).__name__):
        detector.update(bad)
    assert detector.to_dict() == before


@pytest.mark.parametrize("make", [DDM, EDDM])
@pytest.mark.parametrize("bad", [2, -1, 0.5, 1.0000001])
def test_binary_detectors_refuse_values_other_than_zero_and_one(make: Any, bad: Any) -> None:
    with pytest.raises(ValueError, match="0/1"):
        make().update(bad)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: ADWIN(delta=0.0), ValueError),
        (lambda: ADWIN(delta=1.5), ValueError),
        (lambda: ADWIN(clock=0), ValueError),
        (lambda: ADWIN(clock=2.5), TypeError),
        (lambda: ADWIN(max_buckets=1), ValueError),
        (lambda: ADWIN(min_window_length=0), ValueError),
        (lambda: ADWIN(grace_period=-1), ValueError),
        (lambda: PageHinkley(mode="sideways"), ValueError),
        (lambda: PageHinkley(alpha=0.0), ValueError),
        (lambda: PageHinkley(threshold=math.nan), ValueError),
        (lambda: PageHinkley(min_instances="30"), TypeError),
        (lambda: DDM(warm_start=-1), ValueError),
        (lambda: DDM(drift_threshold=math.inf), ValueError),
        (lambda: EDDM(alpha=0.8, beta=0.9), ValueError),
        (lambda: EDDM(beta=0.0), ValueError),
    ],
)
def test_invalid_parameters_are_refused(make: Callable[[], Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        make()


def _adwin_state() -> dict[str, Any]:
    detector = ADWIN()
    for value in numeric_stream("none", 0)[:200]:
        detector.update(value)
    return detector.to_dict()


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda d: d.pop("state"), "lacks 'state'"),
        (lambda d: d.update(detector="KSWIN"), "unknown detector"),
        (lambda d: d.update(format=99), "format"),
        (lambda d: d["params"].update(delta=-1.0), "delta"),
        (lambda d: d["params"].update(colour="red"), "params are invalid"),
        (lambda d: d["state"].pop("tick"), "lacks 'tick'"),
        (lambda d: d["state"].update(tick="12"), "'tick' must be"),
        (lambda d: d["state"].update(total=None), "'total' must be"),
        (lambda d: d["state"].update(total="nan"), "'total' must be"),
        (lambda d: d["state"].update(width=d["state"]["width"] + 1), "do not add up"),
        (lambda d: d["state"]["bucket_totals"].append([1.0] * 9), "at most"),
        (lambda d: d["state"]["bucket_variances"].pop(), "differ in shape"),
        (lambda d: d["state"].update(drift_detected="no"), "'drift_detected' must be"),
    ],
)
def test_corrupt_states_are_refused_with_a_reason(
    corrupt: Callable[[dict[str, Any]], Any], message: str
) -> None:
    state = _adwin_state()
    corrupt(state)
    with pytest.raises(ValueError, match=message):
        DriftDetector.from_dict(state)


def test_a_state_is_not_loaded_as_another_detector() -> None:
    with pytest.raises(ValueError, match="cannot be loaded as a DDM"):
        DDM.from_dict(EDDM().to_dict())
    with pytest.raises(ValueError, match="mapping"):
        DDM.from_dict([1, 2])  # type: ignore[arg-type]


def test_numpy_scalars_are_accepted_like_python_numbers() -> None:
    stream = numeric_stream("abrupt", 2)
    as_python = alarms(ADWIN(), stream.tolist())
    assert as_python
    assert alarms(ADWIN(), [np.float64(x) for x in stream]) == as_python
    errors = error_stream("abrupt", 2)
    assert alarms(DDM(), [np.int64(x) for x in errors]) == alarms(DDM(), errors.tolist())
    assert alarms(DDM(), [np.bool_(x) for x in errors]) == alarms(DDM(), errors.tolist())
