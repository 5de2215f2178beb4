"""API keys: stored hashed, with scopes, revocable (``infersight apikey create|list|revoke``).

A key is ``isk_<id>_<secret>``: ``id`` (8 hex characters) names the row and is safe to show;
``secret`` is 32 random bytes (256 bits, ``secrets.token_urlsafe``). Only the SHA-256 digest
of the whole token is stored. A slow password hash (bcrypt, argon2) exists to make guessing
*low-entropy* human passwords expensive; a 256-bit random token cannot be guessed, so one
fast SHA-256 is enough and keeps the check per request in microseconds. The comparison
is constant-time.

Scopes: ``ingest`` (POST events and labels), ``read`` (queries), ``admin`` (everything,
including model settings, references and alert rules).

>>> from infersight.storage.db import make_engine, session_factory
>>> from infersight.storage.models import Base
>>> engine = make_engine("sqlite://")
>>> Base.metadata.create_all(engine, tables=[ApiKey.__table__])
>>> with session_factory(engine).begin() as session:
...     key, token = create_api_key(session, "ci", ["ingest"])
...     authenticate(session, token).name, authenticate(session, token + "x")
('ci', None)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from infersight.storage.models import Base
from infersight.storage.types import JsonType, UtcDateTime, utc_now
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

SCOPES = ("ingest", "read", "admin")
"""Every scope a key can hold; ``admin`` implies the other two."""

TOKEN_PREFIX = "isk_"
_TOKEN = re.compile(r"^isk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
_NAME = re.compile(r"^[A-Za-z0-9_.@:-]{1,100}$")


class ApiKey(Base):
    """One API key: a name, the SHA-256 of its token, its scopes, and whether it is revoked."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[Any] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def allows(self, scope: str) -> bool:
        """Whether this key may act in ``scope`` (``admin`` may do everything)."""
        held = set(self.scopes or ())
        return scope in held or "admin" in held


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256 as hex.

    >>> len(hash_token("isk_0123abcd_x"))
    64
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """Validated, de-duplicated scopes in canonical order (ValueError names the bad one).

    >>> check_scopes(["read", "ingest", "read"])
    ['ingest', 'read']
    """
    wanted = list(scopes)
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(map(repr, unknown))}: use {', '.join(SCOPES)}")
    if not wanted:
        raise ValueError(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return [s for s in SCOPES if s in wanted]


def create_api_key(session: Session, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the token, which is shown once and never stored."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"invalid key name {name!r}: 1-100 characters of letters, digits and _ . @ : -"
        )
    checked = check_scopes(scopes)
    if session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise ValueError(f"an API key named {name!r} exists; revoke it or choose another name")
    key_id = secrets.token_hex(4)
    while session.get(ApiKey, key_id) is not None:
        key_id = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(key_id=key_id, name=name, token_sha256=hash_token(token), scopes=checked,
                 created_at=utc_now())
    session.add(row)
    session.flush()
    return row, token


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones included, by name."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.name)))


def revoke_api_key(session: Session, name_or_id: str) -> ApiKey | None:
    """Revoke the key with this name (or id); None when there is none. Idempotent."""
    row = session.scalar(select(ApiKey).where(ApiKey.name == name_or_id))
    if row is None:
        row = session.get(ApiKey, name_or_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utc_now()
        session.flush()
    return row


def authenticate(session: Session, token: str) -> ApiKey | None:
    """The live (not revoked) key whose token this is, or None."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    row = session.get(ApiKey, match.group(1))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.token_sha256, hash_token(token)):
        return None
    return row
