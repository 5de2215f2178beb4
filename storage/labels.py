"""The label join's storage: the prediction index and labels waiting for their prediction.

Labels join predictions by (model, prediction_id) in either order. When a label arrives
first it waits in ``pending_labels`` until its prediction is indexed (then
:func:`take_pending_labels_of_incoming` hands it over), or until it expires after
``INFERSIGHT_LABEL_TTL`` and the caller dead-letters it as ``unmatched_label``. A prediction
is indexed once: a re-delivered one is reported as a duplicate, never overwritten. Rows are
written in key order (one lock order across workers). Nothing here commits; the caller owns
the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from infersight.storage.held import BOOTSTRAP_KEY
from infersight.storage.index_codec import (
    HELD,
    as_float32,
    decode_value,
    encode_label,
    join_prediction,
    key_hash,
    split_prediction,
)
from infersight.storage.models import HeldPrediction, IndexWindow, PendingLabel, PredictionIndex
from infersight.storage.recordset import recordset, recordset_sql
from infersight.storage.upsert import dialect_insert
from sqlalchemy import (
    BigInteger,
    Table,
    bindparam,
    column,
    delete,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

PredictionKey = tuple[str, str]
"""(model, prediction_id)."""

index_table: Table = PredictionIndex.__table__
pending_table: Table = PendingLabel.__table__
windows_table: Table = IndexWindow.__table__
held_table: Table = HeldPrediction.__table__

_CHUNK = 500
"""Keys per ``IN (…)`` lookup: well under every backend's parameter limit."""

def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


_INCOMING = "infersight_incoming_index"
"""Per-connection temporary table the Postgres path copies a batch's index rows into."""

WindowKey = tuple[str, str, datetime]
"""(model, version, window_start)."""


def window_ids(session: Session, windows: Iterable[WindowKey]) -> dict[WindowKey, int]:
    """The index's small id of each ``(model, version, window_start)``, creating new ones
    (insert-or-ignore: two workers creating the same window take turns on its unique key)."""
    wanted = sorted(set(windows))
    found: dict[WindowKey, int] = {}
    c = windows_table.c
    for _attempt in range(3):
        for chunk in _chunks([w for w in wanted if w not in found]):
            rows = session.execute(select(c.model, c.version, c.window_start, c.id).where(
                tuple_(c.model, c.version, c.window_start).in_(list(chunk))))
            found.update({(m, v, start): i for m, v, start, i in rows})
        missing = [w for w in wanted if w not in found]
        if not missing:
            return found
        session.execute(dialect_insert(session, windows_table).on_conflict_do_nothing(),
                        [{"model": m, "version": v, "window_start": start}
                         for m, v, start in missing])
    raise RuntimeError(f"could not create the index windows {missing!r}")


def insert_predictions(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[PredictionKey]:
    """Insert prediction-index rows; returns the ``(model, prediction_id)`` actually new
    (a prediction already indexed is a duplicate delivery).

    ``rows`` carry ``model``, ``prediction_id``, ``version``, ``window_start``, ``ts`` and
    ``prediction``; a held prediction (its value a dict with ``BOOTSTRAP_KEY``) is indexed
    with the held marker and its whole event goes to ``held_predictions``.

    Postgres: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT DO
    NOTHING RETURNING`` (tens of thousands of rows a second; a multi-row ``VALUES`` costs more
    in building the SQL text than in the database). SQLite: one cached ``executemany``.
    Before them, one query (and, for a window not seen before, one insert) for the ids of
    the batch's windows.
    """
    if not rows:
        return set()
    for r in rows:
        if r["ts"].utcoffset() is None or r["window_start"].utcoffset() is None:
            raise ValueError(f"naive datetime in prediction {r['prediction_id']!r} refused: "
                             "pass timezone-aware datetimes")
    ids = window_ids(session, ((r["model"], r["version"], r["window_start"]) for r in rows))
    by_hash: dict[int, Mapping[str, Any]] = {}
    records = []
    held: list[int] = []
    for r in rows:
        h = key_hash(r["model"], r["prediction_id"])
        by_hash[h] = r
        if _is_held(r["prediction"]):
            score, value = None, HELD
            held.append(h)
        else:
            score, value = split_prediction(r["prediction"])
            score = None if score is None else as_float32(score)
        records.append((h, r["ts"], ids[(r["model"], r["version"], r["window_start"])],
                        score, value))
    records.sort(key=lambda rec: rec[0])  # one lock order across workers
    if _dialect(session) != "postgresql":
        c = index_table.c
        stmt = dialect_insert(session, index_table).on_conflict_do_nothing().returning(c.key_hash)
        new_hashes = {h for (h,) in session.execute(stmt, [
            {"key_hash": h, "ts": ts, "window_id": w, "score": score, "value": value}
            for h, ts, w, score, value in records])}
    else:
        new_hashes = _copy_insert(session, records)
    held_rows = []
    for h in sorted(held):
        if h in new_hashes:
            r = by_hash[h]
            held_rows.append({"model": r["model"], "prediction_id": r["prediction_id"],
                              "version": r["version"], "window_start": r["window_start"],
                              "ts": r["ts"], "key_hash": h, "event": r["prediction"]})
    if held_rows:
        session.execute(dialect_insert(session, held_table).on_conflict_do_nothing(), held_rows)
    return {(by_hash[h]["model"], by_hash[h]["prediction_id"]) for h in new_hashes}


def _is_held(value: Any) -> bool:
    return isinstance(value, dict) and BOOTSTRAP_KEY in value


def _copy_insert(
    session: Session, records: Sequence[tuple[int, datetime, int, float | None, bytes | None]]
) -> set[int]:
    raw = session.connection().connection.driver_connection
    assert raw is not None
    columns = "key_hash, ts, window_id, score, value"
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} (key_hash bigint, ts timestamptz, "
            "window_id integer, score real, value bytea) ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {_INCOMING}")
        # binary: psycopg writes a typed row in ~1 µs, a text row in ~6.5 µs
        with cursor.copy(f"COPY {_INCOMING} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "timestamptz", "int4", "float4", "bytea"])
            for record in records:
                copy.write_row(record)
        cursor.execute(
            f"INSERT INTO {index_table.name} ({columns}) SELECT {columns} FROM {_INCOMING} "
            "ORDER BY key_hash ON CONFLICT DO NOTHING RETURNING key_hash"
        )
        return {h for (h,) in cursor.fetchall()}


def take_pending_labels_of_incoming(
    session: Session, keys: Sequence[PredictionKey]
) -> dict[PredictionKey, tuple[Any, datetime]]:
    """Delete and return the pending labels of the predictions just given to
    :func:`insert_predictions` (``keys``: all of them, new and re-delivered: a label that
    raced a re-delivered prediction in joins now, its prediction being indexed).

    Only the keys of models that have a pending label are probed (a label committed by
    another worker in between is joined by the raced-label join). Postgres: one statement,
    a primary-key probe per key (as :func:`lookup_predictions`) and a delete by ``ctid``,
    whatever the planner's statistics of ``pending_labels``."""
    waiting = _models_with_pending_labels(session, {m for m, _ in keys})
    ordered = sorted(key for key in set(keys) if key[0] in waiting)
    if not ordered:
        return {}
    if _dialect(session) != "postgresql":
        return take_pending_labels(session, ordered)
    rows = session.execute(
        text(
            f"DELETE FROM {pending_table.name} d USING (SELECT p.ctid AS row_id "
            f"FROM {recordset_sql('k', {'model': 'text', 'prediction_id': 'text'})} "
            f"CROSS JOIN LATERAL (SELECT ctid FROM "
            f"{pending_table.name} p WHERE p.model = k.model AND p.prediction_id = "
            "k.prediction_id FOR UPDATE) p) s WHERE d.ctid = s.row_id "
            "RETURNING d.model, d.prediction_id, d.label, d.ts"
        ).columns(*(pending_table.c[name] for name in ("model", "prediction_id", "label", "ts"))),
        {"k": recordset([{"model": m, "prediction_id": p} for m, p in ordered])},
    )
    return {(m, pid): (label, ts) for m, pid, label, ts in rows}


def _models_with_pending_labels(session: Session, models: set[str]) -> set[str]:
    """Those of ``models`` that have a pending label (one probe of the primary key's first
    column per model): a model whose labels never come first costs no probe per prediction."""
    if not models:
        return set()
    p = pending_table.c
    found = set()
    for model in sorted(models):
        if session.execute(select(p.model).where(p.model == model).limit(1)).first():
            found.add(model)
    return found


def take_pending_labels(
    session: Session, keys: Sequence[PredictionKey]
) -> dict[PredictionKey, tuple[Any, datetime]]:
    """Delete and return the pending labels of ``keys``: ``{(model, id): (label, ts)}``."""
    taken: dict[PredictionKey, tuple[Any, datetime]] = {}
    c = pending_table.c
    for chunk in _chunks(sorted(set(keys))):
        stmt = (
            delete(pending_table)
            .where(tuple_(c.model, c.prediction_id).in_(list(chunk)))
            .returning(c.model, c.prediction_id, c.label, c.ts)
        )
        for model, pid, label, ts in session.execute(stmt):
            taken[(model, pid)] = (label, ts)
    return taken


@dataclass(slots=True)
class IndexedPrediction:
    """What the label join needs of an indexed prediction (``labelled``: a label joined it)."""

    version: str
    window_start: datetime
    ts: datetime
    prediction: Any
    label: Any
    labelled: bool


def _hashes(keys: Sequence[PredictionKey]) -> list[int]:
    return [key_hash(m, p) for m, p in keys]


def lookup_predictions(
    session: Session, keys: Sequence[PredictionKey]
) -> dict[PredictionKey, IndexedPrediction]:
    """Indexed predictions among ``keys``, locked against concurrent label joins.

    Postgres: one statement, a unique-index probe per key and partition: the key hashes
    (one JSON parameter, :mod:`~infersight.storage.recordset`), each joined ``LATERAL`` to a
    locking subquery on the hash (a subquery with ``FOR UPDATE`` is not flattened into a join, so stale statistics cannot turn it into a
    hash join over the whole table; an ``IN`` list of 500 pairs cost ~25x more, mostly in
    planning its ``OR``); the version's name likewise by its primary key (``LIMIT 1`` keeps
    that subquery a nested probe too). Rows are locked in key order. SQLite: the version
    names, then ``IN`` lists of 500 hashes.
    """
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    hashes = _hashes(ordered)
    if _dialect(session) == "postgresql":
        rows = session.execute(
            text(
                "SELECT k.n, w.version, w.window_start, i.ts, i.score, i.value, i.label "
                f"FROM {recordset_sql('k', {'model': 'text', 'h': 'bigint'})} "
                "CROSS JOIN LATERAL (SELECT ts, window_id, score, value, label FROM "
                f"{index_table.name} p WHERE p.key_hash = k.h FOR UPDATE) i "
                f"CROSS JOIN LATERAL (SELECT version, window_start FROM {windows_table.name} w "
                "WHERE w.id = i.window_id AND w.model = k.model LIMIT 1) w ORDER BY k.n"
            ).columns(column("n", BigInteger()), windows_table.c.version,
                      windows_table.c.window_start, index_table.c.ts, index_table.c.score,
                      index_table.c.value, index_table.c.label),
            {"k": recordset([{"model": m, "h": h}
                             for (m, _), h in zip(ordered, hashes, strict=True)])},
        )
        return {ordered[n - 1]: _indexed(*row) for n, *row in rows}
    by_hash = dict(zip(hashes, ordered, strict=True))
    c, w = index_table.c, windows_table.c
    found: dict[PredictionKey, IndexedPrediction] = {}
    for chunk in _chunks(hashes):
        stmt = (select(c.key_hash, w.model, w.version, w.window_start, c.ts, c.score, c.value,
                       c.label)
                .join(windows_table, w.id == c.window_id).where(c.key_hash.in_(list(chunk))))
        for h, model, *row in session.execute(stmt):
            if by_hash[h][0] == model:
                found[by_hash[h]] = _indexed(*row)
    return found


def _indexed(version: str, start: datetime, ts: datetime, score: float | None,
             value: bytes | None, label: bytes | None) -> IndexedPrediction:
    return IndexedPrediction(version, start, ts, join_prediction(score, value),
                             None if label is None else decode_value(label), label is not None)


def mark_labelled(
    session: Session, labelled: Sequence[tuple[str, str, Any]], at: datetime
) -> None:
    """Set the ``label`` of ``(model, prediction_id, label)`` rows, in one statement: on
    Postgres an ``UPDATE`` of the rows found (and locked) by a unique-index probe per key and
    partition, as in :func:`lookup_predictions`, then written by hash and ``ts`` (the
    partition key: one partition probed per row); one ``executemany`` on SQLite. (``at`` is
    not stored: the compact index keeps no label time.)"""
    if not labelled:
        return
    ordered = sorted({(m, p): label for m, p, label in labelled}.items())
    hashes = [key_hash(m, p) for (m, p), _ in ordered]
    values = [encode_label(label) for _, label in ordered]
    if _dialect(session) == "postgresql":
        session.execute(
            text(
                f"UPDATE {index_table.name} i SET label = s.label FROM (SELECT p.key_hash, "
                "p.ts, decode(k.label, 'base64') AS label "
                f"FROM {recordset_sql('k', {'h': 'bigint', 'label': 'text'})} "
                f"CROSS JOIN LATERAL (SELECT key_hash, ts FROM {index_table.name} p "
                "WHERE p.key_hash = k.h FOR UPDATE) p) s "
                "WHERE i.key_hash = s.key_hash AND i.ts = s.ts"
            ),
            {"k": recordset([{"h": h, "label": value}
                             for h, value in zip(hashes, values, strict=True)])},
        )
        return
    c = index_table.c
    stmt = update(index_table).where(c.key_hash == bindparam("key")).values(
        label=bindparam("new_label"))
    session.execute(stmt, [{"key": h, "new_label": value}
                           for h, value in zip(hashes, values, strict=True)])


def add_pending_labels(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Keep labels whose prediction is not indexed yet (a duplicate keeps the first).

    One statement: ``INSERT … SELECT … FROM json_to_recordset(…)`` on Postgres, an ``executemany`` on
    SQLite."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: (r["model"], r["prediction_id"]))
    if _dialect(session) != "postgresql":
        session.execute(dialect_insert(session, pending_table).on_conflict_do_nothing(), ordered)
        return
    for r in ordered:
        if r["ts"].utcoffset() is None or r["received_at"].utcoffset() is None:
            raise ValueError(f"naive datetime in label {r['prediction_id']!r} refused: "
                             "pass timezone-aware datetimes")
    session.execute(
        text(
            f"INSERT INTO {pending_table.name} (model, prediction_id, label, ts, received_at) "
            "SELECT model, prediction_id, label, ts, received_at FROM "
            + recordset_sql("k", {"model": "text", "prediction_id": "text", "label": "jsonb",
                                  "ts": "timestamptz", "received_at": "timestamptz"})
            + " ORDER BY n ON CONFLICT DO NOTHING"
        ),
        {"k": recordset([{name: r[name] for name in (
            "model", "prediction_id", "label", "ts", "received_at")} for r in ordered])},
    )


def claimable_pending_labels(
    session: Session, limit: int = 5000
) -> list[PredictionKey]:
    """Pending labels whose prediction has arrived since (a race between two workers):
    every pending label's key probed in the index, 500 at a time."""
    p = pending_table.c
    claimable: list[PredictionKey] = []
    after: PredictionKey | None = None
    while len(claimable) < limit:
        query = select(p.model, p.prediction_id).order_by(p.model, p.prediction_id).limit(_CHUNK)
        if after is not None:
            query = query.where(tuple_(p.model, p.prediction_id) > after)
        keys = [(m, pid) for m, pid in session.execute(query)]
        if not keys:
            break
        after = keys[-1]
        indexed = _indexed_keys(session, keys)  # one probe per chunk, not per key
        claimable.extend(key for key in keys if key in indexed)
    return claimable[:limit]


def _indexed_keys(session: Session, keys: Sequence[PredictionKey]) -> set[PredictionKey]:
    by_hash = {key_hash(m, pid): (m, pid) for m, pid in keys}
    c = index_table.c
    if _dialect(session) == "postgresql":
        rows = session.execute(text(
            f"SELECT k.h FROM {recordset_sql('k', {'h': 'bigint'})} WHERE EXISTS "
            f"(SELECT 1 FROM {index_table.name} p WHERE p.key_hash = k.h)"),
            {"k": recordset([{"h": h} for h in by_hash])})
    else:
        rows = session.execute(select(c.key_hash).where(c.key_hash.in_(list(by_hash))))
    return {by_hash[h] for (h,) in rows}


def expire_pending_labels(
    session: Session, older_than: datetime, limit: int = 5000
) -> list[tuple[str, str, Any, datetime]]:
    """Delete and return pending labels received before ``older_than``."""
    c = pending_table.c
    keys = [
        (m, pid)
        for m, pid in session.execute(
            select(c.model, c.prediction_id).where(c.received_at < older_than).limit(limit)
        )
    ]
    expired: list[tuple[str, str, Any, datetime]] = []
    for chunk in _chunks(keys):
        stmt = (
            delete(pending_table)
            .where(tuple_(c.model, c.prediction_id).in_(list(chunk)))
            .returning(c.model, c.prediction_id, c.label, c.ts)
        )
        expired.extend((m, pid, label, ts) for m, pid, label, ts in session.execute(stmt))
    return expired
