"""Crash test: a process producing and delivering feedback is SIGKILLed at chosen points, 240 times.

Kill points: after the claim and before the send, while the request is in
flight, after the platform's 2xx but before the item is marked delivered,
and at random. Afterwards a clean deliverer drains the outbox, and every
item reported as enqueued must have reached the platform under its key,
each key with one body only: delivered exactly once in effect, none lost.
"""

from __future__ import annotations

import os
import random
import select
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from outbox_helpers import UNIT, check_exactly_once, loopback_deliverer, make_decision

from creditguard.cases import CaseRecorder
from creditguard.outbox import ClaimedItem, SqliteOutbox
from creditguard.testing import ReferencePlatform, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 240
MODES = ("before_send", "in_flight", "after_2xx", "random")
PAUSE = 0.02  # the child dwells this long at each tapped point, so a kill lands there


class TappedOutbox(SqliteOutbox):
    """Tells the parent, through a pipe, where the child is."""

    def __init__(self, path: Path, fd: int) -> None:
        super().__init__(path)
        self.fd = fd

    def tell(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\n")

    def claim(self, owner: str, *, now: float, lease_s: float, limit: int = 1) -> list[ClaimedItem]:
        got = super().claim(owner, now=now, lease_s=lease_s, limit=limit)
        if got:
            self.tell("C")
            time.sleep(PAUSE)
        return got

    def mark_delivered(self, item_id: int, owner: str, **kw: Any) -> None:
        self.tell("D")
        time.sleep(PAUSE)
        super().mark_delivered(item_id, owner, **kw)


def child(path: Path, url: str, fd: int) -> None:  # pragma: no cover - runs in the forked child
    box = TappedOutbox(path, fd)
    # The id counter was copied from the parent at fork: make the decision id unique here.
    unique = f"D{os.getpid()}-{time.time_ns()}"
    decision = make_decision(("S-01", "deny"), ("S-02", "notify"), decision_id=unique)
    case_id = CaseRecorder(box, UNIT).record_step(decision)
    box.tell(f"K {case_id}")
    d = loopback_deliverer(box, url, timeout_s=1.0, lease_s=1.5)
    while True:
        if not d.deliver_due(limit=20):
            time.sleep(0.01)


def wait_for_line(fd: int, want: str, buf: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pending = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096).decode()
        if not chunk:
            return False
        pending += chunk
        *lines, pending = pending.split("\n")
        buf.extend(lines)
        if any(line == want for line in lines):
            return True
    return False


def test_sigkill_at_random_points_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(20260302)
    platform = ReferencePlatform(latency=0.01)
    path = tmp_path / "outbox.db"
    SqliteOutbox(path).close()
    reported: list[str] = []
    kills: Counter[str] = Counter()
    started = time.monotonic()
    with serve(platform) as server:
        for i in range(KILLS):
            mode = MODES[i % len(MODES)]
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                os.close(r)
                try:
                    child(path, server.url, w)
                finally:
                    os._exit(3)
            os.close(w)
            lines: list[str] = []
            if mode == "before_send":
                wait_for_line(r, "C", lines, 3)
            elif mode == "in_flight":
                if wait_for_line(r, "C", lines, 3):
                    time.sleep(PAUSE + 0.005)  # past the pause, inside the 10 ms the platform takes
            elif mode == "after_2xx":
                wait_for_line(r, "D", lines, 3)
            else:
                time.sleep(rng.uniform(0, 0.08))
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            kills[mode] += 1
            wait_for_line(r, "never", lines, 0.0)
            os.close(r)
            reported += [line[2:] for line in lines if line.startswith("K ")]
        # Recovery: a clean process drains what the killed ones left (leases expire first).
        box = SqliteOutbox(path)
        d = loopback_deliverer(box, server.url, timeout_s=1.0, lease_s=1.5)
        deadline = time.monotonic() + 20
        while box.status(now=time.time()).pending and time.monotonic() < deadline:
            if not d.deliver_due():
                time.sleep(0.05)
    assert sum(kills.values()) >= 200 and min(kills.values()) >= 50, kills
    st = box.status(now=time.time())
    assert (st.pending, st.dead) == (0, 0), st
    keys = {i.key for i in box.items("delivered", limit=100_000)}
    assert len(keys) == st.delivered
    sends = check_exactly_once(platform, keys)
    assert reported and all(c in platform.cases for c in reported), (
        "every case whose enqueue returned arrived"
    )
    per_case = Counter((f["case_id"], f["measure_code"]) for f in platform.feedback)
    assert all(per_case[(c, m)] == 1 for c in reported for m in ("S-01", "S-02"))
    resent = sum(1 for n in sends.values() if n > 1)
    assert resent > 0, "kills after the 2xx must have caused re-sends (same key, same body)"
    print(
        f"\ncrash test: {dict(kills)} kills, {len(keys)} items, {resent} re-sent, {time.monotonic() - started:.1f} s"
    )
