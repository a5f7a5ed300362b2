"""Cases per application: one case per unit, application and step, frozen at its first write.

Decision ids are random per process, so these tests give every check a fresh
decision id, as a retry in a new process would have.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from outbox_helpers import ORG, ORG2, UNIT, FakeClock, make_decision

from creditguard.cases import CaseRecorder, OpenCase, case_id_for_application, fact_of
from creditguard.errors import InputError
from creditguard.outbox import SqliteOutbox


def cases_in(box: SqliteOutbox) -> list[str]:
    return sorted(i.group or "" for i in box.items("pending", limit=1000) if i.kind == "case")


def feedback_in(box: SqliteOutbox, case_id: str) -> list[tuple[str, str]]:
    rows = sqlite3.connect(box.path).execute(
        "SELECT body FROM creditguard_outbox WHERE kind = 'feedback' AND grp = ?", (case_id,)
    )
    out = []
    for (body,) in rows:
        data = json.loads(body)
        out.append((data["measure_code"], data["action"]))
    return sorted(out)


def test_case_id_depends_on_unit_application_and_step_only() -> None:
    a = case_id_for_application(UNIT, "NJCG-7", "procurement.bid")
    assert a == case_id_for_application(UNIT, "NJCG-7", "procurement.bid")
    assert a.startswith(f"{UNIT}-A")
    assert a != case_id_for_application(UNIT, "NJCG-8", "procurement.bid")
    assert a != case_id_for_application(UNIT, "NJCG-7", "procurement.award")
    assert a != case_id_for_application("320100-XX", "NJCG-7", "procurement.bid")
    assert case_id_for_application(UNIT, "NJCG-7", "procurement.bid", 2) == f"{a}.2"
    with pytest.raises(InputError):
        case_id_for_application(UNIT, "NJCG-7", "procurement.bid", 0)


def test_a_retry_with_another_decision_id_reuses_the_first_case(outbox: SqliteOutbox) -> None:
    clock = FakeClock()
    first = make_decision(("S-01", "deny"), ("S-02", "notify"), decision_id="D-process-1")
    case_id = CaseRecorder(outbox, UNIT, clock=clock).initiate(first, workflow_ref="NJCG-7")
    clock.advance(3600)
    retry = make_decision(("S-01", "deny"), ("S-02", "notify"), decision_id="D-process-2")
    again = CaseRecorder(outbox, UNIT, clock=clock).initiate(retry, workflow_ref="NJCG-7")
    assert again == case_id == case_id_for_application(UNIT, "NJCG-7", "procurement.bid")
    assert cases_in(outbox) == [case_id]
    # The body is the first write's: its decision id and time, not the retry's.
    entry = outbox.case_entry(case_id)
    assert entry is not None
    fact = fact_of(entry.item())
    assert fact.decision_id == "D-process-1"  # type: ignore[union-attr]
    assert fact.measures == (("S-01", "deny"), ("S-02", "notify"))  # type: ignore[union-attr]


def test_without_a_reference_each_decision_is_its_own_case(outbox: SqliteOutbox) -> None:
    # What a retry did before: two decision ids, two cases for one application.
    rec = CaseRecorder(outbox, UNIT)
    rec.initiate(make_decision(("S-01", "deny")))
    rec.initiate(make_decision(("S-01", "deny")))
    assert len(cases_in(outbox)) == 2


def test_the_same_case_from_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from outbox_helpers import UNIT, make_decision\n"
        "from creditguard.cases import CaseRecorder\n"
        "from creditguard.outbox import SqliteOutbox\n"
        "import uuid\n"
        "d = make_decision(('S-01', 'deny'), decision_id='D' + uuid.uuid4().hex)\n"
        f"print(CaseRecorder(SqliteOutbox({str(path)!r}), UNIT).record_step(d, workflow_ref='NJCG-9'))\n"
    )
    ids = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert ids[0] == ids[1] == case_id_for_application(UNIT, "NJCG-9", "procurement.bid")
    box = SqliteOutbox(path)
    assert cases_in(box) == [ids[0]]
    assert feedback_in(box, ids[0]) == [("S-01", "denied")]


def test_changed_measures_close_the_old_case_and_open_the_next(outbox: SqliteOutbox) -> None:
    rec = CaseRecorder(outbox, UNIT)
    first = rec.initiate(make_decision(("S-01", "deny"), ("S-02", "notify")), workflow_ref="NJCG-7")
    second = rec.initiate(make_decision(("S-01", "deny")), workflow_ref="NJCG-7")
    assert first is not None and second == f"{first}.2"
    assert cases_in(outbox) == sorted([first, second])
    assert feedback_in(outbox, first) == [("S-01", "not_applied"), ("S-02", "not_applied")]
    entry = outbox.case_entry(first)
    assert entry is not None and entry.feedback == 2
    # The reason names the new case; the new case is open, with its own measures.
    body = (
        sqlite3.connect(outbox.path)
        .execute(
            "SELECT body FROM creditguard_outbox WHERE kind = 'feedback' AND grp = ? LIMIT 1",
            (first,),
        )
        .fetchone()[0]
    )
    assert second in json.loads(body)["detail"]
    (open_case,) = rec.open_cases(application="NJCG-7", step="procurement.bid")
    assert (open_case.case_id, open_case.measures) == (second, (("S-01", "deny"),))
    # Retrying with the second set again reuses the second case.
    assert rec.initiate(make_decision(("S-01", "deny")), workflow_ref="NJCG-7") == second
    # Back to the first set: a third case, the second fed back not_applied.
    third = rec.initiate(make_decision(("S-01", "deny"), ("S-02", "notify")), workflow_ref="NJCG-7")
    assert third == f"{first}.3"
    assert feedback_in(outbox, second) == [("S-01", "not_applied")]


def test_another_subject_for_the_same_application_is_a_new_case(outbox: SqliteOutbox) -> None:
    rec = CaseRecorder(outbox, UNIT)
    first = rec.initiate(make_decision(("S-01", "deny"), subject=ORG), workflow_ref="NJCG-7")
    second = rec.initiate(make_decision(("S-01", "deny"), subject=ORG2), workflow_ref="NJCG-7")
    assert second == f"{first}.2"
    assert feedback_in(outbox, first or "") == [("S-01", "not_applied")]


def test_no_measure_any_more_closes_the_open_case(outbox: SqliteOutbox) -> None:
    rec = CaseRecorder(outbox, UNIT)
    first = rec.initiate(make_decision(("S-01", "deny")), workflow_ref="NJCG-7")
    assert rec.initiate(make_decision(), workflow_ref="NJCG-7") is None
    assert feedback_in(outbox, first or "") == [("S-01", "not_applied")]
    assert rec.open_cases(application="NJCG-7", step="procurement.bid") == []


def test_an_unverified_decision_leaves_the_open_case_alone(outbox: SqliteOutbox) -> None:
    rec = CaseRecorder(outbox, UNIT)
    first = rec.initiate(make_decision(("S-01", "deny")), workflow_ref="NJCG-7")
    unverified = make_decision().model_copy(update={"verified": False})
    assert rec.initiate(unverified, workflow_ref="NJCG-7") is None
    assert feedback_in(outbox, first or "") == []
    assert [c.case_id for c in rec.open_cases(application="NJCG-7", step="procurement.bid")] == [
        first
    ]


def test_a_fed_back_case_is_not_fed_back_again_when_measures_change(
    outbox: SqliteOutbox,
) -> None:
    rec = CaseRecorder(outbox, UNIT)
    first = rec.record_step(make_decision(("S-01", "deny")), workflow_ref="NJCG-7")
    second = rec.initiate(make_decision(("S-02", "notify")), workflow_ref="NJCG-7")
    assert second == f"{first}.2"
    assert feedback_in(outbox, first or "") == [("S-01", "denied")]


def test_feedback_of_a_retry_is_one_item_per_measure(outbox: SqliteOutbox) -> None:
    rec = CaseRecorder(outbox, UNIT)
    for _ in range(3):
        rec.record_step(make_decision(("S-01", "deny"), ("S-02", "notify")), workflow_ref="A-1")
    case_id = case_id_for_application(UNIT, "A-1", "procurement.bid")
    assert feedback_in(outbox, case_id) == [("S-01", "denied"), ("S-02", "notified")]
    assert outbox.status(now=time.time()).pending == 3


# --- resuming and overdue feedback -------------------------------------------------------


def test_open_case_and_feed_it_back_from_what_was_frozen(outbox: SqliteOutbox) -> None:
    CaseRecorder(outbox, UNIT).initiate(
        make_decision(("S-01", "deny"), ("S-02", "notify")), workflow_ref="NJCG-7"
    )
    # A new process knows only the application and the step.
    rec = CaseRecorder(outbox, UNIT)
    (case,) = rec.open_cases(application="NJCG-7", step="procurement.bid")
    assert isinstance(case, OpenCase) and case.subject_code == ORG
    assert case.workflow_ref == "NJCG-7" and not case.delivered
    items = rec.feed_back_case(case, actions={"S-02": ("not_applied", "申请人撤回申请")})
    assert [fact_of(i).action for i in items] == ["denied", "not_applied"]  # type: ignore[union-attr]
    assert rec.open_cases(application="NJCG-7", step="procurement.bid") == []
    assert rec.open_cases() == []
    with pytest.raises(InputError, match="S-09"):
        rec.feed_back_case(case, actions={"S-09": "denied"})


def test_unfed_cases_are_listed_after_the_due_time_and_kept_from_pruning(
    outbox: SqliteOutbox,
) -> None:
    rec = CaseRecorder(outbox, UNIT)
    open_id = rec.initiate(make_decision(("S-01", "deny")), workflow_ref="open")
    done_id = rec.record_step(make_decision(("S-01", "deny")), workflow_ref="done")
    now = time.time()
    assert outbox.count_unfed(opened_before=now - 3600) == 0
    assert outbox.count_unfed(opened_before=now + 1) == 1
    assert [e.case_id for e in outbox.unfed_cases(opened_before=now + 1)] == [open_id]
    # Deliver everything, then prune: the unfed case's initiation stays.
    while claimed := outbox.claim("w", now=now + 1, lease_s=60, limit=10):
        for c in claimed:
            outbox.mark_delivered(c.id, "w", now=now + 1, status=201, receipt="r")
    assert outbox.prune_delivered(older_than_s=0, now=now + 10) == 2
    assert outbox.case_entry(done_id or "") is None
    kept = outbox.case_entry(open_id or "")
    assert kept is not None and kept.state == "delivered"
    (case,) = rec.open_cases(opened_before=now + 1)
    assert case.case_id == open_id and case.delivered
