"""Injected faults, in-process (httpx.MockTransport) and over a real loopback server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from kit_helpers import ORG

from creditguard.testing import Fault, ReferencePlatform, RunningServer, SigningAuth, serve

EIGHT_MIB = 8 * 1024 * 1024


def _read_limited(resp: httpx.Response, limit: int) -> int:
    """Read like a client with a size limit: stop once over ``limit``; return bytes read."""
    seen = 0
    for chunk in resp.iter_bytes():
        seen += len(chunk)
        if seen > limit:
            break
    return seen


# --- matching and scheduling ------------------------------------------------------------


def test_fault_counts_down_and_then_stops(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    platform.inject(Fault.status(503, times=2))
    assert [client.get("/v1/pushes").status_code for _ in range(3)] == [503, 503, 200]
    assert len(platform.faults) == 0


def test_fault_matches_path_prefix_and_method(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    platform.add_record(ORG)
    platform.inject(Fault.status(500, path="/v1/subjects", method="get"))
    assert client.get(f"/v1/subjects/{ORG}/records").status_code == 500
    assert client.post("/v1/subjects:batch-records", json={"codes": [ORG]}).status_code == 200
    assert client.get("/v1/pushes").status_code == 200


def test_injection_as_context_manager(platform: ReferencePlatform, client: httpx.Client) -> None:
    with platform.inject(Fault.status(504)):
        assert client.get("/v1/pushes").status_code == 504
        assert client.get("/v1/pushes").status_code == 504
    assert client.get("/v1/pushes").status_code == 200


def test_first_disruptive_fault_wins_and_latencies_add(
    platform: ReferencePlatform, client: httpx.Client
) -> None:
    first, second = Fault.status(500, times=1), Fault.status(502, times=1)
    platform.inject(Fault.latency(0.05, times=1), Fault.latency(0.05, times=1), first, second)
    started = time.monotonic()
    assert client.get("/v1/pushes").status_code == 500
    assert time.monotonic() - started >= 0.1
    assert client.get("/v1/pushes").status_code == 502


def test_faulted_requests_are_logged(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.inject(Fault.reset(times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/v1/pushes")
    [entry] = platform.requests_log
    assert (entry.fault, entry.status) == ("reset", None)


# --- each fault in-process --------------------------------------------------------------


def test_latency_in_process(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.inject(Fault.latency(0.15, times=1))
    started = time.monotonic()
    assert client.get("/v1/pushes").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_platform_wide_latency(client: httpx.Client, platform: ReferencePlatform) -> None:
    platform.latency = 0.05
    started = time.monotonic()
    client.get("/v1/pushes")
    client.get("/v1/pushes")
    assert time.monotonic() - started >= 0.1


def test_rate_limited_with_retry_after(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.inject(Fault.rate_limited(retry_after=7, times=1))
    resp = client.get("/v1/pushes")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    assert resp.json()["error"]["code"] == "RATE_LIMITED"


@pytest.mark.parametrize(
    ("status", "code"), [(400, "INVALID_ARGUMENT"), (500, "INTERNAL"), (503, "UNAVAILABLE")]
)
def test_status_fault_uses_spec_error_shape(
    platform: ReferencePlatform, client: httpx.Client, status: int, code: str
) -> None:
    platform.inject(Fault.status(status, times=1))
    resp = client.get("/v1/pushes")
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code


def test_status_fault_with_custom_body(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.inject(Fault.status(503, body='{"oops": true}', retry_after=3, times=1))
    resp = client.get("/v1/pushes")
    assert (resp.status_code, resp.text, resp.headers["Retry-After"]) == (
        503,
        '{"oops": true}',
        "3",
    )


def test_garbage_in_process(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.inject(Fault.garbage(times=1))
    resp = client.get("/v1/pushes")
    assert resp.status_code == 502
    assert resp.headers["Content-Type"] == "text/html"
    assert resp.text.startswith("<html>")


def test_truncated_in_process(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.add_record(ORG)
    platform.inject(Fault.truncated(times=1))
    resp = client.get(f"/v1/subjects/{ORG}/records")
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        resp.json()


def test_drip_in_process(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.add_record(ORG)
    full = client.get(f"/v1/subjects/{ORG}/records").json()
    platform.inject(Fault.drip(4000, times=1))
    started = time.monotonic()
    resp = client.get(f"/v1/subjects/{ORG}/records")
    elapsed = time.monotonic() - started
    assert resp.json()["records"] == full["records"]
    assert elapsed >= len(resp.content) / 4000 * 0.8


def test_reset_in_process(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.inject(Fault.reset(times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/v1/pushes")
    assert client.get("/v1/pushes").status_code == 200


def test_oversize_in_process(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.inject(Fault.oversize(times=1))
    with client.stream("GET", "/v1/pushes") as resp:
        assert resp.status_code == 200
        assert _read_limited(resp, EIGHT_MIB) > EIGHT_MIB


def test_down_and_up_in_process(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.down()
    with pytest.raises(httpx.ConnectError):
        client.get("/v1/pushes")
    platform.up()
    assert client.get("/v1/pushes").status_code == 200


def test_down_for_a_while_comes_back(platform: ReferencePlatform, client: httpx.Client) -> None:
    platform.down(for_seconds=0.2)
    with pytest.raises(httpx.ConnectError):
        client.get("/v1/pushes")
    time.sleep(0.25)
    assert client.get("/v1/pushes").status_code == 200


# --- async transport ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_transport_answers_and_plays_faults(platform: ReferencePlatform) -> None:
    platform.add_record(ORG)
    auth = SigningAuth("test-key", "test-secret")
    transport = platform.async_mock_transport()
    async with httpx.AsyncClient(
        transport=transport, base_url="http://platform.test/api", auth=auth
    ) as client:
        ok = await client.get(f"/v1/subjects/{ORG}/records")
        assert ok.status_code == 200
        platform.inject(Fault.latency(0.1, times=1))
        started = time.monotonic()
        assert (await client.get("/v1/pushes")).status_code == 200
        assert time.monotonic() - started >= 0.1
        platform.inject(Fault.drip(5000, times=1))
        dripped = await client.get(f"/v1/subjects/{ORG}/records")
        assert dripped.json()["records"] == ok.json()["records"]
        platform.inject(Fault.oversize(times=1))
        async with client.stream("GET", "/v1/pushes") as resp:
            seen = 0
            async for chunk in resp.aiter_bytes():
                seen += len(chunk)
                if seen > EIGHT_MIB:
                    break
        assert seen > EIGHT_MIB
        platform.inject(Fault.reset(times=1))
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/v1/pushes")
        platform.down()
        with pytest.raises(httpx.ConnectError):
            await client.get("/v1/pushes")


# --- over loopback ------------------------------------------------------------------------


@pytest.fixture
def served(platform: ReferencePlatform) -> Iterator[RunningServer]:
    with serve(platform) as running:
        yield running


@pytest.fixture
def live(served: RunningServer) -> Iterator[httpx.Client]:
    auth = SigningAuth("test-key", "test-secret")
    with httpx.Client(base_url=served.url, auth=auth, timeout=5) as c:
        yield c


@pytest.mark.integration
def test_loopback_serves_signed_requests(
    platform: ReferencePlatform, served: RunningServer, live: httpx.Client
) -> None:
    assert served.url.startswith("http://127.0.0.1:") and served.url.endswith("/api")
    platform.add_record(ORG, list_kind="blacklist", domain="court_enforcement")
    resp = live.get(f"/v1/subjects/{ORG}/records")
    assert resp.status_code == 200
    assert resp.json()["records"][0]["list_name"] == "失信被执行人名单"
    assert (
        live.get(
            f"/v1/subjects/{ORG}/records", headers={"If-None-Match": resp.headers["ETag"]}
        ).status_code
        == 304
    )
    posted = live.post(
        "/v1/subjects:batch-records",
        json={"codes": [ORG]},
        headers={"Idempotency-Key": "unused-here"},
    )
    assert posted.json()["results"][0]["code"] == ORG


@pytest.mark.integration
def test_loopback_chunked_request_body(served: RunningServer, live: httpx.Client) -> None:
    body = json.dumps({"codes": [ORG]}).encode()
    resp = live.post("/v1/subjects:batch-records", content=iter([body[:5], body[5:]]))
    assert resp.status_code == 200
    assert resp.json()["not_found"] == [ORG]


@pytest.mark.integration
def test_loopback_status_and_retry_after(platform: ReferencePlatform, live: httpx.Client) -> None:
    platform.inject(Fault.rate_limited(retry_after=2, times=1))
    resp = live.get("/v1/pushes")
    assert (resp.status_code, resp.headers["Retry-After"]) == (429, "2")
    assert resp.json()["error"]["code"] == "RATE_LIMITED"
    assert live.get("/v1/pushes").status_code == 200


@pytest.mark.integration
def test_loopback_garbage(platform: ReferencePlatform, live: httpx.Client) -> None:
    platform.inject(Fault.garbage(times=1))
    resp = live.get("/v1/pushes")
    assert resp.status_code == 502
    assert "Bad Gateway" in resp.text


@pytest.mark.integration
def test_loopback_truncated_body_is_a_protocol_error(
    platform: ReferencePlatform, live: httpx.Client
) -> None:
    platform.add_record(ORG)
    platform.inject(Fault.truncated(times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        live.get(f"/v1/subjects/{ORG}/records")
    assert live.get(f"/v1/subjects/{ORG}/records").status_code == 200


@pytest.mark.integration
def test_loopback_drip(platform: ReferencePlatform, live: httpx.Client) -> None:
    platform.add_record(ORG)
    platform.inject(Fault.drip(2000, times=1))
    started = time.monotonic()
    resp = live.get(f"/v1/subjects/{ORG}/records")
    assert resp.status_code == 200 and resp.json()["records"]
    assert time.monotonic() - started >= len(resp.content) / 2000 * 0.8


@pytest.mark.integration
def test_loopback_drip_defeats_per_read_timeouts(
    platform: ReferencePlatform, served: RunningServer
) -> None:
    # Each slice arrives well within the read timeout, so only an overall deadline stops a drip.
    platform.inject(Fault.drip(50, times=1))
    auth = SigningAuth("test-key", "test-secret")
    with httpx.Client(base_url=served.url, auth=auth, timeout=httpx.Timeout(5, read=0.3)) as c:
        started = time.monotonic()
        resp = c.get("/v1/pushes")
        elapsed = time.monotonic() - started
    assert resp.json() == {"events": [], "next_cursor": "c-000000"}
    assert elapsed > 0.3


@pytest.mark.integration
def test_loopback_reset(platform: ReferencePlatform, live: httpx.Client) -> None:
    platform.inject(Fault.reset(times=1))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        live.get("/v1/pushes")
    assert live.get("/v1/pushes").status_code == 200


@pytest.mark.integration
def test_loopback_oversize_is_streamed(platform: ReferencePlatform, live: httpx.Client) -> None:
    platform.inject(Fault.oversize(times=1))
    with live.stream("GET", "/v1/pushes") as resp:
        assert resp.status_code == 200
        assert "content-length" not in resp.headers
        assert _read_limited(resp, EIGHT_MIB) > EIGHT_MIB
    assert live.get("/v1/pushes").status_code == 200


@pytest.mark.integration
def test_loopback_down_then_up(platform: ReferencePlatform, live: httpx.Client) -> None:
    platform.down()
    with pytest.raises(httpx.TransportError):
        live.get("/v1/pushes")
    platform.up()
    assert live.get("/v1/pushes").status_code == 200


@pytest.mark.integration
def test_loopback_latency(platform: ReferencePlatform, live: httpx.Client) -> None:
    platform.inject(Fault.latency(0.2, times=1))
    started = time.monotonic()
    assert live.get("/v1/pushes").status_code == 200
    assert time.monotonic() - started >= 0.2


@pytest.mark.integration
def test_loopback_serves_64_connections_in_parallel(
    platform: ReferencePlatform, served: RunningServer
) -> None:
    platform.latency = 0.2
    auth = SigningAuth("test-key", "test-secret")
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    with httpx.Client(base_url=served.url, auth=auth, limits=limits, timeout=10) as c:
        started = time.monotonic()
        with ThreadPoolExecutor(64) as pool:
            statuses = list(pool.map(lambda _: c.get("/v1/pushes").status_code, range(128)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 128
    # Not a budget: serially this would take 128 × 0.2 s = 25.6 s; two waves of 64 take
    # about 0.4 s, so anything under 10 s proves the connections were served in parallel.
    assert elapsed < 10.0


@pytest.mark.integration
def test_loopback_keeps_connections_alive(
    platform: ReferencePlatform, served: RunningServer, live: httpx.Client
) -> None:
    ports = set()
    for _ in range(5):
        resp = live.get("/v1/pushes")
        stream = resp.extensions["network_stream"]
        ports.add(stream.get_extra_info("client_addr")[1])
    assert len(ports) == 1


@pytest.mark.integration
def test_stop_does_not_wait_for_idle_keep_alive_clients(platform: ReferencePlatform) -> None:
    running = serve(platform)
    client = httpx.Client(base_url=running.url, auth=SigningAuth("test-key", "test-secret"))
    assert client.get("/v1/pushes").status_code == 200
    started = time.monotonic()
    running.stop()
    assert time.monotonic() - started < 5  # not a budget: an idle keep-alive would hold it forever
    with pytest.raises(httpx.TransportError):
        client.get("/v1/pushes")
    client.close()


@pytest.mark.integration
def test_state_changes_from_test_thread_are_seen_by_server_threads(
    platform: ReferencePlatform, live: httpx.Client
) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(200):
                platform.add_record(ORG, record_id=f"W-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    while thread.is_alive():
        assert live.get(f"/v1/subjects/{ORG}/records").status_code in (200, 404)
    thread.join()
    assert not errors
    assert len(live.get(f"/v1/subjects/{ORG}/records").json()["records"]) == 200


@pytest.mark.integration
def test_loopback_request_body_over_one_mib_is_413(live: httpx.Client) -> None:
    resp = live.post("/v1/subjects:batch-records", content=b" " * (1024 * 1024 + 1))
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.integration
def test_loopback_bad_content_length_is_400(served: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/pushes HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        status_line = sock.makefile("rb").readline()
    assert status_line.split()[1] == b"400"
