"""Durations written as ``200ms``, ``30s``, ``5m``, ``1h``, ``7d``, ``2w`` or a number of seconds:
the one parser behind every ``INFERSIGHT_*`` duration setting, SDK and service alike.

>>> parse_duration("200ms"), parse_duration("90s"), parse_duration("5m"), parse_duration("7d")
(0.2, 90.0, 300.0, 604800.0)
>>> parse_duration(2.5)
2.5
>>> parse_duration("soon", "flush_interval")
Traceback (most recent call last):
...
ValueError: flush_interval: invalid duration 'soon': use e.g. 200ms, 30s, 5m, 1h, 7d or seconds
"""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: str | float | int, name: str | None = None) -> float:
    """Positive, finite seconds from a number or a duration string; ``ValueError`` naming
    ``name`` (when given) otherwise."""
    prefix = f"{name}: " if name else ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{prefix}invalid duration {value!r}: use e.g. 200ms, 30s, 5m, 1h, "
                         "7d or seconds")
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{prefix}invalid duration {value!r}: use e.g. 200ms, 30s, 5m, "
                             "1h, 7d or seconds")
        seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    else:
        seconds = float(value)
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError(f"{prefix}duration must be positive and finite, got {value!r}")
    return seconds
