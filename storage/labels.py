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

import msgspec
from infersight.storage.held import BOOTSTRAP_KEY
from infersight.storage.index_codec import (
    HELD,
    decode_value,
    encode_label,
    encode_prediction,
    key_hash,
)
from infersight.storage.models import HeldPrediction, IndexVersion, PendingLabel, PredictionIndex
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

PredictionKey = tuple[str, str]
"""(model, prediction_id)."""

index_table: Table = PredictionIndex.__table__
pending_table: Table = PendingLabel.__table__
versions_table: Table = IndexVersion.__table__
held_table: Table = HeldPrediction.__table__

_CHUNK = 500
"""Keys per ``IN (…)`` lookup: well under every backend's parameter limit."""

_json_encoder = msgspec.json.Encoder()


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


_INCOMING = "infersight_incoming_index"
"""Per-connection temporary table the Postgres path copies a batch's index rows into."""

_MAX_VERSION_NO = 32767


def version_numbers(session: Session, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The index's small number of each ``(model, version)``, numbering new ones (1, 2, …
    per model; two workers numbering at once take turns on the unique keys)."""
    wanted = sorted(set(pairs))
    found: dict[tuple[str, str], int] = {}
    c = versions_table.c
    for _attempt in range(10):
        missing = [pair for pair in wanted if pair not in found]
        if not missing:
            return found
        for chunk in _chunks(missing):
            rows = session.execute(select(c.model, c.version, c.version_no).where(
                tuple_(c.model, c.version).in_(list(chunk))))
            found.update({(m, v): n for m, v, n in rows})
        for model, version in (pair for pair in missing if pair not in found):
            next_no = session.execute(select(func.coalesce(func.max(c.version_no), 0) + 1)
                                      .where(c.model == model)).scalar_one()
            if next_no > _MAX_VERSION_NO:
                raise ValueError(f"model {model!r} has {_MAX_VERSION_NO} versions in the "
                                 "prediction index: no number left")
            session.execute(dialect_insert(session, versions_table).on_conflict_do_nothing(),
                            {"model": model, "version": version, "version_no": next_no})
    raise RuntimeError(f"could not number the versions {missing!r}")


def insert_predictions(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[PredictionKey]:
    """Insert prediction-index rows; returns the ``(model, prediction_id)`` actually new
    (a prediction already indexed is a duplicate delivery).

    ``rows`` carry ``model``, ``prediction_id``, ``version``, ``window_start``, ``ts`` and
    ``prediction``; a held prediction (its value a dict with ``BOOTSTRAP_KEY``) is indexed
    with the held marker and its whole event goes to ``held_predictions``.

    Postgres: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT DO
    NOTHING RETURNING`` (tens of thousands of rows a second; a multi-row ``VALUES`` costs more
    in building the SQL text than in the database). SQLite: one cached ``executemany``.
    """
    if not rows:
        return set()
    numbers = version_numbers(session, ((r["model"], r["version"]) for r in rows))
    by_hash: dict[int, Mapping[str, Any]] = {}
    records = []
    for r in rows:
        if r["ts"].utcoffset() is None or r["window_start"].utcoffset() is None:
            raise ValueError(f"naive datetime in prediction {r['prediction_id']!r} refused: "
                             "pass timezone-aware datetimes")
        h = key_hash(r["model"], r["prediction_id"])
        by_hash[h] = r
        held = _is_held(r["prediction"])
        records.append((h, r["window_start"], numbers[(r["model"], r["version"])],
                        HELD if held else encode_prediction(r["prediction"])))
    records.sort(key=lambda rec: rec[0])  # one lock order across workers
    if _dialect(session) != "postgresql":
        c = index_table.c
        stmt = dialect_insert(session, index_table).on_conflict_do_nothing().returning(c.key_hash)
        new_hashes = {h for (h,) in session.execute(stmt, [
            {"key_hash": h, "window_start": w, "version_no": n, "prediction": p}
            for h, w, n, p in records])}
    else:
        new_hashes = _copy_insert(session, records)
    held_rows = [{"model": r["model"], "prediction_id": r["prediction_id"],
                  "version": r["version"], "window_start": r["window_start"], "ts": r["ts"],
                  "key_hash": h, "event": r["prediction"]}
                 for h in sorted(new_hashes) if _is_held((r := by_hash[h])["prediction"])]
    if held_rows:
        session.execute(dialect_insert(session, held_table).on_conflict_do_nothing(), held_rows)
    return {(by_hash[h]["model"], by_hash[h]["prediction_id"]) for h in new_hashes}


def _is_held(value: Any) -> bool:
    return isinstance(value, dict) and BOOTSTRAP_KEY in value


def _copy_insert(session: Session, records: Sequence[tuple[int, datetime, int, bytes]]) -> set[int]:
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} (key_hash bigint, "
            "window_start timestamptz, version_no smallint, prediction bytea) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {_INCOMING}")
        with cursor.copy(
            f"COPY {_INCOMING} (key_hash, window_start, version_no, prediction) FROM STDIN"
        ) as copy:
            for record in records:
                copy.write_row(record)
        cursor.execute(
            f"INSERT INTO {index_table.name} (key_hash, window_start, version_no, prediction) "
            f"SELECT key_hash, window_start, version_no, prediction FROM {_INCOMING} "
            "ORDER BY key_hash ON CONFLICT DO NOTHING RETURNING key_hash"
        )
        return {h for (h,) in cursor.fetchall()}


def _json(value: Any) -> str:
    return _json_encoder.encode(value).decode()


def take_pending_labels_of_incoming(
    session: Session, keys: Sequence[PredictionKey]
) -> dict[PredictionKey, tuple[Any, datetime]]:
    """Delete and return the pending labels of the predictions just given to
    :func:`insert_predictions` (``keys``: all of them, new and re-delivered: a label that
    raced a re-delivered prediction in joins now, its prediction being indexed).

    Postgres: one statement, a primary-key probe per key (as :func:`lookup_predictions`)
    and a delete by ``ctid``, whatever the planner's statistics of ``pending_labels``."""
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    if _dialect(session) != "postgresql":
        return take_pending_labels(session, ordered)
    rows = session.execute(
        text(
            f"DELETE FROM {pending_table.name} d USING (SELECT p.ctid AS row_id "
            "FROM unnest(CAST(:models AS text[]), CAST(:ids AS text[])) "
            f"AS k(model, prediction_id) CROSS JOIN LATERAL (SELECT ctid FROM "
            f"{pending_table.name} p WHERE p.model = k.model AND p.prediction_id = "
            "k.prediction_id FOR UPDATE) p) s WHERE d.ctid = s.row_id "
            "RETURNING d.model, d.prediction_id, d.label, d.ts"
        ).columns(*(pending_table.c[name] for name in ("model", "prediction_id", "label", "ts"))),
        {"models": [m for m, _ in ordered], "ids": [p for _, p in ordered]},
    )
    return {(m, pid): (label, ts) for m, pid, label, ts in rows}


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
    """What the label join needs of an indexed prediction (``labelled``: a label joined it).

    The index keeps no event time: ``ts`` is the window start (it orders a batch's joined
    labels for the concept-drift detectors, with the prediction id)."""

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

    Postgres: one statement, a unique-index probe per key and partition: ``unnest`` of the
    key hashes, each joined ``LATERAL`` to a locking subquery on the hash (a subquery with
    ``FOR UPDATE`` is not flattened into a join, so stale statistics cannot turn it into a
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
                "SELECT k.n, i.window_start, v.version, i.prediction, i.label "
                "FROM unnest(CAST(:models AS text[]), CAST(:hashes AS bigint[])) "
                "WITH ORDINALITY AS k(model, h, n) "
                "CROSS JOIN LATERAL (SELECT window_start, version_no, prediction, label FROM "
                f"{index_table.name} p WHERE p.key_hash = k.h FOR UPDATE) i "
                f"CROSS JOIN LATERAL (SELECT version FROM {versions_table.name} v "
                "WHERE v.model = k.model AND v.version_no = i.version_no LIMIT 1) v ORDER BY k.n"
            ).columns(column("n", BigInteger()), index_table.c.window_start, versions_table.c.version,
                      index_table.c.prediction, index_table.c.label),
            {"models": [m for m, _ in ordered], "hashes": hashes},
        )
        return {ordered[n - 1]: _indexed(start, version, stored, label)
                for n, start, version, stored, label in rows}
    by_hash = dict(zip(hashes, ordered, strict=True))
    c, v = index_table.c, versions_table.c
    names = {(m, n): version for m, n, version in session.execute(
        select(v.model, v.version_no, v.version).where(v.model.in_({m for m, _ in ordered})))}
    found: dict[PredictionKey, IndexedPrediction] = {}
    for chunk in _chunks(hashes):
        stmt = select(c.key_hash, c.window_start, c.version_no, c.prediction, c.label).where(
            c.key_hash.in_(list(chunk)))
        for h, start, number, stored, label in session.execute(stmt):
            key = by_hash[h]
            found[key] = _indexed(start, names[(key[0], number)], stored, label)
    return found


def _indexed(start: datetime, version: str, stored: bytes, label: bytes | None
             ) -> IndexedPrediction:
    return IndexedPrediction(version, start, start, decode_value(stored),
                             None if label is None else decode_value(label), label is not None)


def mark_labelled(
    session: Session, labelled: Sequence[tuple[str, str, Any]], at: datetime
) -> None:
    """Set the ``label`` of ``(model, prediction_id, label)`` rows, in one statement: on
    Postgres an ``UPDATE`` of the rows found (and locked) by a unique-index probe per key and
    partition, as in :func:`lookup_predictions`, then written by hash and window start (the
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
                "p.window_start, k.label FROM unnest(CAST(:hashes AS bigint[]), "
                "CAST(:labels AS bytea[])) AS k(h, label) "
                f"CROSS JOIN LATERAL (SELECT key_hash, window_start FROM {index_table.name} p "
                "WHERE p.key_hash = k.h FOR UPDATE) p) s "
                "WHERE i.key_hash = s.key_hash AND i.window_start = s.window_start"
            ),
            {"hashes": hashes, "labels": values},
        )
        return
    c = index_table.c
    stmt = update(index_table).where(c.key_hash == bindparam("key")).values(
        label=bindparam("new_label"))
    session.execute(stmt, [{"key": h, "new_label": value}
                           for h, value in zip(hashes, values, strict=True)])


def add_pending_labels(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Keep labels whose prediction is not indexed yet (a duplicate keeps the first).

    One statement: ``INSERT … SELECT … FROM unnest(…)`` on Postgres, an ``executemany`` on
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
            "SELECT model, prediction_id, CAST(label AS jsonb), ts, received_at "
            "FROM unnest(CAST(:models AS text[]), CAST(:ids AS text[]), "
            "CAST(:labels AS text[]), CAST(:ts AS timestamptz[]), "
            "CAST(:received AS timestamptz[])) AS k(model, prediction_id, label, ts, received_at) "
            "ON CONFLICT DO NOTHING"
        ),
        {"models": [r["model"] for r in ordered], "ids": [r["prediction_id"] for r in ordered],
         "labels": [_json(r["label"]) for r in ordered], "ts": [r["ts"] for r in ordered],
         "received": [r["received_at"] for r in ordered]},
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
        claimable.extend(key for key in keys if key in _indexed_keys(session, keys))
    return claimable[:limit]


def _indexed_keys(session: Session, keys: Sequence[PredictionKey]) -> set[PredictionKey]:
    by_hash = {key_hash(m, pid): (m, pid) for m, pid in keys}
    c = index_table.c
    if _dialect(session) == "postgresql":
        rows = session.execute(text(
            "SELECT k.h FROM unnest(CAST(:hashes AS bigint[])) AS k(h) WHERE EXISTS "
            f"(SELECT 1 FROM {index_table.name} p WHERE p.key_hash = k.h)"),
            {"hashes": list(by_hash)})
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
