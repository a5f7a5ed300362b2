"""The supervision store in one embedded SQLite file (owner-only 0600, :mod:`creditguard._files`)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from creditguard._files import prepare_private_file
from creditguard.errors import StorageError
from creditguard.supervision.store import SupervisionStore

__all__ = ["SqliteSupervisionStore"]

_DIALECT = {
    "listings": "listings",
    "events": "events",
    "disclosures": "disclosures",
    "person_code": "json_extract(data, '$.person.code')",
    "person_role": "json_extract(data, '$.person.role')",
    "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
}


class SqliteSupervisionStore(SupervisionStore):
    """SQLite store of listings, events and disclosures; safe across threads and processes.

    One connection per store, used by one thread at a time. A
    :meth:`listing_lock` is a ``BEGIN IMMEDIATE`` transaction: the whole file
    is held for writing, so another process's step waits (busy timeout 5 s).
    """

    _dialect = _DIALECT

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.where = f"supervision store {self.path}"
        try:
            prepare_private_file(self.path)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA busy_timeout = 5000")
            for stmt in self._schema():
                self._conn.execute(stmt)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"{self.where}: {exc}") from None
        # Re-entrant: the thread holding a listing lock reads and writes inside its transaction.
        self._lock = threading.RLock()
        self._in_tx = False

    def __repr__(self) -> str:
        return f"SqliteSupervisionStore({self.path!r})"

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._in_tx:  # inside this thread's listing lock: join its transaction
                yield self._conn
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._in_tx = True
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"{self.where}: {exc}") from None
            finally:
                self._in_tx = False

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self._tx() as conn:
            for sql, args in statements:
                try:
                    conn.execute(sql, args)
                except sqlite3.Error as exc:
                    raise StorageError(f"{self.where}: {exc}") from None

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._conn.execute(sql, args))
            except sqlite3.Error as exc:
                raise StorageError(f"{self.where}: {exc}") from None

    @contextmanager
    def listing_lock(self, record_id: str) -> Iterator[None]:
        """Hold the store for one read-check-write step on ``record_id`` (``BEGIN IMMEDIATE``)."""
        with self._tx():
            yield

    def reopen(self) -> SqliteSupervisionStore:
        """A new connection to the same file."""
        return SqliteSupervisionStore(self.path)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()
