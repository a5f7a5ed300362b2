"""A request ends at the check's deadline, and both drivers say so in the same words.

httpx applies its timeouts per operation, so the sync driver renews them at
the start of every phase (httpcore's ``trace`` extension): time spent
connecting is not given again to the wait for the answer. Driven over a real
loopback server with an injected clock, so nothing depends on the wall clock.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from remote_helpers import FakeSource

from creditguard.remote import RemoteSettings, SyncDriver
from creditguard.remote.flow import Send, transport_error


class _Found(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"found": ["*"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class SlowConnectSource(FakeSource):
    """Its requests carry a trace: connecting "takes" 0.3 s; the answer's read timeout is noted."""

    def __init__(self, base_url: str, clock: Clock) -> None:
        super().__init__("slow-connect")
        self.base_url = base_url
        self.clock = clock
        self.events: list[str] = []
        self.read_timeouts: list[float] = []

    def exchange(self, codes: Any, *, include_related: bool = False) -> Any:
        inner = super().exchange(codes, include_related=include_related)
        request: httpx.Request = next(inner)

        def trace(event: str, info: dict[str, Any]) -> None:
            self.events.append(event)
            if event == "connection.connect_tcp.complete":
                self.clock.t += 0.3
            if event == "http11.receive_response_headers.started":
                self.read_timeouts.append(request.extensions["timeout"]["read"])

        request.extensions = {**request.extensions, "trace": trace}
        response = yield request
        try:
            inner.send(response)
        except StopIteration as done:
            return done.value
        raise AssertionError("the exchange asked for a second request")


def test_time_spent_connecting_is_not_given_again_to_the_answer(server_url: str) -> None:
    clock = Clock()
    source = SlowConnectSource(server_url, clock)
    with SyncDriver(RemoteSettings(deadline_s=0.4), clock=clock) as driver:
        found = driver.fetch(source, ["A1"])
    assert found["A1"].found
    # The source's own trace still ran (chained), and saw the renewed timeout.
    assert "connection.connect_tcp.complete" in source.events
    assert source.read_timeouts == [pytest.approx(0.1)]


def _send(deadline: float) -> Send:
    return Send(httpx.Request("POST", "http://platform.test/lookup"), deadline, "platform")


@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("slow"), httpx.WriteTimeout("slow"), httpx.TimeoutException("deadline")],
    ids=["sync read", "sync write", "async asyncio.timeout"],
)
def test_a_deadline_cut_reads_the_same_whichever_timer_fired(exc: httpx.TimeoutException) -> None:
    err = transport_error(exc, _send(10.4), started=10.0, now=10.4)
    assert str(err).endswith("timed out at the deadline after 0.400 s")


def test_a_timeout_before_the_deadline_names_its_phase() -> None:
    err = transport_error(httpx.ConnectTimeout("slow"), _send(10.4), started=10.0, now=10.2)
    assert "timed out (connect) after 0.200 s" in str(err)
