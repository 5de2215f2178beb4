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
from infersight.storage.models import PendingLabel, PredictionIndex
from infersight.storage.upsert import dialect_insert
from sqlalchemy import Table, and_, bindparam, delete, select, text, tuple_, update
from sqlalchemy.orm import Session

PredictionKey = tuple[str, str]
"""(model, prediction_id)."""

index_table: Table = PredictionIndex.__table__
pending_table: Table = PendingLabel.__table__

_CHUNK = 500
"""Keys per ``IN (…)`` lookup: well under every backend's parameter limit."""

_json_encoder = msgspec.json.Encoder()


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


_INCOMING = "infersight_incoming_predictions"
"""Per-connection temporary table the Postgres path copies a batch's predictions into."""


def insert_predictions(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[PredictionKey]:
    """Insert prediction-index rows; returns the ``(model, prediction_id)`` actually new
    (a prediction already indexed is a duplicate delivery).

    Postgres: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT DO
    NOTHING RETURNING`` (tens of thousands of rows a second; a multi-row ``VALUES`` costs more
    in building the SQL text than in the database). SQLite: one cached ``executemany``.
    """
    if not rows:
        return set()
    c = index_table.c
    if _dialect(session) != "postgresql":
        ordered = sorted(rows, key=lambda r: (r["model"], r["prediction_id"]))
        stmt = (
            dialect_insert(session, index_table)
            .on_conflict_do_nothing()
            .returning(c.model, c.prediction_id)
        )
        return {(m, p) for m, p in session.execute(stmt, ordered)}
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} (model text, prediction_id text, "
            "version text, window_start timestamptz, ts timestamptz, prediction jsonb) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {_INCOMING}")
        with cursor.copy(
            f"COPY {_INCOMING} (model, prediction_id, version, window_start, ts, prediction) "
            "FROM STDIN"
        ) as copy:
            for r in rows:  # the INSERT below orders them (lock order across workers)
                if r["ts"].utcoffset() is None or r["window_start"].utcoffset() is None:
                    raise ValueError(
                        f"naive datetime in prediction {r['prediction_id']!r} refused: "
                        "pass timezone-aware datetimes"
                    )
                copy.write_row((r["model"], r["prediction_id"], r["version"], r["window_start"],
                                r["ts"], _json(r["prediction"])))
        cursor.execute(
            f"INSERT INTO {index_table.name} (model, prediction_id, version, window_start, ts, "
            f"prediction) SELECT model, prediction_id, version, window_start, ts, prediction "
            f"FROM {_INCOMING} ORDER BY model, prediction_id "
            "ON CONFLICT DO NOTHING RETURNING model, prediction_id"
        )
        return {(m, p) for m, p in cursor.fetchall()}


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
    """What the label join needs of an indexed prediction (``labelled``: a label joined it)."""

    version: str
    window_start: datetime
    ts: datetime
    prediction: Any
    label: Any
    labelled: bool


def lookup_predictions(
    session: Session, keys: Sequence[PredictionKey]
) -> dict[PredictionKey, IndexedPrediction]:
    """Indexed predictions among ``keys``, locked against concurrent label joins.

    Postgres: one statement, a primary-key probe per key: ``unnest`` of the keys, each
    joined ``LATERAL`` to a locking subquery on the key (a subquery with ``FOR UPDATE`` is
    not flattened into a join, so stale statistics cannot turn it into a hash join over the
    whole table; an ``IN`` list of 500 pairs cost ~25x more, mostly in planning its ``OR``).
    Rows are locked in key order. SQLite: ``IN`` lists of 500 pairs, each a key probe.
    """
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    if _dialect(session) == "postgresql":
        rows = session.execute(
            text(
                "SELECT i.model, i.prediction_id, i.version, i.window_start, i.ts, "
                "i.prediction, i.label, i.labelled_at "
                "FROM unnest(CAST(:models AS text[]), CAST(:ids AS text[])) "
                "WITH ORDINALITY AS k(model, prediction_id, n) "
                "CROSS JOIN LATERAL (SELECT * FROM "
                f"{index_table.name} p WHERE p.model = k.model AND p.prediction_id = "
                "k.prediction_id FOR UPDATE) i ORDER BY k.n"
            ).columns(*(index_table.c[name] for name in _LOOKED_UP)),
            {"models": [m for m, _ in ordered], "ids": [p for _, p in ordered]},
        )
        return _indexed(rows)
    found: dict[PredictionKey, IndexedPrediction] = {}
    c = index_table.c
    for chunk in _chunks(ordered):
        stmt = (
            select(*(c[name] for name in _LOOKED_UP))
            .where(tuple_(c.model, c.prediction_id).in_(list(chunk)))
            .with_for_update()
        )
        found.update(_indexed(session.execute(stmt)))
    return found


_LOOKED_UP = ("model", "prediction_id", "version", "window_start", "ts", "prediction", "label",
              "labelled_at")


def _indexed(rows: Iterable[Any]) -> dict[PredictionKey, IndexedPrediction]:
    return {
        (model, pid): IndexedPrediction(version, start, ts, prediction, label,
                                        labelled_at is not None)
        for model, pid, version, start, ts, prediction, label, labelled_at in rows
    }


def mark_labelled(
    session: Session, labelled: Sequence[tuple[str, str, Any]], at: datetime
) -> None:
    """Set ``label`` and ``labelled_at`` of ``(model, prediction_id, label)`` rows, in one
    statement: on Postgres an ``UPDATE`` of the rows found (and locked) by a primary-key
    probe per key, as in :func:`lookup_predictions`, then written by their ``ctid`` (a TID
    scan, whatever the statistics); one ``executemany`` on SQLite."""
    if not labelled:
        return
    ordered = sorted({(m, p): label for m, p, label in labelled}.items())
    if _dialect(session) == "postgresql":
        session.execute(
            text(
                f"UPDATE {index_table.name} i SET label = CAST(s.label AS jsonb), "
                "labelled_at = :at FROM (SELECT p.ctid AS row_id, k.label "
                "FROM unnest(CAST(:models AS text[]), CAST(:ids AS text[]), "
                "CAST(:labels AS text[])) AS k(model, prediction_id, label) "
                f"CROSS JOIN LATERAL (SELECT ctid FROM {index_table.name} p "
                "WHERE p.model = k.model AND p.prediction_id = k.prediction_id FOR UPDATE) p"
                ") s WHERE i.ctid = s.row_id"
            ).bindparams(bindparam("at", type_=index_table.c.labelled_at.type)),
            {"models": [m for (m, _), _ in ordered], "ids": [p for (_, p), _ in ordered],
             "labels": [_json(label) for _, label in ordered], "at": at},
        )
        return
    c = index_table.c
    stmt = (
        update(index_table)
        .where(c.model == bindparam("key_model"), c.prediction_id == bindparam("key_id"))
        .values(label=bindparam("new_label"), labelled_at=bindparam("new_at"))
    )
    session.execute(stmt, [
        {"key_model": m, "key_id": p, "new_label": label, "new_at": at}
        for (m, p), label in ordered
    ])


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
    """Pending labels whose prediction has arrived since (a race between two workers)."""
    p, i = pending_table.c, index_table.c
    rows = session.execute(
        select(p.model, p.prediction_id)
        .join(index_table, and_(i.model == p.model, i.prediction_id == p.prediction_id))
        .limit(limit)
    )
    return [(m, pid) for m, pid in rows]


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
