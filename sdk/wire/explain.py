"""Why msgspec refused an event, in the words of docs/wire-format.md: a reason and the field."""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec
from infersight.sdk.wire.events import FeatureValue, Name, Probability, Text, TokenCount

_object_decoder: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])

_JSON_KINDS: Final = {"{": "object", "[": "array", '"': "string", "t": "boolean", "f": "boolean",
                      "n": "null"}  # fmt: skip
_TYPE_WORDS: Final = {"float": "number", "int": "integer", "str": "string", "bool": "boolean",
                      "datetime": "timestamp"}  # fmt: skip
_EXPECTED: Final = re.compile(r"Expected `([^`]*)`, got `([^`]*)`")
_AT_PATH: Final = re.compile(r" - at `(key` in `)?\$([^`]*)`$")
_TIMESTAMP_RULE: Final = "expected an RFC 3339 timestamp with a UTC offset (Z or ±hh:mm)"
_KEY_DECODER: Final = msgspec.json.Decoder(Name)
_ENTRY_DECODERS: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    ".features": msgspec.json.Decoder(FeatureValue),
    ".tags": msgspec.json.Decoder(Text),
    ".prediction.score": msgspec.json.Decoder(Probability),
    ".usage": msgspec.json.Decoder(TokenCount),
}
_BOUND: Final = re.compile(r"Expected `(?:float|int)` (.*)")


def kind_of(raw: bytes | msgspec.Raw) -> str:
    return _JSON_KINDS.get(bytes(raw).lstrip()[:1].decode("latin-1"), "number")


def quote(name: str) -> str:
    return msgspec.json.encode(name[:40] + ("…" if len(name) > 40 else "")).decode()


def explain(raw: bytes, message: str) -> tuple[str, str]:
    """Turn a msgspec validation message into (reason, detail naming the offending field)."""
    match = _AT_PATH.search(message)
    text = message[: match.start()] if match else message
    path = match.group(2) if match else ""
    if match and (match.group(1) or "[...]" in path):
        path = _locate(raw, path.partition("[...]")[0], in_key=bool(match.group(1)))
    if text.startswith("Object missing required field"):
        return "missing_field", f"{path}.{text.split('`')[1]}: required field is missing"
    if path == ".type":
        value = bytes(_object_decoder.decode(raw)["type"]).decode()[:60]
        return "unknown_type", f'.type: {value} is not "prediction" or "label"'
    if text == "Number out of range":
        return "non_finite", f"{path}: number beyond the finite double range"
    if "datetime" in text or "RFC3339" in text:
        return "invalid_timestamp", f"{path}: {_TIMESTAMP_RULE}"
    if expected := _EXPECTED.match(text):
        wanted = " or ".join(_TYPE_WORDS.get(word, word) for word in expected[1].split(" | "))
        return (
            "wrong_type",
            f"{path}: expected {wanted}, got {_TYPE_WORDS.get(expected[2], expected[2])}",
        )
    if " of length <= " in text:
        unit = "characters" if text.startswith("Expected `str`") else "entries"
        return "limit_exceeded", f"{path}: more than {text.rsplit(' ', 1)[1]} {unit}"
    if " of length >= " in text:
        return "invalid_value", f"{path}: must not be empty"
    if bound := _BOUND.match(text):
        return "invalid_value", f"{path}: must be {bound[1]}"
    return "invalid_value", f"{path}: {text}"


def _locate(raw: bytes, container_path: str, *, in_key: bool) -> str:
    """Name the map entry that msgspec reports only as ``[...]`` (a bad value) or ``key``."""
    try:
        node = raw
        for name in container_path.strip(".").split("."):
            node = bytes(_object_decoder.decode(node)[name])
        check = _KEY_DECODER if in_key else _ENTRY_DECODERS[container_path]
        for key, value in _object_decoder.decode(node).items():
            try:
                check.decode(msgspec.json.encode(key) if in_key else value)
            except msgspec.ValidationError:
                return f"{container_path}[{quote(key)}]" + (" (name)" if in_key else "")
    except (msgspec.MsgspecError, KeyError):
        pass
    return container_path + ("" if in_key else "[...]")
