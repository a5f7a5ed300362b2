"""Outbox store semantics, run against SQLite and (when available) PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from outbox_helpers import PG_DSN

from creditguard.errors import StorageError
from creditguard.outbox import (
    OutboxItem,
    PostgresOutbox,
    SqliteOutbox,
    create_schema,
    enqueue_in,
    open_outbox,
)

T0 = 1_800_000_000.0


def item(n: int, group: str | None = None, kind: str = "feedback") -> OutboxItem:
    return OutboxItem(key=f"key-{n}", kind=kind, payload=b'{"n":%d}' % n, group=group)  # type: ignore[arg-type]


def reset_pg(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS creditguard_outbox")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def box(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        b: Any = SqliteOutbox(tmp_path / "o.db")
    else:
        if not PG_DSN:
            pytest.skip("CREDITGUARD_TEST_PG_DSN is not set (source .ci/postgres.sh)")
        reset_pg(PG_DSN)
        b = PostgresOutbox(PG_DSN)
    yield b
    b.close()


def test_enqueue_is_idempotent_by_key(box: Any) -> None:
    assert box.enqueue(item(1)) is True
    assert box.enqueue(item(1)) is False
    assert box.enqueue_many([item(1), item(2), item(3)]) == 2
    assert box.status(now=T0 + 10**6).pending == 3


def test_claim_leases_and_counts_attempts(box: Any) -> None:
    box.enqueue_many([item(1), item(2)])
    now = max(T0, __import__("time").time()) + 1
    first = box.claim("a", now=now, lease_s=30, limit=1)
    assert [c.item.key for c in first] == ["key-1"] and first[0].attempts == 1
    second = box.claim("b", now=now, lease_s=30, limit=5)
    assert [c.item.key for c in second] == ["key-2"], "a leased item is not claimed twice"
    assert box.claim("c", now=now + 1, lease_s=30) == []
    expired = box.claim("c", now=now + 31, lease_s=30, limit=5)
    assert sorted(c.item.key for c in expired) == ["key-1", "key-2"]
    assert all(c.attempts == 2 for c in expired)
    assert expired[0].item.payload == b'{"n":1}'


def test_group_order_waits_for_earlier_items(box: Any) -> None:
    box.enqueue_many([item(1, "G", "case"), item(2, "G"), item(3, "H")])
    now = __import__("time").time() + 1
    got = box.claim("a", now=now, lease_s=1000, limit=10)
    assert sorted(c.item.key for c in got) == ["key-1", "key-3"], (
        "feedback waits for its case's initiation"
    )
    assert {c.item.key: c.initiation_known for c in got} == {"key-1": True, "key-3": False}
    box.mark_retry(got[0].id, "a", next_at=now + 100, status=503, error="down")
    assert box.claim("a", now=now + 50, lease_s=30, limit=10) == [], (
        "still waiting behind a retried initiation"
    )
    again = box.claim("a", now=now + 101, lease_s=30, limit=10)
    assert [c.item.key for c in again] == ["key-1"]
    box.mark_delivered(again[0].id, "a", now=now + 101, status=201, receipt="{}")
    nxt = box.claim("a", now=now + 101, lease_s=30, limit=10)
    assert [c.item.key for c in nxt] == ["key-2"] and nxt[0].initiation_known


def test_dead_retry_and_status(box: Any) -> None:
    box.enqueue_many([item(1), item(2), item(3)])
    now = __import__("time").time() + 1
    a, b, c = box.claim("w", now=now, lease_s=30, limit=3)
    box.mark_dead(a.id, "w", now=now, status=409, error="HTTP 409 IDEMPOTENCY_CONFLICT: differs")
    box.mark_delivered(b.id, "w", now=now, status=201, receipt="{}")
    box.mark_retry(c.id, "w", next_at=now + 60, status=503, error="HTTP 503")
    st = box.status(now=now)
    assert (st.pending, st.due, st.delivered, st.dead, st.max_attempts) == (1, 0, 1, 1, 1)
    assert st.oldest_pending_age_s is not None and st.by_kind == {"feedback": 1}
    dead = box.items("dead")
    assert [(d.key, d.last_status, d.last_error) for d in dead] == [
        ("key-1", 409, "HTTP 409 IDEMPOTENCY_CONFLICT: differs")
    ]
    assert box.make_due(now=now) == 1
    assert box.status(now=now).due == 1
    assert box.retry_dead([dead[0].id], now=now) == 1
    st = box.status(now=now)
    assert (st.pending, st.dead, st.due) == (2, 0, 2)


def test_stale_owner_cannot_overwrite(box: Any) -> None:
    box.enqueue(item(1))
    now = __import__("time").time() + 1
    (old,) = box.claim("old", now=now, lease_s=1)
    (new,) = box.claim("new", now=now + 2, lease_s=30)
    box.mark_retry(old.id, "old", next_at=now + 999, status=None, error="late")
    box.mark_dead(old.id, "old", now=now, status=400, error="late")
    assert box.status(now=now + 2).in_flight == 1, "the new owner's lease stands"
    box.mark_delivered(new.id, "new", now=now + 3, status=201, receipt="{}")
    assert box.status(now=now + 3).delivered == 1


def test_requeue_initiation(box: Any) -> None:
    box.enqueue_many([item(1, "G", "case"), item(2, "G")])
    now = __import__("time").time() + 1
    (init,) = box.claim("w", now=now, lease_s=30, limit=5)
    box.mark_delivered(init.id, "w", now=now, status=201, receipt="{}")
    (fb,) = box.claim("w", now=now, lease_s=30, limit=5)
    assert box.requeue_initiation("G", now=now) is True
    box.mark_retry(fb.id, "w", next_at=now, status=404, error="CASE_NOT_FOUND")
    assert [c.item.key for c in box.claim("w", now=now, lease_s=30, limit=5)] == ["key-1"]


def test_next_due_at(box: Any) -> None:
    assert box.next_due_at() is None
    box.enqueue(item(1))
    due = box.next_due_at()
    assert due is not None and abs(due - __import__("time").time()) < 5


def test_open_outbox_picks_backend(tmp_path: Path) -> None:
    assert isinstance(open_outbox(str(tmp_path / "x.db")), SqliteOutbox)


# --- SQLite specifics ---------------------------------------------------------------------


def test_sqlite_pragmas(tmp_path: Path) -> None:
    box = SqliteOutbox(tmp_path / "o.db")
    conn = box._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_full_disk_fails_loudly_and_keeps_nothing_half_written(tmp_path: Path) -> None:
    box = SqliteOutbox(tmp_path / "o.db")
    box.enqueue(item(0))
    conn = box._connection()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = [OutboxItem(key=f"big-{i}", kind="feedback", payload=b"x" * 50_000) for i in range(3)]
    with pytest.raises(StorageError, match="full"):
        box.enqueue_many(big)
    assert box.status(now=0).pending == 1, "the failed batch left no partial rows"


def test_broken_outbox_path_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError):
        SqliteOutbox(blocker / "o.db")


def test_enqueue_in_commits_with_the_integrators_transaction(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    box = SqliteOutbox(path)
    app = sqlite3.connect(path)
    app.execute("CREATE TABLE approvals (id TEXT)")
    app.commit()
    with app:  # rolls back on error
        app.execute("INSERT INTO approvals VALUES ('A-1')")
        assert enqueue_in(app, [item(1), item(2)]) == 2
    try:
        with app:
            app.execute("INSERT INTO approvals VALUES ('A-2')")
            enqueue_in(app, item(3))
            raise RuntimeError("step failed")
    except RuntimeError:
        pass
    assert box.status(now=0).pending == 2
    assert [r[0] for r in app.execute("SELECT id FROM approvals")] == ["A-1"]


def test_enqueue_in_rejects_other_connections() -> None:
    with pytest.raises(TypeError):
        enqueue_in(object(), item(1))


def test_create_schema_through_a_connection(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "fresh.db")
    create_schema(conn)
    assert enqueue_in(conn, item(1)) == 1
    conn.commit()
    assert SqliteOutbox(tmp_path / "fresh.db").status(now=0).pending == 1


@pytest.mark.postgres
def test_enqueue_in_psycopg_transaction() -> None:
    if not PG_DSN:
        pytest.skip("CREDITGUARD_TEST_PG_DSN is not set")
    import psycopg

    reset_pg(PG_DSN)
    box = PostgresOutbox(PG_DSN)
    with psycopg.connect(PG_DSN) as conn:
        with conn.transaction():
            enqueue_in(conn, item(1))
        with pytest.raises(RuntimeError), conn.transaction():
            enqueue_in(conn, item(2))
            raise RuntimeError("rollback")
    assert [i.key for i in box.items("pending")] == ["key-1"]
    assert "dsn hidden" in repr(box)


def test_fork_child_uses_its_own_connection(tmp_path: Path) -> None:
    box = SqliteOutbox(tmp_path / "o.db")
    box.enqueue(item(1))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            box.enqueue(item(2))
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    box.enqueue(item(3))
    assert box.status(now=0).pending == 3


def test_case_entries_unfed_cases_and_present_keys(box: Any) -> None:
    box.enqueue_many(
        [
            item(1, group="U-open", kind="case"),
            item(2, group="U-done", kind="case"),
            item(3, group="U-done"),
            item(4, group="U-done"),
        ]
    )
    opened = box.case_entry("U-open")
    assert (opened.case_id, opened.payload, opened.state, opened.feedback) == (
        "U-open",
        b'{"n":1}',
        "pending",
        0,
    )
    assert box.case_entry("U-done").feedback == 2
    assert box.case_entry("U-none") is None
    assert [e.case_id for e in box.unfed_cases(opened_before=9e9)] == ["U-open"]
    assert box.unfed_cases(opened_before=0) == []
    assert (box.count_unfed(opened_before=9e9), box.count_unfed(opened_before=0)) == (1, 0)
    assert box.present(["key-1", "key-4", "key-9"]) == {"key-1", "key-4"}
    assert box.present([]) == set()


def test_pruning_keeps_the_initiation_of_a_case_without_feedback(box: Any) -> None:
    box.enqueue_many(
        [
            item(1, group="U-open", kind="case"),
            item(2, group="U-done", kind="case"),
            item(3, group="U-done"),
        ]
    )
    while claimed := box.claim("w", now=T0 + 1e9, lease_s=30, limit=10):
        for c in claimed:
            box.mark_delivered(c.id, "w", now=T0, status=201, receipt="r")
    assert box.prune_delivered(older_than_s=10, now=T0 + 100) == 2
    kept = box.case_entry("U-open")
    assert kept is not None and kept.state == "delivered"
    assert box.count_unfed(opened_before=9e9) == 1
