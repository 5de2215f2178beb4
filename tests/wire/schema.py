"""Build docs/wire-format.schema.json (v1 and v2) from the codec's msgspec types (``python -m tests.wire.schema``).

msgspec's generated schema is post-edited where JSON Schema and the decoder would otherwise
disagree: timestamps get the pattern the decoder accepts, numbers the finite double range, feature
names their length bounds (checked after decoding, so absent from the types), and the batch its
schema constant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec
from infersight.sdk import wire
from infersight.sdk.wire.codec import _Batch
from infersight.sdk.wire.columnar import BatchV2

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "wire-format.schema.json"
MAX_DOUBLE = sys.float_info.max
TIMESTAMP_PATTERN = (
    r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]"
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$"
)
DESCRIPTIONS = {
    "Prediction": "One monitored model call. `error` names the exception type of a call that raised "
    "(`prediction` is then null).",
    "Label": "The ground truth for an earlier prediction, joined on (model, prediction_id).",
    "ScoredLabel": "A class label with its score, or with every class's probability.",
    "PredictionBlock": "v2: the predictions of one (model, version), one array entry per event; "
    "every column has as many entries as prediction_id (checked by the decoder). null in a "
    "column is a missing value (features) or an absent entry (tags, usage).",
    "LabelBlock": "v2: the labels of one model, one array entry per event.",
}


def _edit(node: Any) -> Any:
    """Bound numbers to finite doubles, drop OpenAPI-only keywords, fold integer into number."""
    if isinstance(node, list):
        return [_edit(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _edit(value) for key, value in node.items() if key != "discriminator"}
    if node.get("type") == "number":
        node.setdefault("minimum", -MAX_DOUBLE)
        node.setdefault("maximum", MAX_DOUBLE)
    if (
        "anyOf" in node
    ):  # where an integer is allowed, so is any number: {"type": "integer"} is redundant
        node["anyOf"] = [branch for branch in node["anyOf"] if branch != {"type": "integer"}]
    if node.get("format") == "date-time":
        del node["format"]
        node["pattern"] = TIMESTAMP_PATTERN
        node["description"] = "RFC 3339 timestamp with a UTC offset, e.g. 2024-05-01T12:00:00.123Z"
    return node


def build_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of one ``infersight.events`` message, v1 or v2."""
    (_v1_ref, _v2_ref), components = msgspec.json.schema_components([_Batch, BatchV2])
    defs = _edit(components)
    v1 = defs.pop("_Batch")
    for name, description in DESCRIPTIONS.items():
        defs[name]["description"] = description
    names = {"minLength": 1, "maxLength": wire.MAX_NAME_CHARS}
    defs["Prediction"]["properties"]["features"]["propertyNames"] = names
    defs["PredictionBlock"]["properties"]["features"]["propertyNames"] = names
    v1["properties"]["schema"] = {"const": wire.SCHEMA}
    v1["title"] = wire.SCHEMA
    defs["BatchV2"]["properties"]["schema"] = {"const": wire.SCHEMA_V2}
    defs["BatchV2"]["title"] = wire.SCHEMA_V2
    defs["BatchV2"]["description"] = "Columnar: prediction blocks, then label blocks."
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:infersight:events",
        "title": "infersight.events batch (v1 or v2)",
        "description": "One message on infersight.events / infersight.labels, or one HTTP ingest "
        "body: a v1 batch (one object per event) or a v2 batch (columns per block). Unknown "
        "fields are ignored. See docs/wire-format.md.",
        "oneOf": [{"$ref": "#/$defs/BatchV1"}, {"$ref": "#/$defs/BatchV2"}],
        "$defs": {"BatchV1": v1, **defs},
    }


def render() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
