"""Feedback after a restart, from another worker: the check's sealed feedback token."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from fastapi.testclient import TestClient
from server_helpers import ORG_BLACK, ORG_CLEAN, TOKEN_A, TOKEN_B, bearer, write_layout

from creditguard.server import Service, create_app, load_service_config
from creditguard.server.tokens import PREFIX, FeedbackTokens
from creditguard.testing import ReferencePlatform, RunningServer

A, B = bearer(TOKEN_A), bearer(TOKEN_B)
BID_A = {"step": "procurement.bid", "region": "320100"}
KEY = "feedback-key-shared-by-every-worker-0001"


def _client(service_file: Path) -> TestClient:
    service = Service.from_config(load_service_config(service_file))
    return TestClient(create_app(service), raise_server_exceptions=False)


def test_a_token_from_one_process_is_fed_back_by_another_after_a_restart(
    tmp_path: Path, platform_server: RunningServer, platform: ReferencePlatform
) -> None:
    layout = write_layout(tmp_path, platform_server.url, feedback_key=KEY)
    with _client(layout.service_file) as first:
        d = first.post("/v1/check", json={"subject_code": ORG_BLACK, **BID_A}, headers=A).json()
        clean = first.post("/v1/check", json={"subject_code": ORG_CLEAN, **BID_A}, headers=A)
    assert d["feedback_token"].startswith(PREFIX)
    assert clean.json()["feedback_token"] is None  # nothing to feed back for an allow
    # the first process is gone; a second one (another worker, or after a restart) takes it
    with _client(layout.service_file) as second:
        by_id = second.post("/v1/feedback", json={"decision_id": d["decision_id"]}, headers=A)
        assert by_id.status_code == 404 and "feedback_token" in by_id.json()["error"]["message"]
        r = second.post(
            "/v1/feedback",
            json={
                "feedback_token": d["feedback_token"],
                "actions": {"NJ-01": "denied"},
                "workflow_ref": "NJ-8",
            },
            headers=A,
        )
        assert r.status_code == 201, r.text
        assert r.json()["decision_id"] == d["decision_id"]
        assert [i["kind"] for i in r.json()["items"]] == ["feedback"]
    # closing the second service drained its outbox to the platform
    got = platform.feedback_for(ORG_BLACK)
    assert [(f["measure_code"], f["action"], f["workflow_ref"]) for f in got] == [
        ("NJ-01", "denied", "NJ-8")
    ]


def test_a_token_is_refused_when_altered_foreign_expired_or_sealed_with_another_key(
    tmp_path: Path, platform_server: RunningServer
) -> None:
    layout = write_layout(tmp_path, platform_server.url, feedback_key=KEY)
    service = Service.from_config(load_service_config(layout.service_file))
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        d = c.post("/v1/check", json={"subject_code": ORG_BLACK, **BID_A}, headers=A).json()
        token = d["feedback_token"]
        flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
        for bad in (flipped, "cgf1.AAAA", "not-a-token", PREFIX + "!!!"):
            r = c.post("/v1/feedback", json={"feedback_token": bad}, headers=A)
            assert r.status_code == 400, (bad, r.text)
            assert "feedback_token" in r.json()["error"]["message"]
        r = c.post("/v1/feedback", json={"feedback_token": token}, headers=B)
        assert r.status_code == 403 and r.json()["error"]["code"] == "PERMISSION_DENIED"
        r = c.post(
            "/v1/feedback", json={"feedback_token": token, "decision_id": "d-other"}, headers=A
        )
        assert r.status_code == 400
        r = c.post("/v1/feedback", json={"actions": {}}, headers=A)
        assert r.status_code == 400 and "feedback_token" in r.json()["error"]["message"]
        # a token older than feedback_token_days
        decision = service.tokens.open(token).decision
        old = service.tokens.issue("320100-CG", decision, now=time.time() - 31 * 86400)
        r = c.post("/v1/feedback", json={"feedback_token": old}, headers=A)
        assert r.status_code == 400 and "days" in r.json()["error"]["message"]
        # nothing was written by any refused feedback
        assert (
            service.units["320100-CG"]
            .guard.cases.outbox.status(now=time.time())
            .by_kind.get("feedback", 0)
            == 0
        )
    other = FeedbackTokens("another-key-another-service-000000001", max_age_s=86400)
    assert other.issue("320100-CG", decision) != token
    with _client(layout.service_file) as c2:
        r = c2.post(
            "/v1/feedback",
            json={"feedback_token": other.issue("320100-CG", decision)},
            headers=A,
        )
        assert r.status_code == 400 and "not issued with this service" in r.text


def test_without_a_feedback_key_tokens_die_with_the_process(
    tmp_path: Path, platform_server: RunningServer
) -> None:
    layout = write_layout(tmp_path, platform_server.url)
    with _client(layout.service_file) as first:
        d = first.post("/v1/check", json={"subject_code": ORG_BLACK, **BID_A}, headers=A).json()
    with _client(layout.service_file) as second:
        r = second.post("/v1/feedback", json={"feedback_token": d["feedback_token"]}, headers=A)
    assert r.status_code == 400 and "feedback_key_env" in r.json()["error"]["message"]


def test_the_token_does_not_show_the_subject_or_its_records(
    tmp_path: Path, platform_server: RunningServer
) -> None:
    layout = write_layout(tmp_path, platform_server.url, feedback_key=KEY)
    with _client(layout.service_file) as c:
        d = c.post("/v1/check", json={"subject_code": ORG_BLACK, **BID_A}, headers=A).json()
        token = d["feedback_token"]
        body = token[len(PREFIX) :]
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        for secret in (ORG_BLACK, d["records"][0]["record_id"]):
            assert secret not in token and secret.encode() not in raw


def test_a_short_feedback_key_stops_the_service(
    tmp_path: Path, platform_server: RunningServer
) -> None:
    import pytest

    from creditguard.errors import ConfigError

    layout = write_layout(tmp_path, platform_server.url, feedback_key="short")
    with pytest.raises(ConfigError, match="feedback_key"):
        Service.from_config(load_service_config(layout.service_file))
