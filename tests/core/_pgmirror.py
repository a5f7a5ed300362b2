"""A PostgreSQL schema of its own per test, named in the DSN's search_path (mirror and journal tests)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote


@contextmanager
def pg_schema_dsn() -> Iterator[str]:
    """A DSN whose tables land in a fresh schema, dropped afterwards."""
    import psycopg

    base = os.environ["CREDITGUARD_TEST_PG_DSN"]
    schema = f"cg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
