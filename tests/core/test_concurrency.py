"""A guard is shared by threads and survives fork (pre-fork servers such as gunicorn)."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, REGION

from creditguard.journal import read_journal

STEPS = ["procurement.bid", "subsidy.apply", "licensing.approve", "licensing.commitment"]


def test_threads_share_one_guard_and_agree(make_guard: Any) -> None:
    guard = make_guard({"guard": {"cache_ttl_s": 0}})  # every check reads the mirror too
    expected = {
        (c, s): guard.check(c, step=s, region=REGION).outcome
        for c in (ORG_BLACK, ORG_FOCUS, ORG_CLEAN)
        for s in STEPS
    }
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(150):
                code = (ORG_BLACK, ORG_FOCUS, ORG_CLEAN)[(seed + i) % 3]
                step = STEPS[(seed * 7 + i) % len(STEPS)]
                assert guard.check(code, step=step, region=REGION).outcome == expected[(code, step)]
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    guard.close()
    assert len(read_journal(guard.journal.path)) == 12 + 8 * 150


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_checks_and_journals_on_its_own(make_guard: Any) -> None:
    guard = make_guard()
    assert guard.check(ORG_BLACK, step="procurement.bid", region=REGION).outcome == "deny"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: fresh connections, its own journal writer, new decision ids
        try:
            d = guard.check(ORG_BLACK, step="procurement.bid", region=REGION)
            guard.close()
            os.write(write, f"{d.outcome} {d.decision_id}".encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read, 200).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    outcome, child_id = answer.split()
    parent = guard.check(ORG_BLACK, step="procurement.bid", region=REGION)
    guard.close()
    assert outcome == "deny"
    assert (
        child_id.rsplit("-", 1)[0] != parent.decision_id.rsplit("-", 1)[0]
    )  # re-seeded after fork
    ids = {e.decision_id for e in read_journal(guard.journal.path)}
    assert {child_id, parent.decision_id} <= ids
