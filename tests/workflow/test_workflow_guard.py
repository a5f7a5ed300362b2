"""Cases around steps with the sync guard, over a loopback reference platform."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from creditguard_platform import PlatformChannel
from workflow_helpers import (
    DENY,
    NOTE,
    ORG_BLACK,
    ORG_CLEAN,
    ORG_FOCUS,
    REGION,
    RESTRICT,
    REVIEW,
    UNIT,
    SyncFactory,
    accepted,
    deliver_backlog,
    desk,
    feedback_seen,
)

from creditguard.case_desk import StepDenied
from creditguard.errors import ConfigError, InputError
from creditguard.models import Decision
from creditguard.outbox import Backoff, Deliverer
from creditguard.testing import (
    DEFAULT_APP_KEY,
    DEFAULT_SECRET,
    Fault,
    ReferencePlatform,
    RunningServer,
)

pytestmark = pytest.mark.integration


def initiations(platform: ReferencePlatform) -> list[dict[str, Any]]:
    return [
        r.body
        for r in platform.requests_log
        if r.path == "/v1/cases" and r.status is not None and 200 <= r.status < 300
    ]


# --- check ------------------------------------------------------------------------------


def test_check_with_measures_opens_exactly_one_case(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert d.outcome == "deny" and {m.code for m in d.measures} == {DENY, NOTE}
    g.close()  # drains the worker
    (body,) = initiations(platform)
    assert body["case_id"] == f"{UNIT}-{d.decision_id}"
    assert (body["subject_code"], body["step"], body["region"], body["unit_code"]) == (
        ORG_BLACK,
        "procurement.bid",
        REGION,
        UNIT,
    )
    assert body["record_ids"] == sorted({r.record.record_id for r in d.records})
    assert list(platform.cases) == [body["case_id"]]
    assert platform.feedback == [], "a check alone feeds nothing back"


def test_open_case_false_and_clean_subjects_open_none(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    preview = g.check(ORG_BLACK, step="procurement.bid", region=REGION, open_case=False)
    clean = g.check(ORG_CLEAN, step="procurement.bid", region=REGION)
    assert preview.measures and not clean.measures and clean.outcome == "allow"
    assert desk(g).outbox.status(now=time.time()).pending == 0
    g.close()
    assert initiations(platform) == [] and platform.cases == {}


def test_outbox_is_off_without_a_unit_code(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard(unit_code="")
    assert g.cases is None
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert d.outcome == "deny"
    with pytest.raises(ConfigError, match=r"unit_code"):
        g.feedback(d)

    @g.step("procurement.bid", region=REGION, subject=ORG_BLACK)
    def bid() -> str:
        raise AssertionError("a denied step must not run")

    with pytest.raises(StepDenied):
        bid()
    g.close()
    assert platform.cases == {} and platform.feedback == []
    with pytest.raises(ConfigError, match=r"unit_code"):
        make_guard(unit_code="", enabled=True)


def test_outbox_can_be_switched_off_with_a_unit_code(make_guard: SyncFactory) -> None:
    g = make_guard(enabled=False)
    assert g.cases is None
    with pytest.raises(ConfigError, match=r"\[outbox\]|outbox"):
        g.feedback(g.check(ORG_BLACK, step="procurement.bid", region=REGION))


# --- the step decorator -------------------------------------------------------------------


def test_denied_step_is_not_run_and_feeds_back_denied(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    calls: list[str] = []

    @g.step(
        "procurement.bid",
        region=REGION,
        subject=lambda c: c,
        workflow_ref=lambda c: f"NJCG-{c[-4:]}",
    )
    def bid(code: str) -> str:
        calls.append(code)
        return "submitted"

    with pytest.raises(StepDenied) as info:
        bid(ORG_BLACK)
    assert calls == []
    assert info.value.decision.outcome == "deny" and DENY in str(info.value)
    assert bid.__name__ == "bid", "the decorator keeps the function's name"
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == [(DENY, "denied"), (NOTE, "notified")]
    (case_id,) = platform.cases
    assert all(f["case_id"] == case_id for f in platform.feedback)
    assert {f["workflow_ref"] for f in platform.feedback} == {f"NJCG-{ORG_BLACK[-4:]}"}
    assert {f["step"] for f in platform.feedback} == {"procurement.bid"}


def test_restricted_step_runs_with_the_decision(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()

    @g.step("subsidy.apply", region=REGION, subject=lambda code, amount: code)
    def apply(code: str, amount: int, decision: Decision | None = None) -> str:
        assert decision is not None
        return f"{decision.outcome}:{amount}"

    assert apply(ORG_BLACK, 100) == "restrict:100"
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == [(RESTRICT, "restricted")]
    assert "workflow_ref" not in platform.feedback[0]


def test_review_step_without_a_decision_parameter(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    got: list[tuple[Any, ...]] = []

    @g.step("licensing.apply", region=REGION, subject=ORG_FOCUS, workflow_ref="XK-1")
    def license_(*args: Any, **kwargs: Any) -> str:
        got.append((args, kwargs))
        return "granted after review"

    assert license_("form-1", kind="new") == "granted after review"
    assert got == [(("form-1",), {"kind": "new"})], "no decision= for a step that does not take it"
    g.close()
    assert feedback_seen(platform, ORG_FOCUS) == [(REVIEW, "reviewed")]


def test_clean_subject_opens_no_case_and_feeds_nothing_back(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()

    @g.step("procurement.bid", region=REGION, subject=lambda c: c)
    def bid(code: str, decision: Decision | None = None) -> str:
        assert decision is not None
        return decision.outcome

    assert bid(ORG_CLEAN) == "allow"
    g.close()
    assert platform.cases == {} and platform.feedback == []
    assert [r for r in platform.requests_log if r.path.startswith("/v1/cases")] == []


def test_step_that_raises_feeds_nothing_back_and_leaves_the_case_open(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()

    @g.step("subsidy.apply", region=REGION, subject=ORG_BLACK)
    def apply() -> None:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        apply()
    g.close()
    assert len(initiations(platform)) == 1, "the case was initiated by the check"
    assert platform.feedback == []


# --- the context manager ------------------------------------------------------------------


def test_checked_feeds_back_after_the_block(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    with g.checked(ORG_BLACK, step="subsidy.apply", region=REGION, workflow_ref="BT-7") as d:
        assert d.outcome == "restrict"
        assert platform.feedback == [], "nothing is fed back before the block ends"
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == [(RESTRICT, "restricted")]
    assert platform.feedback[0]["workflow_ref"] == "BT-7"


def test_checked_refused_with_step_denied(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    with (
        pytest.raises(StepDenied),
        g.checked(ORG_BLACK, step="procurement.bid", region=REGION) as d,
    ):
        raise StepDenied(d)
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == [(DENY, "denied"), (NOTE, "notified")]


def test_checked_block_that_raises_feeds_nothing_back(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    with (
        pytest.raises(KeyError),
        g.checked(ORG_BLACK, step="procurement.bid", region=REGION),
    ):
        raise KeyError("form field")
    with g.checked(ORG_CLEAN, step="procurement.bid", region=REGION) as clean:
        assert clean.outcome == "allow"
    g.close()
    assert len(initiations(platform)) == 1 and platform.feedback == []


# --- explicit feedback --------------------------------------------------------------------


def test_feedback_actions_override_the_effects(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    items = g.feedback(
        d, actions={DENY: ("not_applied", "申请人撤回申请")}, detail="已提示", workflow_ref="NJCG-9"
    )
    assert sorted(json.loads(i.payload)["measure_code"] for i in items) == [DENY, NOTE]
    g.close()
    got = {f["measure_code"]: (f["action"], f["detail"]) for f in platform.feedback}
    assert got == {DENY: ("not_applied", "申请人撤回申请"), NOTE: ("notified", "已提示")}


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ({"XX-99": "denied"}, "XX-99"),
        ({DENY: "forgiven"}, "unknown action"),
        ({DENY: "not_applied"}, "detail"),
        ({DENY: ("not_applied", "")}, "detail"),
    ],
)
def test_feedback_refuses_bad_actions_and_writes_nothing(
    make_guard: SyncFactory, actions: dict[str, Any], message: str
) -> None:
    g = make_guard(deliver=False)
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    before = desk(g).outbox.status(now=time.time()).pending
    with pytest.raises(InputError, match=message):
        g.feedback(d, actions=actions)
    assert desk(g).outbox.status(now=time.time()).pending == before == 1


def test_feedback_for_a_clean_decision_writes_nothing(make_guard: SyncFactory) -> None:
    g = make_guard(deliver=False)
    assert g.feedback(g.check(ORG_CLEAN, step="procurement.bid", region=REGION)) == []
    assert desk(g).outbox.status(now=time.time()).pending == 0


def test_record_repaired_between_check_and_feedback(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    (rid,) = {r.record.record_id for r in d.records}
    platform.update_record(rid, status="repaired")
    g.invalidate(ORG_BLACK)
    g.feedback(d)
    g.close()
    got = {f["measure_code"]: (f["action"], f["detail"]) for f in platform.feedback}
    assert got[DENY][0] == got[NOTE][0] == "not_applied"
    assert rid in got[DENY][1] and "repaired" in got[DENY][1]


def test_record_removed_between_check_and_feedback(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    (rid,) = {r.record.record_id for r in d.records}
    platform.remove_record(rid)
    g.invalidate(ORG_BLACK)
    g.feedback(d)
    g.close()
    got = {f["measure_code"]: (f["action"], f["detail"]) for f in platform.feedback}
    assert got[DENY][0] == "not_applied" and rid in got[DENY][1]


def test_feedback_twice_is_fed_back_once(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    first = g.feedback(d)
    assert g.deliver_now()
    second = g.feedback(d)
    third = g.feedback(d)
    assert [i.key for i in first] == [i.key for i in second] == [i.key for i in third]
    assert len({i.key for i in first}) == 2
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == [(DENY, "denied"), (NOTE, "notified")]
    keys = [k or "" for k, _ in accepted(platform, "/feedback")]
    assert sorted(set(keys)) == sorted(i.key for i in first)
    assert all(r.status != 409 for r in platform.requests_log)


# --- platform outage ----------------------------------------------------------------------


def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_platform_down_during_the_step_feedback_waits_then_goes(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    platform.inject(Fault.down(path="/v1/cases"))  # lookups still work, cases do not

    @g.step("subsidy.apply", region=REGION, subject=ORG_BLACK, workflow_ref="BT-8")
    def apply() -> str:
        return "paid with restrictions"

    assert apply() == "paid with restrictions"
    _wait_for(lambda: any(r.fault == "down" for r in platform.requests_log))
    st = desk(g).outbox.status(now=time.time())
    assert st.pending == 2 and st.delivered == 0 and st.dead == 0
    assert platform.cases == {} and platform.feedback == []
    platform.up()
    deliver_backlog(g, lambda: len(platform.feedback) == 1)  # skip the backoff the outage earned
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == [(RESTRICT, "restricted")]
    assert len(initiations(platform)) == 1


def test_platform_down_then_back_with_a_deliverer(
    make_guard: SyncFactory, platform: ReferencePlatform, server: RunningServer
) -> None:
    g = make_guard(deliver=False)
    assert desk(g).worker is None
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    outage = platform.inject(Fault.down(path="/v1/cases"))
    g.feedback(d)
    deliverer = Deliverer(
        desk(g).outbox,
        PlatformChannel("platform", server.url, DEFAULT_APP_KEY, DEFAULT_SECRET),
        backoff=Backoff(base_s=0.01, max_s=0.05),
        timeout_s=1.0,
        lease_s=3.0,
    )
    try:
        attempts = deliverer.deliver_due()
        assert attempts and {a.result for a in attempts} == {"retry"}
        assert desk(g).outbox.status(now=time.time()).pending == 3
        outage.remove()
        _wait_for(
            lambda: (deliverer.deliver_due(), desk(g).outbox.status(now=time.time()).pending == 0)[
                1
            ]
        )
    finally:
        deliverer.close()
    assert feedback_seen(platform, ORG_BLACK) == [(DENY, "denied"), (NOTE, "notified")]


# --- writing through the integrator's connection -------------------------------------------


def _app_db(path: Path) -> sqlite3.Connection:
    app = sqlite3.connect(path, timeout=10.0)
    app.execute("CREATE TABLE IF NOT EXISTS approvals (id TEXT)")
    app.commit()
    return app


def _feedback_rows(path: Path) -> int:
    with sqlite3.connect(path) as c:
        return int(
            c.execute("SELECT count(*) FROM creditguard_outbox WHERE kind = 'feedback'").fetchone()[
                0
            ]
        )


def test_feedback_through_the_integrators_connection_commits_and_rolls_back(
    make_guard: SyncFactory, platform: ReferencePlatform, tmp_path: Path
) -> None:
    db = tmp_path / "app.db"
    g = make_guard(path=str(db))
    app = _app_db(db)
    ok = g.check(ORG_BLACK, step="subsidy.apply", region=REGION)
    with app:
        app.execute("INSERT INTO approvals VALUES ('A-1')")
        g.feedback(ok, workflow_ref="A-1", connection=app)
    failed = g.check(ORG_FOCUS, step="licensing.apply", region=REGION)
    with pytest.raises(RuntimeError), app:
        app.execute("INSERT INTO approvals VALUES ('A-2')")
        g.feedback(failed, workflow_ref="A-2", connection=app)
        raise RuntimeError("step failed after the feedback was written")
    app.close()
    assert _feedback_rows(db) == 1
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == [(RESTRICT, "restricted")]
    assert platform.feedback_for(ORG_FOCUS) == []
    assert len(platform.cases) == 2, (
        "both checks initiated their case through the guard's own outbox"
    )


def test_unopened_case_is_initiated_through_the_integrators_connection(
    make_guard: SyncFactory, platform: ReferencePlatform, tmp_path: Path
) -> None:
    db = tmp_path / "app.db"
    g = make_guard(path=str(db))
    app = _app_db(db)
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION, open_case=False)
    with pytest.raises(RuntimeError), app:
        app.execute("INSERT INTO approvals VALUES ('A-3')")
        g.feedback(d, connection=app)
        raise RuntimeError("rolled back")
    assert desk(g).outbox.status(now=time.time()).pending == 0, "the case rolled back with the step"
    with app:
        app.execute("INSERT INTO approvals VALUES ('A-4')")
        g.feedback(d, connection=app)
    app.close()
    g.close()
    assert len(initiations(platform)) == 1
    assert feedback_seen(platform, ORG_BLACK) == [(DENY, "denied"), (NOTE, "notified")]
