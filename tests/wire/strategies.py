"""Hypothesis strategies for valid wire-format events, and mutations that make them invalid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from infersight.sdk.wire import Label, Prediction, ScoredLabel

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
PROBABILITY = st.floats(min_value=0.0, max_value=1.0)
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
TIMESTAMPS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC) | OFFSETS
)
# Integers in features are read as floats: keep them exactly representable so that round trips compare equal.
FEATURE_VALUES = (FINITE | st.integers(-(2**53), 2**53) | TEXT | st.booleans() | st.none()
                  | st.lists(FINITE, max_size=6))  # vectors: embeddings
LABEL_VALUES = TEXT | INT64 | FINITE | st.booleans()
PREDICTION_VALUES = st.one_of(
    FINITE,
    INT64,
    TEXT,
    st.booleans(),
    st.none(),
    st.lists(PROBABILITY, max_size=5),
    st.builds(
        ScoredLabel,
        label=LABEL_VALUES,
        score=st.none() | FINITE | st.dictionaries(NAMES, PROBABILITY, max_size=4),
    ),
)

PREDICTIONS = st.builds(
    Prediction,
    model=NAMES,
    version=NAMES,
    prediction_id=NAMES,
    ts=TIMESTAMPS,
    features=st.dictionaries(NAMES, FEATURE_VALUES, max_size=8),
    prediction=PREDICTION_VALUES,
    latency_ms=st.none() | st.floats(min_value=0.0, allow_infinity=False),
    tags=st.dictionaries(NAMES, TEXT, max_size=3),
    error=st.none() | NAMES,
)
LABELS = st.builds(Label, model=NAMES, prediction_id=NAMES, label=LABEL_VALUES, ts=TIMESTAMPS)
EVENTS = PREDICTIONS | LABELS

INFINITY = "__INFINITY__"  # replaced by the JSON number 1e999 once encoded


def _set(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node = event
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return event


def _delete(event: dict[str, Any], field: str) -> dict[str, Any]:
    event.pop(field, None)
    return event


BAD_TIMESTAMPS = [
    "2024-05-01T12:00:00",  # naive
    "2024-05-01",
    "yesterday",
    "2024-13-01T00:00:00Z",
    "2024-05-01T25:00:00Z",
    "2024-05-01T12:00Z",
    "2024-05-01T12:00:00+24:00",
    "2024-05-01T12:00:00+05",
    "20240501T120000Z",
    "0000-01-01T00:00:00Z",
    "2024-05-01T12:00:00.Z",
    "",
]

# Each mutation: (applies to "prediction" | "label" | "any", function(event dict) -> event dict)
MUTATIONS: list[tuple[str, Any]] = [
    *[("any", lambda e, f=f: _delete(e, f)) for f in ("type", "model", "prediction_id", "ts")],
    *[("prediction", lambda e, f=f: _delete(e, f)) for f in ("version", "features", "prediction")],
    ("label", lambda e: _delete(e, "label")),
    ("any", lambda e: _set(e, ("type",), "metric")),
    ("any", lambda e: _set(e, ("type",), 7)),
    ("any", lambda e: _set(e, ("model",), "")),
    ("any", lambda e: _set(e, ("model",), "m" * 257)),
    ("any", lambda e: _set(e, ("model",), 42)),
    ("any", lambda e: _set(e, ("prediction_id",), None)),
    *[("any", lambda e, ts=ts: _set(e, ("ts",), ts)) for ts in BAD_TIMESTAMPS],
    ("any", lambda e: _set(e, ("ts",), 1714564800)),
    ("prediction", lambda e: _set(e, ("features",), [1, 2])),
    ("prediction", lambda e: _set(e, ("features", "x"), ["a"])),  # a vector holds numbers
    ("prediction", lambda e: _set(e, ("features", "x"), [[1.0]])),
    ("prediction", lambda e: _set(e, ("features", "x"), [1.0] * 4097)),
    ("prediction", lambda e: _set(e, ("features", "x"), {"a": 1})),
    ("prediction", lambda e: _set(e, ("features", "x"), INFINITY)),
    ("prediction", lambda e: _set(e, ("features", "x"), "v" * 4097)),
    ("prediction", lambda e: _set(e, ("features", "n" * 257), 1.0)),
    ("prediction", lambda e: _set(e, ("features", ""), 1.0)),
    ("prediction", lambda e: _set(e, ("features",), {f"f{i}": 1.0 for i in range(1001)})),
    ("prediction", lambda e: _set(e, ("latency_ms",), -0.5)),
    ("prediction", lambda e: _set(e, ("latency_ms",), "4ms")),
    ("prediction", lambda e: _set(e, ("latency_ms",), INFINITY)),
    ("prediction", lambda e: _set(e, ("prediction",), INFINITY)),
    ("prediction", lambda e: _set(e, ("prediction",), [0.5] * 4097)),
    ("prediction", lambda e: _set(e, ("prediction",), [0.5, INFINITY])),
    ("prediction", lambda e: _set(e, ("prediction",), [0.5, "a"])),
    ("prediction", lambda e: _set(e, ("prediction",), {"score": 0.5})),
    ("prediction", lambda e: _set(e, ("prediction",), {"label": [1]})),
    ("prediction", lambda e: _set(e, ("prediction",), {"label": "a", "score": {"a": 2.0}})),
    ("prediction", lambda e: _set(e, ("prediction",), {"label": "a", "score": "high"})),
    ("prediction", lambda e: _set(e, ("tags",), {"k": 1})),
    ("prediction", lambda e: _set(e, ("tags",), {"": "v"})),
    ("prediction", lambda e: _set(e, ("tags",), ["a"])),
    ("prediction", lambda e: _set(e, ("error",), "")),
    ("prediction", lambda e: _set(e, ("error",), 3)),
    ("label", lambda e: _set(e, ("label",), None)),
    ("label", lambda e: _set(e, ("label",), [1])),
    ("label", lambda e: _set(e, ("label",), INFINITY)),
    ("label", lambda e: _set(e, ("label",), "l" * 4097)),
]
