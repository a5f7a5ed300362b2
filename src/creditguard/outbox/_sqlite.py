"""The default outbox: one SQLite file, WAL, ``synchronous=FULL``, short immediate transactions."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from creditguard._files import prepare_private_file
from creditguard.errors import StorageError
from creditguard.outbox._item import (
    CaseEntry,
    ClaimedItem,
    ItemInfo,
    ItemState,
    OutboxItem,
    OutboxStatus,
)
from creditguard.outbox._upgrade import legacy_index, upgrade_rows

__all__ = ["SQLITE_SCHEMA", "SqliteOutbox", "create_sqlite_schema"]

TABLE = "creditguard_outbox"

# The state transitions of an item, shared by both backends (PostgreSQL spells the
# placeholders %s: see creditguard.outbox._postgres). Written with "?" placeholders.
MARK_DELIVERED = (
    f"UPDATE {TABLE} SET state = 'delivered', done_at = ?, last_status = ?, receipt = ?, "
    "lease_owner = NULL, lease_until = NULL, last_error = NULL WHERE id = ? AND state = 'pending'"
)
MARK_RETRY = (
    f"UPDATE {TABLE} SET next_at = ?, last_status = ?, last_error = ?, lease_owner = NULL, "
    "lease_until = NULL WHERE id = ? AND state = 'pending' AND lease_owner = ?"
)
MARK_DEAD = (
    f"UPDATE {TABLE} SET state = 'dead', done_at = ?, last_status = ?, last_error = ?, "
    "lease_owner = NULL, lease_until = NULL WHERE id = ? AND state = 'pending' AND lease_owner = ?"
)
RETRY_DEAD = (
    f"UPDATE {TABLE} SET state = 'pending', attempts = 0, next_at = ?, done_at = NULL "
    "WHERE state = 'dead'"
)
#: RETRY_DEAD for one item: the same statement, narrowed to ``id = ?``.
RETRY_DEAD_ONE = RETRY_DEAD + " AND id = ?"
MAKE_DUE = f"UPDATE {TABLE} SET next_at = ? WHERE state = 'pending' AND next_at > ?"
REQUEUE_INITIATION = (
    f"UPDATE {TABLE} SET state = 'pending', next_at = ?, done_at = NULL "
    "WHERE grp = ? AND kind = 'case' AND state = 'delivered'"
)

# Cases: an initiation (kind 'case') is "fed back" once its group holds a feedback item.
# Initiations are looked up by case id (a retry of an application's step, one indexed read
# through (grp, kind)); unfed ones are listed by a scan (operators, every few minutes), which
# is not worth a second index slowing every enqueue.
_NO_FEEDBACK = f"NOT EXISTS (SELECT 1 FROM {TABLE} f WHERE f.grp = c.grp AND f.kind = 'feedback')"
CASE_ENTRY = (
    f"SELECT c.grp, c.body, c.created_at, c.state, (SELECT COUNT(*) FROM {TABLE} f "
    f"WHERE f.grp = c.grp AND f.kind = 'feedback') FROM {TABLE} c WHERE c.kind = 'case' AND c.grp = ?"
)
UNFED_CASES = (
    f"SELECT c.grp, c.body, c.created_at, c.state, 0 FROM {TABLE} c "
    f"WHERE c.kind = 'case' AND c.created_at <= ? AND {_NO_FEEDBACK} ORDER BY c.created_at, c.id LIMIT ?"
)
COUNT_UNFED = (
    f"SELECT COUNT(*) FROM {TABLE} c WHERE c.kind = 'case' AND c.created_at <= ? AND {_NO_FEEDBACK}"
)
# Delivered items may go, except the initiation of a case still waiting for feedback:
# it is what lists the case as overdue and lets a later process resume it.
PRUNE_DELIVERED = (
    f"DELETE FROM {TABLE} WHERE state = 'delivered' AND done_at < ? "
    f"AND id NOT IN (SELECT c.id FROM {TABLE} c WHERE c.kind = 'case' AND {_NO_FEEDBACK})"
)

# Columns: ``method`` holds the payload's format ("fact", read by channels; a row
# written by creditguard 0.1 holds "POST" and a request body: opening the outbox
# converts it to a fact, see creditguard.outbox._upgrade), ``path`` the item's topic
# for operators, ``body`` the payload.
PAYLOAD_FORMAT = "fact"

SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idem_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    grp TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    last_status INTEGER,
    last_error TEXT,
    done_at REAL,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (state, next_at);
CREATE INDEX IF NOT EXISTS {TABLE}_grp ON {TABLE} (grp, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS {TABLE}_case ON {TABLE} (grp, kind);
"""

#: One item's payload, by id (reports read a fact's own fields; both backends).
PAYLOAD_OF = f"SELECT body FROM {TABLE} WHERE id = ?"

INSERT_SQL = (
    f"INSERT INTO {TABLE} (idem_key, kind, grp, method, path, body, created_at, next_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING"
)

# An item is due when no earlier item of its group is still pending: a case's
# initiation goes before its response and feedback (spec §6).
_CLAIM_SQL = f"""
SELECT o.id FROM {TABLE} o
WHERE o.state = 'pending' AND o.next_at <= ? AND (o.lease_until IS NULL OR o.lease_until <= ?)
  AND (o.grp IS NULL OR NOT EXISTS (
        SELECT 1 FROM {TABLE} p WHERE p.grp = o.grp AND p.state = 'pending' AND p.id < o.id))
ORDER BY o.next_at, o.id LIMIT ?
"""

_INFO_COLUMNS = (
    "id, idem_key, kind, grp, path, state, attempts, created_at, last_status, last_error, next_at"
)


def create_sqlite_schema(connection: sqlite3.Connection) -> None:
    """Create the outbox table in ``connection``'s database if it is missing.

    An outbox written by creditguard 0.1 is upgraded here: its rows become
    facts (see :mod:`creditguard.outbox._upgrade`).
    """
    for stmt in SQLITE_SCHEMA.split(";"):
        if stmt.strip():
            connection.execute(stmt)
    connection.execute(legacy_index(TABLE))
    upgrade_rows(connection.execute, TABLE, "?", now=time.time())


def row_values(item: OutboxItem, now: float) -> tuple[object, ...]:
    """The INSERT parameters of ``item`` (both backends and ``enqueue_in``)."""
    return (item.key, item.kind, item.group, PAYLOAD_FORMAT, item.topic, item.payload, now, now)


def item_from(key: object, kind: object, group: object, payload: object) -> OutboxItem:
    """The item a claimed row holds."""
    return OutboxItem(
        key=str(key),
        kind=kind,  # type: ignore[arg-type]
        group=None if group is None else str(group),
        payload=bytes(payload),  # type: ignore[call-overload]
    )


class SqliteOutbox:
    """Outbox in a SQLite file, shared safely by threads and processes of one host.

    Each write is one short ``BEGIN IMMEDIATE`` transaction committed with
    ``synchronous=FULL`` before the call returns. After ``fork`` the child
    opens its own connection on first use.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        try:
            prepare_private_file(self.path)  # owner-only: it holds personal data
            with self._tx() as conn:
                create_sqlite_schema(conn)
        except OSError as exc:
            raise StorageError(f"outbox {self.path}: cannot create: {exc.strerror}") from exc

    def __repr__(self) -> str:
        return f"SqliteOutbox({str(self.path)!r})"

    # --- connection ------------------------------------------------------------------

    def _reset_after_fork(self) -> None:
        # A connection inherited across fork must not be used or closed by the child, and
        # the lock may have been held by a parent thread that does not exist here.
        if self._pid != os.getpid():
            self._conn = None
            self._lock = threading.Lock()
            self._pid = os.getpid()

    def _connection(self) -> sqlite3.Connection:
        self._reset_after_fork()
        if self._conn is None:
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self._busy_timeout_ms / 1000,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            self._conn = conn
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._reset_after_fork()
        with self._lock:
            try:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"outbox {self.path}: cannot open a transaction: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(
                        f"outbox {self.path}: write failed, nothing was stored: {exc}"
                    ) from exc
                raise

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        self._reset_after_fork()
        with self._lock:
            try:
                return list(self._connection().execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise StorageError(f"outbox {self.path}: read failed: {exc}") from exc

    # --- writing ---------------------------------------------------------------------

    def enqueue(self, item: OutboxItem) -> bool:
        """Store ``item`` durably; False when its key was already there."""
        return self.enqueue_many([item]) == 1

    def enqueue_many(self, items: Sequence[OutboxItem]) -> int:
        """Store ``items`` in one transaction (all or none); returns how many were new."""
        now = time.time()
        with self._tx() as conn:
            added = 0
            for item in items:
                added += conn.execute(INSERT_SQL, row_values(item, now)).rowcount
            return added

    # --- delivery --------------------------------------------------------------------

    def claim(self, owner: str, *, now: float, lease_s: float, limit: int = 1) -> list[ClaimedItem]:
        """Lease up to ``limit`` due items to ``owner`` and count the attempt."""
        with self._tx() as conn:
            ids = [row[0] for row in conn.execute(_CLAIM_SQL, (now, now, limit))]
            out: list[ClaimedItem] = []
            for item_id in ids:
                row = conn.execute(
                    f"UPDATE {TABLE} SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
                    "WHERE id = ? RETURNING id, idem_key, kind, grp, method, path, body, attempts",
                    (owner, now + lease_s, item_id),
                ).fetchone()
                grp = row[3]
                known = grp is not None and (
                    conn.execute(
                        f"SELECT 1 FROM {TABLE} WHERE grp = ? AND kind = 'case' LIMIT 1", (grp,)
                    ).fetchone()
                    is not None
                )
                item = item_from(row[1], row[2], grp, row[6])
                out.append(
                    ClaimedItem(
                        id=row[0], item=item, attempts=row[7], owner=owner, initiation_known=known
                    )
                )
            return out

    def mark_delivered(
        self, item_id: int, owner: str, *, now: float, status: int, receipt: str
    ) -> None:
        """The platform accepted the item (any owner may record that: it is true either way)."""
        with self._tx() as conn:
            conn.execute(MARK_DELIVERED, (now, status, receipt, item_id))

    def mark_retry(
        self, item_id: int, owner: str, *, next_at: float, status: int | None, error: str
    ) -> None:
        """Release the lease and schedule the next attempt."""
        with self._tx() as conn:
            conn.execute(MARK_RETRY, (next_at, status, error, item_id, owner))

    def mark_dead(
        self, item_id: int, owner: str, *, now: float, status: int | None, error: str
    ) -> None:
        """Dead-letter the item with the platform's message, for an operator to act on."""
        with self._tx() as conn:
            conn.execute(MARK_DEAD, (now, status, error, item_id, owner))

    def requeue_initiation(self, group: str, *, now: float) -> bool:
        """Send a delivered case initiation again (the platform said it does not know the case)."""
        with self._tx() as conn:
            cur = conn.execute(REQUEUE_INITIATION, (now, group))
            return cur.rowcount > 0

    # --- operations ------------------------------------------------------------------

    def next_due_at(self) -> float | None:
        """When the earliest pending item becomes due (its lease may push it later)."""
        rows = self._read(
            f"SELECT MIN(MAX(next_at, COALESCE(lease_until, 0))) FROM {TABLE} WHERE state = 'pending'"
        )
        value = rows[0][0]
        return None if value is None else float(value)  # type: ignore[arg-type]

    def status(self, *, now: float) -> OutboxStatus:
        """Backlog, oldest pending age, attempts, dead letters."""
        rows = self._read(
            f"""SELECT
                  SUM(state = 'pending'),
                  SUM(state = 'pending' AND next_at <= ? AND (lease_until IS NULL OR lease_until <= ?)),
                  SUM(state = 'pending' AND lease_until > ?),
                  SUM(state = 'delivered'),
                  SUM(state = 'dead'),
                  MIN(CASE WHEN state = 'pending' THEN created_at END),
                  MAX(CASE WHEN state = 'pending' THEN attempts END)
                FROM {TABLE}""",
            (now, now, now),
        )
        kinds = self._read(
            f"SELECT kind, COUNT(*) FROM {TABLE} WHERE state = 'pending' GROUP BY kind"
        )
        return _status_from(rows[0], kinds, now)

    def items(self, state: ItemState, *, limit: int = 100) -> list[ItemInfo]:
        """Items in ``state``, oldest first."""
        rows = self._read(
            f"SELECT {_INFO_COLUMNS} FROM {TABLE} WHERE state = ? ORDER BY id LIMIT ?",
            (state, limit),
        )
        return [_info(row) for row in rows]

    def retry_dead(self, ids: Sequence[int] | None = None, *, now: float) -> int:
        """Put dead letters (all, or those ``ids``) back in the queue with fresh attempts."""
        with self._tx() as conn:
            if ids is None:
                return conn.execute(RETRY_DEAD, (now,)).rowcount
            return sum(conn.execute(RETRY_DEAD_ONE, (now, i)).rowcount for i in ids)

    def make_due(self, *, now: float) -> int:
        """Make every pending item due now (operators' ``flush``)."""
        with self._tx() as conn:
            return conn.execute(MAKE_DUE, (now, now)).rowcount

    def prune_delivered(self, *, older_than_s: float, now: float) -> int:
        """Delete delivered items older than ``older_than_s`` (keep at least the platform's 7 days).

        The initiation of a case with no feedback yet is kept: it lists the case as overdue.
        """
        with self._tx() as conn:
            return conn.execute(PRUNE_DELIVERED, (now - older_than_s,)).rowcount

    # --- cases -----------------------------------------------------------------------

    def case_entry(self, case_id: str) -> CaseEntry | None:
        """The initiation of ``case_id`` in this outbox and its feedback count, or None."""
        rows = self._read(CASE_ENTRY, (case_id,))
        return case_entry_from(rows[0]) if rows else None

    def unfed_cases(self, *, opened_before: float, limit: int = 100) -> list[CaseEntry]:
        """Initiations written before ``opened_before`` whose case has no feedback, oldest first."""
        return [case_entry_from(r) for r in self._read(UNFED_CASES, (opened_before, limit))]

    def count_unfed(self, *, opened_before: float) -> int:
        """How many cases opened before ``opened_before`` have no feedback."""
        return int(self._read(COUNT_UNFED, (opened_before,))[0][0])  # type: ignore[call-overload, no-any-return]

    def present(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are stored (committed, by any connection)."""
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            marks = ", ".join("?" * len(part))
            rows = self._read(f"SELECT idem_key FROM {TABLE} WHERE idem_key IN ({marks})", part)
            found.update(str(r[0]) for r in rows)
        return found

    def payload(self, item_id: int) -> bytes | None:
        """The stored payload of item ``item_id`` (None when there is no such item)."""
        rows = self._read(PAYLOAD_OF, (item_id,))
        return bytes(rows[0][0]) if rows else None  # type: ignore[call-overload]

    def close(self) -> None:
        """Close this process's connection."""
        self._reset_after_fork()
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _info(row: Sequence[object]) -> ItemInfo:
    return ItemInfo(
        id=int(row[0]),  # type: ignore[call-overload]
        key=str(row[1]),
        kind=str(row[2]),
        group=None if row[3] is None else str(row[3]),
        topic=str(row[4]),
        state=str(row[5]),
        attempts=int(row[6]),  # type: ignore[call-overload]
        created_at=float(row[7]),  # type: ignore[arg-type]
        last_status=None if row[8] is None else int(row[8]),  # type: ignore[call-overload]
        last_error=None if row[9] is None else str(row[9]),
        next_at=None if row[10] is None else float(row[10]),  # type: ignore[arg-type]
    )


def case_entry_from(row: Sequence[object]) -> CaseEntry:
    """A :class:`CaseEntry` from a CASE_ENTRY / UNFED_CASES row (both backends)."""
    return CaseEntry(
        case_id=str(row[0]),
        payload=bytes(row[1]),  # type: ignore[call-overload]
        created_at=float(row[2]),  # type: ignore[arg-type]
        state=str(row[3]),
        feedback=int(row[4]),  # type: ignore[call-overload]
    )


def _status_from(
    row: Sequence[object], kinds: Sequence[Sequence[object]], now: float
) -> OutboxStatus:
    def n(value: object) -> int:
        return 0 if value is None else int(value)  # type: ignore[call-overload]

    oldest = row[5]
    return OutboxStatus(
        pending=n(row[0]),
        due=n(row[1]),
        in_flight=n(row[2]),
        delivered=n(row[3]),
        dead=n(row[4]),
        oldest_pending_age_s=None if oldest is None else max(0.0, now - float(oldest)),  # type: ignore[arg-type]
        max_attempts=n(row[6]),
        by_kind={str(k): n(c) for k, c in kinds},
    )
