"""Cases awaiting feedback, and overdue ones, in ``GET /v1/outbox`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_helpers import ORG_BLACK, TOKEN_A, TOKEN_B, TOKEN_MON, bearer, write_layout

from creditguard.server import Service, create_app, load_service_config
from creditguard.testing import RunningServer

A, B = bearer(TOKEN_A), bearer(TOKEN_B)
BID_A = {"step": "procurement.bid", "region": "320100"}


def _service(tmp_path: Path, url: str, due_s: float | None) -> TestClient:
    layout = write_layout(tmp_path, url, deliver=False)
    if due_s is not None:
        unit_a = layout.root / "unit-a.toml"
        text = unit_a.read_text(encoding="utf-8")
        unit_a.write_text(
            text.replace("[outbox]\n", f"[outbox]\nfeedback_due_s = {due_s}\n"), encoding="utf-8"
        )
    service = Service.from_config(load_service_config(layout.service_file))
    return TestClient(create_app(service), raise_server_exceptions=False)


@pytest.fixture
def overdue_client(tmp_path: Path, platform_server: RunningServer) -> Iterator[TestClient]:
    # Due after a microsecond: a case is overdue as soon as it has been written.
    with _service(tmp_path, platform_server.url, 1e-6) as c:
        yield c


def _gauge(text: str, name: str, unit: str) -> float:
    prefix = f'{name}{{unit="{unit}"}} '
    (line,) = [ln for ln in text.splitlines() if ln.startswith(prefix)]
    return float(line[len(prefix) :])


def test_a_case_without_feedback_is_awaited_then_overdue_until_fed_back(
    overdue_client: TestClient,
) -> None:
    c = overdue_client
    d = c.post("/v1/check", json={"subject_code": ORG_BLACK, **BID_A}, headers=A).json()
    st = c.get("/v1/outbox", headers=A).json()
    assert (st["awaiting_feedback"], st["feedback_overdue"], st["feedback_due_s"]) == (1, 1, 1e-6)
    metrics = c.get("/metrics", headers=bearer(TOKEN_MON)).text
    assert _gauge(metrics, "creditguard_feedback_awaited", "320100-CG") == 1.0
    assert _gauge(metrics, "creditguard_feedback_overdue", "320100-CG") == 1.0
    assert _gauge(metrics, "creditguard_feedback_overdue", "320500-SZ") == 0.0
    # unit B sees its own outbox only
    other = c.get("/v1/outbox", headers=B).json()
    assert (other["awaiting_feedback"], other["feedback_overdue"]) == (0, 0)

    r = c.post("/v1/feedback", json={"feedback_token": d["feedback_token"]}, headers=A)
    assert r.status_code == 201, r.text
    st = c.get("/v1/outbox", headers=A).json()
    assert (st["awaiting_feedback"], st["feedback_overdue"]) == (0, 0)
    metrics = c.get("/metrics", headers=bearer(TOKEN_MON)).text
    assert _gauge(metrics, "creditguard_feedback_overdue", "320100-CG") == 0.0


def test_a_fresh_case_is_awaited_not_overdue(
    tmp_path: Path, platform_server: RunningServer
) -> None:
    with _service(tmp_path, platform_server.url, None) as c:  # the default: a day
        c.post("/v1/check", json={"subject_code": ORG_BLACK, **BID_A}, headers=A)
        st = c.get("/v1/outbox", headers=A).json()
    assert (st["awaiting_feedback"], st["feedback_overdue"], st["feedback_due_s"]) == (
        1,
        0,
        86400.0,
    )
