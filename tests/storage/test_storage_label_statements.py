"""The label join's storage is set-wise: a batch of labels is looked up, marked and kept
pending in one statement each, and on Postgres the lookup probes each partition's unique
index on the key hash even when the planner's statistics describe a nearly empty table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from infersight.storage.labels import (
    add_pending_labels,
    insert_predictions,
    lookup_predictions,
    mark_labelled,
    take_pending_labels,
    take_pending_labels_of_incoming,
)
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
N = 1200
"""More keys than one ``IN`` list of the SQLite path holds (500)."""


def _predictions(model: str, n: int, stem: str = "id") -> list[dict[str, Any]]:
    return [{"model": model, "prediction_id": f"{stem}{i}", "version": "1", "window_start": T0,
             "ts": T0 + timedelta(seconds=i), "prediction": {"label": 1, "score": 0.9}}
            for i in range(n)]


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements sent to the database meanwhile (an ``executemany`` counts once)."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's explicit transaction start
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_batch_of_labels_is_marked_and_kept_pending_in_one_statement_each(
    session: Session, engine: Engine, unique_name: str
) -> None:
    insert_predictions(session, _predictions(unique_name, N))
    session.commit()
    keys = [(unique_name, f"id{i}") for i in range(N)]
    with statements(engine) as seen:
        found = lookup_predictions(session, keys)
    assert len(found) == N and not any(p.labelled for p in found.values())
    assert len(seen) == (1 if engine.dialect.name == "postgresql" else 3)

    with statements(engine) as seen:
        mark_labelled(session, [(m, pid, i % 3) for i, (m, pid) in enumerate(keys)], T0)
    assert len(seen) == 1
    labelled = lookup_predictions(session, keys)
    assert all(labelled[k].labelled and labelled[k].label == i % 3 for i, k in enumerate(keys))

    pending = [{"model": unique_name, "prediction_id": f"later{i}", "label": {"y": i},
                "ts": T0, "received_at": T0} for i in range(N)]
    with statements(engine) as seen:
        add_pending_labels(session, [*pending, {**pending[0], "label": "second"}])
    assert len(seen) == 1
    session.commit()
    taken = take_pending_labels(session, [(unique_name, f"later{i}") for i in range(N)])
    assert len(taken) == N
    assert taken[(unique_name, "later0")] == ({"y": 0}, T0)  # the first of two is kept
    assert taken[(unique_name, f"later{N - 1}")] == ({"y": N - 1}, T0)
    session.commit()


def test_a_naive_label_time_is_refused_with_a_reason(session: Session, unique_name: str) -> None:
    with pytest.raises((ValueError, StatementError), match="naive"):
        add_pending_labels(session, [{"model": unique_name, "prediction_id": "x", "label": 1,
                                      "ts": datetime(2024, 6, 1), "received_at": T0}])
    session.rollback()


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # planner statistics: Postgres
def test_the_postgres_lookup_probes_the_key_even_with_statistics_of_an_empty_table(
    session: Session, engine: Engine, unique_name: str
) -> None:
    assert engine.dialect.name == "postgresql"
    session.execute(text("ANALYZE prediction_index"))  # statistics of a (nearly) empty table
    session.commit()
    insert_predictions(session, _predictions(unique_name, 20_000, stem="p"))
    session.commit()
    keys = [(unique_name, f"p{i}") for i in range(0, 20_000, 37)]
    with statements(engine) as seen:
        assert len(lookup_predictions(session, keys)) == len(keys)
    with statements(engine) as marked:
        mark_labelled(session, [(m, pid, 1) for m, pid in keys], T0)
    for statement, parameters in [*seen, *marked]:
        plan = "\n".join(row[0] for row in session.connection().exec_driver_sql(
            "EXPLAIN " + statement, parameters))
        # T0 is before every partition: the rows are in the default partition
        assert "Index Scan using prediction_index_default_key_hash" in plan, plan
        assert "Seq Scan on prediction_index_default" not in plan, plan
        assert "Hash Join" not in plan, plan
    session.rollback()


def test_predictions_of_a_model_with_no_pending_label_probe_no_pending_row(
    session: Session, engine: Engine, unique_name: str
) -> None:
    waiting, quiet = f"{unique_name}-waiting", f"{unique_name}-quiet"
    add_pending_labels(session, [{"model": waiting, "prediction_id": "early", "label": 1,
                                  "ts": T0, "received_at": T0}])
    session.commit()
    keys = [(quiet, f"id{i}") for i in range(N)]
    with statements(engine) as seen:
        assert take_pending_labels_of_incoming(session, keys) == {}
    assert len(seen) == 1 and "LIMIT" in seen[0][0]  # the one probe of the quiet model
    with statements(engine) as seen:
        taken = take_pending_labels_of_incoming(session, [*keys, (waiting, "early")])
    assert taken == {(waiting, "early"): (1, T0)}
    assert len(seen) == 3  # a probe per model, then the join of the waiting model's keys
    session.rollback()
