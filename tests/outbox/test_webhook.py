"""Webhook receiver: signature, timestamp window, nonce, store before 2xx (spec §7.2).

Requests are signed with the testing kit's independent spec §2 implementation,
not with the adapter's signer, so a canonicalisation mistake shared by the
adapter's signer and verifier cannot pass here.
"""

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
from creditguard_platform import PlatformChannel
from creditguard_platform.plugin import make_channel

from creditguard.errors import ConfigError, SecretMissing
from creditguard.push_feed import FeedState
from creditguard.testing.auth import spec_signature
from creditguard.webhook import make_asgi_app, make_wsgi_app, receive

CHANNEL = PlatformChannel(
    "platform", "https://credit.example.gov.cn/api", "platform-key", "s3cr3t-value"
)
EVENT = {
    "event_id": "E-000981",
    "type": "record.removed",
    "subject_code": "91320100MA1W2K7D41",
    "record_id": "R1",
}
PATH = "/hooks/creditguard"


_nonces = iter(range(10**6))


def signed(
    body: bytes,
    *,
    now: float | None = None,
    secret: str = "s3cr3t-value",
    path: str = PATH,
    timestamp: str | None = None,
) -> dict[str, str]:
    ts = timestamp if timestamp is not None else str(int((now or time.time()) * 1000))
    nonce = f"N{next(_nonces):023d}"
    return {
        "X-CG-AppKey": "platform-key",
        "X-CG-Timestamp": ts,
        "X-CG-Nonce": nonce,
        "X-CG-Signature": spec_signature(secret, "POST", path, "", ts, nonce, body),
    }


def stored_dicts(store: FeedState) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.to_dict().items() if k in EVENT} for e in store.stored_events()]


@pytest.fixture
def store(tmp_path: Path) -> FeedState:
    return FeedState(tmp_path / "state.db")


def call(store: FeedState, headers: dict[str, str], body: bytes, **kw: Any) -> tuple[int, Any]:
    status, payload = receive(
        headers,
        body,
        method="POST",
        path=PATH,
        channel=kw.pop("channel", CHANNEL),
        store=store,
        **kw,
    )
    return status, json.loads(payload)


def test_good_event_is_stored_then_answered(store: FeedState) -> None:
    body = json.dumps(EVENT).encode()
    seen: list[str] = []
    status, payload = call(store, signed(body), body, on_stored=lambda e: seen.append(e.event_id))
    assert (status, payload["status"]) == (200, "stored")
    assert stored_dicts(store) == [EVENT] and seen == ["E-000981"]
    status, payload = call(store, signed(body), body, on_stored=lambda e: seen.append("again"))
    assert (status, payload["status"]) == (200, "duplicate") and seen == ["E-000981"]


def test_refusals_are_logged_without_the_secret(
    store: FeedState, caplog: pytest.LogCaptureFixture
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
    assert "away from this clock" in stale[1]["error"]["message"]
    assert "nonce was already used" in replay[1]["error"]["message"]
    assert len(store.stored_events()) == 1
    assert "s3cr3t-value" not in caplog.text and caplog.text.count("refused") == 4


def test_malformed_requests(store: FeedState) -> None:
    assert call(store, signed(b"[1]"), b"[1]")[0] == 400
    assert receive({}, b"", method="GET", path=PATH, channel=CHANNEL, store=store)[0] == 405
    assert call(store, {}, b"{}")[0] == 401


@pytest.mark.parametrize("timestamp", ["²", "1" * 400, "-1", "１７６７２２５６００００", ""])
def test_odd_timestamps_are_refused_not_crashes(store: FeedState, timestamp: str) -> None:
    body = json.dumps(EVENT).encode()
    status, payload = call(store, signed(body, timestamp=timestamp), body)
    assert status == 401 and payload["error"]["code"] == "UNAUTHENTICATED"
    assert store.stored_events() == []


def test_a_replay_is_refused_across_receivers_sharing_the_store(store: FeedState) -> None:
    # Two processes (gunicorn workers) each with their own channel and nonce memory.
    body = json.dumps(EVENT).encode()
    headers = signed(body)
    other = PlatformChannel("platform", "https://x.test", "platform-key", "s3cr3t-value")
    assert call(store, headers, body)[0] == 200
    status, payload = call(store, headers, body, channel=other)
    assert status == 401 and "replayed" in payload["error"]["message"]


def test_forged_push_is_refused(store: FeedState) -> None:
    # A forger without the secret (signing with an empty key, or a guessed one).
    body = json.dumps(EVENT).encode()
    assert call(store, signed(body, secret=""), body)[0] == 401
    assert call(store, signed(body, secret="guess"), body)[0] == 401
    assert store.stored_events() == []


@pytest.mark.parametrize("secret", ["", "   "])
def test_a_receiver_without_a_secret_cannot_be_built(secret: str) -> None:
    with pytest.raises(SecretMissing):
        PlatformChannel("platform", "https://x.test", "platform-key", secret)


def test_a_receiver_from_config_refuses_an_unset_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CG_TEST_UNSET_SECRET", raising=False)
    with pytest.raises(SecretMissing, match="CG_TEST_UNSET_SECRET"):
        make_channel(
            name="p", base_url="https://x.test", app_key="k", secret_env="CG_TEST_UNSET_SECRET"
        )
    monkeypatch.setenv("CG_TEST_UNSET_SECRET", "")
    with pytest.raises(SecretMissing):
        make_channel(
            name="p", base_url="https://x.test", app_key="k", secret_env="CG_TEST_UNSET_SECRET"
        )


def test_apps_refuse_to_be_built_without_a_channel(store: FeedState) -> None:
    with pytest.raises(ConfigError):
        make_wsgi_app(channel=None, store=store)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        make_asgi_app(channel=None, store=store)  # type: ignore[arg-type]


@pytest.fixture
def wsgi_url(store: FeedState) -> Iterator[str]:
    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server: WSGIServer = make_server(
        "127.0.0.1", 0, make_wsgi_app(channel=CHANNEL, store=store), handler_class=Quiet
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.integration
def test_wsgi_app_over_loopback(wsgi_url: str, store: FeedState) -> None:
    body = json.dumps(EVENT).encode()
    with httpx.Client(base_url=wsgi_url, timeout=5) as client:
        ok = client.post(PATH, content=body, headers=signed(body))
        bad = client.post(PATH, content=body, headers=signed(body, secret="nope"))
    assert ok.status_code == 200 and ok.json()["status"] == "stored"
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "UNAUTHENTICATED"
    assert stored_dicts(store) == [EVENT]


@pytest.mark.anyio
async def test_asgi_app(store: FeedState) -> None:
    app = make_asgi_app(channel=CHANNEL, store=store)
    body = json.dumps(EVENT).encode()
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as client:
        ok = await client.post(PATH, content=body, headers=signed(body))
        dup = await client.post(PATH, content=body, headers=signed(body))
        bad = await client.post(PATH, content=body, headers=signed(body, now=time.time() - 1000))
    assert (ok.status_code, dup.json()["status"], bad.status_code) == (200, "duplicate", 401)


def test_the_example_app_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text(
        '[guard]\nunit_code = "320100-CG"\ndata_dir = "var"\n\n'
        '[[sources]]\nname = "jiangsu"\ntype = "platform"\n'
        'base_url = "https://credit.example.gov.cn/api"\napp_key = "k"\n'
        'secret_env = "CG_TEST_WEBHOOK_SECRET"\n',
        encoding="utf-8",
    )
    env = {"PATH": "/usr/bin:/bin", "CREDITGUARD_CONFIG": str(cfg), "CG_TEST_WEBHOOK_SECRET": ""}
    done = subprocess.run(
        [sys.executable, str(root / "examples" / "webhook_app.py"), "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "SecretMissing" in done.stderr and "CG_TEST_WEBHOOK_SECRET" in done.stderr
