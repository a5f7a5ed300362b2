"""Webhook receiver: signature, timestamp window, nonce, store before 2xx (spec §7.2)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest

from creditguard.signing import signed_headers
from creditguard.sync import SyncState
from creditguard.webhook import make_asgi_app, make_wsgi_app, receive

SECRETS = {"platform-key": "s3cr3t-value"}
EVENT = {
    "event_id": "E-000981",
    "type": "record.removed",
    "subject_code": "91320100MA1W2K7D41",
    "record_id": "R1",
}
PATH = "/hooks/creditguard"


def signed(
    body: bytes, *, now: float | None = None, secret: str = "s3cr3t-value", path: str = PATH
) -> dict[str, str]:
    return signed_headers("platform-key", secret, "POST", path, "", body, now=now)


@pytest.fixture
def store(tmp_path: Path) -> SyncState:
    return SyncState(tmp_path / "state.db")


def call(store: SyncState, headers: dict[str, str], body: bytes, **kw: Any) -> tuple[int, Any]:
    status, payload = receive(
        headers, body, method="POST", path=PATH, secrets=SECRETS, store=store, **kw
    )
    return status, json.loads(payload)


def test_good_event_is_stored_then_answered(store: SyncState) -> None:
    body = json.dumps(EVENT).encode()
    seen: list[str] = []
    status, payload = call(
        store, signed(body), body, on_stored=lambda e: seen.append(e["event_id"])
    )
    assert (status, payload["status"]) == (200, "stored")
    assert store.stored_events() == [EVENT] and seen == ["E-000981"]
    status, payload = call(store, signed(body), body, on_stored=lambda e: seen.append("again"))
    assert (status, payload["status"]) == (200, "duplicate") and seen == ["E-000981"]


def test_refusals_are_logged_without_the_secret(
    store: SyncState, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(EVENT).encode()
    caplog.set_level(logging.WARNING, "creditguard.webhook")
    bad_sig = call(store, signed(body, secret="wrong"), body)
    stale = call(store, signed(body, now=time.time() - 301), body)
    headers = signed(body)
    first = call(store, headers, body)
    replay = call(store, headers, body)
    tampered = call(store, signed(body), body.replace(b"R1", b"R2"))
    assert [bad_sig[0], stale[0], first[0], replay[0], tampered[0]] == [401, 401, 200, 401, 401]
    assert "signature does not match" in bad_sig[1]["error"]["message"]
    assert "away from the server clock" in stale[1]["error"]["message"]
    assert "nonce was already used" in replay[1]["error"]["message"]
    assert len(store.stored_events()) == 1
    assert "s3cr3t-value" not in caplog.text and caplog.text.count("refused") == 4


def test_malformed_requests(store: SyncState) -> None:
    assert call(store, signed(b"[1]"), b"[1]")[0] == 400
    assert receive({}, b"", method="GET", path=PATH, secrets=SECRETS, store=store)[0] == 405
    assert call(store, {}, b"{}")[0] == 401


@pytest.fixture
def wsgi_url(store: SyncState) -> Iterator[str]:
    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server: WSGIServer = make_server(
        "127.0.0.1", 0, make_wsgi_app(secrets=SECRETS, store=store), handler_class=Quiet
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.integration
def test_wsgi_app_over_loopback(wsgi_url: str, store: SyncState) -> None:
    body = json.dumps(EVENT).encode()
    with httpx.Client(base_url=wsgi_url, timeout=5) as client:
        ok = client.post(PATH, content=body, headers=signed(body))
        bad = client.post(PATH, content=body, headers=signed(body, secret="nope"))
    assert ok.status_code == 200 and ok.json()["status"] == "stored"
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "UNAUTHENTICATED"
    assert store.stored_events() == [EVENT]


@pytest.mark.anyio
async def test_asgi_app(store: SyncState) -> None:
    app = make_asgi_app(secrets=SECRETS, store=store)
    body = json.dumps(EVENT).encode()
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as client:
        ok = await client.post(PATH, content=body, headers=signed(body))
        dup = await client.post(PATH, content=body, headers=signed(body))
        bad = await client.post(PATH, content=body, headers=signed(body, now=time.time() - 1000))
    assert (ok.status_code, dup.json()["status"], bad.status_code) == (200, "duplicate", 401)
