"""Supervision events through the service: the library's rules, per-unit regions, typed refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import TOKEN_A, TOKEN_B, TOKEN_MON, UNIT_A, bearer, write_layout

from creditguard.server import Service, create_app, load_service_config
from creditguard.testing import ReferencePlatform, RunningServer

A, B = bearer(TOKEN_A), bearer(TOKEN_B)
ORG = "91320100MA1W2K7D41"
AT = "2026-03-02T10:00:00+08:00"  # before the deadline
LATER = "2026-03-20T10:00:00+08:00"  # after it

_RULES = """
[supervision]
rules = { "320100" = [{ pack = "notice-893-2018", from = 2021-01-01 }], "320500" = [{ pack = "notice-893-2018", from = 2021-01-01 }] }
repair_rules = { "320100" = [{ pack = "notice-893-2018", from = 2021-01-01 }] }
"""


def record(record_id: str, region: str = "320100", authority: str = UNIT_A) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "list_kind": "blacklist",
        "domain": "procurement",
        "authority": {"code": authority, "name": "南京市测试局"},
        "listed_on": "2026-01-05",
        "status": "listed",
        "region": region,
    }


@pytest.fixture
def sup(tmp_path: Path, platform_server: RunningServer) -> Iterator[tuple[TestClient, Service]]:
    layout = write_layout(tmp_path, platform_server.url)
    for name in ("unit-a.toml", "unit-b.toml"):
        f = tmp_path / name
        f.write_text(f.read_text(encoding="utf-8") + _RULES, encoding="utf-8")
    service = Service.from_config(load_service_config(layout.service_file))
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        yield c, service


def post(c: TestClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return c.post(f"/v1/supervision/{path}", json=body, headers=headers)


def refused(r: Any, rule: str) -> None:
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert (err["code"], err["rule"]) == ("RULE_BROKEN", rule)
    assert rule in err["message"]


def test_a_listing_goes_through_rectification_interview_commitment_training_report_repair(
    sup: tuple[TestClient, Service], platform: ReferencePlatform
) -> None:
    c, service = sup
    r = post(c, "listings", {"subject_code": ORG, "record": record("R-1")}, A)
    assert r.status_code == 201, r.text
    assert r.json()["region"] == "320100"
    order = {"record_id": "R-1", "requirements": "补缴税款", "deadline": "2026-03-13", "at": AT}
    r = post(c, "rectification/order", order, A)
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "rectification.ordered"
    refused(post(c, "rectification/order", order, A), "rectification.one_order")
    attendee = {"name": "张三", "role": "legal_representative"}
    early = {"record_id": "R-1", "kind": "warning", "attendee": attendee, "at": AT}
    refused(post(c, "interview", early, A), "interview.after_missed_deadline")
    wrong_kind = {**early, "kind": "prompt", "at": LATER}
    refused(post(c, "interview", wrong_kind, A), "interview.kind_by_list")
    r = post(c, "interview", {**early, "at": LATER}, A)
    assert r.status_code == 201 and r.json()["type"] == "interview.held", r.text
    refused(post(c, "interview", {**early, "at": LATER}, A), "interview.once_per_listing")

    check = {"record_id": "R-1", "as_of": "2026-03-25"}
    r = c.get("/v1/supervision/repair-check", params=check, headers=A)
    assert r.status_code == 200 and r.json()["may_apply"] is False
    assert any("commitment" in m for m in r.json()["missing"])
    commit = {
        "record_id": "R-1",
        "text": "本单位承诺依法经营",
        "published_url": "https://example.org/c/1",
        "at": LATER,
    }
    assert post(c, "commitment", commit, A).status_code == 201
    train = {"record_id": "R-1", "hours": 3, "organizer": "南京市信用办", "attendee": attendee}
    assert post(c, "training", {**train, "at": LATER}, A).status_code == 201
    rep = {
        "record_id": "R-1",
        "agency_code": "91320100MA24EFGH2A",
        "report_no": "CR-1",
        "at": LATER,
    }
    assert post(c, "report", rep, A).status_code == 201
    r = c.get("/v1/supervision/repair-check", params=check, headers=A)
    assert r.status_code == 200, r.text
    assert (r.json()["rules"], r.json()["may_apply"], r.json()["missing"]) == (
        "notice-893-2018",
        True,
        [],
    )
    confirm = {"record_id": "R-1", "confirmed_on": "2026-03-20", "at": LATER}
    assert post(c, "rectification/confirm", confirm, A).status_code == 201

    # every accepted step went out through the unit's outbox to the platform
    assert service.units[UNIT_A].guard.deliver_now(timeout=10)
    types = [e["type"] for e in platform.supervision_events]
    assert types == [
        "rectification.ordered",
        "rectification.overdue",  # noted by the library when the interview found it missed
        "interview.held",
        "commitment.made",
        "training.completed",
        "report.submitted",
        "rectification.confirmed",
    ]


def test_refusals_are_typed_4xx_and_record_nothing(
    sup: tuple[TestClient, Service], platform: ReferencePlatform
) -> None:
    c, service = sup
    assert post(c, "listings", {"subject_code": ORG, "record": record("R-2")}, A).status_code == 201
    # another identifying department's record: 谁认定、谁约谈
    other = record("R-3", authority="320100-XX")
    assert post(c, "listings", {"subject_code": ORG, "record": other}, A).status_code == 201
    order = {"record_id": "R-3", "requirements": "整改", "deadline": "2026-03-13", "at": AT}
    refused(post(c, "rectification/order", order, A), "rectification.by_identifying_department")
    r = post(c, "rectification/order", {**order, "record_id": "R-404"}, A)
    assert r.status_code == 404 and r.json()["error"]["code"] == "LISTING_NOT_FOUND"
    r = post(
        c, "rectification/order", {**order, "record_id": "R-2", "at": "2026-03-02T10:00:00"}, A
    )
    assert r.status_code == 400 and "offset" in r.json()["error"]["message"]
    r = post(c, "listings", {"subject_code": ORG, "record": {"record_id": "X"}}, A)
    assert r.status_code == 400 and "record." in r.json()["error"]["message"]
    r = post(c, "interview", {"record_id": "R-2", "kind": "warning"}, A)
    assert r.status_code == 400
    r = post(c, "commitment", {"record_id": "R-2", "text": "承诺", "published_url": "ftp://x"}, A)
    assert r.status_code == 400 and "published_url" in r.json()["error"]["message"]
    assert service.units[UNIT_A].guard.deliver_now(timeout=10)
    assert platform.supervision_events == []


def test_a_unit_acts_only_on_listings_of_its_regions(sup: tuple[TestClient, Service]) -> None:
    c, _ = sup
    # unit A (Nanjing) may not register a Suzhou record; unit B may not register a Nanjing one
    r = post(c, "listings", {"subject_code": ORG, "record": record("R-5", "320500")}, A)
    assert r.status_code == 403 and r.json()["error"]["code"] == "PERMISSION_DENIED"
    r = post(c, "listings", {"subject_code": ORG, "record": record("R-6")}, B)
    assert r.status_code == 403
    # a listing registered before the unit's regions were narrowed: refused, not acted on
    assert post(c, "listings", {"subject_code": ORG, "record": record("R-7")}, A).status_code == 201
    r = c.get("/v1/supervision/repair-check", params={"record_id": "R-7"}, headers=B)
    assert r.status_code == 404  # unit B's own store has no such listing
    metrics = c.get("/metrics", headers=bearer(TOKEN_MON)).text
    assert 'creditguard_refusals_total{reason="region"} 2.0' in metrics


def test_a_listing_outside_the_units_regions_is_refused_before_any_rule(
    tmp_path: Path, platform_server: RunningServer
) -> None:
    layout = write_layout(tmp_path, platform_server.url)
    f = tmp_path / "unit-a.toml"
    f.write_text(f.read_text(encoding="utf-8") + _RULES, encoding="utf-8")
    service = Service.from_config(load_service_config(layout.service_file))
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        # put a Suzhou listing in unit A's store behind the service's back
        from creditguard.models import CreditRecord
        from creditguard.supervision import Lifecycle

        lc = Lifecycle.from_config(service.units[UNIT_A].guard.config)
        lc.register(ORG, CreditRecord.model_validate(record("R-8", "320500")))
        lc.close()
        order = {"record_id": "R-8", "requirements": "整改", "deadline": "2026-03-13", "at": AT}
        r = post(c, "rectification/order", order, A)
        assert r.status_code == 403 and "320500" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "path",
    [
        "listings",
        "rectification/order",
        "rectification/confirm",
        "interview",
        "commitment",
        "training",
        "report",
    ],
)
def test_supervision_needs_a_unit_credential(sup: tuple[TestClient, Service], path: str) -> None:
    c, _ = sup
    assert post(c, path, {}, {}).status_code == 401
    assert post(c, path, {}, bearer("token-nobody-holds-0123456789")).status_code == 401
    r = post(c, path, {}, bearer(TOKEN_MON))
    assert r.status_code in (400, 403)  # a monitor belongs to no unit: never acted on
    assert c.get("/v1/supervision/repair-check?record_id=R-1").status_code == 401
    r = c.get("/v1/supervision/repair-check?record_id=R-1", headers=bearer(TOKEN_MON))
    assert r.status_code == 403
