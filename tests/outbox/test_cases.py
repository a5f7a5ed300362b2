"""Case items and the recorder: initiate, respond, feed back (spec §6)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from creditguard_platform.client import push_event
from outbox_helpers import ORG, UNIT, make_decision, make_deliverer, record

from creditguard.cases import (
    ACTION_BY_EFFECT,
    CaseRecorder,
    SqliteCaseBook,
    case_id_for,
    plan_feedback,
)
from creditguard.errors import InputError
from creditguard.outbox import SqliteOutbox
from creditguard.testing import ReferencePlatform

STEP_DAY = date(2026, 3, 2)


def test_every_effect_maps_to_an_action() -> None:
    effects = [
        "deny",
        "restrict",
        "strict_review",
        "no_commitment",
        "increase_inspection",
        "notify",
    ]
    d = make_decision(*[(f"M-{i}", e) for i, e in enumerate(effects)])
    got = [(e.measure_code, e.action) for e in plan_feedback(d, on=STEP_DAY)]
    assert got == [(f"M-{i}", ACTION_BY_EFFECT[e]) for i, e in enumerate(effects)]
    assert [a for _, a in got] == [
        "denied",
        "restricted",
        "reviewed",
        "commitment_refused",
        "inspected",
        "notified",
    ]


def test_lost_effect_yields_not_applied_with_reason() -> None:
    d = make_decision(("S-01", "deny"))
    repaired = record(status="repaired")
    (entry,) = plan_feedback(d, on=STEP_DAY, current_records={repaired.record_id: repaired})
    assert entry.action == "not_applied" and "repaired" in entry.detail
    (late,) = plan_feedback(d, on=date(2028, 11, 3))
    assert late.action == "not_applied" and "expired on 2028-11-02" in late.detail
    (still,) = plan_feedback(d, on=STEP_DAY)
    assert still.action == "denied"


def test_integrator_actions_override_and_are_checked() -> None:
    d = make_decision(("S-01", "deny"), ("S-02", "strict_review"))
    entries = plan_feedback(d, on=STEP_DAY, actions={"S-02": ("not_applied", "申请人撤回申请")})
    assert [(e.action, e.detail) for e in entries] == [
        ("denied", ""),
        ("not_applied", "申请人撤回申请"),
    ]
    with pytest.raises(InputError, match="did not apply: S-09"):
        plan_feedback(d, on=STEP_DAY, actions={"S-09": "denied"})
    with pytest.raises(InputError, match="unknown action"):
        plan_feedback(d, on=STEP_DAY, actions={"S-01": "refused"})
    with pytest.raises(InputError, match="needs a detail"):
        plan_feedback(d, on=STEP_DAY, actions={"S-01": "not_applied"})


def test_case_id_is_deterministic_and_url_safe() -> None:
    assert case_id_for(UNIT, "D-1") == f"{UNIT}-D-1"
    odd = case_id_for(UNIT, "D/1 ?")
    assert odd.startswith(f"{UNIT}-") and "/" not in odd and odd == case_id_for(UNIT, "D/1 ?")


def test_initiate_then_feedback_reaches_the_platform(
    outbox: SqliteOutbox, platform: ReferencePlatform
) -> None:
    rec = CaseRecorder(outbox, UNIT)
    d = make_decision(("S-01", "deny"), ("S-02", "notify"))
    case_id = rec.initiate(d)
    assert case_id == case_id_for(UNIT, d.decision_id)
    assert rec.initiate(d) == case_id and outbox.status(now=0).pending == 1, (
        "initiating twice is one case"
    )
    items = rec.feedback(
        case_id, d, workflow_ref="NJCG-2026-0315-007", detail="投标资格审查未通过", on=STEP_DAY
    )
    assert len(items) == 2
    rec.feedback(case_id, d, on=STEP_DAY)  # a repeat report is the same fact
    assert outbox.status(now=0).pending == 3
    make_deliverer(outbox, platform).deliver_due()
    case = platform.cases[case_id]
    assert case["record_ids"] == ["JS-2026-000123"] and case["step"] == "procurement.bid"
    fb = {f["measure_code"]: f for f in platform.feedback_for(ORG)}
    assert fb["S-01"]["action"] == "denied" and fb["S-01"]["workflow_ref"] == "NJCG-2026-0315-007"
    assert fb["S-02"]["action"] == "notified" and fb["S-01"]["unit_code"] == UNIT


def test_clean_decision_opens_no_case(outbox: SqliteOutbox) -> None:
    rec = CaseRecorder(outbox, UNIT)
    assert rec.initiate(make_decision()) is None and rec.record_step(make_decision()) is None
    assert outbox.status(now=0).pending == 0


def test_notify_is_called_after_durable_write(outbox: SqliteOutbox) -> None:
    seen: list[int] = []
    rec = CaseRecorder(outbox, UNIT, notify=lambda: seen.append(outbox.status(now=0).pending))
    rec.record_step(make_decision(("S-01", "deny")))
    assert seen == [2]


def test_record_step_through_the_integrators_connection(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    box = SqliteOutbox(path)
    rec = CaseRecorder(box, UNIT)
    conn = sqlite3.connect(path)
    with pytest.raises(RuntimeError), conn:
        rec.record_step(make_decision(("S-01", "deny")), connection=conn)
        raise RuntimeError("the step failed: its feedback must not survive")
    assert box.status(now=0).pending == 0
    with conn:
        rec.record_step(make_decision(("S-01", "deny")), connection=conn)
    assert box.status(now=0).pending == 2


def test_platform_case_is_answered_and_receives_the_feedback(
    tmp_path: Path, platform: ReferencePlatform
) -> None:
    box = SqliteOutbox(tmp_path / "o.db")
    book = SqliteCaseBook(tmp_path / "o.db")
    rec = CaseRecorder(box, UNIT, book=book)
    case = platform.initiate_case(ORG, ["S-01", "S-03"], region="320100")
    event = platform.events[-1]
    rec.respond(push_event(event), implemented={"S-01", "S-02"})
    d = make_decision(("S-01", "deny"), ("S-02", "restrict"))
    own = rec.initiate(d)
    assert own == case_id_for(UNIT, d.decision_id), "S-02 is not covered by the platform case"
    rec.feedback(own, d, on=STEP_DAY)
    make_deliverer(box, platform).deliver_due()
    (resp,) = platform.responses
    assert resp["accepted_measures"] == ["S-01"] and resp["declined_measures"][0]["code"] == "S-03"
    by_measure = {f["measure_code"]: f["case_id"] for f in platform.feedback}
    assert by_measure == {"S-01": case["case_id"], "S-02": own}
    assert book.open_for(ORG) == [], "closed once every accepted measure was fed back"


def test_all_measures_covered_by_a_platform_case_needs_no_initiation(
    tmp_path: Path, platform: ReferencePlatform
) -> None:
    box = SqliteOutbox(tmp_path / "o.db")
    rec = CaseRecorder(box, UNIT, book=SqliteCaseBook(tmp_path / "cases.db"))
    platform.initiate_case(ORG, ["S-01"])
    rec.respond(push_event(platform.events[-1]), implemented={"S-01"})
    d = make_decision(("S-01", "deny"))
    assert rec.record_step(d) == platform.events[-1]["case_id"]
    make_deliverer(box, platform).deliver_due()
    assert [f["action"] for f in platform.feedback] == ["denied"]
    assert not any(c.get("origin") == "unit" for c in platform.cases.values())


def test_recorder_needs_a_unit_code(outbox: SqliteOutbox) -> None:
    with pytest.raises(InputError, match="unit_code"):
        CaseRecorder(outbox, "")
