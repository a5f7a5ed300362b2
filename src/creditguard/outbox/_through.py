"""Write outbox items through the integrator's own database connection.

When the workflow's own data lives in the same database as the outbox, the
step and its feedback can commit together: either both are there after a
crash, or neither is. ``enqueue_in`` runs the INSERT in the connection's
current transaction and never commits; the caller's commit makes it durable.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from creditguard.errors import StorageError
from creditguard.outbox._item import OutboxItem
from creditguard.outbox._postgres import PG_INSERT_SQL, create_postgres_schema
from creditguard.outbox._sqlite import INSERT_SQL, create_sqlite_schema, row_values

__all__ = ["create_schema", "enqueue_in"]


def _is_psycopg(connection: object) -> bool:
    return type(connection).__module__.startswith("psycopg")


def create_schema(connection: Any) -> None:
    """Create the outbox table through ``connection`` (a ``sqlite3`` or ``psycopg`` connection)."""
    if isinstance(connection, sqlite3.Connection):
        create_sqlite_schema(connection)
    elif _is_psycopg(connection):
        create_postgres_schema(connection)
    else:
        raise TypeError(
            f"enqueue_in needs a sqlite3 or psycopg connection, got {type(connection).__name__}"
        )


def enqueue_in(connection: Any, items: OutboxItem | Sequence[OutboxItem]) -> int:
    """Insert ``items`` into the outbox table through ``connection``, inside its transaction.

    Does not commit: the row becomes durable with the caller's own commit and
    disappears with its rollback. Returns how many items were new (a key
    already present is skipped). The table must exist: a :class:`SqliteOutbox`
    or :class:`PostgresOutbox` on the same database creates it, or call
    :func:`create_schema` once.
    """
    batch = [items] if isinstance(items, OutboxItem) else list(items)
    now = time.time()
    rows = [row_values(i, now) for i in batch]
    if isinstance(connection, sqlite3.Connection):
        try:
            return sum(connection.execute(INSERT_SQL, row).rowcount for row in rows)
        except sqlite3.Error as exc:
            raise StorageError(
                f"outbox (integrator's SQLite connection): write failed: {exc}"
            ) from exc
    if _is_psycopg(connection):
        import psycopg

        try:
            return sum(connection.execute(PG_INSERT_SQL, row).rowcount for row in rows)
        except psycopg.Error as exc:
            raise StorageError(
                f"outbox (integrator's PostgreSQL connection): write failed: {exc}"
            ) from exc
    raise TypeError(
        f"enqueue_in needs a sqlite3 or psycopg connection, got {type(connection).__name__}"
    )
