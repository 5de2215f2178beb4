"""Request bodies read as a stream with a size limit: a clear 413, never unbounded memory.

The ``Content-Length`` header is checked first (no byte is read from a body announced too
large); a chunked body is counted as it arrives and refused as soon as it passes the limit.
Large bodies spill to a temporary file instead of staying in memory.
"""

from __future__ import annotations

import tempfile
from typing import IO

from fastapi import Request
from infersight.collector.api.errors import ApiError, Problem

SPOOL_BYTES = 8 * 1024 * 1024
"""Bodies larger than this are kept in a temporary file while they are parsed."""


def too_large(limit: int, what: str) -> ApiError:
    return ApiError(
        413, "payload_too_large",
        f"{what} is larger than the limit of {limit} bytes",
        [Problem(field="body", problem=f"larger than {limit} bytes")],
        limit_bytes=limit,
    )


def _announced(request: Request, limit: int, what: str) -> None:
    header = request.headers.get("content-length")
    if header is None:
        return
    try:
        length = int(header)
    except ValueError:
        raise ApiError(400, "bad_request", "Content-Length is not a number",
                       [Problem(field="header.content-length", problem="not a number")]) from None
    if length > limit:
        raise too_large(limit, what)


async def read_body(request: Request, limit: int, what: str = "the request body") -> bytes:
    """The whole body as bytes, at most ``limit`` of them (413 beyond)."""
    _announced(request, limit, what)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit, what)
        chunks.append(chunk)
    return b"".join(chunks)


async def spool_body(request: Request, limit: int, what: str = "the request body") -> IO[bytes]:
    """The body in a spooled temporary file (rewound), at most ``limit`` bytes (413 beyond)."""
    _announced(request, limit, what)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - caller closes
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit, what)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool
