"""Wire format ``infersight.events``: one JSON batch of events per message.

Producers write ``{"schema": "infersight.events/v1", "events": [...]}``, or the columnar
``infersight.events/v2`` (docs/wire-format.md); :func:`decode_batch` reads both, validates
every event, keeps the good ones and explains each bad one.
Only the standard library and msgspec are imported: this module is part of the light SDK.

Examples
--------
>>> from datetime import datetime, timezone
>>> event = Prediction(model="fraud", version="3", prediction_id="p-1",
...                    ts=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
...                    features={"amount": 12.5, "country": "DE"}, prediction=0.93)
>>> batch = decode_batch(encode_batch([event]))
>>> batch.predictions == [event], batch.rejected
(True, [])
"""

from infersight.sdk.wire.codec import decode_batch, encode_batch
from infersight.sdk.wire.columnar import (
    BatchV2,
    ColumnarBatch,
    LabelBlock,
    PredictionBlock,
    decode_columns,
    encode_batch_v2,
)
from infersight.sdk.wire.deadletter import (
    DEADLETTER_MAX_RAW_BYTES,
    DEADLETTER_SCHEMA,
    DeadLetterMessage,
    decode_deadletter,
    encode_deadletter,
)
from infersight.sdk.wire.events import (
    DEADLETTER_TOPIC,
    EVENTS_TOPIC,
    LABELS_TOPIC,
    MAX_CLASSES,
    MAX_FEATURES,
    MAX_MESSAGE_BYTES,
    MAX_NAME_CHARS,
    MAX_STRING_CHARS,
    MAX_TAGS,
    MAX_USAGE_KEYS,
    MAX_VECTOR_LENGTH,
    REASONS,
    SCHEMA,
    SCHEMA_V2,
    USAGE_KEYS,
    DecodedBatch,
    FeatureValue,
    Label,
    LabelValue,
    Prediction,
    PredictionValue,
    Rejected,
    ScoredLabel,
)

__all__ = [
    "DEADLETTER_MAX_RAW_BYTES", "DEADLETTER_SCHEMA", "DEADLETTER_TOPIC", "EVENTS_TOPIC",
    "LABELS_TOPIC", "MAX_CLASSES", "MAX_FEATURES", "MAX_MESSAGE_BYTES", "MAX_NAME_CHARS",
    "MAX_STRING_CHARS", "MAX_TAGS", "MAX_USAGE_KEYS", "MAX_VECTOR_LENGTH", "REASONS", "SCHEMA",
    "SCHEMA_V2", "USAGE_KEYS", "BatchV2", "ColumnarBatch", "DeadLetterMessage", "DecodedBatch",
    "FeatureValue", "Label", "LabelBlock", "LabelValue", "Prediction", "PredictionBlock",
    "PredictionValue", "Rejected", "ScoredLabel", "decode_batch", "decode_columns",
    "decode_deadletter", "encode_batch", "encode_batch_v2", "encode_deadletter",
]
