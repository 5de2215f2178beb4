"""Base classes shared by the streaming drift detectors: flags, input checks, serialisation.

Every detector keeps its whole state in plain Python numbers so that ``to_dict()`` is JSON-safe
and ``from_dict()`` restores a detector that continues *identically* (same floats, same alarms).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

#: Version of the ``to_dict()`` layout; bumped if a detector's state layout ever changes.
STATE_FORMAT = 1


class DriftDetector(abc.ABC):
    """A streaming drift detector fed one value at a time.

    ``update(x)`` returns the detector itself; ``drift_detected`` refers to the last update. As in
    river, a detector that signalled a drift starts afresh on the next update.
    """

    _registry: ClassVar[dict[str, type[DriftDetector]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_") and abc.ABC not in cls.__bases__:
            DriftDetector._registry[cls.__name__] = cls

    def __init__(self) -> None:
        self._drift_detected = False

    @property
    def drift_detected(self) -> bool:
        """Whether the last update signalled a drift."""
        return self._drift_detected

    @abc.abstractmethod
    def update(self, x: float) -> Self:
        """Feed one value; return the detector itself."""

    @abc.abstractmethod
    def _reset(self) -> None:
        """Forget everything learned from the stream (parameters are kept)."""

    @abc.abstractmethod
    def _params(self) -> dict[str, Any]:
        """The constructor arguments, by name."""

    @abc.abstractmethod
    def _state(self) -> dict[str, Any]:
        """The state learned from the stream, JSON-safe."""

    @abc.abstractmethod
    def _load_state(self, state: StateReader) -> None:
        """Restore what ``_state()`` returned (the reader checks names and types)."""

    def _flags(self) -> dict[str, bool]:
        return {"drift_detected": self._drift_detected}

    def _load_flags(self, state: StateReader) -> None:
        self._drift_detected = state.read_bool("drift_detected")

    def to_dict(self) -> dict[str, Any]:
        """Parameters and state as a JSON-safe dictionary (see :meth:`from_dict`)."""
        state = {**self._flags(), **self._state()}
        return {
            "detector": type(self).__name__,
            "format": STATE_FORMAT,
            "params": self._params(),
            "state": state,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a detector from :meth:`to_dict` output; it continues exactly where it stopped.

        Called on the base class, the ``"detector"`` entry picks the class.

        Raises
        ------
        ValueError
            If the dictionary is not a detector state this class can restore, with the reason.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"detector state must be a mapping, got {type(data).__name__}")
        missing = [key for key in ("detector", "format", "params", "state") if key not in data]
        if missing:
            raise ValueError(f"detector state lacks {', '.join(repr(k) for k in missing)}")
        name = data["detector"]
        target = DriftDetector._registry.get(name) if isinstance(name, str) else None
        if target is None:
            known = ", ".join(sorted(DriftDetector._registry))
            raise ValueError(f"unknown detector {name!r} (known: {known})")
        if not issubclass(target, cls):
            raise ValueError(f"state of a {name} cannot be loaded as a {cls.__name__}")
        if data["format"] != STATE_FORMAT:
            raise ValueError(
                f"{name} state has format {data['format']!r}; this version reads {STATE_FORMAT}"
            )
        params, state = data["params"], data["state"]
        if not isinstance(params, Mapping) or not isinstance(state, Mapping):
            raise ValueError(f"{name} state: 'params' and 'state' must be mappings")
        try:
            detector = target(**params)
        except TypeError as error:
            raise ValueError(f"{name} params are invalid: {error}") from None
        reader = StateReader(state, name)
        detector._load_flags(reader)
        detector._load_state(reader)
        return detector

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self._params().items())
        return f"{type(self).__name__}({args})"


class DriftAndWarningDetector(DriftDetector, abc.ABC):
    """A drift detector that also signals a warning zone before a drift."""

    def __init__(self) -> None:
        super().__init__()
        self._warning_detected = False

    @property
    def warning_detected(self) -> bool:
        """Whether the detector is in its warning zone after the last update."""
        return self._warning_detected

    def _flags(self) -> dict[str, bool]:
        return {**super()._flags(), "warning_detected": self._warning_detected}

    def _load_flags(self, state: StateReader) -> None:
        super()._load_flags(state)
        self._warning_detected = state.read_bool("warning_detected")


# ---------------------------------------------------------------------------------------------
# Input checks


def numeric_input(x: object, detector: str) -> float:
    """``x`` as a finite float, or a clear error (strings, None, NaN and infinities are refused)."""
    if isinstance(x, str | bytes) or x is None:
        raise TypeError(f"{detector}.update expects a number, got {type(x).__name__} {x!r}")
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(
            f"{detector}.update expects a number, got {type(x).__name__} {x!r}"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"{detector}.update expects a finite number, got {value!r}")
    return value


def binary_input(x: object, detector: str) -> float:
    """``x`` as 0.0 (correct) or 1.0 (error), or a clear error for anything else."""
    value = numeric_input(x, detector)
    if value not in (0.0, 1.0):
        raise ValueError(f"{detector}.update expects 0/1 (or False/True), got {x!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Parameter checks


def check_int(value: object, name: str, minimum: int) -> int:
    """An integer parameter no smaller than ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_float(
    value: object,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real parameter inside ``[low, high]`` (ends open where asked)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if not math.isfinite(number) or below or above:
        left, right = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(
            f"{name} must be a finite number in {left}{low}, {high}{right}, got {value}"
        )
    return number


# ---------------------------------------------------------------------------------------------
# Serialisation helpers


def encode_float(value: float) -> float | str:
    """A float JSON can carry: non-finite values become the strings "inf", "-inf", "nan"."""
    return value if math.isfinite(value) else repr(value)


class StateReader:
    """Typed access to a serialised state with errors that name the detector and the field."""

    def __init__(self, state: Mapping[str, Any], detector: str) -> None:
        self._state = state
        self._detector = detector

    def _get(self, key: str) -> Any:
        if key not in self._state:
            raise ValueError(f"{self._detector} state lacks {key!r}")
        return self._state[key]

    def _fail(self, key: str, expected: str, value: object) -> ValueError:
        return ValueError(f"{self._detector} state: {key!r} must be {expected}, got {value!r}")

    def read_bool(self, key: str) -> bool:
        """A boolean field."""
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._fail(key, "a boolean", value)
        return value

    def read_int(self, key: str, minimum: int = 0) -> int:
        """A non-negative (or at least ``minimum``) integer field."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, f"an integer >= {minimum}", value)
        return value

    def read_float(self, key: str, *, finite: bool = True) -> float:
        """A float field; with ``finite=False`` the strings "inf"/"-inf" are accepted too."""
        return self.as_float(self._get(key), key, finite=finite)

    def as_float(self, value: object, key: str, *, finite: bool = True) -> float:
        """``value`` (read from field ``key``) as a float."""
        if not finite and value in ("inf", "-inf"):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, "a number", value)
        number = float(value)
        if not math.isfinite(number):
            raise self._fail(key, "a finite number", value)
        return number

    def read_list(self, key: str) -> list[Any]:
        """A list field."""
        value = self._get(key)
        if not isinstance(value, list):
            raise self._fail(key, "a list", value)
        return value
