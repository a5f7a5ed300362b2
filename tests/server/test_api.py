"""What the service answers: decisions, fail-closed, visibility, screening, feedback, limits, errors."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from server_helpers import (
    ORG_BLACK,
    ORG_CLEAN,
    ORG_HIDDEN,
    TOKEN_A,
    TOKEN_B,
    TOKEN_MON,
    bearer,
)

from creditguard.server import Service
from creditguard.testing import ReferencePlatform

A = bearer(TOKEN_A)
B = bearer(TOKEN_B)
BID_A = {"step": "procurement.bid", "region": "320100"}
BID_B = {"step": "procurement.bid", "region": "320500"}


def check(client: TestClient, code: str, headers: dict[str, str], target: dict[str, str]) -> dict:
    r = client.post("/v1/check", json={"subject_code": code, **target}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_blacklisted_supplier_is_denied_with_measure_record_and_basis(client: TestClient) -> None:
    d = check(client, ORG_BLACK, A, BID_A)
    assert (d["outcome"], d["verification"], d["verified"]) == ("deny", "verified", True)
    assert [m["code"] for m in d["measures"]] == ["NJ-01"]
    assert d["measures"][0]["legal_basis"][0]["title"] == "《中华人民共和国政府采购法》"
    assert d["records"][0]["list_kind"] == "blacklist"
    assert d["list_version"] == "2026.1"
    assert "处理结果" in d["explanation"]
    assert check(client, ORG_CLEAN, A, BID_A)["outcome"] == "allow"


def test_the_service_fails_closed_when_the_platform_is_down(
    client: TestClient, platform: ReferencePlatform
) -> None:
    platform.down()
    d = check(client, ORG_CLEAN, A, BID_A)
    # the step's policy (hold) decides; never an allow reported as verified
    assert d["verification"] == "unverified" and d["verified"] is False
    assert d["outcome"] == "review"
    assert d["degraded_reason"]
    assert d["provenance"][0]["error"]
    rows = client.post("/v1/screen", json={"codes": [ORG_CLEAN], **BID_A}, headers=A).json()
    assert rows["rows"][0]["verification"] == "unverified"
    assert rows["summary"]["unverified"] == 1
    metrics = client.get("/metrics", headers=bearer(TOKEN_MON)).text
    assert 'creditguard_source_errors_total{source="platform",unit="320100-CG"}' in metrics
    assert 'outcome="review",unit="320100-CG",verification="unverified"' in metrics
    ready = client.get("/readyz", headers=bearer(TOKEN_MON))
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    (unit_a,) = [u for u in ready.json()["units"] if u["unit_code"] == "320100-CG"]
    assert unit_a["sources"]["platform"] != "ok"


def test_non_public_records_and_their_measures_reach_only_units_allowed_to_see_them(
    client: TestClient,
) -> None:
    seen = check(client, ORG_HIDDEN, A, BID_A)  # unit A: see_non_public = true
    assert seen["outcome"] == "deny"
    assert [r["public"] for r in seen["records"]] == [False]
    assert [m["code"] for m in seen["measures"]] == ["NJ-01"]
    assert seen["withheld_records"] == 0

    hidden = check(client, ORG_HIDDEN, B, BID_B)  # unit B: may not see them
    assert hidden["outcome"] == "deny"  # withholding never turns into allowing
    assert hidden["records"] == [] and hidden["measures"] == []
    assert hidden["withheld_records"] == 1
    record_id = seen["records"][0]["record_id"]
    assert record_id not in json.dumps(hidden)
    rows = client.post("/v1/screen", json={"codes": [ORG_HIDDEN], **BID_B}, headers=B).json()
    assert rows["rows"][0]["outcome"] == "deny" and rows["rows"][0]["measures"] == []


def test_feedback_goes_through_the_units_outbox_to_the_platform(
    client: TestClient, service: Service, platform: ReferencePlatform
) -> None:
    d = check(client, ORG_BLACK, A, BID_A)
    r = client.post(
        "/v1/feedback",
        json={
            "decision_id": d["decision_id"],
            "actions": {"NJ-01": "denied"},
            "workflow_ref": "NJ-7",
        },
        headers=A,
    )
    assert r.status_code == 201, r.text
    assert [i["kind"] for i in r.json()["items"]] == ["feedback"]
    assert service.units["320100-CG"].guard.deliver_now(timeout=10)
    got = platform.feedback_for(ORG_BLACK)
    assert [(f["measure_code"], f["action"], f["unit_code"]) for f in got] == [
        ("NJ-01", "denied", "320100-CG")
    ]
    status = client.get("/v1/outbox", headers=A).json()
    assert status["pending"] == 0 and status["delivered"] >= 2


def test_feedback_input_errors_are_4xx(client: TestClient) -> None:
    d = check(client, ORG_BLACK, A, BID_A)
    bad_action = {"decision_id": d["decision_id"], "actions": {"NJ-01": "shrugged"}}
    assert client.post("/v1/feedback", json=bad_action, headers=A).status_code == 400
    unknown_measure = {"decision_id": d["decision_id"], "actions": {"XX-99": "denied"}}
    r = client.post("/v1/feedback", json=unknown_measure, headers=A)
    assert r.status_code == 400 and "XX-99" in r.json()["error"]["message"]
    no_detail = {"decision_id": d["decision_id"], "actions": {"NJ-01": "not_applied"}}
    assert client.post("/v1/feedback", json=no_detail, headers=A).status_code == 400
    r = client.post("/v1/feedback", json={"decision_id": "d-never"}, headers=A)
    assert r.status_code == 404 and r.json()["error"]["code"] == "DECISION_NOT_FOUND"


def test_bad_input_gets_a_4xx_naming_what(client: TestClient) -> None:
    cases = [
        ({"subject_code": "91320100MA1W2K7D4X", **BID_A}, 400, "check"),
        (
            {"subject_code": ORG_BLACK, "step": "procurment.bid", "region": "320100"},
            400,
            "procurement.bid",
        ),
        ({"subject_code": ORG_BLACK, "step": "procurement.bid", "region": "32010"}, 400, "region"),
        ({"subject_code": ORG_BLACK, **BID_A, "extra": 1}, 400, "extra"),
        ({"step": "procurement.bid", "region": "320100"}, 400, "subject_code"),
    ]
    for body, status, word in cases:
        r = client.post("/v1/check", json=body, headers=A)
        assert r.status_code == status, (body, r.text)
        assert set(r.json()) == {"error"}
        assert word in r.json()["error"]["message"], r.json()
    r = client.post(
        "/v1/check", content=b"{not json", headers={**A, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    r = client.get("/v1/check", headers=A)
    assert r.status_code == 405 and r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    r = client.get("/v2/nothing", headers=A)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


def test_an_id_number_is_never_shown_whole(client: TestClient) -> None:
    person = "11010519491231002X"  # GB 11643 example number
    r = client.post("/v1/check", json={"subject_code": person, **BID_A}, headers=A)
    assert person not in r.text
    rows = client.post(
        "/v1/screen", json={"codes": [person, person[:-1] + "9"], **BID_A}, headers=A
    )
    assert person not in rows.text and person[:-1] + "9" not in rows.text


def test_bodies_over_the_limit_are_413_before_they_are_read(client: TestClient) -> None:
    huge = json.dumps({"codes": [ORG_CLEAN] * 70_000, **BID_A})
    assert len(huge) > 1024 * 1024
    r = client.post("/v1/screen", content=huge, headers={**A, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_screen_over_max_screen_codes_is_413(client: TestClient, service: Service) -> None:
    n = service.config.server.max_screen_codes + 1
    r = client.post("/v1/screen", json={"codes": [ORG_CLEAN] * n, **BID_A}, headers=A)
    assert r.status_code == 413


def test_screening_streams_rows_in_input_order_across_blocks(client: TestClient) -> None:
    codes = [ORG_CLEAN, ORG_BLACK, "not-a-code"] * 200  # 600 rows: two blocks of 500
    r = client.post(
        "/v1/screen",
        json={"codes": codes, **BID_A},
        headers={**A, "Accept": "application/x-ndjson"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    rows, summary = lines[:-1], lines[-1]["summary"]
    assert [row["row"] for row in rows] == list(range(1, 601))
    assert [row["outcome"] for row in rows[:3]] == ["allow", "deny", "error"]
    assert summary == {
        "rows": 600,
        "by_outcome": {"allow": 200, "deny": 200, "error": 200},
        "unverified": 0,
    }
    plain = client.post("/v1/screen", json={"codes": codes, **BID_A}, headers=A).json()
    assert [row["outcome"] for row in plain["rows"]] == [row["outcome"] for row in rows]


def test_a_region_without_a_measure_list_is_not_a_5xx(tmp_path, platform_server) -> None:  # type: ignore[no-untyped-def]
    from server_helpers import write_layout

    from creditguard.server import create_app, load_service_config

    layout = write_layout(tmp_path, platform_server.url)
    text = layout.service_file.read_text(encoding="utf-8").replace(
        'regions = ["320500"]', 'regions = ["320500", "330100"]'
    )
    layout.service_file.write_text(text, encoding="utf-8")
    service = Service.from_config(load_service_config(layout.service_file))
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        r = c.post(
            "/v1/check",
            json={"subject_code": ORG_CLEAN, "step": "procurement.bid", "region": "330100"},
            headers=B,
        )
        assert 400 <= r.status_code < 500 and "330100" in r.json()["error"]["message"]
        ready = c.get("/readyz", headers=bearer(TOKEN_MON))
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"


def test_metrics_show_checks_latency_breakers_and_outbox(client: TestClient) -> None:
    check(client, ORG_BLACK, A, BID_A)
    text = client.get("/metrics", headers=bearer(TOKEN_MON)).text
    for needle in (
        'creditguard_checks_total{outcome="deny",unit="320100-CG",verification="verified"} 1.0',
        'creditguard_request_seconds_count{endpoint="check"} 1.0',
        'creditguard_breaker_state{source="platform",unit="320100-CG"} 0.0',
        'creditguard_outbox_backlog{unit="320100-CG"}',
        'creditguard_outbox_dead_letters{unit="320100-CG"} 0.0',
    ):
        assert needle in text, needle
