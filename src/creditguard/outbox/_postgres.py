"""The multi-host outbox: PostgreSQL, ``FOR UPDATE SKIP LOCKED`` claims with leases.

Hosts delivering from one database never hold the same item at once: a claim
locks due rows skipping those another host is claiming, and stamps a lease;
a host that dies mid-delivery loses its lease when it expires, and the item
becomes due again (same idempotency key, same body). Lease times use each
host's clock, so keep hosts on NTP and leases much longer than any skew.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from creditguard.errors import StorageError
from creditguard.journal_pg import pg_reason
from creditguard.outbox._item import (
    CaseEntry,
    ClaimedItem,
    ItemInfo,
    ItemState,
    OutboxItem,
    OutboxStatus,
)
from creditguard.outbox._sqlite import (
    CASE_ENTRY,
    COUNT_UNFED,
    MAKE_DUE,
    MARK_DEAD,
    MARK_DELIVERED,
    MARK_RETRY,
    PAYLOAD_OF,
    PRUNE_DELIVERED,
    REQUEUE_INITIATION,
    RETRY_DEAD,
    RETRY_DEAD_ONE,
    TABLE,
    UNFED_CASES,
    _info,
    _status_from,
    case_entry_from,
    item_from,
    row_values,
)
from creditguard.outbox._upgrade import legacy_index, upgrade_rows

if TYPE_CHECKING:
    import psycopg

__all__ = ["POSTGRES_SCHEMA", "PostgresOutbox", "create_postgres_schema"]

POSTGRES_SCHEMA = [
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        id BIGSERIAL PRIMARY KEY,
        idem_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        grp TEXT,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        body BYTEA NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at DOUBLE PRECISION NOT NULL,
        lease_owner TEXT,
        lease_until DOUBLE PRECISION,
        last_status INTEGER,
        last_error TEXT,
        done_at DOUBLE PRECISION,
        receipt TEXT)""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (state, next_at)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_grp ON {TABLE} (grp, id) WHERE state = 'pending'",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_case ON {TABLE} (grp, kind)",
]

PG_INSERT_SQL = (
    f"INSERT INTO {TABLE} (idem_key, kind, grp, method, path, body, created_at, next_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (idem_key) DO NOTHING"
)

_CLAIM_SQL = f"""
WITH c AS (
    SELECT o.id FROM {TABLE} o
    WHERE o.state = 'pending' AND o.next_at <= %(now)s
      AND (o.lease_until IS NULL OR o.lease_until <= %(now)s)
      AND (o.grp IS NULL OR NOT EXISTS (
            SELECT 1 FROM {TABLE} p WHERE p.grp = o.grp AND p.state = 'pending' AND p.id < o.id))
    ORDER BY o.next_at, o.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {TABLE} t SET lease_owner = %(owner)s, lease_until = %(until)s, attempts = t.attempts + 1
FROM c WHERE t.id = c.id
RETURNING t.id, t.idem_key, t.kind, t.grp, t.method, t.path, t.body, t.attempts,
    EXISTS (SELECT 1 FROM {TABLE} i WHERE i.grp = t.grp AND i.kind = 'case')
"""

_INFO_COLUMNS = (
    "id, idem_key, kind, grp, path, state, attempts, created_at, last_status, last_error, next_at"
)


def create_postgres_schema(connection: psycopg.Connection[Any]) -> None:
    """Create the outbox table through ``connection`` (in its current transaction)."""
    # Concurrent CREATE ... IF NOT EXISTS can still collide; serialise it.
    connection.execute("SELECT pg_advisory_xact_lock(hashtext('creditguard_outbox'))")
    for stmt in POSTGRES_SCHEMA:
        connection.execute(stmt)
    # An outbox written by creditguard 0.1 becomes facts (see creditguard.outbox._upgrade).
    connection.execute(legacy_index(TABLE))
    upgrade_rows(connection.execute, TABLE, "%s", now=time.time())


class PostgresOutbox:
    """Outbox in PostgreSQL for several hosts delivering from one queue.

    ``dsn`` is a libpq connection string; it is never shown in reprs or errors
    (it may hold a password). Needs ``psycopg`` 3 (``creditguard[postgres]``).
    """

    def __init__(self, dsn: str, *, connect_timeout_s: int = 10) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise StorageError(
                "PostgresOutbox needs psycopg 3: pip install 'creditguard[postgres]'"
            ) from exc
        self._dsn = dsn
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = os.getpid()
        with self._tx() as conn:
            create_postgres_schema(conn)

    def __repr__(self) -> str:
        return "PostgresOutbox(<dsn hidden>)"

    def _reset_after_fork(self) -> None:
        # The parent's socket must not be used by the child, and the lock may have been
        # held by a parent thread that does not exist here.
        if self._pid != os.getpid():
            self._conn = None
            self._lock = threading.Lock()
            self._pid = os.getpid()

    def _connection(self) -> psycopg.Connection[Any]:
        import psycopg

        self._reset_after_fork()
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, connect_timeout=self._connect_timeout_s)
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        import psycopg

        if self._pid != os.getpid():
            self._connection()
        self._reset_after_fork()
        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                if self._conn is not None and self._conn.broken:
                    self._conn = None
                raise StorageError(
                    f"PostgreSQL outbox: operation failed, nothing was changed: {pg_reason(exc)}"
                ) from exc

    def _read(
        self, sql: str, params: Sequence[object] | dict[str, object] = ()
    ) -> list[tuple[Any, ...]]:
        with self._tx() as conn:
            return list(conn.execute(sql, params).fetchall())

    def enqueue(self, item: OutboxItem) -> bool:
        """Store ``item`` durably; False when its key was already there."""
        return self.enqueue_many([item]) == 1

    def enqueue_many(self, items: Sequence[OutboxItem]) -> int:
        """Store ``items`` in one transaction (all or none); returns how many were new."""
        now = time.time()
        added = 0
        with self._tx() as conn:
            for item in items:
                cur = conn.execute(PG_INSERT_SQL, row_values(item, now))
                added += cur.rowcount
        return added

    def claim(self, owner: str, *, now: float, lease_s: float, limit: int = 1) -> list[ClaimedItem]:
        """Lease up to ``limit`` due items to ``owner``, skipping rows other hosts are claiming."""
        params = {"now": now, "limit": limit, "owner": owner, "until": now + lease_s}
        with self._tx() as conn:
            rows = conn.execute(_CLAIM_SQL, params).fetchall()
        out = []
        for row in sorted(rows, key=lambda r: r[0]):
            item = item_from(row[1], row[2], row[3], row[6])
            out.append(
                ClaimedItem(
                    id=row[0],
                    item=item,
                    attempts=row[7],
                    owner=owner,
                    initiation_known=bool(row[8]),
                )
            )
        return out

    def mark_delivered(
        self, item_id: int, owner: str, *, now: float, status: int, receipt: str
    ) -> None:
        """The platform accepted the item."""
        with self._tx() as conn:
            conn.execute(_pg(MARK_DELIVERED), (now, status, receipt, item_id))

    def mark_retry(
        self, item_id: int, owner: str, *, next_at: float, status: int | None, error: str
    ) -> None:
        """Release the lease and schedule the next attempt."""
        with self._tx() as conn:
            conn.execute(_pg(MARK_RETRY), (next_at, status, error, item_id, owner))

    def mark_dead(
        self, item_id: int, owner: str, *, now: float, status: int | None, error: str
    ) -> None:
        """Dead-letter the item with the platform's message."""
        with self._tx() as conn:
            conn.execute(_pg(MARK_DEAD), (now, status, error, item_id, owner))

    def requeue_initiation(self, group: str, *, now: float) -> bool:
        """Send a delivered case initiation again (the platform does not know the case)."""
        with self._tx() as conn:
            cur = conn.execute(_pg(REQUEUE_INITIATION), (now, group))
            return cur.rowcount > 0

    def next_due_at(self) -> float | None:
        """When the earliest pending item becomes due."""
        rows = self._read(
            f"SELECT MIN(GREATEST(next_at, COALESCE(lease_until, 0))) FROM {TABLE} WHERE state = 'pending'"
        )
        return None if rows[0][0] is None else float(rows[0][0])

    def status(self, *, now: float) -> OutboxStatus:
        """Backlog, oldest pending age, attempts, dead letters."""
        rows = self._read(
            f"""SELECT
                  COUNT(*) FILTER (WHERE state = 'pending'),
                  COUNT(*) FILTER (WHERE state = 'pending' AND next_at <= %(now)s
                                   AND (lease_until IS NULL OR lease_until <= %(now)s)),
                  COUNT(*) FILTER (WHERE state = 'pending' AND lease_until > %(now)s),
                  COUNT(*) FILTER (WHERE state = 'delivered'),
                  COUNT(*) FILTER (WHERE state = 'dead'),
                  MIN(created_at) FILTER (WHERE state = 'pending'),
                  MAX(attempts) FILTER (WHERE state = 'pending')
                FROM {TABLE}""",
            {"now": now},
        )
        kinds = self._read(
            f"SELECT kind, COUNT(*) FROM {TABLE} WHERE state = 'pending' GROUP BY kind"
        )
        return _status_from(rows[0], kinds, now)

    def items(self, state: ItemState, *, limit: int = 100) -> list[ItemInfo]:
        """Items in ``state``, oldest first."""
        rows = self._read(
            f"SELECT {_INFO_COLUMNS} FROM {TABLE} WHERE state = %s ORDER BY id LIMIT %s",
            (state, limit),
        )
        return [_info(row) for row in rows]

    def retry_dead(self, ids: Sequence[int] | None = None, *, now: float) -> int:
        """Put dead letters (all, or those ``ids``) back in the queue with fresh attempts."""
        with self._tx() as conn:
            if ids is None:
                return conn.execute(_pg(RETRY_DEAD), (now,)).rowcount
            return sum(conn.execute(_pg(RETRY_DEAD_ONE), (now, i)).rowcount for i in ids)

    def make_due(self, *, now: float) -> int:
        """Make every pending item due now (operators' ``flush``)."""
        with self._tx() as conn:
            return conn.execute(_pg(MAKE_DUE), (now, now)).rowcount

    def prune_delivered(self, *, older_than_s: float, now: float) -> int:
        """Delete delivered items older than ``older_than_s`` (not unfed cases' initiations)."""
        with self._tx() as conn:
            return conn.execute(_pg(PRUNE_DELIVERED), (now - older_than_s,)).rowcount

    def case_entry(self, case_id: str) -> CaseEntry | None:
        """The initiation of ``case_id`` in this outbox and its feedback count, or None."""
        rows = self._read(_pg(CASE_ENTRY), (case_id,))
        return case_entry_from(rows[0]) if rows else None

    def unfed_cases(self, *, opened_before: float, limit: int = 100) -> list[CaseEntry]:
        """Initiations written before ``opened_before`` whose case has no feedback, oldest first."""
        return [case_entry_from(r) for r in self._read(_pg(UNFED_CASES), (opened_before, limit))]

    def count_unfed(self, *, opened_before: float) -> int:
        """How many cases opened before ``opened_before`` have no feedback."""
        return int(self._read(_pg(COUNT_UNFED), (opened_before,))[0][0])

    def present(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are stored (committed, by any connection)."""
        rows = self._read(f"SELECT idem_key FROM {TABLE} WHERE idem_key = ANY(%s)", (list(keys),))
        return {str(r[0]) for r in rows}

    def payload(self, item_id: int) -> bytes | None:
        """The stored payload of item ``item_id`` (None when there is no such item)."""
        rows = self._read(_pg(PAYLOAD_OF), (item_id,))
        return bytes(rows[0][0]) if rows else None

    def close(self) -> None:
        """Close this process's connection."""
        self._reset_after_fork()
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _pg(statement: str) -> str:
    """A shared statement with psycopg's placeholders (none of them holds a literal "?")."""
    return statement.replace("?", "%s")
