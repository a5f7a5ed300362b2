"""The licensing BPMN process run by SpiffWorkflow against the loopback reference platform.

Each test walks one application through ``licensing.bpmn`` as the officers
would (completing user tasks), and asserts the path the engine took and the
feedback the platform received.
"""

from __future__ import annotations

from typing import Any

import pytest
from licensing_flow import LicensingProcess, route_for

from creditguard import Guard
from creditguard.config import config_from_dict

REGION = "320100"
CLEAN = "91110000710925462X"
FOCUS = "91320100MA1X4N6B3X"  # on a key-attention (focus) list
BLACKLISTED = "91320100MA1W2K7D41"  # a court-enforcement blacklist

NORMAL_PATH = [
    "start",
    "check_accept",
    "gw_accept",
    "accept",
    "gw_procedure",
    "check_review",
    "gw_review",
    "review",
    "check_approve",
    "gw_approve",
    "approve",
    "end_approved",
]


def start(guard: Any, code: str, *, ref: str = "XK-2026-0001", by_commitment: bool = False):
    return LicensingProcess(
        guard, {"ref": ref, "code": code, "by_commitment": by_commitment}, region=REGION
    )


def delivered(platform: Any, guard: Any, code: str) -> list[tuple[str, str, str]]:
    """(measure, step, action) of every feedback item the platform holds for ``code``."""
    assert guard.deliver_now()
    return sorted((f["measure_code"], f["step"], f["action"]) for f in platform.feedback_for(code))


def test_clean_applicant_goes_straight_through_and_nothing_is_reported(
    creditguard_platform: Any, creditguard_guard: Any
) -> None:
    proc = start(creditguard_guard, CLEAN)
    for task, lane in [("accept", "窗口受理"), ("review", "审查"), ("approve", "审批")]:
        assert proc.ready() == [(task, lane)]
        assert proc.credit()["route"] == "proceed" and proc.credit()["verified"] is True
        proc.complete(task)
    assert proc.end == "end_approved"
    assert proc.path == NORMAL_PATH
    assert delivered(creditguard_platform, creditguard_guard, CLEAN) == []
    assert creditguard_platform.cases == {}
    # one lookup before each of the three tasks (cache_ttl_s = 0), none skipped
    lookups = [r for r in creditguard_platform.requests_log if r.path.endswith("/records")]
    assert len(lookups) == 3


def test_clean_applicant_by_commitment(creditguard_platform: Any, creditguard_guard: Any) -> None:
    proc = start(creditguard_guard, CLEAN, by_commitment=True)
    proc.complete("accept")
    assert proc.ready() == [("commitment", "审批")]
    proc.complete("commitment")
    assert proc.end == "end_approved"
    assert proc.path == [
        "start",
        "check_accept",
        "gw_accept",
        "accept",
        "gw_procedure",
        "check_commitment",
        "gw_commitment",
        "commitment",
        "end_approved",
    ]
    assert delivered(creditguard_platform, creditguard_guard, CLEAN) == []


def test_blacklisted_applicant_is_restricted_at_approval(
    creditguard_platform: Any, creditguard_guard: Any
) -> None:
    # LX-01 restricts (中办发〔2016〕64号 part 二 restricts 失信被执行人; it does not
    # say refuse): the approval runs with the restriction, which is fed back.
    creditguard_platform.add_record(BLACKLISTED, list_kind="blacklist", domain="court_enforcement")
    proc = start(creditguard_guard, BLACKLISTED, ref="XK-2026-0002")
    proc.complete("accept")
    proc.complete("review")
    assert proc.ready() == [("approve", "审批")]
    credit = proc.credit()
    assert (credit["step"], credit["route"], credit["outcome"]) == (
        "licensing.approve",
        "proceed",
        "restrict",
    )
    assert [m["code"] for m in credit["decision"]["measures"]] == ["LX-01"]
    proc.complete("approve")
    assert proc.end == "end_approved"
    assert proc.path == NORMAL_PATH
    assert delivered(creditguard_platform, creditguard_guard, BLACKLISTED) == [
        ("LX-01", "licensing.approve", "restricted")
    ]
    (item,) = creditguard_platform.feedback_for(BLACKLISTED)
    assert item["workflow_ref"] == "XK-2026-0002"


def test_blacklisted_applicant_by_commitment_goes_the_normal_procedure(
    creditguard_platform: Any, creditguard_guard: Any
) -> None:
    creditguard_platform.add_record(BLACKLISTED, list_kind="blacklist", domain="court_enforcement")
    proc = start(creditguard_guard, BLACKLISTED, by_commitment=True)
    proc.complete("accept")
    assert proc.ready() == [("review", "审查")]
    assert proc.path[-4:] == ["check_commitment", "gw_commitment", "check_review", "gw_review"]
    assert delivered(creditguard_platform, creditguard_guard, BLACKLISTED) == [
        ("LX-03", "licensing.commitment", "commitment_refused"),
    ]


def test_focus_list_applicant_goes_to_the_manual_review_lane(
    creditguard_platform: Any, creditguard_guard: Any
) -> None:
    creditguard_platform.add_record(FOCUS, list_kind="focus", domain="tax")
    proc = start(creditguard_guard, FOCUS)
    proc.complete("accept")
    assert proc.ready() == [("manual_review", "人工审查")]
    credit = proc.credit()
    assert (credit["step"], credit["outcome"], credit["verified"]) == (
        "licensing.review",
        "review",
        True,
    )
    assert [m["code"] for m in credit["decision"]["measures"]] == ["LX-02"]
    # the case is open, but nothing is fed back before the step happened
    assert delivered(creditguard_platform, creditguard_guard, FOCUS) == []
    assert len(creditguard_platform.cases) == 1

    proc.complete("manual_review", review_verdict="proceed", review_note="经重点审查，材料真实")
    assert proc.ready() == [("review", "审查")]
    assert delivered(creditguard_platform, creditguard_guard, FOCUS) == []
    proc.complete("review")  # the postScript reports the step that just happened
    assert delivered(creditguard_platform, creditguard_guard, FOCUS) == [
        ("LX-02", "licensing.review", "reviewed")
    ]
    proc.complete("approve")
    assert proc.end == "end_approved"
    assert proc.path[6:11] == ["gw_review", "manual_review", "gw_verdict", "gw_resume", "review"]


def test_manual_reviewer_refuses_a_focus_list_applicant(
    creditguard_platform: Any, creditguard_guard: Any
) -> None:
    creditguard_platform.add_record(FOCUS, list_kind="focus", domain="tax")
    proc = start(creditguard_guard, FOCUS)
    proc.complete("accept")
    proc.complete("manual_review", review_verdict="refuse", review_note="未能说明涉税违法情况")
    assert proc.end == "end_refused"
    assert "review" not in proc.path and "approve" not in proc.path
    assert delivered(creditguard_platform, creditguard_guard, FOCUS) == [
        ("LX-02", "licensing.review", "denied")
    ]
    (item,) = creditguard_platform.feedback_for(FOCUS)
    assert item["detail"] == "经人工审查不予许可：未能说明涉税违法情况"


def test_focus_list_applicant_by_commitment_falls_back_to_the_normal_procedure(
    creditguard_platform: Any, creditguard_guard: Any
) -> None:
    creditguard_platform.add_record(FOCUS, list_kind="focus", domain="tax")
    proc = start(creditguard_guard, FOCUS, by_commitment=True)
    proc.complete("accept")
    assert proc.path[5:9] == ["check_commitment", "gw_commitment", "check_review", "gw_review"]
    assert "commitment" not in proc.path
    # the refused commitment is reported at once; the strict review is still ahead
    assert delivered(creditguard_platform, creditguard_guard, FOCUS) == [
        ("LX-03", "licensing.commitment", "commitment_refused")
    ]
    assert proc.ready() == [("manual_review", "人工审查")]


def test_platform_outage_mid_process_never_approves_unverified(
    creditguard_platform: Any, creditguard_guard: Any
) -> None:
    proc = start(creditguard_guard, CLEAN)
    assert proc.credit()["verified"] is True
    creditguard_platform.down()
    proc.complete("accept")  # the check before 审查 cannot reach the platform
    assert proc.ready() == [("manual_review", "人工审查")]
    credit = proc.credit()
    assert (credit["step"], credit["verified"], credit["route"]) == (
        "licensing.review",
        False,
        "manual_review",
    )
    # a reviewer's "proceed" on unverified data only re-checks, it never passes the task on
    proc.complete("manual_review", review_verdict="proceed")
    assert proc.ready() == [("manual_review", "人工审查")]
    assert proc.path.count("check_review") == 2
    assert "review" not in proc.path
    # the reviewer gives up while the platform is still down: refused, nothing approved
    proc.complete("manual_review", review_verdict="refuse")
    assert proc.end == "end_refused"
    assert "approve" not in proc.path
    creditguard_platform.up()
    assert delivered(creditguard_platform, creditguard_guard, CLEAN) == []


def test_platform_back_after_an_outage_the_recheck_lets_the_process_go_on(
    creditguard_platform: Any, creditguard_guard: Any
) -> None:
    proc = start(creditguard_guard, CLEAN)
    creditguard_platform.down()
    proc.complete("accept")
    assert proc.ready() == [("manual_review", "人工审查")]
    creditguard_platform.up()
    proc.complete("manual_review", review_verdict="proceed")  # re-checked, verified now
    assert proc.ready() == [("review", "审查")]
    assert proc.credit()["verified"] is True
    proc.complete("review")
    proc.complete("approve")
    assert proc.end == "end_approved"
    assert proc.path.count("check_review") == 2


@pytest.mark.parametrize("policy", ["allow", "raise"])
def test_any_failure_policy_still_routes_an_unverified_check_to_a_person(
    policy: str, creditguard_platform: Any, creditguard_config: dict[str, Any]
) -> None:
    """Even a step whose policy lets unverified checks through ("allow") or raises."""
    config = {**creditguard_config, "failure": {"default": policy}}
    guard = Guard(config_from_dict(config))
    try:
        proc = start(guard, CLEAN)
        creditguard_platform.down()
        proc.complete("accept")
        assert proc.ready() == [("manual_review", "人工审查")]
        assert proc.credit()["verified"] is False
        proc.complete("manual_review", review_verdict="proceed")
        assert "review" not in proc.path
    finally:
        creditguard_platform.up()
        guard.close()


def test_route_for_fails_closed_on_an_unverified_allow(
    creditguard_platform: Any, creditguard_config: dict[str, Any]
) -> None:
    config = {**creditguard_config, "failure": {"default": "allow"}}
    guard = Guard(config_from_dict(config))
    try:
        creditguard_platform.down()
        decision = guard.check(CLEAN, step="licensing.approve", region=REGION)
        assert (decision.outcome, decision.verified) == ("allow", False)
        assert route_for(decision) == "manual_review"
    finally:
        creditguard_platform.up()
        guard.close()
