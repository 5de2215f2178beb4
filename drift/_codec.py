"""Versioned binary envelope for serialised profiles and window states.

A blob is ``MAGIC (4 bytes) + format version (1 byte) + msgpack body``. Arrays travel as
``{"d": dtype, "b": raw little-endian bytes}`` with counts shrunk to the smallest unsigned type
that holds them, which keeps a window state compact.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder()


class FormatError(ValueError):
    """Raised when bytes are not a serialised infersight object of the expected kind/version."""


def pack(magic: bytes, version: int, body: dict[str, Any]) -> bytes:
    """Wrap ``body`` (msgpack-able builtins) in the versioned envelope."""
    return magic + bytes([version]) + _ENCODER.encode(body)


def unpack(data: bytes, magic: bytes, supported: tuple[int, ...]) -> tuple[int, dict[str, Any]]:
    """Check the envelope and return ``(version, body)``; raise :class:`FormatError` if invalid."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FormatError(f"expected bytes, got {type(data).__name__}")
    raw = bytes(data)
    if len(raw) < len(magic) + 1 or raw[: len(magic)] != magic:
        raise FormatError(f"not a serialised {magic.decode()} object (bad magic bytes)")
    version = raw[len(magic)]
    if version not in supported:
        raise FormatError(f"{magic.decode()} format version {version} is not supported "
                          f"(this library reads {', '.join(map(str, supported))})")
    try:
        body = _DECODER.decode(raw[len(magic) + 1 :])
    except msgspec.DecodeError as exc:
        raise FormatError(f"corrupt {magic.decode()} payload: {exc}") from exc
    if not isinstance(body, dict):
        raise FormatError(f"corrupt {magic.decode()} payload: body is not a map")
    return version, body


def encode_counts(counts: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Encode non-negative integer counts with the narrowest unsigned dtype."""
    top = int(counts.max()) if counts.size else 0
    dtype: type[np.unsignedinteger[Any]]
    if top < 2**8:
        dtype = np.uint8
    elif top < 2**16:
        dtype = np.uint16
    elif top < 2**32:
        dtype = np.uint32
    else:
        dtype = np.uint64
    arr = counts.astype(np.dtype(dtype).newbyteorder("<"))
    return {"d": arr.dtype.str, "b": arr.tobytes()}


def encode_floats(values: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Encode a float64 array losslessly."""
    arr = np.ascontiguousarray(values, dtype="<f8")
    return {"d": arr.dtype.str, "b": arr.tobytes()}


def decode_array(obj: Any, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """Decode an array written by :func:`encode_counts` / :func:`encode_floats` into ``dtype``."""
    try:
        code = obj["d"]
        kind = _DTYPES.get(code) if isinstance(code, str) else None
        if kind is None:
            kind = np.dtype(code)
            if isinstance(code, str) and len(_DTYPES) < 64:
                _DTYPES[code] = kind
        arr = np.frombuffer(obj["b"], dtype=kind)
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"corrupt array field: {exc}") from exc
    return arr.astype(dtype)


_DTYPES: dict[str, np.dtype[Any]] = {}
"""Parsed dtype codes (``"<u2"``, ``"<f8"``…) of :func:`decode_array`."""
