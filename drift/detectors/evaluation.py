"""Score a drift detector on a stream whose change points are known: delay, false alarms, misses.

An alarm *detects* change point ``c`` when it falls in ``c``'s detection window: from ``c`` up to
``c + tolerance`` (inclusive), cut short by the next change point and by the end of the stream;
without a tolerance, the window runs to the next change point. The first alarm in a window is the
detection (its delay is ``alarm - c``); later alarms in the same window are *repeated* alarms;
alarms in no window (before the first change, or too late) are *false* alarms; a change point
whose window holds no alarm is *missed*.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class SupportsDriftDetection(Protocol):
    """Anything with ``update(x)`` and a ``drift_detected`` flag (ours, or river's)."""

    def update(self, x: Any, /) -> Any: ...

    @property
    def drift_detected(self) -> bool: ...


@dataclass(frozen=True)
class DetectionReport:
    """How a detector's alarms line up with the true change points of a stream.

    Attributes
    ----------
    n_samples
        Length of the stream.
    change_points
        Positions where a new concept starts, increasing.
    alarms
        Positions where the detector signalled a drift, increasing.
    tolerance
        Longest delay that still counts as a detection (``None``: up to the next change point).
    detections
        For each change point, the alarm that detected it, or ``None`` if it was missed.
    false_alarms
        Alarms inside no detection window.
    repeated_alarms
        Alarms after the first one inside the same detection window.
    """

    n_samples: int
    change_points: tuple[int, ...]
    alarms: tuple[int, ...]
    tolerance: int | None
    detections: tuple[int | None, ...]
    false_alarms: tuple[int, ...]
    repeated_alarms: tuple[int, ...]

    @property
    def delays(self) -> tuple[int | None, ...]:
        """Detection delay (alarm minus change point) per change point, ``None`` if missed."""
        return tuple(
            None if alarm is None else alarm - change
            for change, alarm in zip(self.change_points, self.detections, strict=True)
        )

    @property
    def missed_drifts(self) -> tuple[int, ...]:
        """Change points that no alarm detected."""
        return tuple(
            change
            for change, alarm in zip(self.change_points, self.detections, strict=True)
            if alarm is None
        )

    @property
    def n_detected(self) -> int:
        """Number of change points detected."""
        return len(self.change_points) - len(self.missed_drifts)

    @property
    def mean_delay(self) -> float:
        """Mean delay over the detected change points (NaN when none was detected)."""
        delays = [delay for delay in self.delays if delay is not None]
        return sum(delays) / len(delays) if delays else math.nan

    @property
    def detection_rate(self) -> float:
        """Share of change points detected (NaN when the stream has none)."""
        return self.n_detected / len(self.change_points) if self.change_points else math.nan

    def false_alarm_rate(self, per: int = 1000) -> float:
        """False alarms per ``per`` samples."""
        return len(self.false_alarms) / self.n_samples * per if self.n_samples else math.nan

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe data (NaN becomes ``None``)."""

        def finite_or_none(value: float) -> float | None:
            return None if math.isnan(value) else value

        return {
            "n_samples": self.n_samples,
            "change_points": list(self.change_points),
            "alarms": list(self.alarms),
            "tolerance": self.tolerance,
            "detections": list(self.detections),
            "delays": list(self.delays),
            "missed_drifts": list(self.missed_drifts),
            "false_alarms": list(self.false_alarms),
            "repeated_alarms": list(self.repeated_alarms),
            "mean_delay": finite_or_none(self.mean_delay),
            "detection_rate": finite_or_none(self.detection_rate),
        }


def alarm_positions(detector: SupportsDriftDetection, stream: Iterable[Any]) -> list[int]:
    """Feed ``stream`` to ``detector`` and return the positions where it signalled a drift.

    Examples
    --------
    >>> from infersight.drift.detectors import PageHinkley, alarm_positions
    >>> alarm_positions(PageHinkley(threshold=10.0), [0.0] * 100 + [3.0] * 100)
    [103]
    """
    alarms: list[int] = []
    for position, value in enumerate(stream):
        detector.update(value)
        if detector.drift_detected:
            alarms.append(position)
    return alarms


def _positions(values: Iterable[Any], name: str) -> tuple[int, ...]:
    positions: list[int] = []
    for value in values:
        if isinstance(value, bool):
            raise TypeError(f"{name} must be integer positions, got {value!r}")
        try:
            position = operator.index(value)
        except TypeError:
            raise TypeError(f"{name} must be integer positions, got {value!r}") from None
        if position < 0:
            raise ValueError(f"{name} must be non-negative, got {position}")
        if positions and position <= positions[-1]:
            raise ValueError(
                f"{name} must be strictly increasing, got {position} after {positions[-1]}"
            )
        positions.append(position)
    return tuple(positions)


def match_alarms(
    alarms: Iterable[int],
    change_points: Iterable[int],
    n_samples: int,
    tolerance: int | None = None,
) -> DetectionReport:
    """Match alarm positions to known change points (see the module docstring for the rules).

    Parameters
    ----------
    alarms
        Positions where a detector signalled a drift, increasing.
    change_points
        Positions where a new concept starts, increasing, each below ``n_samples``.
    n_samples
        Length of the stream.
    tolerance
        Longest delay that counts as a detection; ``None`` lets it run to the next change point.

    Examples
    --------
    >>> from infersight.drift.detectors import match_alarms
    >>> report = match_alarms([50, 1040, 1100, 2900], [1000, 2000], n_samples=3000, tolerance=200)
    >>> report.delays, report.false_alarms, report.repeated_alarms, report.missed_drifts
    ((40, None), (50, 2900), (1100,), (2000,))
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 0:
        raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}")
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0
    ):
        raise ValueError(f"tolerance must be None or a non-negative integer, got {tolerance!r}")
    alarm_list = _positions(alarms, "alarms")
    changes = _positions(change_points, "change_points")
    for name, positions in (("alarm", alarm_list), ("change point", changes)):
        if positions and positions[-1] >= n_samples:
            raise ValueError(f"{name} {positions[-1]} lies beyond a stream of {n_samples} samples")

    windows: list[tuple[int, int]] = []
    for i, change in enumerate(changes):
        end = changes[i + 1] - 1 if i + 1 < len(changes) else n_samples - 1
        if tolerance is not None:
            end = min(end, change + tolerance)
        windows.append((change, end))

    detections: list[int | None] = [None] * len(changes)
    false_alarms: list[int] = []
    repeated: list[int] = []
    for alarm in alarm_list:
        window = _window_of(alarm, windows)
        if window is None:
            false_alarms.append(alarm)
        elif detections[window] is None:
            detections[window] = alarm
        else:
            repeated.append(alarm)
    return DetectionReport(
        n_samples=n_samples,
        change_points=changes,
        alarms=alarm_list,
        tolerance=tolerance,
        detections=tuple(detections),
        false_alarms=tuple(false_alarms),
        repeated_alarms=tuple(repeated),
    )


def _window_of(alarm: int, windows: Sequence[tuple[int, int]]) -> int | None:
    for index, (start, end) in enumerate(windows):
        if start <= alarm <= end:
            return index
    return None


def evaluate(
    detector_factory: Callable[[], SupportsDriftDetection],
    stream: Iterable[Any],
    change_points: Iterable[int],
    tolerance: int | None = None,
) -> DetectionReport:
    """Run a fresh detector over ``stream`` and report its delays, false alarms and misses.

    Parameters
    ----------
    detector_factory
        Builds the detector to score, e.g. ``ADWIN`` or ``lambda: DDM(warm_start=100)``.
    stream
        The values to feed it, one at a time.
    change_points
        Positions where a new concept starts, increasing.
    tolerance
        Longest delay that counts as a detection; ``None`` lets it run to the next change point.

    Examples
    --------
    >>> import random
    >>> from infersight.drift.detectors import ADWIN, evaluate
    >>> rng = random.Random(7)
    >>> stream = [rng.gauss(0, 1) for _ in range(2000)] + [rng.gauss(2, 1) for _ in range(2000)]
    >>> report = evaluate(ADWIN, stream, change_points=[2000], tolerance=500)
    >>> report.missed_drifts, report.false_alarms, 0 < report.delays[0] < 100
    ((), (), True)
    """
    changes = _positions(change_points, "change_points")
    detector = detector_factory()
    if not callable(getattr(detector, "update", None)) or not hasattr(detector, "drift_detected"):
        raise TypeError(
            f"detector_factory must build an object with update(x) and drift_detected, "
            f"got {type(detector).__name__}"
        )
    alarms: list[int] = []
    n_samples = 0
    for position, value in enumerate(stream):
        detector.update(value)
        if detector.drift_detected:
            alarms.append(position)
        n_samples = position + 1
    return match_alarms(alarms, changes, n_samples, tolerance)
