"""The drivers over httpx.MockTransport; every scenario runs through both drivers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from remote_helpers import CountingStream, FakeSource, Script, body_of, echo_found, ok

from creditguard.errors import DeadlineExceeded, SourceError, SourceRefused, SourceUnavailable
from creditguard.remote import RESPONSE_TOO_LARGE, AsyncDriver, RemoteSettings, SyncDriver

FAST = RemoteSettings(deadline_s=2.0, backoff_initial=0.001, backoff_max=0.01, jitter=0.001)
CODES = ["A1", "B2"]


@dataclass
class Outcome:
    records: dict[str, bool] | None
    error: SourceError | None
    calls: int
    elapsed: float


@dataclass
class Scenario:
    name: str
    steps: Callable[[], list[Any]]
    expect_error: type[SourceError] | None = None
    expect_calls: int | None = None
    expect_found: dict[str, bool] | None = None
    codes: list[str] = field(default_factory=lambda: list(CODES))
    settings: RemoteSettings = FAST
    max_batch: int = 500
    #: not a budget: an upper bound that proves a wait (Retry-After, backoff) did not happen
    max_elapsed: float | None = None
    check: Callable[[SourceError], bool] = lambda e: True


SCENARIOS = [
    Scenario("success", lambda: [ok()], expect_calls=1, expect_found={"A1": True, "B2": True}),
    Scenario(
        "codes missing from the answer",
        lambda: [ok(["A1"])],
        expect_error=SourceUnavailable,
        check=lambda e: "missing" in str(e),
    ),
    Scenario(
        "5xx then success",
        lambda: [httpx.Response(503), ok()],
        expect_calls=2,
        expect_found={"A1": True, "B2": True},
    ),
    Scenario(
        "429 with Retry-After 0 then success",
        lambda: [httpx.Response(429, headers={"Retry-After": "0"}), ok()],
        expect_calls=2,
        expect_found={"A1": True, "B2": True},
    ),
    Scenario(
        "429 with Retry-After beyond the deadline",
        lambda: [httpx.Response(429, headers={"Retry-After": "5"})],
        expect_error=DeadlineExceeded,
        expect_calls=1,
        max_elapsed=4.0,  # did not sit out the 5 s Retry-After
        check=lambda e: e.status == 429 and "deadline" in str(e),
    ),
    Scenario(
        "400 is not retried",
        lambda: [httpx.Response(400)],
        expect_error=SourceRefused,
        expect_calls=1,
        check=lambda e: e.status == 400,
    ),
    Scenario(
        "garbage HTML body",
        lambda: [httpx.Response(200, html="<html>维护中</html>")],
        expect_error=SourceUnavailable,
        expect_calls=4,
        check=lambda e: "维护中" in (e.excerpt or ""),
    ),
    Scenario(
        "timeouts are retried then reported",
        lambda: [httpx.ReadTimeout("slow")],
        expect_error=SourceUnavailable,
        expect_calls=4,
        check=lambda e: "timed out (read)" in str(e),
    ),
    Scenario(
        "connection refused then success",
        lambda: [httpx.ConnectError("refused"), ok()],
        expect_calls=2,
        expect_found={"A1": True, "B2": True},
    ),
    Scenario(
        "truncated body",
        lambda: [httpx.RemoteProtocolError("peer closed connection"), ok()],
        expect_calls=2,
        expect_found={"A1": True, "B2": True},
    ),
    Scenario(
        "attempts stop at max_attempts",
        lambda: [httpx.Response(503)],
        expect_error=SourceUnavailable,
        expect_calls=4,
        check=lambda e: e.status == 503 and not isinstance(e, DeadlineExceeded),
    ),
    Scenario(
        "retries stop at the deadline",
        lambda: [httpx.Response(503)],
        expect_error=DeadlineExceeded,
        settings=RemoteSettings(
            deadline_s=0.25, backoff_initial=0.1, backoff_max=1.0, jitter=0.0, max_attempts=10
        ),
        max_elapsed=3.0,  # ten attempts' backoff would take over 5 s
        check=lambda e: e.status == 503,
    ),
    Scenario(
        "declared oversize body is refused",
        lambda: [httpx.Response(200, headers={"Content-Length": "9999999"})],
        expect_error=SourceUnavailable,
        expect_calls=2,  # split into halves, each refused
        check=lambda e: e.code == RESPONSE_TOO_LARGE,
    ),
    Scenario(
        "oversize single code is not retried",
        lambda: [httpx.Response(200, headers={"Content-Length": str(9 * 1024 * 1024)})],
        codes=["A1"],
        expect_error=SourceUnavailable,
        expect_calls=1,
        check=lambda e: e.code == RESPONSE_TOO_LARGE,
    ),
    Scenario(
        "chunks of max_batch",
        lambda: [echo_found],
        codes=[f"C{i}" for i in range(1200)],
        expect_calls=3,
    ),
    Scenario(
        "duplicate codes are asked once",
        lambda: [echo_found],
        codes=["A1", "A1", "B2"],
        expect_calls=1,
        expect_found={"A1": True, "B2": True},
    ),
    Scenario(
        "413 splits the batch",
        lambda: [httpx.Response(413), echo_found],
        codes=["A", "B", "C", "D"],
        expect_calls=3,
        expect_found={"A": True, "B": True, "C": True, "D": True},
    ),
    Scenario("no codes, no requests", lambda: [ok()], codes=[], expect_calls=0, expect_found={}),
]


def run_sync(s: Scenario) -> Outcome:
    script = Script(s.steps())
    source = FakeSource(max_batch=s.max_batch)
    with SyncDriver(s.settings, script.transport()) as driver:
        start = time.monotonic()
        try:
            found = driver.fetch(source, s.codes, deadline=start + s.settings.deadline_s)
            return Outcome(
                {c: r.found for c, r in found.items()},
                None,
                len(script.calls),
                time.monotonic() - start,
            )
        except SourceError as exc:
            return Outcome(None, exc, len(script.calls), time.monotonic() - start)


async def run_async(s: Scenario) -> Outcome:
    script = Script(s.steps())
    source = FakeSource(max_batch=s.max_batch)
    async with AsyncDriver(s.settings, script.transport()) as driver:
        start = time.monotonic()
        try:
            found = await driver.fetch(source, s.codes, deadline=start + s.settings.deadline_s)
            return Outcome(
                {c: r.found for c, r in found.items()},
                None,
                len(script.calls),
                time.monotonic() - start,
            )
        except SourceError as exc:
            return Outcome(None, exc, len(script.calls), time.monotonic() - start)


def check(s: Scenario, got: Outcome) -> None:
    if s.expect_error is None:
        assert got.error is None, got.error
        assert got.records is not None
        assert set(got.records) == set(dict.fromkeys(s.codes))
        if s.expect_found is not None:
            assert got.records == s.expect_found
    else:
        assert type(got.error) is s.expect_error, got.error
        assert s.check(got.error), got.error
    if s.expect_calls is not None:
        assert got.calls == s.expect_calls
    if s.max_elapsed is not None:
        assert got.elapsed < s.max_elapsed


@pytest.mark.parametrize("s", SCENARIOS, ids=[s.name for s in SCENARIOS])
@pytest.mark.anyio
async def test_sync_and_async_agree(s: Scenario) -> None:
    sync = await asyncio.to_thread(run_sync, s)
    asyn = await run_async(s)
    check(s, sync)
    check(s, asyn)
    assert (sync.records, type(sync.error), sync.calls) == (
        asyn.records,
        type(asyn.error),
        asyn.calls,
    ) or (s.expect_calls is None and type(sync.error) is type(asyn.error))
    if sync.error and asyn.error:
        assert (sync.error.status, sync.error.code) == (asyn.error.status, asyn.error.code)


def test_requests_carry_a_timeout_equal_to_the_time_left() -> None:
    script = Script([ok()])
    driver = SyncDriver(FAST, script.transport())
    driver.fetch(FakeSource(), ["A1"], deadline=time.monotonic() + 0.5)
    timeout = script.calls[0].extensions["timeout"]
    assert 0.4 < timeout["read"] <= 0.5 and timeout["connect"] <= 0.5


def test_oversize_stream_is_not_read_to_the_end() -> None:
    stream = CountingStream(chunks=1000, size=64 * 1024)  # 64 MiB, no Content-Length
    script = Script([body_of(stream)])
    driver = SyncDriver(FAST, script.transport())
    with pytest.raises(SourceUnavailable) as info:
        driver.fetch(FakeSource(), ["A1"])
    assert info.value.code == RESPONSE_TOO_LARGE
    assert stream.read <= 8 * 1024 * 1024 // (64 * 1024) + 1


@pytest.mark.anyio
async def test_oversize_stream_is_not_read_to_the_end_async() -> None:
    stream = CountingStream(chunks=1000, size=64 * 1024)
    script = Script([body_of(stream)])
    driver = AsyncDriver(FAST, script.transport())
    with pytest.raises(SourceUnavailable) as info:
        await driver.fetch(FakeSource(), ["A1"])
    assert info.value.code == RESPONSE_TOO_LARGE
    assert stream.read <= 8 * 1024 * 1024 // (64 * 1024) + 1


def test_declared_oversize_body_is_refused_without_reading() -> None:
    stream = CountingStream(chunks=10)
    script = Script([body_of(stream, **{"Content-Length": str(20 * 1024 * 1024)})])
    with pytest.raises(SourceUnavailable, match="declares"):
        SyncDriver(FAST, script.transport()).fetch(FakeSource(), ["A1"])
    assert stream.read == 0


def test_gzip_body_is_decoded_for_the_adapter() -> None:
    import gzip

    raw = gzip.compress(json.dumps({"found": ["A1"]}).encode())
    script = Script(
        [lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=raw)]
    )
    found = SyncDriver(FAST, script.transport()).fetch(FakeSource(), ["A1"])
    assert found["A1"].found


def breaker_settings(**kw: Any) -> RemoteSettings:
    return RemoteSettings(
        **{
            "max_attempts": 1,
            "breaker_threshold": 2,
            "breaker_reset_s": 0.05,
            "deadline_s": 1.0,
            **kw,
        }
    )


def test_breaker_opens_then_fails_fast_without_a_request() -> None:
    script = Script([httpx.Response(503)])
    driver = SyncDriver(breaker_settings(breaker_reset_s=60), script.transport())
    source = FakeSource()
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            driver.fetch(source, ["A1"])
    assert driver.breaker("fake").state == "open"
    for _ in range(1000):
        with pytest.raises(SourceUnavailable) as info:
            driver.fetch(source, ["A1"])
    assert info.value.code == "CIRCUIT_OPEN"
    assert len(script.calls) == 2  # no request, no wait: the open breaker answers alone


def test_breakers_are_per_source() -> None:
    script = Script([httpx.Response(503)])
    driver = SyncDriver(breaker_settings(breaker_reset_s=60), script.transport())
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            driver.fetch(FakeSource("down"), ["A1"])
    script.steps = [ok()]
    assert driver.fetch(FakeSource("other"), ["A1"])["A1"].found


def test_refusals_do_not_open_the_breaker() -> None:
    script = Script([httpx.Response(403)])
    driver = SyncDriver(breaker_settings(), script.transport())
    for _ in range(5):
        with pytest.raises(SourceRefused):
            driver.fetch(FakeSource(), ["A1"])
    assert driver.breaker("fake").state == "closed"
    assert len(script.calls) == 5


def test_half_open_probe_closes_the_breaker_on_success() -> None:
    script = Script([httpx.Response(503)])
    driver = SyncDriver(breaker_settings(), script.transport())
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            driver.fetch(FakeSource(), ["A1"])
    with pytest.raises(SourceUnavailable, match="circuit open"):
        driver.fetch(FakeSource(), ["A1"])
    time.sleep(0.06)
    script.steps = [ok()]
    assert driver.fetch(FakeSource(), ["A1"])["A1"].found
    assert driver.breaker("fake").state == "closed"


@pytest.mark.anyio
async def test_half_open_probe_failure_reopens_async() -> None:
    script = Script([httpx.Response(503)])
    driver = AsyncDriver(breaker_settings(), script.transport())
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            await driver.fetch(FakeSource(), ["A1"])
    await asyncio.sleep(0.06)
    with pytest.raises(SourceUnavailable) as info:
        await driver.fetch(FakeSource(), ["A1"])
    assert info.value.status == 503  # the probe went out and failed
    assert driver.breaker("fake").state == "open"
    with pytest.raises(SourceUnavailable, match="circuit open"):
        await driver.fetch(FakeSource(), ["A1"])
    assert len(script.calls) == 3


def test_fetch_many_reports_partial_failures() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        codes = json.loads(request.content)["codes"]
        if "C0" in codes:
            return httpx.Response(400)
        return httpx.Response(200, json={"found": codes})

    script = Script([answer])
    driver = SyncDriver(FAST, script.transport())
    result = driver.fetch_many(FakeSource(max_batch=2), ["C0", "C1", "C2", "C3", "C4"])
    assert not result.ok
    assert set(result.records) == {"C2", "C3", "C4"}
    assert set(result.errors) == {"C0", "C1"}
    assert isinstance(result.errors["C0"], SourceRefused)
    with pytest.raises(SourceRefused):
        result.unwrap()


@pytest.mark.anyio
async def test_async_chunks_run_concurrently() -> None:
    in_flight = 0
    peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.04)
        in_flight -= 1
        return httpx.Response(200, json={"found": json.loads(request.content)["codes"]})

    settings = RemoteSettings(chunk_concurrency=4)
    driver = AsyncDriver(settings, httpx.MockTransport(answer))
    found = await driver.fetch(FakeSource(), [f"C{i}" for i in range(10_000)])
    assert len(found) == 10_000
    assert peak == 4  # 20 chunks, 4 at a time


def test_sync_chunks_run_concurrently() -> None:
    lock = threading.Lock()
    in_flight = peak = 0

    def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.04)
        with lock:
            in_flight -= 1
        return echo_found(request)

    script = Script([slow])
    driver = SyncDriver(RemoteSettings(chunk_concurrency=8), script.transport())
    found = driver.fetch(FakeSource(), [f"C{i}" for i in range(10_000)])
    assert len(found) == 10_000 and len(script.calls) == 20
    assert 1 < peak <= 8  # chunks overlapped, never more than chunk_concurrency


@pytest.mark.anyio
async def test_async_deadline_cuts_a_slow_answer_exactly() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={"found": []})

    driver = AsyncDriver(RemoteSettings(deadline_s=0.2), httpx.MockTransport(slow))
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="timed out"):
        await driver.fetch(FakeSource(), ["A1"])
    assert time.monotonic() - start < 4.0  # not a budget: it did not wait for the 5 s answer


def test_deadline_already_passed_sends_nothing() -> None:
    script = Script([ok()])
    with pytest.raises(DeadlineExceeded):
        SyncDriver(FAST, script.transport()).fetch(
            FakeSource(), ["A1"], deadline=time.monotonic() - 1
        )
    assert script.calls == []


def test_client_is_recreated_after_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    script = Script([ok()])
    driver = SyncDriver(FAST, script.transport())
    driver.fetch(FakeSource(), ["A1"])
    parent_client = driver._client()
    driver.breaker("fake").record_failure()
    real_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real_pid + 1)
    assert driver._client() is not parent_client
    assert driver.breaker("fake").failures == 0
    assert driver.fetch(FakeSource(), ["A1"])["A1"].found


def test_repr_is_short() -> None:
    assert "SyncDriver" in repr(SyncDriver())
    assert "AsyncDriver" in repr(AsyncDriver())
