"""The train/serve skew join's storage: ``offline_rows``, one row per (model, version,
:func:`~infersight.storage.index_codec.key_hash` of the prediction id).

A row holds the feature values computed offline (uploaded through the API) and/or the
values the model was served (kept by the worker while the model has skew enabled), both
MessagePack, until the pair is compared: then both are cleared and the row stays, as a
tombstone against a re-upload or a re-delivered prediction, until ``expires_at``
(``INFERSIGHT_SKEW_TTL`` after it was last written). Either side may come first; a
duplicate keeps the first. Rows are written in key order (one lock order across workers).
Nothing here commits; the caller owns the transaction (docs/statistics.md, "Train/serve
skew by key").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from infersight.storage.index_codec import key_hash
from infersight.storage.models import ModelVersion, OfflineRow
from infersight.storage.recordset import recordset, recordset_sql
from infersight.storage.types import UtcDateTime
from infersight.storage.upsert import dialect_insert
from sqlalchemy import (
    BigInteger,
    Table,
    bindparam,
    column,
    delete,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

table: Table = OfflineRow.__table__
c = table.c

SkewKey = tuple[str, str, str]
"""(model, version, prediction_id)."""

_CHUNK = 500
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(dict[str, Any])


def encode_features(features: Mapping[str, Any]) -> bytes:
    """Feature values in their stored form (MessagePack, exact)."""
    return _encoder.encode(dict(features))


def decode_features(data: bytes) -> dict[str, Any]:
    return _decoder.decode(data)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _hash(key: SkewKey) -> int:
    return int(key_hash(key[0], key[2]))


def store_offline(
    session: Session, model: str, version: str, rows: Mapping[str, Mapping[str, Any]],
    expires_at: datetime,
) -> int:
    """Store uploaded offline values ``{prediction_id: {feature: value}}``; returns how many
    were new (an id already uploaded, or already compared, keeps its first values)."""
    records = sorted(
        ({"model": model, "version": version, "key_hash": key_hash(model, pid),
          "prediction_id": pid, "offline": encode_features(values), "served": None,
          "window_start": None, "compared": False, "expires_at": expires_at}
         for pid, values in rows.items()), key=lambda r: r["key_hash"])
    stored = 0
    for chunk in _chunks(records):
        insert = dialect_insert(session, table)
        stmt = insert.on_conflict_do_update(
            index_elements=["model", "version", "key_hash"],
            set_={"offline": insert.excluded.offline, "expires_at": insert.excluded.expires_at},
            where=c.offline.is_(None) & c.compared.is_(False),
        ).returning(c.key_hash)
        stored += len(session.execute(stmt, list(chunk)).all())
    return stored


def keep_served(session: Session, rows: Sequence[Mapping[str, Any]], expires_at: datetime) -> None:
    """Keep served values: ``rows`` of ``model``, ``version``, ``prediction_id``,
    ``window_start`` and ``features``, inserted, or filled into a row holding only offline
    values (a row already served or compared is left as it is)."""
    if not rows:
        return
    records = sorted(
        ({"model": r["model"], "version": r["version"],
          "key_hash": key_hash(r["model"], r["prediction_id"]),
          "prediction_id": r["prediction_id"], "offline": None,
          "served": encode_features(r["features"]), "window_start": r["window_start"],
          "compared": False, "expires_at": expires_at} for r in rows),
        key=lambda r: (r["model"], r["version"], r["key_hash"]))
    if session.get_bind().dialect.name == "postgresql":  # one statement per batch
        unique: dict[tuple[str, str, int], dict[str, Any]] = {}
        for r in records:  # a re-delivery in the same batch: the first is kept
            unique.setdefault((r["model"], r["version"], r["key_hash"]), r)
        session.execute(text(
            f"INSERT INTO {table.name} (model, version, key_hash, prediction_id, served, "
            "window_start, compared, expires_at) SELECT model, version, key_hash, "
            "prediction_id, decode(served, 'base64'), window_start, false, :expires FROM "
            + recordset_sql("k", {"model": "text", "version": "text", "key_hash": "bigint",
                                  "prediction_id": "text", "served": "text",
                                  "window_start": "timestamptz"})
            + " ORDER BY n ON CONFLICT (model, version, key_hash) DO UPDATE SET "
            "served = excluded.served, window_start = excluded.window_start "
            f"WHERE {table.name}.served IS NULL AND NOT {table.name}.compared"
        ).bindparams(bindparam("expires", type_=UtcDateTime())), {
            "expires": expires_at,
            "k": recordset([{name: r[name] for name in (
                "model", "version", "key_hash", "prediction_id", "served", "window_start")}
                for r in unique.values()])})
        return
    insert = dialect_insert(session, table)
    stmt = insert.on_conflict_do_update(
        index_elements=["model", "version", "key_hash"],
        set_={"served": insert.excluded.served, "window_start": insert.excluded.window_start},
        where=c.served.is_(None) & c.compared.is_(False),
    )
    session.execute(stmt, records)


@dataclass(frozen=True, slots=True)
class OfflineFound:
    """What :func:`lookup` found of a request: its offline values (None: not uploaded, or
    already compared) and whether it was compared."""

    offline: dict[str, Any] | None
    compared: bool


def lookup(session: Session, keys: Sequence[SkewKey]) -> dict[SkewKey, OfflineFound]:
    """The rows of ``keys``, locked against a concurrent join (Postgres: one statement, a
    primary-key probe per key, the keys one JSON parameter,
    :mod:`~infersight.storage.recordset`; SQLite: ``IN`` lists of 500)."""
    hashes = {k: _hash(k) for k in keys}
    ordered = sorted(hashes, key=lambda k: (k[0], k[1], hashes[k]))
    if not ordered:
        return {}
    found: dict[SkewKey, OfflineFound] = {}
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT k.n, r.offline, r.compared FROM "
                + recordset_sql("k", {"model": "text", "version": "text", "h": "bigint"})
                + " CROSS JOIN LATERAL (SELECT offline, compared "
                f"FROM {table.name} o WHERE o.model = k.model AND o.version = k.version "
                "AND o.key_hash = k.h FOR UPDATE) r ORDER BY k.n"
            ).columns(column("n", BigInteger()), c.offline, c.compared),
            {"k": recordset([{"model": k[0], "version": k[1], "h": hashes[k]}
                             for k in ordered])},
        )
        for n, offline, compared in rows:
            found[ordered[n - 1]] = _found(offline, compared)
        return found
    by_row = {(k[0], k[1], hashes[k]): k for k in ordered}
    for chunk in _chunks(list(by_row)):
        query = select(c.model, c.version, c.key_hash, c.offline, c.compared).where(
            tuple_(c.model, c.version, c.key_hash).in_(list(chunk)))
        for model, version, h, offline, compared in session.execute(query):
            found[by_row[(model, version, h)]] = _found(offline, compared)
    return found


def _found(offline: bytes | None, compared: bool) -> OfflineFound:
    return OfflineFound(None if offline is None else decode_features(offline), bool(compared))


def mark_compared(session: Session, keys: Sequence[SkewKey]) -> None:
    """Clear the values of compared rows (each stays as a tombstone until it expires)."""
    if not keys:
        return
    ordered = sorted({(k[0], k[1], _hash(k)) for k in keys})
    if session.get_bind().dialect.name == "postgresql":  # one statement, a probe per key
        session.execute(text(
            f"UPDATE {table.name} o SET offline = NULL, served = NULL, compared = true FROM "
            f"(SELECT r.ctid AS row_id FROM "
            + recordset_sql("k", {"model": "text", "version": "text", "h": "bigint"})
            + f" CROSS JOIN LATERAL (SELECT ctid FROM {table.name} p WHERE p.model = k.model "
            "AND p.version = k.version AND p.key_hash = k.h FOR UPDATE) r) s "
            "WHERE o.ctid = s.row_id"),
            {"k": recordset([{"model": m, "version": v, "h": h} for m, v, h in ordered])})
        return
    stmt = (update(table)
            .where(c.model == bindparam("m"), c.version == bindparam("v"),
                   c.key_hash == bindparam("h"))
            .values(offline=None, served=None, compared=True)
            .execution_options(synchronize_session=False))
    session.execute(stmt, [{"m": m, "v": v, "h": h} for m, v, h in ordered])


@dataclass(frozen=True, slots=True)
class ReadyPair:
    """A row holding both sides, not compared yet."""

    model: str
    version: str
    prediction_id: str
    window_start: datetime
    served: dict[str, Any]
    offline: dict[str, Any]


def claim_ready(session: Session, limit: int = 5000) -> list[ReadyPair]:
    """Rows holding both sides and not compared yet (offline values uploaded after the
    prediction was served) of versions with a reference, locked; rows another transaction
    holds are skipped."""
    v = ModelVersion
    query = (select(c.model, c.version, c.prediction_id, c.window_start, c.served, c.offline)
             .join(v, (v.model == c.model) & (v.version == c.version))
             .where(c.offline.is_not(None), c.served.is_not(None), c.compared.is_(False),
                    v.reference.is_not(None))
             .order_by(c.model, c.version, c.key_hash).limit(limit)
             .with_for_update(of=table, skip_locked=True))
    return [ReadyPair(m, v, pid, start, decode_features(served), decode_features(offline))
            for m, v, pid, start, served, offline in session.execute(query)]


def purge_expired(session: Session, now: datetime) -> dict[str, int]:
    """Delete rows past ``expires_at``; returns how many were ``offline`` (uploaded, never
    served), ``served`` (served, never uploaded) and ``compared`` (tombstones)."""
    counts = {"offline": 0, "served": 0, "compared": 0}
    expired = c.expires_at < now
    has_offline = c.offline.is_not(None)
    for offline, compared, n in session.execute(
            select(has_offline, c.compared, func.count()).where(expired)
            .group_by(has_offline, c.compared)):
        counts["compared" if compared else "offline" if offline else "served"] += int(n)
    if any(counts.values()):  # counted first: SQLite's RETURNING misreads ``IS NOT NULL``
        session.execute(delete(table).where(expired))
    return counts


def waiting(session: Session, model: str, version: str) -> dict[str, int]:
    """How many rows of the version wait: ``offline`` (not served yet) and ``served``."""
    query = (select(c.offline.is_not(None), func.count()).where(
        c.model == model, c.version == version, c.compared.is_(False))
        .group_by(c.offline.is_not(None)))
    counts = {"offline": 0, "served": 0}
    for has_offline, n in session.execute(query):
        counts["offline" if has_offline else "served"] += int(n)
    return counts


def recent_window_starts(session: Session, model: str, version: str, limit: int) -> list[datetime]:
    """The version's latest ``limit`` window starts with a window state, newest first."""
    from infersight.storage.models import WindowState

    return list(session.scalars(
        select(WindowState.window_start).where(WindowState.model == model,
                                               WindowState.version == version)
        .distinct().order_by(WindowState.window_start.desc()).limit(limit)))
