"""Two processes delivering from one outbox (SQLite, and PostgreSQL when available)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from outbox_helpers import PG_DSN, UNIT, check_exactly_once, loopback_deliverer, make_decision

from creditguard.cases import CaseRecorder
from creditguard.outbox import PostgresOutbox, SqliteOutbox
from creditguard.testing import ReferencePlatform, serve

pytestmark = pytest.mark.integration


def run_two(make_outbox: Callable[[], Any], tmp: Path, n_cases: int = 40) -> None:
    platform = ReferencePlatform(latency=0.003)
    box = make_outbox()
    rec = CaseRecorder(box, UNIT)
    for _ in range(n_cases):
        rec.record_step(make_decision(("S-01", "deny"), ("S-02", "restrict")))
    keys = {i.key for i in box.items("pending", limit=10_000)}
    assert len(keys) == 3 * n_cases
    with serve(platform) as server:
        pids = []
        for n in range(2):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                code = 1
                try:
                    mine = make_outbox()
                    d = loopback_deliverer(mine, server.url)
                    sent = 0
                    deadline = time.monotonic() + 8
                    while time.monotonic() < deadline:
                        got = d.deliver_due(limit=5)
                        sent += sum(a.result == "delivered" for a in got)
                        if not got and mine.status(now=time.time()).pending == 0:
                            break
                        if not got:
                            time.sleep(0.005)
                    (tmp / f"child-{n}").write_text(str(sent))
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
    st = box.status(now=time.time())
    assert (st.pending, st.dead, st.delivered) == (0, 0, 3 * n_cases), "none stuck"
    sends = check_exactly_once(platform, keys)
    assert max(sends.values()) == 1, "no item was sent twice"
    per_child = [int((tmp / f"child-{n}").read_text()) for n in range(2)]
    assert sum(per_child) == 3 * n_cases and min(per_child) > 0, per_child
    assert len(platform.feedback) == 2 * n_cases


def test_two_processes_one_sqlite_outbox(tmp_path: Path) -> None:
    run_two(lambda: SqliteOutbox(tmp_path / "shared.db"), tmp_path)


@pytest.mark.postgres
def test_two_processes_one_postgres_outbox(tmp_path: Path) -> None:
    if not PG_DSN:
        pytest.skip("CREDITGUARD_TEST_PG_DSN is not set (source .ci/postgres.sh)")
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS creditguard_outbox")
    run_two(lambda: PostgresOutbox(PG_DSN), tmp_path)
