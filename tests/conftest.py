"""Suite-wide rules: tests marked ``postgres`` need a server, and CI must not skip them.

A ``postgres`` test needs ``psycopg`` (the ``postgres`` extra) and a server named
by ``CREDITGUARD_TEST_PG_DSN`` (``source .ci/postgres.sh`` starts one). When
either is missing, the test is skipped on a developer's machine, with the reason,
but fails when ``CI=true``: a CI run that silently skipped them would claim the
multi-host outbox works without having tried it.
"""

from __future__ import annotations

import functools
import os

import pytest


@functools.cache
def postgres_problem() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can (checked once)."""
    try:
        import psycopg
    except ImportError:
        return "needs psycopg: pip install -e '.[postgres]'"
    dsn = os.environ.get("CREDITGUARD_TEST_PG_DSN")
    if not dsn:
        return "CREDITGUARD_TEST_PG_DSN is not set (source .ci/postgres.sh)"
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at CREDITGUARD_TEST_PG_DSN does not answer: {exc}"
    return None


def in_ci() -> bool:
    """True on a CI runner (``CI=true``, as GitHub Actions, GitLab CI and .ci/run set it)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") is None:
        return
    problem = postgres_problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"CI=true and this PostgreSQL test cannot run: {problem}", pytrace=False)
    pytest.skip(problem)
