"""The skew join's storage: either side first, duplicates keep the first, compared rows stay
as tombstones until they expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from infersight.drift import Reference
from infersight.storage import skew_rows
from infersight.storage.registry import ensure_model_versions, set_reference
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tests.storage.test_storage_label_statements import statements

W0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
LATER = datetime(2024, 6, 8, tzinfo=UTC)


def _served(model: str, pid: str, x: float) -> dict[str, object]:
    return {"model": model, "version": "1", "prediction_id": pid, "window_start": W0,
            "features": {"x": x}}


def test_offline_first_then_served_and_duplicates_keep_the_first(session: Session,
                                                                  unique_name: str) -> None:
    m = unique_name
    assert skew_rows.store_offline(session, m, "1", {"a": {"x": 1.0}, "b": {"x": 2.0}},
                                   LATER) == 2
    assert skew_rows.store_offline(session, m, "1", {"a": {"x": 9.0}, "c": {"x": 3.0}},
                                   LATER) == 1
    found = skew_rows.lookup(session, [(m, "1", "a"), (m, "1", "b"), (m, "1", "z"),
                                       (m, "2", "a")])
    assert {k[2]: f.offline for k, f in found.items()} == {"a": {"x": 1.0}, "b": {"x": 2.0}}
    skew_rows.mark_compared(session, [(m, "1", "a")])
    assert skew_rows.store_offline(session, m, "1", {"a": {"x": 5.0}}, LATER) == 0
    again = skew_rows.lookup(session, [(m, "1", "a")])[(m, "1", "a")]
    assert again.compared and again.offline is None
    assert skew_rows.waiting(session, m, "1") == {"offline": 2, "served": 0}
    session.commit()


def test_served_first_then_offline_is_ready_once_the_version_has_a_reference(
        session: Session, unique_name: str) -> None:
    m = unique_name
    ensure_model_versions(session, [(m, "1")])
    skew_rows.keep_served(session, [_served(m, "a", 1.0), _served(m, "b", 2.0)], LATER)
    skew_rows.keep_served(session, [_served(m, "a", 7.0)], LATER)  # a re-delivery: first kept
    skew_rows.store_offline(session, m, "1", {"a": {"x": 1.5}}, LATER)
    assert [r for r in skew_rows.claim_ready(session) if r.model == m] == []  # no reference
    set_reference(session, m, "1", Reference.from_data({"x": [1.0, 2.0, 3.0]}).to_bytes())
    ready = [r for r in skew_rows.claim_ready(session) if r.model == m]
    assert [(r.prediction_id, r.served, r.offline, r.window_start) for r in ready] == [
        ("a", {"x": 1.0}, {"x": 1.5}, W0)]
    skew_rows.mark_compared(session, [(m, "1", "a")])
    assert [r for r in skew_rows.claim_ready(session) if r.model == m] == []
    session.commit()


def test_expired_rows_are_purged_by_kind(session: Session, unique_name: str) -> None:
    m = unique_name
    soon = datetime(2024, 6, 2, tzinfo=UTC)
    skew_rows.store_offline(session, m, "1", {"a": {"x": 1.0}, "b": {"x": 1.0}}, soon)
    skew_rows.keep_served(session, [_served(m, "c", 1.0)], soon)
    skew_rows.mark_compared(session, [(m, "1", "b")])
    skew_rows.store_offline(session, m, "1", {"d": {"x": 1.0}}, LATER)
    session.commit()
    counts = skew_rows.purge_expired(session, soon + timedelta(seconds=1))
    assert counts["offline"] >= 1 and counts["served"] >= 1 and counts["compared"] >= 1
    left = skew_rows.lookup(session, [(m, "1", p) for p in "abcd"])
    assert sorted(k[2] for k in left) == ["d"]
    session.commit()


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # planner statistics: Postgres
def test_a_batch_is_looked_up_in_one_statement_probing_the_key_whatever_the_statistics(
        session: Session, engine: Engine, unique_name: str) -> None:
    m = unique_name
    session.execute(text("ANALYZE offline_rows"))  # statistics of a (nearly) empty table
    session.commit()
    skew_rows.store_offline(session, m, "1", {f"p{i}": {"x": float(i)} for i in range(20_000)},
                            LATER)
    session.commit()
    keys = [(m, "1", f"p{i}") for i in range(0, 20_000, 37)]
    with statements(engine) as seen:
        assert len(skew_rows.lookup(session, keys)) == len(keys)
    assert len(seen) == 1
    plan = "\n".join(row[0] for row in session.connection().exec_driver_sql(
        "EXPLAIN " + seen[0][0], seen[0][1]))
    assert "Index Scan using pk_offline_rows" in plan, plan
    assert "Seq Scan on offline_rows" not in plan and "Hash Join" not in plan, plan
    session.rollback()


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # SQLite: an executemany
def test_served_values_are_kept_and_pairs_marked_in_one_statement_per_batch(
        session: Session, engine: Engine, unique_name: str) -> None:
    m = unique_name
    skew_rows.store_offline(session, m, "1", {f"p{i}": {"x": 0.0} for i in range(0, 600, 2)},
                            LATER)
    served = [_served(m, f"p{i}", float(i)) for i in range(600)]
    with statements(engine) as kept:
        skew_rows.keep_served(session, [*served, _served(m, "p1", 99.0)], LATER)
    keys = [(m, "1", f"p{i}") for i in range(0, 600, 3)]
    with statements(engine) as marked:
        skew_rows.mark_compared(session, keys)
    assert (len(kept), len(marked)) == (1, 1)
    found = skew_rows.lookup(session, [(m, "1", f"p{i}") for i in range(600)])
    assert all(found[(m, "1", f"p{i}")].compared == (i % 3 == 0) for i in range(600))
    ready = {r.prediction_id: r.served for r in skew_rows.claim_ready(session, limit=10_000)
             if r.model == m}
    assert ready == {}  # the version has no reference yet: nothing is ready
    waiting = skew_rows.waiting(session, m, "1")
    assert waiting["served"] == len([i for i in range(600) if i % 3 and i % 2])
    session.rollback()
