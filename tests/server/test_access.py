"""Every endpoint without credentials, with wrong ones, and with another unit's; signed requests."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import (
    ORG_BLACK,
    SIGN_KEY_A,
    SIGN_SECRET_A,
    TOKEN_A,
    TOKEN_B,
    TOKEN_MON,
    UNIT_A,
    UNIT_B,
    WRONG_TOKEN,
    bearer,
)

from creditguard.testing import SigningAuth

CHECK_A = {"subject_code": ORG_BLACK, "step": "procurement.bid", "region": "320100"}
SCREEN_A = {"codes": [ORG_BLACK], "step": "procurement.bid", "region": "320100"}

# (method, path, body) of every endpoint that needs a credential
PROTECTED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/check", CHECK_A),
    ("POST", "/v1/screen", SCREEN_A),
    ("POST", "/v1/feedback", {"decision_id": "d-unknown"}),
    ("GET", "/v1/outbox", None),
    ("GET", "/metrics", None),
]
ALL = [*PROTECTED, ("GET", "/healthz", None), ("GET", "/readyz", None)]


def call(client: TestClient, method: str, path: str, body: Any, **kw: Any) -> Any:
    return client.request(method, path, json=body, **kw)


def refusals(client: TestClient, reason: str) -> float:
    text = client.get("/metrics", headers=bearer(TOKEN_MON)).text
    for line in text.splitlines():
        if line.startswith(f'creditguard_refusals_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_no_credentials_is_401_in_the_error_shape(
    client: TestClient, method: str, path: str, body: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before = refusals(client, "no_credentials")
    with caplog.at_level(logging.WARNING, logger="creditguard.server"):
        r = call(client, method, path, body)
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == "UNAUTHENTICATED" and err["request_id"] == r.headers["X-Request-Id"]
    assert refusals(client, "no_credentials") == before + 1
    assert any("refused" in m and path in m for m in caplog.messages)


@pytest.mark.parametrize(("method", "path", "body"), ALL)
def test_a_wrong_token_is_401_everywhere(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    before = refusals(client, "unknown_token")
    r = call(client, method, path, body, headers=bearer(WRONG_TOKEN))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHENTICATED"
    assert WRONG_TOKEN not in r.text
    assert refusals(client, "unknown_token") == before + 1


@pytest.mark.parametrize(("method", "path", "body"), ALL)
def test_a_malformed_authorization_header_is_401(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    r = call(client, method, path, body, headers={"Authorization": f"Basic {TOKEN_A}"})
    assert r.status_code == 401


def test_another_units_credential_may_not_check_this_units_region(client: TestClient) -> None:
    before = refusals(client, "region")
    for path, body in (("/v1/check", CHECK_A), ("/v1/screen", SCREEN_A)):
        r = client.post(path, json=body, headers=bearer(TOKEN_B))
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "PERMISSION_DENIED"
        assert UNIT_B in r.json()["error"]["message"]
    assert refusals(client, "region") == before + 2


def test_a_unit_may_check_only_its_steps(client: TestClient) -> None:
    body = {"subject_code": ORG_BLACK, "step": "licensing.approve", "region": "320500"}
    r = client.post("/v1/check", json=body, headers=bearer(TOKEN_B))
    assert r.status_code == 403
    assert "step licensing.approve" in r.json()["error"]["message"]
    # ... while unit A, configured for licensing.*, may
    body_a = {**body, "region": "320100"}
    assert client.post("/v1/check", json=body_a, headers=bearer(TOKEN_A)).status_code == 200


def test_another_units_credential_may_not_feed_back_this_units_decision(
    client: TestClient,
) -> None:
    made = client.post("/v1/check", json=CHECK_A, headers=bearer(TOKEN_A)).json()
    before = refusals(client, "foreign_decision")
    r = client.post(
        "/v1/feedback", json={"decision_id": made["decision_id"]}, headers=bearer(TOKEN_B)
    )
    assert r.status_code == 403
    assert refusals(client, "foreign_decision") == before + 1
    # nothing was written to either outbox by the refused call
    for token in (TOKEN_A, TOKEN_B):
        shown = client.get("/v1/outbox", headers=bearer(token)).json()
        assert shown["pending_by_kind"].get("feedback", 0) == 0


def test_the_outbox_shown_is_always_the_callers_own(client: TestClient) -> None:
    client.post("/v1/check", json=CHECK_A, headers=bearer(TOKEN_A))  # opens a case in A's outbox
    a = client.get("/v1/outbox", headers=bearer(TOKEN_A)).json()
    b = client.get("/v1/outbox", headers=bearer(TOKEN_B)).json()
    assert (a["unit_code"], b["unit_code"]) == (UNIT_A, UNIT_B)
    assert a["pending"] + a["delivered"] + a["in_flight"] >= 1
    assert b["pending"] + b["delivered"] + b["in_flight"] == 0


def test_metrics_and_readiness_details_are_for_monitors_only(client: TestClient) -> None:
    r = client.get("/metrics", headers=bearer(TOKEN_A))
    assert r.status_code == 403
    ready = client.get("/readyz", headers=bearer(TOKEN_A)).json()
    assert ready["units"] == []
    anonymous = client.get("/readyz").json()
    assert anonymous["units"] == [] and anonymous["status"] == "healthy"
    detailed = client.get("/readyz", headers=bearer(TOKEN_MON)).json()
    assert {u["unit_code"] for u in detailed["units"]} == {UNIT_A, UNIT_B}
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_monitor_credential_may_not_check(client: TestClient) -> None:
    r = client.post("/v1/check", json=CHECK_A, headers=bearer(TOKEN_MON))
    assert r.status_code == 403


def test_signed_requests_use_the_spec_scheme(client: TestClient) -> None:
    auth = SigningAuth(SIGN_KEY_A, SIGN_SECRET_A)  # the spec-only signer of the testing kit
    r = client.post("/v1/check", json=CHECK_A, auth=auth)
    assert r.status_code == 200, r.text
    assert r.json()["unit_code"] == UNIT_A
    assert client.get("/v1/outbox", auth=auth).json()["unit_code"] == UNIT_A


def test_a_signature_over_another_body_a_wrong_secret_or_a_replay_is_refused(
    client: TestClient,
) -> None:
    signed = client.build_request("POST", "/v1/check", json=CHECK_A)
    auth = SigningAuth(SIGN_KEY_A, SIGN_SECRET_A)
    request = next(auth.auth_flow(signed))
    first = client.send(request)
    assert first.status_code == 200
    replay = client.send(request)  # same nonce within 15 minutes
    assert replay.status_code == 401
    assert "nonce" in replay.json()["error"]["message"]

    tampered = client.build_request("POST", "/v1/check", json=CHECK_A)
    tampered = next(SigningAuth(SIGN_KEY_A, SIGN_SECRET_A).auth_flow(tampered))
    other = {**CHECK_A, "region": "320500"}
    forged = client.build_request(
        "POST",
        "/v1/check",
        json=other,
        headers={k: v for k, v in tampered.headers.items() if k.lower().startswith("x-cg-")},
    )
    assert client.send(forged).status_code == 401

    wrong = SigningAuth(SIGN_KEY_A, "not-the-secret-000000")
    assert client.post("/v1/check", json=CHECK_A, auth=wrong).status_code == 401
    unknown = SigningAuth("nobody", SIGN_SECRET_A)
    assert client.post("/v1/check", json=CHECK_A, auth=unknown).status_code == 401
