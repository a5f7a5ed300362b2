"""The decision journal in PostgreSQL: every host's decisions in one audit trail.

``[journal] path = "postgresql://…"`` selects it. It keeps what the SQLite
journal (:mod:`creditguard.journal`) keeps, masked the same way (a resident ID
number keeps its first 6 and last 4 characters), one row per decision in
table ``journal_decisions`` with the host that decided. It is written the same
way too: :meth:`PostgresJournal.append` queues; a background thread writes the
queue with one ``COPY`` per batch every ``flush_interval`` seconds (sooner once
``batch`` decisions wait); at ``max_queued`` the checking thread writes itself
(back-pressure); nothing is dropped; an unreachable database keeps decisions
queued until the bound, then checks raise
:class:`~creditguard.errors.StorageError`. :func:`read_journal` (and
``creditguard journal``, the evaluation report) read it given the DSN, which is
never shown.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import weakref
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from creditguard.errors import StorageError
from creditguard.forksafe import background_work
from creditguard.masking import mask_code
from creditguard.models import Decision

if TYPE_CHECKING:
    import psycopg

    from creditguard.config import Config
    from creditguard.journal import DecisionJournal, JournalEntry

__all__ = ["PostgresJournal", "is_dsn", "journal_target", "open_journal", "read_postgres_journal"]

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS journal_decisions (
        seq BIGSERIAL PRIMARY KEY,
        decision_id TEXT NOT NULL,
        decided_at TIMESTAMPTZ NOT NULL,
        decided_at_text TEXT NOT NULL,
        host TEXT NOT NULL,
        subject TEXT NOT NULL,
        subject_kind TEXT NOT NULL,
        step TEXT NOT NULL,
        region TEXT NOT NULL,
        as_of TEXT NOT NULL,
        outcome TEXT NOT NULL,
        verified BOOLEAN NOT NULL,
        stale BOOLEAN NOT NULL,
        stale_age_s DOUBLE PRECISION,
        measures TEXT NOT NULL,
        conditions TEXT NOT NULL,
        records TEXT NOT NULL,
        list_region TEXT,
        list_version TEXT,
        sources TEXT NOT NULL,
        possible_matches INTEGER NOT NULL,
        degraded_reason TEXT)""",
    "CREATE INDEX IF NOT EXISTS journal_decisions_time ON journal_decisions (decided_at)",
)
_COLUMNS: Final = (
    "decision_id, decided_at, decided_at_text, host, subject, subject_kind, step, region, as_of, "
    "outcome, verified, stale, stale_age_s, measures, conditions, records, list_region, "
    "list_version, sources, possible_matches, degraded_reason"
)

_journals: weakref.WeakSet[PostgresJournal] = weakref.WeakSet()


def is_dsn(target: str | os.PathLike[str]) -> bool:
    """True when a journal ``path`` names a PostgreSQL database."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def journal_target(cfg: Config, given: str | os.PathLike[str] | None = None) -> str | Path:
    """The journal the configuration names: a DSN as written, else a file resolved from the config's folder."""
    raw = os.fspath(given) if given is not None else cfg.journal.path
    if raw and is_dsn(str(raw).strip()):
        return str(raw).strip()
    return cfg.path(str(raw)) if raw else cfg.data_dir / "journal.db"


def open_journal(
    target: str | Path, *, flush_interval: float = 0.5
) -> DecisionJournal | PostgresJournal:
    """The SQLite journal for a file, the PostgreSQL one for a DSN."""
    if isinstance(target, str) and is_dsn(target):
        return PostgresJournal(target, flush_interval=flush_interval)
    from creditguard.journal import DecisionJournal

    return DecisionJournal(target, flush_interval=flush_interval)


def _row(d: Decision, host: str) -> tuple[Any, ...]:
    return (
        d.decision_id,
        d.decided_at,
        d.decided_at.isoformat(),
        host,
        mask_code(d.subject_code, d.subject_kind),
        d.subject_kind,
        d.step,
        d.region,
        d.as_of.isoformat(),
        d.outcome,
        d.verified,
        d.stale,
        d.stale_age_s,
        " ".join(m.code for m in d.measures),
        " ".join(m.code for m in d.conditions),
        " ".join(er.record.record_id for er in d.records),
        d.list_region,
        d.list_version,
        " ".join(p.source for p in d.provenance),
        len(d.possible_matches),
        d.degraded_reason,
    )


class PostgresJournal:
    """Append-only decision log in PostgreSQL, written in batches off the hot path.

    Same parameters and guarantees as :class:`creditguard.journal.DecisionJournal`.
    """

    def __init__(
        self,
        dsn: str,
        *,
        flush_interval: float = 0.5,
        batch: int = 4096,
        max_queued: int = 20_000,
        connect_timeout_s: int = 10,
    ) -> None:
        if not (0 < batch <= max_queued):
            raise ValueError(f"journal: need 0 < batch ({batch}) <= max_queued ({max_queued})")
        self._dsn = dsn
        self.path = "PostgreSQL journal"  # what messages show: never the DSN
        self.flush_interval = flush_interval
        self.batch = batch
        self.max_queued = max_queued
        self._timeout = connect_timeout_s
        self._host = socket.gethostname()
        self._queue: deque[Decision] = deque()
        self._in_flight = 0
        self._wake = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = os.getpid()
        with self._lock:
            self._connection()  # a wrong DSN fails at start, not at the first decision
        _journals.add(self)

    def __repr__(self) -> str:
        return "PostgresJournal(<dsn hidden>)"

    def _connection(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        try:
            conn = psycopg.connect(self._dsn, connect_timeout=self._timeout, autocommit=True)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('creditguard_journal'))")
                for stmt in _SCHEMA:
                    conn.execute(stmt)
        except psycopg.Error as exc:
            raise StorageError(f"cannot open the {self.path}: {_why(exc)}") from exc
        self._conn = conn
        return conn

    @property
    def pending(self) -> int:
        """Decisions appended but not yet committed (queued or being written)."""
        return len(self._queue) + self._in_flight

    def append(self, decision: Decision) -> None:
        """Queue a decision; writes in the calling thread only when ``max_queued`` are waiting."""
        q = self._queue
        q.append(decision)
        n = len(q)
        if self._thread is None:
            self._start()
        if n >= self.max_queued:
            with self._lock:
                while len(self._queue) > self.max_queued // 2:
                    self._write_batch()
        elif n >= self.batch:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                t = threading.Thread(target=self._run, name="creditguard-journal-pg", daemon=True)
                self._thread = t
                t.start()

    def _run(self) -> None:
        import logging

        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except StorageError as exc:  # kept queued; retried at the next interval
                logging.getLogger("creditguard.journal").error("%s", exc)

    def flush(self) -> int:
        """Write every decision queued now; returns how many were written."""
        written = 0
        todo = len(self._queue)
        while todo > 0:
            with background_work(), self._lock:
                n = self._write_batch()
            if n == 0:
                break
            written += n
            todo -= n
        return written

    def _write_batch(self) -> int:
        import psycopg

        q = self._queue
        take = min(len(q), self.batch)
        if take == 0:
            return 0
        self._in_flight = take
        batch = [q.popleft() for _ in range(take)]
        try:
            conn = self._connection()
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY journal_decisions ({_COLUMNS}) FROM STDIN") as copy,
            ):
                for d in batch:
                    copy.write_row(_row(d, self._host))
        except (psycopg.Error, StorageError) as exc:
            q.extendleft(reversed(batch))  # kept, in order, for the next write
            if self._conn is not None and (self._conn.broken or self._conn.closed):
                self._conn = None
            if isinstance(exc, StorageError):
                raise
            raise StorageError(f"{self.path}: write failed: {_why(exc)}") from exc
        finally:
            self._in_flight = 0
        return take

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        import logging

        self._closed = True
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        try:
            self.flush()
        except StorageError as exc:
            logging.getLogger("creditguard.journal").error(
                "decisions could not be journaled at close: %s", exc
            )
        self._thread = None
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._thread = None
        self._conn = None
        self._in_flight = 0
        self._queue = deque()
        self._pid = os.getpid()

    def entries(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        """Write what is queued, then read decisions (oldest first)."""
        self.flush()
        return read_postgres_journal(self._dsn, since=since, limit=limit)


def read_postgres_journal(
    dsn: str, *, since: datetime | None = None, limit: int | None = None
) -> list[JournalEntry]:
    """Journaled decisions from every host, oldest first (by time, then id); ``since`` is inclusive."""
    import psycopg

    from creditguard.journal import JournalEntry

    sql = f"SELECT {_COLUMNS} FROM journal_decisions"
    args: dict[str, Any] = {}
    if since is not None:
        sql += " WHERE decided_at >= %(since)s"
        args["since"] = since
    sql += " ORDER BY decided_at, decision_id"
    if limit is not None:
        sql += " LIMIT %(limit)s"
        args["limit"] = limit
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            exists = conn.execute("SELECT to_regclass('journal_decisions')").fetchone()
            if not exists or exists[0] is None:
                return []
            rows = conn.execute(sql, args).fetchall()
    except psycopg.Error as exc:
        raise StorageError(f"cannot read the PostgreSQL journal: {_why(exc)}") from exc
    return [
        JournalEntry(
            decision_id=r[0],
            decided_at=r[2],
            subject=r[4],
            subject_kind=r[5],
            step=r[6],
            region=r[7],
            as_of=r[8],
            outcome=r[9],
            verified=bool(r[10]),
            stale=bool(r[11]),
            stale_age_s=r[12],
            measures=tuple(r[13].split()),
            conditions=tuple(r[14].split()),
            records=tuple(r[15].split()),
            list_region=r[16],
            list_version=r[17],
            sources=tuple(r[18].split()),
            possible_matches=r[19],
            degraded_reason=r[20],
        )
        for r in rows
    ]


def _close_all() -> None:
    for j in list(_journals):
        j.close()


def _after_fork_in_child() -> None:
    for j in list(_journals):
        j._reset_after_fork()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
