"""One case per application and step through the service: ``workflow_ref`` on check and feedback.

Every test runs two processes' worth of service (two apps on the same files,
one feedback key), as two workers behind one address would, and counts what
the loopback reference platform received once both have drained their outbox.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from server_helpers import ORG_BLACK, TOKEN_A, UNIT_A, bearer, write_layout

from creditguard.server import Service, create_app, load_service_config
from creditguard.testing import ReferencePlatform, RunningServer

A = bearer(TOKEN_A)
BID_A = {"step": "procurement.bid", "region": "320100"}
KEY = "feedback-key-shared-by-every-worker-0001"


def _client(service_file: Path) -> TestClient:
    service = Service.from_config(load_service_config(service_file))
    return TestClient(create_app(service), raise_server_exceptions=False)


def _cases_of(platform: ReferencePlatform, code: str) -> list[str]:
    return sorted(cid for cid, c in platform.cases.items() if c.get("subject_code") == code)


def test_a_retried_check_of_one_application_reuses_its_case_in_any_worker(
    tmp_path: Path, platform_server: RunningServer, platform: ReferencePlatform
) -> None:
    layout = write_layout(tmp_path, platform_server.url, feedback_key=KEY)
    body = {"subject_code": ORG_BLACK, "workflow_ref": "NJCG-2026-7", **BID_A}
    with _client(layout.service_file) as first:
        one = first.post("/v1/check", json=body, headers=A)
    assert one.status_code == 200, one.text
    with _client(layout.service_file) as second:
        # the integrator retries the application's step through another worker
        two = second.post("/v1/check", json=body, headers=A).json()
        assert two["decision_id"] != one.json()["decision_id"]
        r = second.post(
            "/v1/feedback",
            json={"feedback_token": one.json()["feedback_token"], "actions": {"NJ-01": "denied"}},
            headers=A,
        )
        assert r.status_code == 201, r.text
    assert len(_cases_of(platform, ORG_BLACK)) == 1
    got = platform.feedback_for(ORG_BLACK)
    # the check's workflow_ref goes with the feedback even when the feedback does not repeat it
    assert [(f["case_id"], f["action"], f["workflow_ref"]) for f in got] == [
        (_cases_of(platform, ORG_BLACK)[0], "denied", "NJCG-2026-7")
    ]


def test_feedback_naming_a_workflow_ref_the_check_did_not_have_opens_no_second_case(
    tmp_path: Path, platform_server: RunningServer, platform: ReferencePlatform
) -> None:
    layout = write_layout(tmp_path, platform_server.url, feedback_key=KEY)
    with _client(layout.service_file) as first:
        d = first.post("/v1/check", json={"subject_code": ORG_BLACK, **BID_A}, headers=A).json()
    with _client(layout.service_file) as second:
        r = second.post(
            "/v1/feedback",
            json={"feedback_token": d["feedback_token"], "workflow_ref": "NJ-8"},
            headers=A,
        )
        assert r.status_code == 201, r.text
    cases = _cases_of(platform, ORG_BLACK)
    assert cases == [f"{UNIT_A}-{d['decision_id']}"]  # the check's case, and no other
    got = platform.feedback_for(ORG_BLACK)
    assert [(f["case_id"], f["workflow_ref"]) for f in got] == [(cases[0], "NJ-8")]


def test_feedback_naming_another_application_than_the_check_is_refused_and_writes_nothing(
    tmp_path: Path, platform_server: RunningServer, platform: ReferencePlatform
) -> None:
    layout = write_layout(tmp_path, platform_server.url, feedback_key=KEY, deliver=False)
    service = Service.from_config(load_service_config(layout.service_file))
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        body = {"subject_code": ORG_BLACK, "workflow_ref": "NJ-APP-1", **BID_A}
        d = c.post("/v1/check", json=body, headers=A).json()
        outbox = service.units[UNIT_A].guard.cases.outbox  # type: ignore[union-attr]
        before = outbox.status(now=time.time()).pending
        for named in ({"feedback_token": d["feedback_token"]}, {"decision_id": d["decision_id"]}):
            r = c.post("/v1/feedback", json={**named, "workflow_ref": "NJ-APP-2"}, headers=A)
            assert r.status_code == 409, r.text
            err = r.json()["error"]
            assert err["code"] == "WORKFLOW_REF_CONFLICT"
            assert "NJ-APP-1" in err["message"] and "NJ-APP-2" in err["message"]
        assert outbox.status(now=time.time()).pending == before
        # the same reference, or none, is the check's application: fed back to its case
        r = c.post(
            "/v1/feedback",
            json={"feedback_token": d["feedback_token"], "workflow_ref": "NJ-APP-1"},
            headers=A,
        )
        assert r.status_code == 201, r.text
        assert outbox.status(now=time.time()).by_kind.get("feedback") == 1


def test_a_verified_check_without_measures_closes_the_applications_open_case(
    tmp_path: Path, platform_server: RunningServer, platform: ReferencePlatform
) -> None:
    layout = write_layout(tmp_path, platform_server.url, feedback_key=KEY)
    body = {"subject_code": ORG_BLACK, "workflow_ref": "NJ-APP-9", **BID_A}
    with _client(layout.service_file) as c:
        first = c.post("/v1/check", json=body, headers=A).json()
    platform.remove_record(first["records"][0]["record_id"])  # repaired meanwhile
    with _client(layout.service_file) as c:  # another worker, its records not cached
        again = c.post("/v1/check", json=body, headers=A).json()
        assert again["verification"] == "verified" and again["measures"] == []
        assert again["feedback_token"] is None
    (case,) = _cases_of(platform, ORG_BLACK)
    got = platform.feedback_for(ORG_BLACK)
    assert [(f["case_id"], f["action"], f["workflow_ref"]) for f in got] == [
        (case, "not_applied", "NJ-APP-9")
    ]
