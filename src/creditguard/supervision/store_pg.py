"""The supervision store in PostgreSQL: several hosts run the lifecycle over one database.

``[supervision] path = "postgresql://…"`` selects it; with no ``path`` it is
where a PostgreSQL outbox runs (``[outbox] path``). Same tables as SQLite,
prefixed ``supervision_`` so they can share a database (and schema) with the
outbox, mirror and journal; put them in a schema of their own with
``options=-csearch_path=...`` in the DSN if you like.

A :meth:`PostgresSupervisionStore.listing_lock` is a transaction holding the
listing's row ``FOR UPDATE``: a second host recording a step for the same
listing waits, then sees the first one's event, so once-per-listing rules
hold across hosts. The DSN is never shown (it may hold a password). Needs
``psycopg`` 3 (``creditguard[postgres]``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from creditguard.errors import StorageError
from creditguard.forksafe import PerThread
from creditguard.journal_pg import pg_reason
from creditguard.supervision.store import SupervisionStore

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresSupervisionStore"]

# Per schema, so stores in two schemas of one database do not wait for each other.
_SCHEMA_LOCK: Final = (
    "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.creditguard_supervision'))"
)
_LOCK_LISTING: Final = "SELECT 1 FROM supervision_listings WHERE record_id = %s FOR UPDATE"

_DIALECT: Final = {
    "listings": "supervision_listings",
    "events": "supervision_events",
    "disclosures": "supervision_disclosures",
    "person_code": "((data::jsonb -> 'person') ->> 'code')",
    "person_role": "((data::jsonb -> 'person') ->> 'role')",
    "serial": "BIGSERIAL PRIMARY KEY",
}


class PostgresSupervisionStore(SupervisionStore):
    """Listings, events and disclosures in PostgreSQL; one connection per thread (and per process)."""

    _dialect = _DIALECT
    _param = "%s"

    def __init__(self, dsn: str, *, connect_timeout_s: int = 10) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise StorageError(
                "a PostgreSQL supervision store needs psycopg 3: pip install 'creditguard[postgres]'"
            ) from exc
        self._dsn = dsn
        self._connect_timeout_s = connect_timeout_s
        self.where = "PostgreSQL supervision store"
        # each thread's connection; a forked child starts afresh
        self._per_thread = PerThread()
        self._connection()  # fail now, not at the first step, when the database cannot be reached

    def __repr__(self) -> str:
        return "PostgresSupervisionStore(<dsn hidden>)"

    def _thread(self) -> threading.local:
        return self._per_thread.get()

    def _connection(self) -> psycopg.Connection[Any]:
        import psycopg

        local = self._thread()
        conn: psycopg.Connection[Any] | None = getattr(local, "conn", None)
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        try:
            conn = psycopg.connect(
                self._dsn, connect_timeout=self._connect_timeout_s, autocommit=True
            )
            with conn.transaction():
                conn.execute(_SCHEMA_LOCK)
                for stmt in self._schema():
                    conn.execute(stmt)
        except psycopg.Error as exc:
            raise StorageError(f"{self.where}: cannot connect: {pg_reason(exc)}") from None
        local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        # Inside a listing lock this is a savepoint of its transaction (psycopg nests them).
        import psycopg

        conn = self._connection()
        try:
            with conn.transaction():
                yield conn
        except psycopg.Error as exc:
            raise StorageError(f"{self.where}: nothing was changed: {pg_reason(exc)}") from None

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self._tx() as conn:
            for sql, args in statements:
                conn.execute(sql, args)

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        conn = self._connection()
        try:
            return list(conn.execute(sql, args).fetchall())
        except psycopg.Error as exc:
            raise StorageError(f"{self.where}: cannot read: {pg_reason(exc)}") from None

    @contextmanager
    def listing_lock(self, record_id: str) -> Iterator[None]:
        """One transaction holding ``record_id``'s listing row ``FOR UPDATE``."""
        with self._tx() as conn:
            conn.execute(_LOCK_LISTING, (record_id,))
            yield

    def reopen(self) -> PostgresSupervisionStore:
        """A new store over the same database."""
        return PostgresSupervisionStore(self._dsn, connect_timeout_s=self._connect_timeout_s)

    def close(self) -> None:
        """Close this thread's connection."""
        local = self._thread()
        conn = getattr(local, "conn", None)
        if conn is not None:
            conn.close()
        local.conn = None
