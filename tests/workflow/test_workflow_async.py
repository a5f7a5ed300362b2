"""The async guard's cases and feedback: the platform sees what the sync guard makes it see."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from workflow_helpers import (
    DENY,
    NOTE,
    ORG_BLACK,
    ORG_CLEAN,
    ORG_FOCUS,
    REGION,
    RESTRICT,
    REVIEW,
    AsyncFactory,
    build_guard,
    deliver_backlog,
    desk,
    fill,
)

from creditguard.case_desk import StepDenied
from creditguard.errors import ConfigError, InputError
from creditguard.guard import AsyncGuard, Guard
from creditguard.models import Decision
from creditguard.testing import Fault, ReferencePlatform, serve

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

Seen = list[tuple[str, str, str, str, str, str]]


def seen(platform: ReferencePlatform) -> Seen:
    """The platform's feedback without what differs between runs (case ids, times)."""
    return sorted(
        (
            f["subject_code"],
            f.get("workflow_ref", ""),
            f["step"],
            f["measure_code"],
            f["action"],
            f["detail"],
        )
        for f in platform.feedback
    )


EXPECTED: Seen = [
    (ORG_BLACK, "W1", "procurement.bid", DENY, "denied", ""),
    (ORG_BLACK, "W1", "procurement.bid", NOTE, "notified", ""),
    (ORG_BLACK, "W2", "subsidy.apply", RESTRICT, "restricted", ""),
    (ORG_BLACK, "W6", "procurement.bid", DENY, "denied", ""),
    (ORG_BLACK, "W6", "procurement.bid", NOTE, "notified", ""),
    (ORG_BLACK, "W7", "subsidy.apply", RESTRICT, "restricted", ""),
    (ORG_BLACK, "W9", "procurement.bid", DENY, "not_applied", "申请人撤回申请"),
    (ORG_BLACK, "W9", "procurement.bid", NOTE, "notified", "已告知"),
    (ORG_FOCUS, "W10", "licensing.apply", REVIEW, "not_applied", "record {rid} is repaired"),
    (ORG_FOCUS, "W3", "licensing.apply", REVIEW, "reviewed", ""),
]
CASES = 9  # every check that applied measures: W1-W3 and W5-W10 (the clean W4 opens none)


def run_sync(g: Guard, platform: ReferencePlatform, focus_record: str) -> list[str]:
    """The scenarios through the sync guard; returns what the step functions saw."""
    ran: list[str] = []

    @g.step("procurement.bid", region=REGION, subject=lambda c: c, workflow_ref="W1")
    def bid(code: str) -> None:
        ran.append("W1")

    @g.step("subsidy.apply", region=REGION, subject=lambda c: c, workflow_ref="W2")
    def subsidy(code: str, decision: Decision | None = None) -> None:
        assert decision is not None
        ran.append(f"W2:{decision.outcome}")

    @g.step("licensing.apply", region=REGION, subject=ORG_FOCUS, workflow_ref="W3")
    def licence() -> None:
        ran.append("W3")

    @g.step("procurement.bid", region=REGION, subject=ORG_CLEAN, workflow_ref="W4")
    def clean(decision: Decision | None = None) -> None:
        assert decision is not None
        ran.append(f"W4:{decision.outcome}")

    @g.step("subsidy.apply", region=REGION, subject=ORG_BLACK, workflow_ref="W5")
    def broken() -> None:
        raise RuntimeError("step failed")

    with pytest.raises(StepDenied):
        bid(ORG_BLACK)
    subsidy(ORG_BLACK)
    licence()
    clean()
    with pytest.raises(RuntimeError):
        broken()
    with (
        pytest.raises(StepDenied),
        g.checked(ORG_BLACK, step="procurement.bid", region=REGION, workflow_ref="W6") as d,
    ):
        raise StepDenied(d)
    with g.checked(ORG_BLACK, step="subsidy.apply", region=REGION, workflow_ref="W7"):
        ran.append("W7")
    with (
        pytest.raises(ValueError),
        g.checked(ORG_BLACK, step="subsidy.apply", region=REGION, workflow_ref="W8"),
    ):
        raise ValueError("form invalid")
    d9 = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    with pytest.raises(InputError):
        g.feedback(d9, actions={DENY: "not_applied"})
    g.feedback(
        d9, actions={DENY: ("not_applied", "申请人撤回申请")}, detail="已告知", workflow_ref="W9"
    )
    d10 = g.check(ORG_FOCUS, step="licensing.apply", region=REGION)
    platform.update_record(focus_record, status="repaired")
    g.invalidate(ORG_FOCUS)
    g.feedback(d10, workflow_ref="W10")
    g.close()
    return ran


async def run_async(g: AsyncGuard, platform: ReferencePlatform, focus_record: str) -> list[str]:
    """The same scenarios through the async guard."""
    ran: list[str] = []

    @g.step("procurement.bid", region=REGION, subject=lambda c: c, workflow_ref="W1")
    async def bid(code: str) -> None:
        ran.append("W1")

    @g.step("subsidy.apply", region=REGION, subject=lambda c: c, workflow_ref="W2")
    async def subsidy(code: str, decision: Decision | None = None) -> None:
        assert decision is not None
        ran.append(f"W2:{decision.outcome}")

    @g.step("licensing.apply", region=REGION, subject=ORG_FOCUS, workflow_ref="W3")
    async def licence() -> None:
        ran.append("W3")

    @g.step("procurement.bid", region=REGION, subject=ORG_CLEAN, workflow_ref="W4")
    async def clean(decision: Decision | None = None) -> None:
        assert decision is not None
        ran.append(f"W4:{decision.outcome}")

    @g.step("subsidy.apply", region=REGION, subject=ORG_BLACK, workflow_ref="W5")
    async def broken() -> None:
        raise RuntimeError("step failed")

    with pytest.raises(StepDenied):
        await bid(ORG_BLACK)
    await subsidy(ORG_BLACK)
    await licence()
    await clean()
    with pytest.raises(RuntimeError):
        await broken()
    with pytest.raises(StepDenied):
        async with g.checked(
            ORG_BLACK, step="procurement.bid", region=REGION, workflow_ref="W6"
        ) as d:
            raise StepDenied(d)
    async with g.checked(ORG_BLACK, step="subsidy.apply", region=REGION, workflow_ref="W7"):
        ran.append("W7")
    with pytest.raises(ValueError):
        async with g.checked(ORG_BLACK, step="subsidy.apply", region=REGION, workflow_ref="W8"):
            raise ValueError("form invalid")
    d9 = await g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    with pytest.raises(InputError):
        await g.feedback(d9, actions={DENY: "not_applied"})
    await g.feedback(
        d9, actions={DENY: ("not_applied", "申请人撤回申请")}, detail="已告知", workflow_ref="W9"
    )
    d10 = await g.check(ORG_FOCUS, step="licensing.apply", region=REGION)
    platform.update_record(focus_record, status="repaired")
    g.invalidate(ORG_FOCUS)
    await g.feedback(d10, workflow_ref="W10")
    await g.aclose()
    return ran


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[tuple[ReferencePlatform, str, str]]:
    """A second loopback platform with the same data, for the sync run."""
    ref = ReferencePlatform()
    rid = fill(ref)[ORG_FOCUS]
    with serve(ref) as running:
        yield ref, running.url, rid


async def test_async_guard_gives_the_platform_the_same_feedback(
    make_aguard: AsyncFactory,
    platform: ReferencePlatform,
    twin: tuple[ReferencePlatform, str, str],
    tmp_path: Path,
) -> None:
    focus = next(r["record_id"] for r in platform.records_of(ORG_FOCUS))
    ran_async = await run_async(make_aguard(), platform, focus)
    sync_platform, url, sync_focus = twin
    ran_sync = run_sync(build_guard(Guard, tmp_path / "sync", url), sync_platform, sync_focus)
    expected = [(*e[:5], e[5].replace("{rid}", focus)) for e in EXPECTED]
    assert seen(platform) == expected
    sync_expected = [(*e[:5], e[5].replace("{rid}", sync_focus)) for e in EXPECTED]
    assert seen(sync_platform) == sync_expected
    assert ran_async == ran_sync == ["W2:restrict", "W3", "W4:allow", "W7"]
    assert len(platform.cases) == len(sync_platform.cases) == CASES


async def test_async_outbox_off_and_clean_feedback(make_aguard: AsyncFactory) -> None:
    g = make_aguard(unit_code="")
    assert g.cases is None
    d = await g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    with pytest.raises(ConfigError, match="unit_code"):
        await g.feedback(d)
    await g.aclose()
    on = make_aguard(deliver=False)
    assert await on.feedback(await on.check(ORG_CLEAN, step="procurement.bid", region=REGION)) == []
    await on.check(ORG_BLACK, step="procurement.bid", region=REGION, open_case=False)
    assert desk(on).outbox.status(now=time.time()).pending == 0
    await on.aclose()


async def test_async_feedback_twice_is_once_and_survives_an_outage(
    make_aguard: AsyncFactory, platform: ReferencePlatform
) -> None:
    g = make_aguard()
    outage = platform.inject(Fault.down(path="/v1/cases"))

    @g.step("subsidy.apply", region=REGION, subject=ORG_BLACK, workflow_ref="A-1")
    async def apply(decision: Decision | None = None) -> str:
        assert decision is not None
        return decision.outcome

    assert await apply() == "restrict"
    d = await g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    first = await g.feedback(d)
    second = await g.feedback(d)
    assert [i.key for i in first] == [i.key for i in second]
    assert desk(g).outbox.status(now=time.time()).pending == 5  # 2 cases, 3 feedback
    outage.remove()
    deliver_backlog(g, lambda: len(platform.feedback) == 3)
    await g.aclose()
    got = sorted((f["measure_code"], f["action"]) for f in platform.feedback)
    assert got == [(DENY, "denied"), (NOTE, "notified"), (RESTRICT, "restricted")]


async def test_async_feedback_through_the_integrators_connection(
    make_aguard: AsyncFactory, platform: ReferencePlatform, tmp_path: Path
) -> None:
    db = tmp_path / "app.db"
    g = make_aguard(path=str(db))
    d = await g.check(ORG_BLACK, step="subsidy.apply", region=REGION)
    app = sqlite3.connect(db, timeout=10.0, check_same_thread=False)
    try:
        with pytest.raises(RuntimeError), app:
            await g.feedback(d, connection=app)
            raise RuntimeError("rolled back")
        with app:
            await g.feedback(d, connection=app)
    finally:
        app.close()
    await g.aclose()
    assert [(f["measure_code"], f["action"]) for f in platform.feedback] == [
        (RESTRICT, "restricted")
    ]
