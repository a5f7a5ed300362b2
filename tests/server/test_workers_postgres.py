"""Two ``creditguard serve`` processes sharing one PostgreSQL outbox: every fact delivered once.

Both workers run their own delivery worker on the same outbox (a database of
its own per run, so other PostgreSQL tests are untouched). Checks go to both;
each case's feedback goes, by its token, to the *other* worker. The one
reference platform must then have received each case and each feedback
exactly once (by idempotency key, with one body).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from server_helpers import ORG_BLACK, TOKEN_A, bearer, write_layout

from creditguard.testing import ReferencePlatform, RunningServer

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

A = bearer(TOKEN_A)
BID_A = {"step": "procurement.bid", "region": "320100"}
KEY = "feedback-key-shared-by-both-workers-0001"
CHECKS = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _database() -> Iterator[str]:
    """A fresh database on the test server; its DSN. Dropped afterwards."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    admin = os.environ["CREDITGUARD_TEST_PG_DSN"]
    name = f"cg_serve_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(admin)
    params["dbname"] = name
    try:
        yield make_conninfo(**params)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _worker(service_file: Path, log: Path) -> Iterator[str]:
    """One ``creditguard serve`` process on a free loopback port; its base URL."""
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "creditguard"),
                "serve",
                "--config",
                str(service_file),
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            if proc.poll() is not None:
                raise AssertionError(f"worker exited: {log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise AssertionError("worker did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_two_workers_one_postgres_outbox_deliver_each_case_and_feedback_once(
    tmp_path: Path, platform_server: RunningServer, platform: ReferencePlatform
) -> None:
    with ExitStack() as stack:
        dsn = stack.enter_context(_database())
        layout = write_layout(tmp_path, platform_server.url, feedback_key=KEY)
        unit_a = tmp_path / "unit-a.toml"
        text = unit_a.read_text(encoding="utf-8")
        unit_a.write_text(
            text.replace("[outbox]\n", f"[outbox]\npath = {json.dumps(dsn)}\n"), encoding="utf-8"
        )
        urls = [
            stack.enter_context(_worker(layout.service_file, tmp_path / f"worker-{n}.log"))
            for n in range(2)
        ]
        with httpx.Client(headers=A, timeout=15) as http:
            decisions = []
            for i in range(CHECKS):
                r = http.post(f"{urls[i % 2]}/v1/check", json={"subject_code": ORG_BLACK, **BID_A})
                assert r.status_code == 200, r.text
                assert r.json()["outcome"] == "deny" and r.json()["feedback_token"]
                decisions.append(r.json())
            for i, d in enumerate(decisions):
                # fed back through the worker that did not make the decision
                r = http.post(
                    f"{urls[(i + 1) % 2]}/v1/feedback",
                    json={"feedback_token": d["feedback_token"], "detail": f"W-{i}"},
                )
                assert r.status_code == 201, r.text
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                st = http.get(f"{urls[0]}/v1/outbox").json()
                if st["pending"] == 0 and st["in_flight"] == 0:
                    break
                time.sleep(0.1)
            # both workers read the one outbox
            for url in urls:
                st = http.get(f"{url}/v1/outbox").json()
                assert (st["pending"], st["dead"], st["delivered"]) == (0, 0, 2 * CHECKS), st
    sends: Counter[str] = Counter()
    bodies: dict[str, set[str]] = {}
    for req in platform.requests_log:
        if req.method != "POST" or req.idempotency_key is None:
            continue
        if req.status is None or not 200 <= req.status < 300:
            continue
        sends[req.idempotency_key] += 1
        bodies.setdefault(req.idempotency_key, set()).add(json.dumps(req.body, sort_keys=True))
    assert len(sends) == 2 * CHECKS, "one case and one feedback per check reached the platform"
    assert set(sends.values()) == {1}, "no fact was delivered twice"
    assert all(len(b) == 1 for b in bodies.values())
    fed = platform.feedback_for(ORG_BLACK)
    assert sorted(f["detail"] for f in fed) == sorted(f"W-{i}" for i in range(CHECKS))
    case_ids = {d["decision_id"] for d in decisions}
    assert len(case_ids) == CHECKS
