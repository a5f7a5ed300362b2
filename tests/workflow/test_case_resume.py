"""Cases per application through the guards, resuming after a crash, overdue feedback,
and the worker woken by writes through the integrator's connection (loopback platform)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from workflow_helpers import (
    DENY,
    NOTE,
    ORG_BLACK,
    REGION,
    AsyncFactory,
    SyncFactory,
    desk,
    feedback_seen,
)

from creditguard.cases import case_id_for_application
from creditguard.cli import main
from creditguard.testing import ReferencePlatform

pytestmark = pytest.mark.integration

STEP = "procurement.bid"


def wait_for(done: Callable[[], bool], timeout: float = 8.0) -> bool:
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def unit_cases(platform: ReferencePlatform) -> list[str]:
    return sorted(c for c, body in platform.cases.items() if body.get("origin") == "unit")


def test_a_retried_check_in_another_guard_reuses_the_applications_case(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    first = make_guard()
    d1 = first.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-7")
    first.close()
    # The process died before the step; the retry is another guard with another decision id.
    second = make_guard()
    d2 = second.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-7")
    assert d1.decision_id != d2.decision_id
    second.feedback(d2, workflow_ref="NJCG-7")
    second.close()
    case_id = case_id_for_application(desk(second).recorder.unit_code, "NJCG-7", STEP)
    assert unit_cases(platform) == [case_id]
    assert feedback_seen(platform, ORG_BLACK) == [(DENY, "denied"), (NOTE, "notified")]
    assert {f["case_id"] for f in platform.feedback} == {case_id}


def test_a_step_that_failed_and_is_retried_has_one_case(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    calls: list[str] = []

    @g.step(
        "subsidy.apply",  # a blacklisted subject is restricted here, not denied: the step runs
        region=REGION,
        subject=lambda app: app["org"],
        workflow_ref=lambda app: app["id"],
    )
    def grant(app: dict[str, str]) -> str:
        calls.append(app["id"])
        if len(calls) == 1:
            raise ConnectionError("the approval database went away")
        return "granted"

    with pytest.raises(ConnectionError):
        grant({"id": "SUB-1", "org": ORG_BLACK})
    assert grant({"id": "SUB-1", "org": ORG_BLACK}) == "granted"
    g.close()
    unit = desk(g).recorder.unit_code
    assert unit_cases(platform) == [case_id_for_application(unit, "SUB-1", "subsidy.apply")]
    assert [f["action"] for f in platform.feedback] == ["restricted"]


def test_a_repaired_record_closes_the_applications_open_case(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    g = make_guard()
    g.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-8")
    (record,) = platform.records_of(ORG_BLACK)
    platform.update_record(record["record_id"], status="repaired")
    g.invalidate(ORG_BLACK)
    again = g.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-8")
    assert again.measures == ()
    assert g.open_case(workflow_ref="NJCG-8", step=STEP) is None
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == [(DENY, "not_applied"), (NOTE, "not_applied")]


def test_resume_after_a_crash_between_the_step_and_its_feedback(
    make_guard: SyncFactory, platform: ReferencePlatform
) -> None:
    crashed = make_guard()
    crashed.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-9")
    crashed.close()  # the step ran, the process died before feedback
    g = make_guard()
    case = g.open_case(workflow_ref="NJCG-9", step=STEP)
    assert case is not None and case.subject_code == ORG_BLACK
    assert [c for c, _ in case.measures] == [DENY, NOTE]
    items = g.resume_case(workflow_ref="NJCG-9", step=STEP, detail="投标资格审查未通过")
    assert len(items) == 2
    assert g.open_case(workflow_ref="NJCG-9", step=STEP) is None
    assert g.resume_case(workflow_ref="NJCG-9", step=STEP) == []
    g.close()
    assert feedback_seen(platform, ORG_BLACK) == [(DENY, "denied"), (NOTE, "notified")]
    assert {f["workflow_ref"] for f in platform.feedback} == {"NJCG-9"}


@pytest.mark.anyio
async def test_async_guard_resumes_the_same_case(
    make_aguard: AsyncFactory, platform: ReferencePlatform
) -> None:
    g = make_aguard()
    await g.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-10")
    await g.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-10")
    case = await g.open_case(workflow_ref="NJCG-10", step=STEP)
    assert case is not None
    assert len(await g.resume_case(workflow_ref="NJCG-10", step=STEP)) == 2
    await g.aclose()
    assert len(unit_cases(platform)) == 1


def test_overdue_feedback_is_logged_and_listed(
    make_guard: SyncFactory,
    platform: ReferencePlatform,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    g = make_guard(feedback_due_s=0.05)
    g.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-11")
    g.close()
    time.sleep(0.1)
    with caplog.at_level(logging.WARNING, logger="creditguard.case_desk"):
        later = make_guard(feedback_due_s=0.05)
        assert wait_for(lambda: "no feedback after" in caplog.text), caplog.text
    assert "1 case(s)" in caplog.text and "-A" in caplog.text
    assert [c.workflow_ref for c in desk(later).overdue()] == ["NJCG-11"]
    later.close()
    outbox = str(tmp_path / "var" / "outbox.db")
    result = CliRunner().invoke(
        main, ["outbox", "status", "--path", outbox, "--due-after", "0.05", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["feedback_overdue"] == 1
    result = CliRunner().invoke(main, ["outbox", "status", "--path", outbox, "--due-after", "0.05"])
    assert "feedback overdue 1 case(s)" in result.output and "ref=NJCG-11" in result.output
    result = CliRunner().invoke(main, ["outbox", "status", "--path", outbox])
    assert "feedback overdue 0 case(s)" in result.output, "one day has not passed"


def test_cli_open_finds_and_feeds_back_an_application(
    make_guard: SyncFactory, platform: ReferencePlatform, tmp_path: Path
) -> None:
    g = make_guard()
    g.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-12")
    g.check(ORG_BLACK, step="procurement.award", region=REGION, workflow_ref="NJCG-13")
    g.close()
    outbox = str(tmp_path / "var" / "outbox.db")
    run = CliRunner().invoke
    result = run(main, ["outbox", "open", "--path", outbox, "--json"])
    listed = json.loads(result.output)["cases"]
    assert sorted(c["workflow_ref"] for c in listed) == ["NJCG-12", "NJCG-13"]
    assert run(main, ["outbox", "open", "--path", outbox, "--feed-back"]).exit_code == 2
    result = run(
        main,
        [
            "outbox",
            "open",
            "--path",
            outbox,
            "--application",
            "NJCG-12",
            "--feed-back",
            "--not-applied",
            "申请人撤回申请",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["feedback_items"] == 2
    result = run(main, ["outbox", "open", "--path", outbox, "--json"])
    assert [c["workflow_ref"] for c in json.loads(result.output)["cases"]] == ["NJCG-13"]
    later = make_guard()
    assert desk(later).worker is not None
    assert wait_for(lambda: len(platform.feedback) == 2)
    later.close()
    assert feedback_seen(platform, ORG_BLACK) == [(DENY, "not_applied"), (NOTE, "not_applied")]


def test_a_write_through_the_integrators_connection_wakes_the_worker(
    make_guard: SyncFactory, platform: ReferencePlatform, tmp_path: Path
) -> None:
    db = tmp_path / "app.db"
    g = make_guard(path=str(db))
    worker = desk(g).worker
    assert worker is not None
    d = g.check(ORG_BLACK, step=STEP, region=REGION, workflow_ref="NJCG-14")
    assert wait_for(lambda: len(platform.cases) == 1)
    worker.poll_interval_s = 60.0  # idle polling alone would not deliver within the test
    worker.notify()
    time.sleep(0.2)
    app = sqlite3.connect(db, isolation_level=None, timeout=10.0)
    app.execute("PRAGMA busy_timeout = 10000")
    app.execute("CREATE TABLE IF NOT EXISTS approvals (id TEXT)")
    app.execute("BEGIN IMMEDIATE")
    app.execute("INSERT INTO approvals VALUES ('NJCG-14')")
    g.feedback(d, workflow_ref="NJCG-14", connection=app)
    time.sleep(0.2)
    assert platform.feedback == [], "nothing is visible before the integrator commits"
    app.execute("COMMIT")
    app.close()
    assert wait_for(lambda: len(platform.feedback) == 2, timeout=10.0), (
        "the worker was not woken by the commit"
    )
    g.close()
