"""Durations in alert rules and channel settings (``1h``, ``30s``, ``7d`` or seconds).

>>> from pydantic import TypeAdapter
>>> TypeAdapter(Duration).validate_python("2h")
7200.0
"""

from __future__ import annotations

from typing import Annotated

from infersight.sdk.durations import parse_duration
from pydantic import BeforeValidator

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written as ``30s``, ``5m``, ``1h``, ``7d`` (the SDK's and settings' parser)."""
