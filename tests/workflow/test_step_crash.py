"""Crash test of steps: SIGKILLs at random points around ``@guard.step`` and ``guard.checked``.

Forked workers run one step per application (half through the decorator,
half through the context manager) against a loopback reference platform
with faults, and are killed at random moments. An application whose step
did not return is retried by the next worker, with a new decision id. A
recovery run then looks for the open cases, resumes those whose step had
returned, and finishes the others. Afterwards the platform holds exactly one
case per application and step, each fed back once per measure, and every
step that returned before a kill had its feedback written or was listed as
overdue — never lost silently.
"""

from __future__ import annotations

import os
import random
import select
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from creditguard_platform import PlatformChannel
from workflow_helpers import ORG_BLACK, REGION, RESTRICT, UNIT, build_guard, desk, fill

from creditguard.cases import case_id_for_application
from creditguard.guard import Guard
from creditguard.models import Decision
from creditguard.outbox import Backoff, Deliverer
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, Fault, ReferencePlatform, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPS = 120
STEP = "subsidy.apply"  # a blacklisted subject is restricted: the step runs and is fed back
MAX_ROUNDS = 120
DUE_S = 0.05
MODES = (
    "S ",
    "R ",
    "random",
)  # kill after a step started, after it returned, or at any time  # feedback overdue after this long (the recovery run waits past it)


def app_ref(i: int) -> str:
    return f"SUB-2026-{i:04d}"


class NotVerified(Exception):
    """The check could not read the records in time (a loaded machine): the step waits."""


def worker(
    data_dir: Path, url: str, todo: list[int], fd: int, seed: int
) -> None:  # pragma: no cover - child
    rng = random.Random(seed)

    def tell(line: str) -> None:
        os.write(fd, line.encode() + b"\n")

    guard: Guard = build_guard(Guard, data_dir, url, feedback_due_s=DUE_S)

    @guard.step(STEP, region=REGION, subject=lambda a: a["org"], workflow_ref=lambda a: a["id"])
    def grant(a: dict[str, str], decision: Decision) -> str:
        if not decision.verified:  # the records could not be read in time: not approved now
            raise NotVerified(a["id"])
        time.sleep(rng.uniform(0, 0.01))  # the step's own work
        # The integrator's effect is durable now: the step is done for it.
        tell(f"R {a['id']} {note(decision)}")
        return "granted"

    for i in todo:
        ref = app_ref(i)
        tell(f"S {ref}")
        try:
            if i % 2:
                grant({"id": ref, "org": ORG_BLACK})  # type: ignore[call-arg]
            else:
                with guard.checked(ORG_BLACK, step=STEP, region=REGION, workflow_ref=ref) as d:
                    if not d.verified:
                        raise NotVerified(ref)
                    time.sleep(rng.uniform(0, 0.01))
                    tell(f"R {ref} {note(d)}")
        except NotVerified:
            tell(f"U {ref}")  # not done: the next worker retries it, as a workflow engine would
            continue
        tell(f"F {ref}")
    guard.close()
    tell("DONE")


def note(decision: Decision) -> str:
    """How the child saw its decision: "ok" when verified with the expected measure."""
    if decision.verified and [m.code for m in decision.measures] == [RESTRICT]:
        return "ok"
    codes = ",".join(m.code for m in decision.measures)
    return f"verified={decision.verified} outcome={decision.outcome} measures={codes}"


def read_lines(fd: int, until: float, *, stop: str | None = None, nth: int = 1) -> list[str]:
    """What the child wrote before ``until`` (monotonic), before it closed the pipe, or up to
    the ``nth`` line starting with ``stop``."""
    out: list[str] = []
    pending = ""
    while True:
        wait = until - time.monotonic()
        if wait <= 0:
            break
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            break
        chunk = os.read(fd, 65536).decode()
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split("\n")
        out.extend(lines)
        if "DONE" in lines:
            break
        if stop is not None and sum(line.startswith(stop) for line in out) >= nth:
            break
    return out


def test_sigkill_around_steps_one_case_per_application_no_silent_loss(tmp_path: Path) -> None:
    rng = random.Random(20260313)
    platform = ReferencePlatform(latency=0.002)
    fill(platform)
    data_dir = tmp_path / "var"
    returned: set[str] = set()  # the step's function returned: the integrator will not rerun it
    finished: set[str] = set()  # the wrapper returned: feedback written
    started = time.monotonic()
    kills = 0
    unverified = 0  # checks that could not read the records in time (retried later)
    with serve(platform) as server:
        build_guard(Guard, data_dir, server.url).close()  # create the files once
        for round_no in range(MAX_ROUNDS):
            todo = [i for i in range(APPS) if app_ref(i) not in returned]
            if not todo:
                break
            if round_no % 4 == 0:  # faults on the way out: refused, reset and slow deliveries
                platform.inject(
                    Fault.status(503, path="/v1/cases", times=3),
                    Fault.reset(path="/v1/cases", times=2),
                    Fault.latency(0.03, path="/v1/cases", times=5),
                )
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                os.close(r)
                try:
                    worker(data_dir, server.url, todo, w, round_no)
                finally:
                    os._exit(0)
            os.close(w)
            mode = MODES[round_no % len(MODES)]
            nth = rng.randint(1, 3)
            if mode == "random":
                lines = read_lines(r, time.monotonic() + rng.uniform(0.01, 0.12))
            else:  # inside the check, or between the step's return and its feedback
                lines = read_lines(r, time.monotonic() + 5, stop=mode, nth=nth)
                time.sleep(rng.uniform(0, 0.004))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            lines += read_lines(r, time.monotonic() + 0.05)
            os.close(r)
            kills += "DONE" not in lines
            returned |= {line.split()[1] for line in lines if line.startswith("R ")}
            odd = [line for line in lines if line.startswith("R ") and not line.endswith(" ok")]
            assert not odd, odd
            finished |= {line[2:] for line in lines if line.startswith("F ")}
            unverified += sum(line.startswith("U ") for line in lines)
        platform.faults.clear()
        assert len(returned) == APPS, f"{APPS - len(returned)} applications never ran"
        assert kills >= 30, kills

        # Recovery: a clean guard finds what the killed workers left.
        time.sleep(DUE_S * 2)
        guard: Guard = build_guard(Guard, data_dir, server.url, feedback_due_s=DUE_S)
        cases = desk(guard)
        overdue = {c.workflow_ref for c in cases.overdue(limit=10_000)}
        lost = []
        for ref in sorted(returned):
            entry = cases.outbox.case_entry(case_id_for_application(UNIT, ref, STEP))
            assert entry is not None, f"{ref}: the step ran without its case"
            if entry.feedback == 0 and ref not in overdue:
                lost.append(ref)
        assert not lost, f"feedback of returned steps neither written nor listed: {lost}"
        unfed = sorted(overdue)
        assert set(unfed) <= returned - finished, "a finished step's case is listed as unfed"
        assert unfed, "no kill landed between a step's return and its feedback"
        for ref in unfed:
            assert guard.resume_case(workflow_ref=ref, step=STEP), ref
        assert cases.overdue(limit=10_000) == []
        guard.close()
        # Items the killed workers had claimed stay leased for lease_s (60 s): deliver as a
        # process would once the leases ended, with a clock 120 s ahead.
        later = Deliverer(
            cases.outbox,
            PlatformChannel("jiangsu", server.url, DEFAULT_APP_KEY, DEFAULT_SECRET),
            backoff=Backoff(base_s=0.01, max_s=0.05),
            timeout_s=2.0,
            lease_s=5.0,
            clock=lambda: time.time() + 120,
        )
        deadline = time.monotonic() + 10
        while cases.outbox.status(now=time.time() + 120).pending and time.monotonic() < deadline:
            if not later.deliver_due():
                time.sleep(0.02)
        later.close()
        st = cases.outbox.status(now=time.time() + 120)
        dead = [(i.topic, i.last_error) for i in cases.outbox.items("dead")]
    assert (st.pending, st.dead) == (0, 0), (st, dead)

    want = {case_id_for_application(UNIT, app_ref(i), STEP) for i in range(APPS)}
    unit_cases = [c for c, body in platform.cases.items() if body.get("origin") == "unit"]
    assert sorted(unit_cases) == sorted(want), "exactly one case per application and step"
    per_case = Counter((f["case_id"], f["measure_code"]) for f in platform.feedback)
    assert {c for c, _ in per_case} == want
    assert all(per_case[(c, RESTRICT)] == 1 for c in want)
    assert {f["action"] for f in platform.feedback} == {"restricted"}
    print(
        f"\nstep crash test: {kills} kills, {len(unfed)} steps returned without feedback "
        f"(listed and resumed), {unverified} checks unverified and retried, "
        f"{time.monotonic() - started:.1f} s"
    )
