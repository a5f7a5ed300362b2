"""The background delivery worker: start, notify, drain on stop, fork."""

from __future__ import annotations

import os
import signal
import time

import httpx
from outbox_helpers import UNIT, channel, make_decision, make_deliverer

from creditguard.cases import CaseRecorder
from creditguard.outbox import Deliverer, DeliveryWorker, SqliteOutbox
from creditguard.testing import ReferencePlatform, serve


def wait_for(pred: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_worker_delivers_on_notify_and_stops_cleanly(
    outbox: SqliteOutbox, platform: ReferencePlatform
) -> None:
    worker = DeliveryWorker(make_deliverer(outbox, platform), poll_interval_s=30)
    rec = CaseRecorder(outbox, UNIT, notify=worker.notify)
    with worker:
        assert worker.running
        rec.record_step(make_decision(("S-01", "deny")))
        assert wait_for(lambda: len(platform.feedback) == 1, 3), (
            "notify woke the worker before its 30 s poll"
        )
    assert not worker.running
    assert outbox.status(now=time.time()).pending == 0


def test_stop_drains_due_items(outbox: SqliteOutbox, platform: ReferencePlatform) -> None:
    platform.latency = 0.01
    worker = DeliveryWorker(make_deliverer(outbox, platform), poll_interval_s=30)
    worker.start()
    rec = CaseRecorder(outbox, UNIT)  # no notify: only the drain will find these
    for _ in range(10):
        rec.record_step(make_decision(("S-01", "deny")))
    assert worker.stop(drain_timeout_s=5) is True
    assert outbox.status(now=time.time()).pending == 0 and len(platform.feedback) == 10


def test_drain_gives_up_at_the_deadline(outbox: SqliteOutbox, platform: ReferencePlatform) -> None:
    platform.latency = 0.05
    worker = DeliveryWorker(make_deliverer(outbox, platform), poll_interval_s=30)
    worker.start()
    rec = CaseRecorder(outbox, UNIT)
    for _ in range(40):
        rec.record_step(make_decision(("S-01", "deny")))
    started = time.monotonic()
    assert worker.stop(drain_timeout_s=0.3) is False
    assert time.monotonic() - started < 10  # not a budget: stop() returns (False above: undrained)
    assert outbox.status(now=time.time() + 100).pending > 0, "what was not sent stays in the outbox"


def test_storage_trouble_does_not_kill_the_worker(outbox: SqliteOutbox) -> None:
    d = make_deliverer(
        outbox, transport=httpx.MockTransport(lambda r: httpx.Response(201, json={}))
    )
    calls = {"n": 0}
    real = d.deliver_one

    def flaky() -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("bug")
        return real()

    d.deliver_one = flaky  # type: ignore[method-assign]
    worker = DeliveryWorker(d, poll_interval_s=0.05)
    with worker:
        assert wait_for(lambda: calls["n"] >= 2, 5)
        assert worker.running


def test_forked_child_restarts_its_worker(
    outbox: SqliteOutbox, platform: ReferencePlatform
) -> None:
    with serve(platform) as server:
        d = Deliverer(outbox, channel(server.url), timeout_s=2, lease_s=5)
        worker = DeliveryWorker(d, poll_interval_s=0.05, restart_after_fork=True)
        worker.start()
        parent_owner = d.owner
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 1
            try:
                CaseRecorder(outbox, UNIT, notify=worker.notify).record_step(
                    make_decision(("S-01", "deny"))
                )
                ok = (
                    worker.running
                    and d.owner != parent_owner
                    and wait_for(lambda: outbox.status(now=time.time()).pending == 0, 5)
                )
                code = 0 if ok and worker.stop(drain_timeout_s=2) else 2
            finally:
                os._exit(code)
        status = wait_child(pid, timeout_s=20)
        worker.stop()
        assert status == 0, "the forked child failed or hung"
        assert len(platform.feedback) == 1


def wait_child(pid: int, *, timeout_s: float) -> int | None:
    """The child's exit code; a child still running after ``timeout_s`` is killed (None)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def test_a_fork_never_waits_for_an_http_delivery(outbox: SqliteOutbox) -> None:
    # The fork gate covers the claim and the mark only: while the platform keeps a
    # delivery hanging, a fork (gunicorn spawning a worker) can still take the gate.
    import threading

    from creditguard import forksafe

    inside, release = threading.Event(), threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        inside.set()
        release.wait(5)
        return httpx.Response(201, json={"receipt_id": "R", "received_at": "x"})

    CaseRecorder(outbox, UNIT).record_step(make_decision(("S-01", "deny")))
    d = Deliverer(outbox, channel(), transport=httpx.MockTransport(slow), timeout_s=5, lease_s=10)
    worker = DeliveryWorker(d, poll_interval_s=0.05)
    worker.start()
    try:
        assert inside.wait(5), "the delivery started"
        took = forksafe._gate.acquire(timeout=2)
        assert took, "the fork gate is held across the HTTP exchange"
        forksafe._gate.release()
    finally:
        release.set()
        worker.stop(drain_timeout_s=5)
