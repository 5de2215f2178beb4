"""Build docs/wire-format.schema.json from the codec's msgspec types (``python -m tests.wire.schema``).

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
    """The JSON Schema (2020-12) of one ``infersight.events/v1`` message."""
    generated = _edit(msgspec.json.schema(_Batch))
    defs = generated["$defs"]
    batch = defs.pop("_Batch")
    for name, description in DESCRIPTIONS.items():
        defs[name]["description"] = description
    defs["Prediction"]["properties"]["features"]["propertyNames"] = {
        "minLength": 1,
        "maxLength": wire.MAX_NAME_CHARS,
    }
    batch["properties"]["schema"] = {"const": wire.SCHEMA}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:infersight:events:v1",
        "title": "infersight.events/v1 batch",
        "description": "One message on infersight.events / infersight.labels, or one HTTP ingest "
        "body. Unknown fields are ignored. See docs/wire-format.md.",
        "type": "object",
        "properties": batch["properties"],
        "required": batch["required"],
        "$defs": defs,
    }


def render() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
