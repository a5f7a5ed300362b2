"""An outbox written by creditguard 0.1 (HTTP requests, not facts) is upgraded when it opens.

The fixture below writes the table exactly as creditguard 0.1 did (commit
9840c86: its schema, and rows built as its ``cases.initiation_item``,
``response_item`` and ``feedback_item`` built them: ``method`` "POST", the
request path and the JSON body of spec §6), then opens it with this release
and delivers to the loopback reference platform.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from outbox_helpers import UNIT, loopback_deliverer

from creditguard.cases import CaseFeedback, CaseOpened, CaseRecorder, CaseResponse, fact_of
from creditguard.outbox import (
    Outbox,
    OutboxItem,
    PostgresOutbox,
    SqliteOutbox,
    idempotency_key,
)
from creditguard.testing import ReferencePlatform, serve

ORG = "91320100MA1W2K7D41"

# creditguard 0.1's table (9840c86 src/creditguard/outbox/_sqlite.py), without later indexes.
OLD_SQLITE_SCHEMA = """
CREATE TABLE creditguard_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idem_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    grp TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    last_status INTEGER,
    last_error TEXT,
    done_at REAL,
    receipt TEXT
);
CREATE INDEX creditguard_outbox_due ON creditguard_outbox (state, next_at);
CREATE INDEX creditguard_outbox_grp ON creditguard_outbox (grp, id) WHERE state = 'pending';
"""

OLD_PG_SCHEMA = [
    """CREATE TABLE creditguard_outbox (
        id BIGSERIAL PRIMARY KEY, idem_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, grp TEXT,
        method TEXT NOT NULL, path TEXT NOT NULL, body BYTEA NOT NULL,
        created_at DOUBLE PRECISION NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0, next_at DOUBLE PRECISION NOT NULL,
        lease_owner TEXT, lease_until DOUBLE PRECISION, last_status INTEGER, last_error TEXT,
        done_at DOUBLE PRECISION, receipt TEXT)""",
    "CREATE INDEX creditguard_outbox_due ON creditguard_outbox (state, next_at)",
]


def _body(obj: dict[str, Any]) -> bytes:  # 0.1's cases._body
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _case_path(case_id: str, tail: str) -> str:  # 0.1's cases._case_path
    return f"/v1/cases/{quote(case_id, safe='')}/{tail}"


def old_case(case_id: str, record_ids: list[str]) -> dict[str, Any]:
    body = {
        "case_id": case_id,
        "subject_code": ORG,
        "record_ids": record_ids,
        "step": "procurement.bid",
        "region": "320100",
        "unit_code": UNIT,
        "initiated_at": "2026-03-02T09:15:00+08:00",
    }
    return row(idempotency_key(UNIT, case_id, "case"), "case", case_id, "/v1/cases", body)


def old_response(case_id: str, accepted: list[str], declined: dict[str, str]) -> dict[str, Any]:
    body = {
        "unit_code": UNIT,
        "accepted_measures": accepted,
        "declined_measures": [{"code": c, "reason": r} for c, r in declined.items()],
        "responded_at": "2026-03-02T09:16:00+08:00",
    }
    key = idempotency_key(UNIT, case_id, "response")
    return row(key, "response", case_id, _case_path(case_id, "responses"), body)


def old_feedback(case_id: str, code: str, action: str, ref: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit_code": UNIT,
        "measure_code": code,
        "step": "procurement.bid",
        "action": action,
        "detail": "",
        "decided_at": "2026-03-02T09:20:00+08:00",
    }
    if ref is not None:
        body["workflow_ref"] = ref
    key = idempotency_key(UNIT, case_id, "feedback", code)
    return row(key, "feedback", case_id, _case_path(case_id, "feedback"), body)


def row(key: str, kind: str, grp: str, path: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else _body(body)
    return {"idem_key": key, "kind": kind, "grp": grp, "method": "POST", "path": path, "body": raw}


UNIT_CASE = f"{UNIT}-D000001"  # 0.1's case_id_for(unit, decision_id)
OTHER_CASE = f"{UNIT}-D000002"  # dead-lettered by the release that could not read 0.1 rows
OPEN_CASE = f"{UNIT}-D000003"  # delivered, still waiting for feedback
BROKEN_CASE = f"{UNIT}-D000004"


def old_rows(platform_case: str) -> list[dict[str, Any]]:
    """What a unit had in its outbox when it upgraded, in the order 0.1 wrote it."""
    t = 1_790_000_000.0
    rows = [
        old_case(OPEN_CASE, ["JS-2026-000100"])
        | {"state": "delivered", "receipt": "{}", "done_at": t, "last_status": 201},
        old_case(UNIT_CASE, ["JS-2026-000123"]),
        old_feedback(UNIT_CASE, "S-01", "denied", "NJCG-7"),
        old_response(platform_case, ["C-01", "C-02"], {"C-03": "本单位不负责该事项"}),
        old_feedback(platform_case, "C-01", "restricted", None),
        old_feedback(UNIT_CASE, "S-02", "notified", "NJCG-7"),
        old_case(OTHER_CASE, ["JS-2026-000124"])
        | {
            "state": "dead",
            "done_at": t,
            "attempts": 1,
            "last_error": (
                "cannot build the request: outbox item 5f0c2a9be81d (case of "
                f"{OTHER_CASE}) holds no readable case fact (written by an older creditguard?): "
                "TypeError: missing 3 required positional arguments"
            ),
        },
        row(
            idempotency_key(UNIT, BROKEN_CASE, "case"),
            "case",
            BROKEN_CASE,
            "/v1/cases",
            b"{not json",
        ),
    ]
    for n, r in enumerate(rows):
        r.setdefault("created_at", t + n)
        r.setdefault("next_at", t + n)
    return rows


def _insert(execute: Callable[[str, tuple[Any, ...]], Any], mark: str, r: dict[str, Any]) -> None:
    cols = list(r)
    execute(
        f"INSERT INTO creditguard_outbox ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})",
        tuple(r[c] for c in cols),
    )


def write_old_sqlite(path: Path, rows: list[dict[str, Any]]) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SQLITE_SCHEMA)
    for r in rows:
        _insert(conn.execute, "?", r)
    conn.commit()
    conn.close()


@contextmanager
def _pg_database() -> Iterator[str]:
    """A fresh database on the test server (other tests drop the shared table); its DSN."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    admin = os.environ["CREDITGUARD_TEST_PG_DSN"]
    name = f"cg_upgrade_{uuid.uuid4().hex[:12]}"
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
def old_outbox(
    kind: str, tmp_path: Path, rows: list[dict[str, Any]]
) -> Iterator[Callable[[], Any]]:
    """Write 0.1's outbox; yields a function opening it with this release."""
    if kind == "sqlite":
        path = tmp_path / "outbox.db"
        write_old_sqlite(path, rows)
        yield lambda: SqliteOutbox(path)
        return
    import psycopg

    with _pg_database() as dsn:
        with psycopg.connect(dsn) as conn:
            for stmt in OLD_PG_SCHEMA:
                conn.execute(stmt)
            for r in rows:
                _insert(conn.execute, "%s", r)
        yield lambda: PostgresOutbox(dsn)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_old_rows_are_delivered_with_their_keys_in_order(backend: str, tmp_path: Path) -> None:
    platform = ReferencePlatform()
    platform_case = platform.initiate_case(ORG, ["C-01", "C-02", "C-03"], region="320100")[
        "case_id"
    ]
    rows = old_rows(platform_case)
    with old_outbox(backend, tmp_path, rows) as open_box:
        box: Outbox = open_box()
        try:
            with serve(platform) as server:
                deliverer = loopback_deliverer(box, server.url)
                for _ in range(10):
                    if not deliverer.deliver_due():
                        break
            status = box.status(now=time.time())
            dead = box.items("dead")
            open_cases = CaseRecorder(box, UNIT).open_cases()
        finally:
            box.close()
        # A second opening finds nothing more to do and changes nothing.
        again = open_box()
        try:
            assert again.status(now=time.time()) == status
        finally:
            again.close()

    sent = [r for r in platform.requests_log if r.status is not None and 200 <= r.status < 300]
    by_key = {r["idem_key"]: r for r in rows}
    expected = [r for r in rows if r["grp"] not in (BROKEN_CASE,) and r.get("state") != "delivered"]
    # Same idempotency keys as 0.1 wrote, each sent once, with the body 0.1 would have sent.
    assert sorted(r.idempotency_key or "" for r in sent) == sorted(r["idem_key"] for r in expected)
    for req in sent:
        assert req.body == json.loads(by_key[req.idempotency_key or ""]["body"])
    # Within a case, the order 0.1 wrote them in.
    unit_keys = [r.idempotency_key for r in sent]
    order = [r["idem_key"] for r in rows]
    for case in (UNIT_CASE, platform_case):
        keys = [k for k in unit_keys if by_key[k or ""]["grp"] == case]
        assert keys == sorted(keys, key=order.index)
    assert UNIT_CASE in platform.cases and OTHER_CASE in platform.cases
    assert OPEN_CASE not in platform.cases  # delivered before the upgrade: not sent again
    assert sorted((f["case_id"], f["measure_code"]) for f in platform.feedback) == sorted(
        [(UNIT_CASE, "S-01"), (UNIT_CASE, "S-02"), (platform_case, "C-01")]
    )
    assert [r["declined_measures"] for r in platform.responses] == [
        [{"code": "C-03", "reason": "本单位不负责该事项"}]
    ]
    # The row nobody can read stays, dead, with a reason naming it.
    assert (status.pending, status.dead) == (0, 1)
    (broken,) = dead
    assert broken.key == idempotency_key(UNIT, BROKEN_CASE, "case")
    assert f"outbox row {broken.id} " in (broken.last_error or "")
    assert "creditguard 0.1" in (broken.last_error or "")
    # The delivered case waiting for feedback is readable again (resume, overdue lists).
    # (and the revived one, which has no feedback either).
    assert sorted(c.case_id for c in open_cases) == [OTHER_CASE, OPEN_CASE]
    (kept,) = [c for c in open_cases if c.case_id == OPEN_CASE]
    assert kept.delivered and kept.record_ids == ("JS-2026-000100",) and kept.measures == ()


def test_converted_rows_hold_the_facts_the_requests_came_from(tmp_path: Path) -> None:
    rows = old_rows("P-000001")
    with old_outbox("sqlite", tmp_path, rows) as open_box:
        open_box().close()
    conn = sqlite3.connect(tmp_path / "outbox.db")
    stored = conn.execute(
        "SELECT idem_key, kind, grp, method, path, body FROM creditguard_outbox ORDER BY id"
    ).fetchall()
    conn.close()
    assert [r[0] for r in stored] == [r["idem_key"] for r in rows]  # same ids, same order
    assert [r[3] for r in stored] == ["fact"] * 7 + ["POST"]  # the unreadable row is left as is
    items = [
        OutboxItem(key=k, kind=kind, group=g, payload=bytes(b))
        for k, kind, g, _, _, b in stored[:7]
    ]
    assert [r[4] for r in stored[:7]] == [i.topic for i in items]
    facts = {i.key: fact_of(i) for i in items}
    fb = facts[idempotency_key(UNIT, UNIT_CASE, "feedback", "S-01")]
    assert isinstance(fb, CaseFeedback)
    assert (fb.case_id, fb.measure_code, fb.action, fb.workflow_ref) == (
        UNIT_CASE,
        "S-01",
        "denied",
        "NJCG-7",
    )
    response = facts[idempotency_key(UNIT, "P-000001", "response")]
    assert isinstance(response, CaseResponse)
    assert response.accepted == ("C-01", "C-02")
    assert response.declined == (("C-03", "本单位不负责该事项"),)
    opened = facts[idempotency_key(UNIT, UNIT_CASE, "case")]
    assert isinstance(opened, CaseOpened) and opened.record_ids == ("JS-2026-000123",)


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/v1/cases/X/feedback", b'{"unit_code": "u"}', "no 'measure_code'"),
        ("/v1/other", _body({"case_id": "X"}), "path '/v1/other'"),
        ("/v1/cases/Y/feedback", b"[]", "not a JSON object"),
    ],
)
def test_an_unreadable_old_row_is_dead_with_a_reason_naming_it(
    tmp_path: Path, path: str, body: bytes, reason: str
) -> None:
    kind = "case" if path == "/v1/other" else "feedback"
    write_old_sqlite(
        tmp_path / "o.db", [row("k", kind, "X", path, body) | {"created_at": 1.0, "next_at": 1.0}]
    )
    box = SqliteOutbox(tmp_path / "o.db")
    try:
        (dead,) = box.items("dead")
        assert box.status(now=time.time()).pending == 0
    finally:
        box.close()
    assert dead.last_error is not None
    assert dead.last_error.startswith(f"outbox row {dead.id} ({kind} {path}")
    assert reason in dead.last_error
