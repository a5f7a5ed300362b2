"""A step refused with StepDenied is fed back as decided, even if the record was repaired since.

The refusal rests on the facts at decision time (issue 9): a record repaired
between the check and the feedback must not turn the refusal into
``not_applied``. Over a loopback reference platform, sync and async, through
``@guard.step`` and ``guard.checked``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from workflow_helpers import DENY, NOTE, ORG_BLACK, REGION, AsyncFactory, SyncFactory, feedback_seen

from creditguard.case_desk import StepDenied
from creditguard.testing import ReferencePlatform

pytestmark = pytest.mark.integration


def repair_after_check(guard: Any, platform: ReferencePlatform, sync: bool) -> None:
    """Make the guard's check repair the subject's record right after deciding."""
    original: Callable[..., Any] = guard.check

    def repaired(decision: Any) -> Any:
        for er in decision.records:
            platform.update_record(er.record.record_id, status="repaired")
        guard.invalidate(decision.subject_code)
        return decision

    if sync:

        def check(*args: Any, **kwargs: Any) -> Any:
            return repaired(original(*args, **kwargs))
    else:

        async def check(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            return repaired(await original(*args, **kwargs))

    guard.check = check


DENIED = [(DENY, "denied"), (NOTE, "notified")]


def test_step_decorator_feeds_back_denied_after_repair(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    repair_after_check(g, platform, sync=True)

    @g.step("procurement.bid", region=REGION, subject=ORG_BLACK, workflow_ref="R-1")
    def bid() -> None:
        raise AssertionError("a denied step must not run")

    with pytest.raises(StepDenied):
        bid()
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == DENIED
    # The repair is real: a feedback of a completed step would read it.
    assert {r["status"] for r in platform.records_of(ORG_BLACK)} == {"repaired"}


def test_checked_feeds_back_denied_after_repair(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    repair_after_check(g, platform, sync=True)
    with (
        pytest.raises(StepDenied),
        g.checked(ORG_BLACK, step="procurement.bid", region=REGION) as d,
    ):
        raise StepDenied(d)
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == DENIED


@pytest.mark.anyio
async def test_async_step_decorator_feeds_back_denied_after_repair(
    make_aguard: AsyncFactory, platform: ReferencePlatform
) -> None:
    g = make_aguard()
    repair_after_check(g, platform, sync=False)

    @g.step("procurement.bid", region=REGION, subject=ORG_BLACK, workflow_ref="R-2")
    async def bid() -> None:
        raise AssertionError("a denied step must not run")

    with pytest.raises(StepDenied):
        await bid()
    await g.aclose()
    assert feedback_seen(platform, ORG_BLACK) == DENIED


@pytest.mark.anyio
async def test_async_checked_feeds_back_denied_after_repair(
    make_aguard: AsyncFactory, platform: ReferencePlatform
) -> None:
    g = make_aguard()
    repair_after_check(g, platform, sync=False)
    with pytest.raises(StepDenied):
        async with g.checked(
            ORG_BLACK, step="procurement.bid", region=REGION, workflow_ref="R-3"
        ) as d:
            raise StepDenied(d)
    await g.aclose()
    assert feedback_seen(platform, ORG_BLACK) == DENIED
