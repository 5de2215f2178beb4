"""Dependencies as ``Annotated`` aliases: the context, a database session, the caller.

>>> from typing import get_args
>>> get_args(ReadKey)[0].__name__
'Principal'
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from infersight.collector.api.auth import Principal, require
from infersight.collector.api.context import ApiContext
from infersight.collector.api.errors import ApiError
from sqlalchemy.orm import Session


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def get_session(context: Context) -> Iterator[Session]:
    """A session in a transaction, committed before the response is sent."""
    with context.sessions.begin() as session:
        yield session


def get_write_session(context: Context) -> Iterator[Session]:
    """A session for a transaction that writes, committed before the response is sent."""
    with context.write_sessions.begin() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
WriteSession = Annotated[Session, Depends(get_write_session, scope="function")]
IngestKey = Annotated[Principal, Depends(require("ingest"))]
ReadKey = Annotated[Principal, Depends(require("read"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]


def unknown_model(session: Session, model: str) -> ApiError:
    """A 404 listing the known models."""
    from infersight.storage.registry import list_models

    known = [m.name for m in list_models(session)]
    shown = ", ".join(known[:50]) + (" …" if len(known) > 50 else "") if known else "none yet"
    return ApiError(404, "unknown_model", f"no model named {model!r}; known models: {shown}",
                    known_models=known)


def existing_model(session: Session, model: str) -> None:
    """Raise the 404 of :func:`unknown_model` unless ``model`` exists."""
    from infersight.storage.registry import get_model

    if get_model(session, model) is None:
        raise unknown_model(session, model)
