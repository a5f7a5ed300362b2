"""A request that outlives ``[server] request_timeout_s`` is answered 503 UNAVAILABLE, never hangs."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from server_helpers import ORG_BLACK, ORG_CLEAN, TOKEN_A, TOKEN_MON, bearer, write_layout

from creditguard.server import Service, create_app, load_service_config
from creditguard.testing import Fault, ReferencePlatform, RunningServer

A = bearer(TOKEN_A)
BID_A = {"step": "procurement.bid", "region": "320100"}


def test_a_check_slower_than_the_request_timeout_is_503_unavailable(
    tmp_path: Path, platform_server: RunningServer, platform: ReferencePlatform
) -> None:
    # The platform answers in 1.5 s: inside the guard's own 2 s deadline, outside the 0.3 s
    # request timeout, so it is the service's timeout that answers.
    layout = write_layout(tmp_path, platform_server.url, request_timeout_s=0.3)
    service = Service.from_config(load_service_config(layout.service_file))
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        with platform.inject(Fault.latency(1.5, path="/v1/subjects")):
            r = c.post("/v1/check", json={"subject_code": ORG_CLEAN, **BID_A}, headers=A)
        assert r.status_code == 503, r.text
        err = r.json()["error"]
        assert err["code"] == "UNAVAILABLE" and "0.3 s" in err["message"]
        assert err["request_id"] == r.headers["X-Request-Id"]
        # the service still answers afterwards, and the timeout was counted
        ok = c.post("/v1/check", json={"subject_code": ORG_BLACK, **BID_A}, headers=A)
        assert ok.status_code == 200 and ok.json()["outcome"] == "deny"
        metrics = c.get("/metrics", headers=bearer(TOKEN_MON)).text
        assert 'creditguard_request_errors_total{code="UNAVAILABLE",status="503"} 1.0' in metrics
