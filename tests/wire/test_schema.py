"""docs/wire-format.schema.json and the decoder agree on what they accept and what they reject."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from infersight.sdk.wire import SCHEMA, Label, Prediction, decode_batch
from jsonschema import Draft202012Validator

from tests.wire.schema import SCHEMA_PATH, render
from tests.wire.strategies import EVENTS, INFINITY, MUTATIONS

SCHEMA_DOCUMENT = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA_DOCUMENT)
KNOWN_FIELDS = {"type", "model", "version", "prediction_id", "ts", "features", "prediction",
                "latency_ms", "tags", "error", "label"}  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
EXTRA_FIELDS = st.dictionaries(
    st.text().filter(lambda k: k not in KNOWN_FIELDS), JSON_VALUES, max_size=3
)


def _message(event: dict[str, Any]) -> bytes:
    encoded = msgspec.json.encode({"schema": SCHEMA, "events": [event]})
    return encoded.replace(f'"{INFINITY}"'.encode(), b"1e999")


def _verdicts(message: bytes) -> tuple[bool, bool]:
    """(schema accepts, decoder accepts) for a one-event message."""
    schema_accepts = VALIDATOR.is_valid(json.loads(message))
    batch = decode_batch(message)
    decoder_accepts = not batch.rejected and len(batch.predictions) + len(batch.labels) == 1
    return schema_accepts, decoder_accepts


def test_checked_in_schema_is_the_one_generated_from_the_codec_types() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), "run: python -m tests.wire.schema"


def test_schema_is_a_valid_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA_DOCUMENT)


@settings(max_examples=300, deadline=None)
@given(event=EVENTS, extra=EXTRA_FIELDS)
def test_valid_events_with_unknown_fields_are_accepted_by_both(
    event: Prediction | Label, extra: dict[str, Any]
) -> None:
    message = _message({**msgspec.to_builtins(event), **extra})
    assert _verdicts(message) == (True, True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(event=EVENTS, mutation=st.sampled_from(MUTATIONS))
def test_invalid_events_are_rejected_by_both(
    event: Prediction | Label, mutation: tuple[str, Any]
) -> None:
    applies_to, mutate = mutation
    kind = "prediction" if isinstance(event, Prediction) else "label"
    assume(applies_to in ("any", kind))
    message = _message(mutate(msgspec.to_builtins(event)))
    assert _verdicts(message) == (False, False), (MUTATIONS.index(mutation), message[:300])


FIXED_EVENTS = {
    "prediction": Prediction(
        model="fraud", version="3", prediction_id="p-1", ts=datetime(2024, 5, 1, tzinfo=UTC),
        features={"amount": 12.5, "country": "DE"}, prediction=0.9, latency_ms=3.5,
        tags={"region": "eu"},
    ),
    "label": Label(model="fraud", prediction_id="p-1", label=1, ts=datetime(2024, 5, 2, tzinfo=UTC)),
}  # fmt: skip


@pytest.mark.parametrize("number", range(len(MUTATIONS)))
def test_each_mutation_makes_a_fixed_event_invalid_for_both(number: int) -> None:
    applies_to, mutate = MUTATIONS[number]
    for kind, event in FIXED_EVENTS.items():
        if applies_to in ("any", kind):
            message = _message(mutate(msgspec.to_builtins(event)))
            assert _verdicts(message) == (False, False), message[:300]


@pytest.mark.parametrize(
    "ts",
    ["2024-05-01 12:00:00Z", "2024-05-01t12:00:00z", "2024-05-01T12:00:00+0200",
     "2024-05-01T12:00:00.123456789-00:00", "2024-05-01T12:00:00+23:59"],
)  # fmt: skip
def test_the_documented_lenient_timestamps_are_accepted_by_both(ts: str) -> None:
    event = msgspec.to_builtins(FIXED_EVENTS["label"]) | {"ts": ts}
    assert _verdicts(_message(event)) == (True, True)


def test_the_documented_disagreement_a_date_that_does_not_exist() -> None:
    """The pattern cannot know the length of February: only the decoder refuses 2024-02-30."""
    event = msgspec.to_builtins(FIXED_EVENTS["label"]) | {"ts": "2024-02-30T00:00:00Z"}
    assert _verdicts(_message(event)) == (True, False)
