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
:class:`~creditguard.errors.StorageError`. Each row keeps its decision's
wording version and masked facts (``wording_version``, ``facts``: the same
JSON the SQLite journal keeps), so ``creditguard journal show`` renders its
text again exactly as shown; rows written before these columns existed have
NULL there, and their text is not guessed. :func:`read_journal` (and
``creditguard journal``, the evaluation report) and
:func:`~creditguard.journal.render_explanation` read it given the DSN, which
is never shown.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeGuard

from creditguard._journal_base import (
    QueuedJournal,
    decision_facts,
    entry_fields,
    is_template,
    key_parts,
    masked_subject,
    template_key,
    verdict_fields,
    verdict_key,
)
from creditguard.errors import StorageError
from creditguard.models import Decision

if TYPE_CHECKING:
    import psycopg

    from creditguard.config import Config
    from creditguard.journal import DecisionJournal, JournalEntry

__all__ = [
    "PostgresJournal",
    "is_dsn",
    "journal_target",
    "open_journal",
    "read_postgres_decision",
    "read_postgres_journal",
]

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
        degraded_reason TEXT,
        wording_version TEXT,
        facts TEXT)""",
    "CREATE INDEX IF NOT EXISTS journal_decisions_time ON journal_decisions (decided_at)",
    # `creditguard journal show ID` finds one decision among millions.
    "CREATE INDEX IF NOT EXISTS journal_decisions_id ON journal_decisions (decision_id)",
)
# Added after the first layout: NULL in rows written before (their text is not shown again).
_TEXT_COLUMNS: Final = ("wording_version", "facts")
# What a JournalEntry is read from.
_ENTRY_COLUMNS: Final = (
    "decision_id, decided_at, decided_at_text, host, subject, subject_kind, step, region, as_of, "
    "outcome, verified, stale, stale_age_s, measures, conditions, records, list_region, "
    "list_version, sources, possible_matches, degraded_reason"
)
_COLUMNS: Final = f"{_ENTRY_COLUMNS}, {', '.join(_TEXT_COLUMNS)}"
#: Facts remembered per verdict key before the memo starts afresh (as the SQLite journal's).
_MEMO: Final = 4096


def is_dsn(target: str | os.PathLike[str]) -> TypeGuard[str]:
    """True when a store's ``path`` names a PostgreSQL database rather than a file.

    A ``postgresql://`` / ``postgres://`` URI or a libpq keyword string
    (``host=… dbname=…``). The one rule for every store (journal, mirror,
    outbox, case book, supervision), so one setting means the same everywhere.
    """
    return isinstance(target, str) and (
        target.startswith(("postgresql://", "postgres://")) or "dbname=" in target
    )


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


def _row(d: Decision, host: str, facts: str) -> tuple[Any, ...]:
    return (
        d.decision_id,
        d.decided_at,
        d.decided_at.isoformat(),
        host,
        *verdict_fields(d, masked_subject(d)),
        d.wording_version,
        facts,
    )


def _missing_text_columns(conn: psycopg.Connection[Any]) -> list[str]:
    """The text columns an existing ``journal_decisions`` lacks (it was created before them)."""
    have = {
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'journal_decisions'::regclass "
            "AND attnum > 0 AND NOT attisdropped"
        )
    }
    return [c for c in _TEXT_COLUMNS if c not in have]


class PostgresJournal(QueuedJournal):
    """Append-only decision log in PostgreSQL, written in batches off the hot path.

    Same parameters and guarantees as :class:`creditguard.journal.DecisionJournal`.
    """

    _thread_name = "creditguard-journal-pg"

    def __init__(
        self,
        dsn: str,
        *,
        flush_interval: float = 0.5,
        batch: int = 4096,
        max_queued: int = 20_000,
        connect_timeout_s: int = 10,
    ) -> None:
        super().__init__(flush_interval=flush_interval, batch=batch, max_queued=max_queued)
        self._dsn = dsn
        self.path = "PostgreSQL journal"  # what messages show: never the DSN
        self._timeout = connect_timeout_s
        self._host = socket.gethostname()
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = os.getpid()
        # verdict key -> (the objects whose ids are in the key, the facts of its text):
        # repeated checks share one verdict, so their facts are serialised once.
        self._facts: dict[tuple[Any, ...], tuple[tuple[Any, ...], str]] = {}
        with self._lock:
            self._connection()  # a wrong DSN fails at start, not at the first decision
        self._register()

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
                # A table of the first layout gains the text columns. Asked first: ALTER
                # TABLE locks out every reader and writer, even when it has nothing to add.
                for column in _missing_text_columns(conn):
                    conn.execute(
                        f"ALTER TABLE journal_decisions ADD COLUMN IF NOT EXISTS {column} TEXT"
                    )
        except psycopg.Error as exc:
            raise StorageError(f"cannot open the {self.path}: {pg_reason(exc)}") from exc
        self._conn = conn
        return conn

    def append(self, decision: Decision, *, shared: bool = True) -> None:
        """Queue a decision; writes in the calling thread only when ``max_queued`` are waiting.

        ``shared=False``: the decision's parts are its own (a screened subject),
        so its facts are not kept for later decisions (see :meth:`_facts_of`).
        """
        q = self._queue
        # A clean decision's facts are its template's: shared by every subject. A row of its
        # own is made now, so the decision is freed at once (as the SQLite journal does).
        if shared or is_template(decision.__dict__):
            q.append(decision)
        else:
            q.append(_Own(_row(decision, self._host, decision_facts(decision))))
        if len(q) >= self.batch:
            self._behind(len(q))
        elif self._thread is None:
            self._start()

    def _write(self, batch: list[Decision | _Own]) -> None:
        """Write ``batch`` with one ``COPY`` in one transaction."""
        import psycopg

        rows = [
            d.row if isinstance(d, _Own) else _row(d, self._host, self._facts_of(d)) for d in batch
        ]
        try:
            conn = self._connection()
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY journal_decisions ({_COLUMNS}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        except (psycopg.Error, StorageError) as exc:
            if self._conn is not None and (self._conn.broken or self._conn.closed):
                self._conn = None
            if isinstance(exc, StorageError):
                raise
            raise StorageError(f"{self.path}: write failed: {pg_reason(exc)}") from exc

    def _facts_of(self, d: Decision) -> str:
        """The masked facts of ``d``'s text, serialised once per verdict (the SQLite journal's keys)."""
        v = d.__dict__
        key = template_key(v) if is_template(v) else verdict_key(v)
        hit = self._facts.get(key)
        if hit is None:
            if len(self._facts) >= _MEMO:
                self._facts.clear()
            # the parts keep the ids in a verdict key from being reused while it is here
            hit = self._facts[key] = (key_parts(d), decision_facts(d))
        return hit[1]

    def _close_store(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def _reset_after_fork(self) -> None:
        super()._reset_after_fork()
        self._conn = None
        self._pid = os.getpid()
        self._facts = {}

    def entries(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        """Write what is queued, then read decisions (oldest first)."""
        self.flush()
        return read_postgres_journal(self._dsn, since=since, limit=limit)


@dataclass(frozen=True, slots=True)
class _Own:
    """The row of a queued decision whose parts are its own: written, its facts not kept."""

    row: tuple[Any, ...]


def read_postgres_journal(
    dsn: str, *, since: datetime | None = None, limit: int | None = None
) -> list[JournalEntry]:
    """Journaled decisions from every host, oldest first (by time, then id); ``since`` is inclusive."""
    import psycopg

    from creditguard.journal import JournalEntry

    sql = f"SELECT {_ENTRY_COLUMNS} FROM journal_decisions"
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
        raise StorageError(f"cannot read the PostgreSQL journal: {pg_reason(exc)}") from exc
    return [JournalEntry(r[0], r[2], *entry_fields(r, 4)) for r in rows]


def read_postgres_decision(
    dsn: str, decision_id: str
) -> tuple[JournalEntry, str | None, str | None] | None:
    """The journaled decision ``decision_id`` with its wording version and facts, or None.

    Version and facts are None for a row written before the journal recorded
    them (:func:`~creditguard.journal.render_explanation` then says so).
    """
    import psycopg

    from creditguard.journal import JournalEntry

    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            exists = conn.execute("SELECT to_regclass('journal_decisions')").fetchone()
            if not exists or exists[0] is None:
                return None
            missing = _missing_text_columns(conn)  # no writer opened it since: read as NULL
            text = ", ".join(f"NULL AS {c}" if c in missing else c for c in _TEXT_COLUMNS)
            row = conn.execute(
                f"SELECT {_ENTRY_COLUMNS}, {text} FROM journal_decisions "
                "WHERE decision_id = %s ORDER BY seq LIMIT 1",
                (decision_id,),
            ).fetchone()
    except psycopg.Error as exc:
        raise StorageError(f"cannot read the PostgreSQL journal: {pg_reason(exc)}") from exc
    if row is None:
        return None
    return JournalEntry(row[0], row[2], *entry_fields(row, 4)), row[21], row[22]


def pg_reason(exc: BaseException) -> str:
    """A database error for an exception text: its type and first line only.

    libpq's later lines are hints and may quote the connection string.
    """
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
