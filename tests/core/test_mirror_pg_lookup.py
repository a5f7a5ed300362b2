"""A PostgreSQL mirror lookup is one round trip to the server (issue 13).

The freshness state and the rows (and, when asked, the records of the
organisations a person represents) come from one statement, so one snapshot,
in autocommit: no BEGIN/COMMIT around it. Round trips are counted from libpq's
protocol trace (one ``ReadyForQuery`` from the server per round trip). A
connection the server drops is reported as ``SourceUnavailable`` and opened
again on the next lookup.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_MULTI, REP, mirror_rows, uscc
from _pgmirror import pg_schema_dsn

from creditguard.errors import SourceUnavailable
from creditguard.mirror import PostgresMirror
from creditguard.models import CreditRecord

pytestmark = pytest.mark.postgres


@pytest.fixture
def mirror() -> Iterator[PostgresMirror]:
    with pg_schema_dsn() as dsn:
        m = PostgresMirror(dsn)
        m.import_lines([json.dumps(r, ensure_ascii=False) for r in mirror_rows()])
        try:
            yield m
        finally:
            m.close()


def round_trips(m: PostgresMirror, op: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``op`` with libpq tracing this thread's connection: (server round trips, result)."""
    conn = m._connection()
    fd, path = tempfile.mkstemp()
    try:
        try:
            conn.pgconn.trace(fd)
        except psycopg.NotSupportedError:
            pytest.skip("this libpq cannot trace")
        try:
            result = op()
        finally:
            conn.pgconn.untrace()
        with open(path, encoding="utf-8", errors="replace") as f:
            trace = f.read().splitlines()
    finally:
        os.close(fd)
        os.remove(path)
    return sum(1 for line in trace if "\tB\t" in line and "ReadyForQuery" in line), result


def test_one_round_trip_per_lookup(mirror: PostgresMirror) -> None:
    for _ in range(3):  # the connection is open and the statements prepared
        mirror.lookup([ORG_CLEAN])
        mirror.lookup([REP], include_related=True)
        mirror.lookup([ORG_MULTI, ORG_CLEAN])
    n, got = round_trips(mirror, lambda: mirror.lookup([ORG_CLEAN]))
    assert n == 1 and got[ORG_CLEAN].found is False and got[ORG_CLEAN].data_as_of is not None
    n, got = round_trips(mirror, lambda: mirror.lookup([REP], include_related=True))
    assert n == 1
    assert [(r.record_id, r.via) for r in got[REP].records] == [("JS-BL-1", ORG_BLACK)]
    block = [ORG_MULTI, *(uscc("320100", f"MY{i:06d}") for i in range(499))]
    n, got = round_trips(mirror, lambda: mirror.lookup(block))
    assert n == 1 and len(got) == 500
    assert [r.record_id for r in got[ORG_MULTI].records] == ["PC-BL-1", "MR-F-1", "SP-BL-1"]
    assert sum(1 for r in got.values() if r.found) == 1
    # prepared on the server and planned once, not parsed and planned again on every call
    plans = mirror._read(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE statement LIKE '%%mirror_state%%'"
    )
    assert len(plans) == 2 and all(g >= 3 and c == 0 for g, c in plans)


def test_stale_or_unloaded_state_from_the_same_statement() -> None:
    now = [1_800_000_000.0]
    with pg_schema_dsn() as dsn:
        m = PostgresMirror(dsn, clock=lambda: now[0], max_age_s=60)
        try:
            with pytest.raises(SourceUnavailable, match="never been loaded"):
                m.lookup([ORG_BLACK])
            # rows without a state row (loaded by hand): still never loaded, not an answer
            rec = CreditRecord.model_validate(mirror_rows()[0]["record"])
            with m.transaction() as conn:
                conn.execute(
                    "INSERT INTO mirror_records (record_id, subject_code, data) "
                    "VALUES (%s, %s, %s)",
                    (rec.record_id, ORG_BLACK, rec.model_dump_json()),
                )
            with pytest.raises(SourceUnavailable, match="never been loaded"):
                m.lookup([ORG_BLACK])
            m.mark_synced()
            got = m.lookup([ORG_BLACK])[ORG_BLACK]
            assert [r.record_id for r in got.records] == ["JS-BL-1"] and m.speaks_for_platform
            now[0] += 61
            with pytest.raises(SourceUnavailable, match="max_age_s"):
                m.lookup([ORG_BLACK])
        finally:
            m.close()


def test_lookup_inside_a_page_sees_the_page(mirror: PostgresMirror) -> None:
    rec = CreditRecord.model_validate(mirror_rows()[1]["record"]).model_copy(
        update={"record_id": "IN-PAGE-1"}
    )
    with mirror.page():
        mirror.upsert(None, rec, subject_code=ORG_CLEAN)
        inside = mirror.lookup([ORG_CLEAN])[ORG_CLEAN]
        assert [r.record_id for r in inside.records] == ["IN-PAGE-1"]
    assert mirror.lookup([ORG_CLEAN])[ORG_CLEAN].found is True


def test_dropped_connection_is_unavailable_then_reopened(mirror: PostgresMirror) -> None:
    assert mirror.lookup([ORG_BLACK])[ORG_BLACK].found
    pid = mirror._connection().info.backend_pid
    base = os.environ["CREDITGUARD_TEST_PG_DSN"]
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(SourceUnavailable) as info:
        mirror.lookup([ORG_BLACK])
    assert "127.0.0.1" not in str(info.value) and "postgres@" not in str(info.value)
    got = mirror.lookup([ORG_BLACK])[ORG_BLACK]
    assert got.found and [r.record_id for r in got.records] == ["JS-BL-1"]
    assert mirror._connection().info.backend_pid != pid
