"""The events of ``infersight.events/v1``: topics, limits, refusal reasons and the event types.

See docs/wire-format.md for the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Final

import msgspec

SCHEMA: Final = "infersight.events/v1"
SCHEMA_V2: Final = "infersight.events/v2"
"""The columnar layout (:mod:`infersight.sdk.wire.columnar`); decoders read both versions."""
EVENTS_TOPIC: Final = "infersight.events"
LABELS_TOPIC: Final = "infersight.labels"
DEADLETTER_TOPIC: Final = "infersight.deadletter"

MAX_MESSAGE_BYTES: Final = 1_000_000
"""A message bigger than this is rejected whole (reason ``oversize``)."""
MAX_FEATURES: Final = 1_000
MAX_TAGS: Final = 100
MAX_CLASSES: Final = 1_000
MAX_NAME_CHARS: Final = 256
"""Model, version, prediction id, error type, and feature, tag and class names."""
MAX_STRING_CHARS: Final = 4_096
"""String feature values, tag values and string labels."""
MAX_VECTOR_LENGTH: Final = 4_096
"""Numbers in one vector feature value (an embedding)."""
MAX_USAGE_KEYS: Final = 16
"""Entries of a prediction's ``usage`` (token counts)."""
USAGE_KEYS: Final = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")
"""The ``usage`` counts the service reads (others are accepted and ignored)."""

REASONS: Final = (
    "invalid_json",  # not JSON, or not UTF-8
    "not_a_batch",  # not an object with "schema" (a string) and "events" (an array)
    "unknown_schema",  # "schema" is neither infersight.events/v1 nor infersight.events/v2
    "oversize",  # the message is bigger than max_bytes
    "wrong_type",  # a value of the wrong JSON type (an event that is not an object included)
    "missing_field",  # a required field is absent
    "unknown_type",  # "type" is neither "prediction" nor "label"
    "non_finite",  # a number beyond the finite double range (1e999 is JSON's way to write inf)
    "invalid_timestamp",  # not RFC 3339, or without a UTC offset
    "limit_exceeded",  # a string, map or array beyond the documented bounds
    "invalid_value",  # right type, wrong value: an empty id, a negative latency, a probability > 1
)
"""Every reason a :class:`Rejected` can carry."""

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_STRING_CHARS)]
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
TokenCount = Annotated[int, msgspec.Meta(ge=0)]
"""A ``usage`` entry: a number of tokens."""
Vector = Annotated[list[float], msgspec.Meta(max_length=MAX_VECTOR_LENGTH)]
"""An embedding: finite numbers, as many as the feature's (or the output's) reference vectors
hold."""
FeatureValue = float | Text | bool | Vector | None
"""A feature value: numbers (integers are read as floats), strings, booleans, vectors of
numbers (embeddings); null = missing."""
LabelValue = Text | int | float | bool
"""A class label or a target value. Integers beyond 64 bits are read as floats."""


class ScoredLabel(msgspec.Struct, gc=False, omit_defaults=True):
    """A class label with its score, or with every class's probability.

    Examples
    --------
    >>> msgspec.json.encode(ScoredLabel(label="spam", score={"spam": 0.8, "ham": 0.2}))
    b'{"label":"spam","score":{"spam":0.8,"ham":0.2}}'
    """

    label: LabelValue
    score: (
        float | Annotated[dict[Name, Probability], msgspec.Meta(max_length=MAX_CLASSES)] | None
    ) = None


PredictionValue = (
    float
    | int
    | Text
    | bool
    | Vector
    | ScoredLabel
    | None
)
"""A number, a class label, class probabilities or an embedding model's output vector (an
array of numbers: the worker checks it against the model's reference, probabilities in
[0, 1] and at most :data:`MAX_CLASSES`, an output vector of the reference's length), or a
label with its score(s)."""


class Prediction(msgspec.Struct, tag_field="type", tag="prediction", gc=False, omit_defaults=True):
    """One monitored model call; ``error`` names the exception type of a call that raised,
    ``usage`` holds its token counts and ``ttft_ms`` its time to first token.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> p = Prediction(model="m", version="1", prediction_id="a", features={"x": 1.0},
    ...                ts=datetime(2024, 1, 1, tzinfo=timezone.utc), prediction=[0.2, 0.8])
    >>> msgspec.json.encode(p)
    b'{"type":"prediction","model":"m","version":"1","prediction_id":"a","ts":"2024-01-01T00:00:00Z","features":{"x":1.0},"prediction":[0.2,0.8]}'
    """

    model: Name
    version: Name
    prediction_id: Name
    ts: Timestamp
    # Feature names are checked after decoding (_bad_feature_name): a length constraint on keys
    # here would bypass msgspec's key cache and cost a quarter of the decoding speed.
    features: Annotated[dict[str, FeatureValue], msgspec.Meta(max_length=MAX_FEATURES)]
    prediction: PredictionValue
    latency_ms: Annotated[float, msgspec.Meta(ge=0.0)] | None = None
    tags: Annotated[dict[Name, Text], msgspec.Meta(max_length=MAX_TAGS)] = {}
    error: Name | None = None
    usage: Annotated[dict[Name, TokenCount], msgspec.Meta(max_length=MAX_USAGE_KEYS)] = {}
    """Token counts of a generative call (:data:`USAGE_KEYS`); empty when not reported."""
    ttft_ms: Annotated[float, msgspec.Meta(ge=0.0)] | None = None
    """Time to the first streamed token or chunk, in milliseconds."""


class Label(msgspec.Struct, tag_field="type", tag="label", gc=False, omit_defaults=True):
    """The ground truth for an earlier prediction, joined on (model, prediction_id).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> Label(model="m", prediction_id="a", label=1, ts=datetime(2024, 1, 1, tzinfo=timezone.utc))
    Label(model='m', prediction_id='a', label=1, ts=datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
    """

    model: Name
    prediction_id: Name
    label: LabelValue
    ts: Timestamp


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why an event (``index``) or the whole message (``index is None``) was refused."""

    index: int | None
    reason: str
    detail: str
    raw: bytes


@dataclass(slots=True)
class DecodedBatch:
    """The outcome of :func:`decode_batch`: the good events by kind, and the rejected ones."""

    predictions: list[Prediction] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

