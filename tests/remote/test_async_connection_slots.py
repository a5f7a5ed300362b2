"""AsyncDriver: requests wait for one of ``max_connections`` slots before httpx's pool.

httpcore's pool rescans every waiting request on each state change, so hundreds
of concurrent checks queued inside it cost milliseconds of CPU each; the driver
keeps them waiting on a semaphore instead, and that wait counts against the
check's deadline.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import httpcore
import httpx
import pytest
from remote_helpers import FakeSource

from creditguard.errors import SourceUnavailable
from creditguard.models import SubjectRecords
from creditguard.remote import AsyncDriver, RemoteSettings

pytestmark = pytest.mark.anyio


async def test_no_more_requests_in_flight_than_connections() -> None:
    in_flight = peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={"found": json.loads(request.content)["codes"]})

    driver = AsyncDriver(
        RemoteSettings(max_connections=4, deadline_s=30), httpx.MockTransport(answer)
    )
    found = await asyncio.gather(*(driver.fetch(FakeSource(), [f"C{i}"]) for i in range(40)))
    await driver.aclose()
    assert len(found) == 40 and all(f"C{i}" in f for i, f in enumerate(found))
    assert peak == 4


async def test_waiting_for_a_connection_counts_against_the_deadline() -> None:
    release = asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        codes = json.loads(request.content)["codes"]
        if codes == ["A1"]:
            await release.wait()  # A1 keeps the one connection busy; B2 would answer at once
        return httpx.Response(200, json={"found": codes})

    driver = AsyncDriver(
        RemoteSettings(max_connections=1, deadline_s=0.2, max_attempts=1),
        httpx.MockTransport(held),
    )
    first = asyncio.ensure_future(driver.fetch(FakeSource(), ["A1"], deadline=None))
    await asyncio.sleep(0)  # let the first request take the only slot
    with pytest.raises(SourceUnavailable, match="timed out"):
        await driver.fetch(FakeSource(), ["B2"])  # never got the connection in time
    release.set()
    with pytest.raises(SourceUnavailable, match="timed out"):  # held past its deadline too
        await first
    await driver.aclose()


async def test_a_freed_slot_goes_to_the_longest_waiter() -> None:
    release = asyncio.Event()
    seen: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        codes = json.loads(request.content)["codes"]
        seen.extend(codes)
        if codes == ["A1"]:
            await release.wait()
        return httpx.Response(200, json={"found": codes})

    driver = AsyncDriver(
        RemoteSettings(max_connections=1, deadline_s=30), httpx.MockTransport(answer)
    )
    first = asyncio.ensure_future(driver.fetch(FakeSource(), ["A1"]))
    await asyncio.sleep(0)
    waiting = []
    for code in ("B1", "C1", "D1"):  # queued in this order behind A1
        waiting.append(asyncio.ensure_future(driver.fetch(FakeSource(), [code])))
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiting)
    await driver.aclose()
    assert seen == ["A1", "B1", "C1", "D1"]


async def test_a_waiter_past_its_deadline_leaves_the_slot_to_the_next() -> None:
    release = asyncio.Event()
    seen: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        codes = json.loads(request.content)["codes"]
        seen.extend(codes)
        if codes == ["A1"]:
            await release.wait()
        return httpx.Response(200, json={"found": codes})

    driver = AsyncDriver(
        RemoteSettings(max_connections=1, deadline_s=30, max_attempts=1),
        httpx.MockTransport(answer),
    )
    loop = asyncio.get_running_loop()
    first = asyncio.ensure_future(driver.fetch(FakeSource(), ["A1"]))
    await asyncio.sleep(0)
    late = asyncio.ensure_future(driver.fetch(FakeSource(), ["B1"], deadline=time.monotonic()))
    patient = asyncio.ensure_future(driver.fetch(FakeSource(), ["C1"]))
    with pytest.raises(SourceUnavailable, match="deadline"):
        await late  # its deadline passed while A1 held the only connection
    assert loop.is_running() and not patient.done()
    release.set()
    assert await patient == {"C1": SubjectRecords(code="C1", found=True)}
    await first
    await driver.aclose()
    assert seen == ["A1", "C1"]  # B1 was never sent


class _KeepAlive(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep connections open, as the platform does
    peers: ClassVar[set[int]] = set()

    def do_POST(self) -> None:
        self.peers.add(self.client_address[1])
        codes = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["codes"]
        body = json.dumps({"found": codes}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # all the driver's connections may open at once


@pytest.fixture
def keepalive_url() -> Iterator[str]:
    _KeepAlive.peers = set()
    server = _Server(("127.0.0.1", 0), _KeepAlive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_each_slot_keeps_one_connection_and_no_pool_scans_the_others(
    keepalive_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpcore's pool looks at every connection it holds (and, for each idle one,
    # counts the idle ones again) whenever a request starts or ends; one pool of
    # 16 connections cost hundreds of these looks per request.
    looks = 0
    is_idle = httpcore.AsyncHTTPConnection.is_idle

    def counted(self: httpcore.AsyncHTTPConnection) -> bool:
        nonlocal looks
        looks += 1
        return is_idle(self)

    monkeypatch.setattr(httpcore.AsyncHTTPConnection, "is_idle", counted)
    source = FakeSource()
    source.base_url = keepalive_url
    driver = AsyncDriver(RemoteSettings(max_connections=16, deadline_s=30))
    requests = 0
    for _ in range(3):  # rounds, so idle connections are reused
        found = await asyncio.gather(*(driver.fetch(source, [f"C{i}"]) for i in range(48)))
        requests += len(found)
        assert all(f"C{i}" in f for i, f in enumerate(found))
    await driver.aclose()
    assert 1 <= len(_KeepAlive.peers) <= 16
    assert looks / requests <= 8
