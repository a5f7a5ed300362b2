"""Delivery over real HTTP on loopback while the platform misbehaves, then goes down and comes back."""

from __future__ import annotations

import time

import pytest
from outbox_helpers import UNIT, check_exactly_once, loopback_deliverer, make_decision

from creditguard.cases import CaseRecorder
from creditguard.outbox import DeliveryWorker, SqliteOutbox
from creditguard.testing import Fault, ReferencePlatform, serve

pytestmark = pytest.mark.integration


def keys_of(outbox: SqliteOutbox) -> set[str]:
    return {i.key for i in outbox.items("pending", limit=10_000)} | {
        i.key for i in outbox.items("delivered", limit=10_000)
    }


def wait_empty(outbox: SqliteOutbox, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if outbox.status(now=time.time()).pending == 0:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    "fault",
    [
        Fault.status(500, times=3),
        Fault.status(503, times=3),
        Fault.rate_limited(retry_after=1, times=2),
        Fault.garbage(502, times=3),
        Fault.garbage(201, times=2),
        Fault.reset(times=3),
        Fault.truncated(times=2),
        Fault.latency(1.5, times=2),
        Fault.drip(50, times=2),
    ],
    ids=["500", "503", "429", "garbage-502", "garbage-201", "reset", "truncated", "slow", "drip"],
)
def test_faults_end_in_exactly_once(tmp_path: object, fault: Fault) -> None:
    platform = ReferencePlatform()
    outbox = SqliteOutbox(f"{tmp_path}/o.db")
    with serve(platform) as server:
        worker = DeliveryWorker(loopback_deliverer(outbox, server.url), poll_interval_s=0.05)
        rec = CaseRecorder(outbox, UNIT, notify=worker.notify)
        platform.inject(fault)
        with worker:
            for _ in range(5):
                rec.record_step(make_decision(("S-01", "deny"), ("S-02", "notify")))
            assert wait_empty(outbox, 8), outbox.status(now=time.time())
    assert outbox.status(now=time.time()).dead == 0
    check_exactly_once(platform, keys_of(outbox))
    assert len(platform.feedback) == 10 and len(platform.cases) == 5
    assert fault.remaining == 0, "the fault was actually played"


def test_platform_down_for_a_while_then_back(tmp_path: object) -> None:
    platform = ReferencePlatform()
    outbox = SqliteOutbox(f"{tmp_path}/o.db")
    with serve(platform) as server:
        worker = DeliveryWorker(loopback_deliverer(outbox, server.url), poll_interval_s=0.05)
        rec = CaseRecorder(outbox, UNIT, notify=worker.notify)
        platform.down()
        with worker:
            for _ in range(5):
                rec.record_step(make_decision(("S-01", "deny")))
            time.sleep(0.8)
            st = outbox.status(now=time.time())
            assert st.pending == 10 and st.max_attempts >= 2, "retrying while down, nothing lost"
            platform.up()
            assert wait_empty(outbox, 6)
    check_exactly_once(platform, keys_of(outbox))
    assert len(platform.feedback) == 5
