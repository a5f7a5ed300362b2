"""The reference platform against spec platform-api-v1: every endpoint, signatures, idempotency."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from kit_helpers import ORG, ORG2, ORG3, PERSON, resident_id, signed_headers

from creditguard.models import AppliesTo, LegalBasis, Measure, MeasureList
from creditguard.testing import ReferencePlatform

BASE = "http://platform.test/api"


def _error(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["request_id"]
    err: dict[str, Any] = body["error"]
    return err


def _case_body(case_id: str = "320100-CG-0001", code: str = ORG) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "subject_code": code,
        "record_ids": ["T-000001"],
        "step": "procurement.bid",
        "region": "320100",
        "unit_code": "320100-CG",
        "initiated_at": "2026-03-02T09:15:00+08:00",
    }


def _feedback_body(action: str = "denied", **extra: Any) -> dict[str, Any]:
    return {
        "unit_code": "320100-CG",
        "measure_code": "S-01",
        "step": "procurement.bid",
        "action": action,
        "detail": "投标资格审查未通过",
        "workflow_ref": "NJCG-2026-0315-007",
        "decided_at": "2026-03-02T09:15:03+08:00",
        **extra,
    }


def _post(client: httpx.Client, path: str, body: Any, key: str | None = "k-1") -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(path, json=body, headers=headers)


# --- §4.1 records ------------------------------------------------------------------------


def test_records_of_a_listed_subject(platform: ReferencePlatform, client: httpx.Client) -> None:
    rec = platform.add_record(
        ORG, list_kind="blacklist", domain="court_enforcement", expires_on="2028-11-02"
    )
    resp = client.get(f"/v1/subjects/{ORG}/records")
    assert resp.status_code == 200
    body = resp.json()
    assert body["subject"]["code"] == ORG
    assert body["subject"]["kind"] == "organization"
    assert body["records"] == [rec]
    assert rec["list_name"] == "失信被执行人名单"
    assert rec["role"] == "self" and rec["status"] == "listed" and rec["public"] is True
    assert body["as_of"].endswith("+08:00")
    assert resp.headers["ETag"] == body["etag"]


def test_unknown_subject_is_404_subject_not_found(client: httpx.Client) -> None:
    resp = client.get(f"/v1/subjects/{ORG2}/records")
    assert resp.status_code == 404
    assert _error(resp)["code"] == "SUBJECT_NOT_FOUND"


def test_known_subject_without_records_has_empty_list(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    platform.add_subject(ORG2, name="某某公司")
    body = client.get(f"/v1/subjects/{ORG2}/records").json()
    assert body["records"] == []
    assert body["subject"]["name"] == "某某公司"


def test_invalid_code_is_400(client: httpx.Client) -> None:
    resp = client.get("/v1/subjects/91320100MA1W2K7D40/records")
    assert resp.status_code == 400
    assert _error(resp)["code"] == "INVALID_ARGUMENT"


def test_etag_and_if_none_match(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.add_record(ORG)
    first = client.get(f"/v1/subjects/{ORG}/records")
    etag = first.headers["ETag"]
    again = client.get(f"/v1/subjects/{ORG}/records", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    platform.add_record(ORG, list_kind="focus")
    changed = client.get(f"/v1/subjects/{ORG}/records", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_include_related_returns_organization_records_with_role_and_via(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    platform.add_subject(ORG, legal_representative={"code": PERSON, "name": "张三"})
    platform.add_record(ORG, record_id="JS-1", listed_on="2025-11-03")
    plain = client.get(f"/v1/subjects/{PERSON}/records").json()
    assert plain["subject"]["kind"] == "person"
    assert plain["records"] == []
    related = client.get(
        f"/v1/subjects/{PERSON}/records", params={"include_related": "true"}
    ).json()
    [rec] = related["records"]
    assert rec["record_id"] == "JS-1"
    assert rec["role"] == "legal_representative"
    assert rec["via"] == ORG
    org = client.get(f"/v1/subjects/{ORG}/records").json()
    assert org["subject"]["legal_representative"] == {"code": PERSON, "name": "张三"}


def test_include_related_only_counts_roles_held_at_listing(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    later = resident_id("32010219900101123")
    platform.relate(later, ORG2, role="responsible_person", since="2026-01-01")
    platform.add_record(ORG2, record_id="OLD", listed_on="2025-06-01")
    platform.add_record(ORG2, record_id="NEW", listed_on="2026-02-01")
    body = client.get(f"/v1/subjects/{later}/records", params={"include_related": "true"}).json()
    assert [(r["record_id"], r["role"]) for r in body["records"]] == [("NEW", "responsible_person")]


def test_include_related_must_be_boolean(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.add_record(ORG)
    resp = client.get(f"/v1/subjects/{ORG}/records", params={"include_related": "yes"})
    assert resp.status_code == 400


def test_non_public_records_only_for_allowed_keys(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    platform.add_record(ORG, record_id="SECRET", public=False)
    platform.add_app_key("other-key", "other-secret")
    other = httpx.Client(
        transport=platform.mock_transport(),
        base_url=BASE,
        auth=_auth("other-key", "other-secret"),
    )
    assert [
        r["record_id"] for r in client.get(f"/v1/subjects/{ORG}/records").json()["records"]
    ] == ["SECRET"]
    assert other.get(f"/v1/subjects/{ORG}/records").json()["records"] == []


def _auth(key: str, secret: str) -> httpx.Auth:
    from creditguard.testing import SigningAuth

    return SigningAuth(key, secret)


# --- §4.2 batch ---------------------------------------------------------------------------


def test_batch_reports_every_code_once(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.add_record(ORG, record_id="A")
    platform.add_subject(ORG3)
    resp = client.post(
        "/v1/subjects:batch-records",
        json={"codes": [ORG, ORG2, ORG3, ORG], "include_related": False},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert [r["code"] for r in body["results"]] == [ORG, ORG3]
    assert [r["record_id"] for r in body["results"][0]["records"]] == ["A"]
    assert body["results"][1]["records"] == []
    assert body["not_found"] == [ORG2]
    assert body["as_of"].endswith("+08:00")


def test_batch_with_an_invalid_code_fails_whole_call(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    resp = client.post("/v1/subjects:batch-records", json={"codes": [ORG, "916201055811843000"]})
    assert resp.status_code == 400
    assert "codes[1]" in _error(resp)["message"]


@pytest.mark.parametrize(("count", "status"), [(0, 400), (500, 200), (501, 413)])
def test_batch_size_limits(client: httpx.Client, count: int, status: int) -> None:
    resp = client.post("/v1/subjects:batch-records", json={"codes": [ORG] * count})
    assert resp.status_code == status
    if status == 413:
        assert _error(resp)["code"] == "PAYLOAD_TOO_LARGE"


def test_batch_include_related(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.add_subject(ORG, legal_representative=PERSON)
    platform.add_record(ORG, record_id="R")
    body = client.post(
        "/v1/subjects:batch-records", json={"codes": [PERSON], "include_related": True}
    ).json()
    assert body["results"][0]["records"][0]["via"] == ORG


def test_request_body_over_one_mib_is_413(client: httpx.Client) -> None:
    resp = client.post("/v1/subjects:batch-records", content=b" " * (1024 * 1024 + 1))
    assert resp.status_code == 413


# --- §5.1 measure lists ---------------------------------------------------------------


def _measure(code: str, steps: tuple[str, ...] = ("procurement.*",)) -> Measure:
    return Measure(
        code=code,
        title="限制参加政府采购活动",
        category="rights_limiting",
        legal_basis=(
            LegalBasis(title="《中华人民共和国政府采购法》", article="第二十二条", level="law"),
        ),
        applies_to=AppliesTo(list_kinds=("blacklist",), steps=steps),
        effect="deny",
    )


def test_measure_list_with_etag(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.set_measure_list(
        {"region": "320000", "version": "2026.2", "measures": [{"code": "S-01"}]}
    )
    resp = client.get("/v1/measure-lists/320000")
    assert resp.status_code == 200
    assert resp.json()["version"] == "2026.2"
    again = client.get("/v1/measure-lists/320000", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_measure_list_unknown_region_and_bad_region(client: httpx.Client) -> None:
    assert client.get("/v1/measure-lists/110000").status_code == 404
    assert client.get("/v1/measure-lists/11").status_code == 400


def test_measure_list_model_merges_parent_measures(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    platform.set_measure_list(
        MeasureList(region="320000", version="1", measures=(_measure("S-01"), _measure("S-02")))
    )
    platform.set_measure_list(
        MeasureList.model_validate(
            {
                "region": "320100",
                "version": "2",
                "extends": "320000",
                "withdraws": [{"code": "S-02", "reason": "本市无此职能"}],
                "measures": [_measure("NJ-01", ("subsidy.*",)).model_dump(mode="json")],
            }
        )
    )
    body = client.get("/v1/measure-lists/320100").json()
    assert [m["code"] for m in body["measures"]] == ["NJ-01", "S-01"]
    assert "extends" not in body and "withdraws" not in body
    assert body["measures"][1]["legal_basis"][0]["level"] == "law"


# --- §6 cases ----------------------------------------------------------------------------


def test_case_needs_idempotency_key(client: httpx.Client) -> None:
    resp = _post(client, "/v1/cases", _case_body(), key=None)
    assert resp.status_code == 400
    assert "Idempotency-Key" in _error(resp)["message"]


def test_case_idempotency_replay_and_conflict(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    first = _post(client, "/v1/cases", _case_body(), key="case-1")
    assert first.status_code == 201
    assert set(first.json()) == {"case_id", "receipt_id", "received_at"}
    replay = _post(client, "/v1/cases", _case_body(), key="case-1")
    assert replay.status_code == 200
    assert replay.json() == first.json()
    conflict = _post(
        client, "/v1/cases", {**_case_body(), "step": "procurement.award"}, key="case-1"
    )
    assert conflict.status_code == 409
    assert _error(conflict)["code"] == "IDEMPOTENCY_CONFLICT"
    assert list(platform.cases) == ["320100-CG-0001"]


def test_case_body_is_validated(client: httpx.Client) -> None:
    assert _post(client, "/v1/cases", {**_case_body(), "subject_code": "123"}).status_code == 400
    assert (
        _post(
            client, "/v1/cases", {**_case_body(), "initiated_at": "2026-03-02T09:15:00"}
        ).status_code
        == 400
    )
    assert _post(client, "/v1/cases", _case_body(case_id="OTHER-1")).status_code == 400
    assert _post(client, "/v1/cases", {**_case_body(), "record_ids": "T-1"}).status_code == 400
    assert (
        client.post("/v1/cases", content=b"not json", headers={"Idempotency-Key": "x"}).status_code
        == 400
    )


def test_response_and_feedback_for_unknown_case_are_404_then_retryable(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    fb = _post(client, "/v1/cases/320100-CG-0001/feedback", _feedback_body(), key="fb-1")
    assert fb.status_code == 404
    assert _error(fb)["code"] == "CASE_NOT_FOUND"
    response = {
        "unit_code": "320100-CG",
        "accepted_measures": ["S-01"],
        "declined_measures": [{"code": "S-03", "reason": "本单位无此职能"}],
        "responded_at": "2026-03-02T09:15:02+08:00",
    }
    assert (
        _post(client, "/v1/cases/320100-CG-0001/responses", response, key="rs-1").status_code == 404
    )
    assert _post(client, "/v1/cases", _case_body(), key="case-1").status_code == 201
    # The 404 was not remembered under the key: the same delivery now succeeds.
    assert (
        _post(client, "/v1/cases/320100-CG-0001/responses", response, key="rs-1").status_code == 201
    )
    assert (
        _post(client, "/v1/cases/320100-CG-0001/feedback", _feedback_body(), key="fb-1").status_code
        == 201
    )
    assert platform.feedback_for(ORG)[0]["action"] == "denied"
    assert platform.feedback_for(ORG)[0]["case_id"] == "320100-CG-0001"
    assert platform.responses[0]["accepted_measures"] == ["S-01"]


def test_feedback_is_validated(client: httpx.Client) -> None:
    assert _post(client, "/v1/cases", _case_body(), key="c").status_code == 201
    path = "/v1/cases/320100-CG-0001/feedback"
    assert _post(client, path, _feedback_body("ignored"), key="a").status_code == 400
    assert _post(client, path, _feedback_body("not_applied", detail=""), key="b").status_code == 400
    assert (
        _post(
            client, path, _feedback_body("not_applied", detail="记录已修复"), key="c2"
        ).status_code
        == 201
    )


def test_platform_initiated_case_accepts_responses(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    case = platform.initiate_case(ORG, ["S-01"], region="320100")
    assert case["case_id"].startswith("P-")
    [event] = client.get("/v1/pushes").json()["events"]
    assert event["type"] == "case.initiated" and event["case_id"] == case["case_id"]
    resp = _post(
        client,
        f"/v1/cases/{case['case_id']}/responses",
        {
            "unit_code": "320100-CG",
            "accepted_measures": ["S-01"],
            "responded_at": "2026-03-02T09:15:00+08:00",
        },
    )
    assert resp.status_code == 201


def test_idempotency_keys_are_per_app_key(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    platform.add_app_key("k2", "s2")
    other = httpx.Client(transport=platform.mock_transport(), base_url=BASE, auth=_auth("k2", "s2"))
    assert _post(client, "/v1/cases", _case_body(), key="same").status_code == 201
    assert _post(other, "/v1/cases", {**_case_body(), "step": "x.y"}, key="same").status_code == 201


# --- §7.1 push feed ---------------------------------------------------------------------


def test_push_feed_pages_with_cursor(platform: ReferencePlatform, client: httpx.Client) -> None:
    rec = platform.add_record(ORG, push=True)
    platform.update_record(rec["record_id"], status="repaired", push=True)
    platform.remove_record(rec["record_id"], push=True)
    platform.push_event("measure_list.published", region="320000", version="2026.3")
    page1 = client.get("/v1/pushes", params={"limit": 2}).json()
    assert [e["type"] for e in page1["events"]] == ["record.added", "record.updated"]
    assert page1["events"][1]["record"]["status"] == "repaired"
    page2 = client.get("/v1/pushes", params={"cursor": page1["next_cursor"], "limit": 10}).json()
    assert [e["type"] for e in page2["events"]] == ["record.removed", "measure_list.published"]
    assert page2["events"][0]["record_id"] == rec["record_id"]
    page3 = client.get("/v1/pushes", params={"cursor": page2["next_cursor"]}).json()
    assert page3 == {"events": [], "next_cursor": page2["next_cursor"]}
    ids = [e["event_id"] for e in page1["events"] + page2["events"]]
    assert len(set(ids)) == 4


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"cursor": "bogus"}]
)
def test_push_feed_rejects_bad_parameters(client: httpx.Client, params: dict[str, str]) -> None:
    assert client.get("/v1/pushes", params=params).status_code == 400


# --- §10 supervision events -------------------------------------------------------------


def _supervision(**over: Any) -> dict[str, Any]:
    return {
        "event_id": "320100-SJ-2026-0042",
        "type": "interview.held",
        "subject_code": ORG,
        "record_id": "JS-2026-000123",
        "unit_code": "320100-SJ",
        "at": "2026-03-05T10:00:00+08:00",
        "data": {
            "interview_kind": "warning",
            "attendee": {"name": "张三", "role": "legal_representative"},
        },
        **over,
    }


def test_supervision_event_is_received(platform: ReferencePlatform, client: httpx.Client) -> None:
    resp = _post(client, "/v1/supervision-events", _supervision())
    assert resp.status_code == 201
    assert set(resp.json()) == {"receipt_id", "received_at"}
    assert platform.supervision_events[0]["type"] == "interview.held"


@pytest.mark.parametrize(
    "body",
    [
        _supervision(type="interview.cancelled"),
        _supervision(data={"interview_kind": "friendly", "attendee": {}}),
        _supervision(
            type="rectification.ordered",
            data={"requirements": "x", "deadline": "soon", "public": True},
        ),
        _supervision(type="training.completed", data={"hours": "three", "organizer": "x"}),
        _supervision(data=None),
    ],
)
def test_supervision_event_data_must_fit_type(client: httpx.Client, body: dict[str, Any]) -> None:
    assert _post(client, "/v1/supervision-events", body).status_code == 400


def test_supervision_event_needs_idempotency_key(client: httpx.Client) -> None:
    assert _post(client, "/v1/supervision-events", _supervision(), key=None).status_code == 400


# --- §11 disclosures --------------------------------------------------------------------


def _disclosure(**over: Any) -> dict[str, Any]:
    return {
        "disclosure_id": "320100-SJ-CF-2026-0017",
        "kind": "administrative_penalty",
        "subject": {"code": ORG, "name": "某某建设工程有限公司", "legal_representative": "张*"},
        "decision_no": "宁市监处〔2026〕17号",
        "decided_on": "2026-03-02",
        "publish_by": "2026-03-11",
        "publish_until": "2027-03-01",
        "authority": {"code": "320100-SJ", "name": "南京市市场监督管理局"},
        "content": "text already masked for publication",
        "masked_fields": ["subject.legal_representative", "content"],
        **over,
    }


def test_disclosure_is_received(platform: ReferencePlatform, client: httpx.Client) -> None:
    assert _post(client, "/v1/disclosures", _disclosure()).status_code == 201
    assert platform.disclosures[0]["decision_no"] == "宁市监处〔2026〕17号"


def test_disclosure_without_publish_until_is_400(client: httpx.Client) -> None:
    body = _disclosure()
    del body["publish_until"]
    resp = _post(client, "/v1/disclosures", body)
    assert resp.status_code == 400
    assert "publish_until" in _error(resp)["message"]


def test_disclosure_of_non_public_record_is_403(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    platform.add_record(ORG, record_id="HIDDEN", public=False)
    resp = _post(client, "/v1/disclosures", _disclosure(kind="blacklist", record_id="HIDDEN"))
    assert resp.status_code == 403
    assert _error(resp)["code"] == "PERMISSION_DENIED"
    listed = _post(client, "/v1/disclosures", _disclosure(kind="blacklist"), key="k-2")
    assert listed.status_code == 403


# --- §2 signatures ---------------------------------------------------------------------


def _raw(
    platform: ReferencePlatform, headers: dict[str, str], path: str = "/api/v1/pushes"
) -> httpx.Response:
    with httpx.Client(transport=platform.mock_transport(), base_url="http://platform.test") as c:
        return c.get(path, headers=headers)


def test_good_signature_without_helper(platform: ReferencePlatform) -> None:
    headers = signed_headers("test-key", "test-secret", "GET", "/api/v1/pushes", "", b"")
    assert _raw(platform, headers).status_code == 200


def test_query_is_part_of_the_signature(platform: ReferencePlatform) -> None:
    headers = signed_headers("test-key", "test-secret", "GET", "/api/v1/pushes", "limit=5", b"")
    assert _raw(platform, headers, "/api/v1/pushes?limit=5").status_code == 200
    headers = signed_headers("test-key", "test-secret", "GET", "/api/v1/pushes", "limit=5", b"")
    resp = _raw(platform, headers, "/api/v1/pushes?limit=6")
    assert resp.status_code == 401


@pytest.mark.parametrize(
    ("key", "secret", "path", "reason"),
    [
        (None, None, None, "missing"),
        ("nobody", "test-secret", "/api/v1/pushes", "unknown app key"),
        ("test-key", "wrong", "/api/v1/pushes", "does not match"),
        ("test-key", "test-secret", "/v1/pushes", "does not match"),
    ],
)
def test_bad_signatures_are_401(
    platform: ReferencePlatform, key: str | None, secret: str | None, path: str | None, reason: str
) -> None:
    # Signed here, not at collection time, so the timestamp is fresh however long the run.
    headers = {} if key is None else signed_headers(key, secret or "", "GET", path or "", "", b"")
    resp = _raw(platform, headers)
    assert resp.status_code == 401
    err = _error(resp)
    assert err["code"] == "UNAUTHENTICATED"
    assert reason in err["message"]


def test_stale_timestamp_is_401_with_skew_hint(platform: ReferencePlatform) -> None:
    headers = signed_headers(
        "test-key", "test-secret", "GET", "/api/v1/pushes", "", b"", now=time.time() - 400
    )
    resp = _raw(platform, headers)
    assert resp.status_code == 401
    assert "300 s away from the platform's clock" in _error(resp)["message"]


def test_replayed_nonce_is_401(platform: ReferencePlatform) -> None:
    headers = signed_headers("test-key", "test-secret", "GET", "/api/v1/pushes", "", b"")
    assert _raw(platform, headers).status_code == 200
    replay = _raw(platform, headers)
    assert replay.status_code == 401
    assert "nonce" in _error(replay)["message"]


def test_body_is_part_of_the_signature(platform: ReferencePlatform) -> None:
    body = json.dumps({"codes": [ORG]}).encode()
    headers = signed_headers(
        "test-key", "test-secret", "POST", "/api/v1/subjects:batch-records", "", body
    )
    with httpx.Client(transport=platform.mock_transport(), base_url="http://platform.test") as c:
        tampered = c.post(
            "/api/v1/subjects:batch-records", content=body.replace(b"]", b', "x"]'), headers=headers
        )
    assert tampered.status_code == 401


def test_custom_key_and_clock() -> None:
    frozen = ReferencePlatform(app_key="unit-7", secret="s3cret", clock=lambda: 1_767_225_600.0)
    headers = signed_headers(
        "unit-7", "s3cret", "GET", "/api/v1/pushes", "", b"", now=1_767_225_600.0
    )
    assert _raw(frozen, headers).status_code == 200
    assert "s3cret" not in repr(frozen)
    rec = frozen.add_record(ORG)
    assert frozen.find_record(rec["record_id"]) == rec
    assert rec["listed_on"] == "2025-12-02"
    assert frozen.today().isoformat() == "2026-01-01"


# --- paths, log, reset ---------------------------------------------------------------------


def test_paths_outside_the_base_are_404(platform: ReferencePlatform) -> None:
    headers = signed_headers("test-key", "test-secret", "GET", "/v1/pushes", "", b"")
    resp = _raw(platform, headers, "/v1/pushes")
    assert resp.status_code == 404
    assert _error(resp)["code"] == "NOT_FOUND"


def test_unknown_endpoint_is_404(client: httpx.Client) -> None:
    assert client.get("/v1/nothing-here").status_code == 404
    assert client.delete("/v1/pushes").status_code == 404


def test_platform_without_base_path() -> None:
    bare = ReferencePlatform(base_path="")
    headers = signed_headers("test-key", "test-secret", "GET", "/v1/pushes", "", b"")
    assert _raw(bare, headers, "/v1/pushes").status_code == 200


def test_requests_log_records_what_the_client_did(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    _post(client, "/v1/cases", _case_body(), key="case-key")
    client.get("/v1/pushes", params={"limit": 3})
    first, second = platform.requests_log
    assert (first.method, first.path, first.idempotency_key, first.status) == (
        "POST",
        "/v1/cases",
        "case-key",
        201,
    )
    assert first.body["case_id"] == "320100-CG-0001"
    assert first.app_key == "test-key"
    assert (second.method, second.path, second.query, second.body) == (
        "GET",
        "/v1/pushes",
        "limit=3",
        None,
    )


def test_reset_forgets_everything(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.add_record(ORG)
    _post(client, "/v1/cases", _case_body())
    platform.reset()
    assert platform.cases == {} and platform.requests_log == []
    assert client.get(f"/v1/subjects/{ORG}/records").status_code == 404


def test_returned_data_are_copies(platform: ReferencePlatform, client: httpx.Client) -> None:
    rec = platform.add_record(ORG)
    rec["status"] = "removed"
    assert client.get(f"/v1/subjects/{ORG}/records").json()["records"][0]["status"] == "listed"


def test_update_and_remove_unknown_record_raise(platform: ReferencePlatform) -> None:
    with pytest.raises(KeyError):
        platform.update_record("nope", status="removed")
    with pytest.raises(KeyError):
        platform.remove_record("nope")


def test_add_record_rejects_invalid_code(platform: ReferencePlatform) -> None:
    with pytest.raises(ValueError, match="check character"):
        platform.add_record("91320100MA1W2K7D40")
