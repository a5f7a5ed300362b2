"""The platform adapter through both drivers over real HTTP on loopback, with faults.

The server is creditguard's reference platform (``creditguard.testing``),
serving on 127.0.0.1 with an ephemeral port; faults are played at the socket
level (resets, truncated bodies, slow drip, oversize streams).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from creditguard.codes import org_code_check_char, uscc_check_char
from creditguard.errors import DeadlineExceeded, SourceError, SourceRefused, SourceUnavailable
from creditguard.models import SubjectRecords
from creditguard.remote import RESPONSE_TOO_LARGE, AsyncDriver, RemoteSettings, SyncDriver

platform_mod = pytest.importorskip("creditguard_platform")
testing = pytest.importorskip("creditguard.testing")
Fault = testing.Fault

pytestmark = pytest.mark.integration

ORG = "91110000710925462X"
ORG2 = "9144030071526726XG"
KINDS = ["sync", "async"]


def uscc(n: int) -> str:
    body = f"{n:08d}"
    first17 = "91320100" + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


@pytest.fixture(scope="module")
def running() -> Iterator[Any]:
    platform = testing.ReferencePlatform()
    platform.add_record(ORG, list_kind="blacklist", domain="court_enforcement")
    platform.add_subject(ORG2)
    with testing.serve(platform) as server:
        yield server


@pytest.fixture
def platform(running: Any) -> Iterator[Any]:
    yield running.platform
    running.platform.faults.clear()


def source(running: Any) -> Any:
    return platform_mod.PlatformSource(
        "ref", running.url, testing.DEFAULT_APP_KEY, testing.DEFAULT_SECRET
    )


@dataclass
class Run:
    records: dict[str, SubjectRecords] | None
    error: SourceError | None
    elapsed: float


def fetch(
    kind: str, settings: RemoteSettings, src: Any, codes: list[str], driver: Any = None
) -> Run:
    """Look ``codes`` up with a fresh (or the given) driver of ``kind``."""
    start = time.monotonic()
    deadline = start + settings.deadline_s
    try:
        if kind == "sync":
            d = driver or SyncDriver(settings)
            found = d.fetch(src, codes, deadline=deadline)
        else:

            async def go() -> dict[str, SubjectRecords]:
                d = driver or AsyncDriver(settings)
                try:
                    return await d.fetch(src, codes, deadline=deadline)
                finally:
                    if driver is None:
                        await d.aclose()

            found = asyncio.run(go())
        return Run(found, None, time.monotonic() - start)
    except SourceError as exc:
        return Run(None, exc, time.monotonic() - start)


SETTINGS = RemoteSettings(deadline_s=0.8, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)


@pytest.mark.parametrize("kind", KINDS)
def test_single_and_batch_lookups(kind: str, running: Any, platform: Any) -> None:
    run = fetch(kind, SETTINGS, source(running), [ORG])
    assert run.records is not None and run.records[ORG].records[0].list_kind == "blacklist"
    run = fetch(kind, SETTINGS, source(running), [ORG, ORG2, uscc(1)])
    assert run.records is not None
    assert run.records[ORG2].found and not run.records[uscc(1)].found


@pytest.mark.parametrize("kind", KINDS)
def test_slow_platform_is_cut_at_the_deadline(kind: str, running: Any, platform: Any) -> None:
    settings = RemoteSettings(deadline_s=0.3)
    with platform.inject(Fault.latency(2.0)):
        run = fetch(kind, settings, source(running), [ORG])
    assert isinstance(run.error, DeadlineExceeded), run.error
    assert run.elapsed < 2.0  # not a budget: it did not wait for the 2 s answer


@pytest.mark.parametrize("kind", KINDS)
def test_5xx_once_is_retried(kind: str, running: Any, platform: Any) -> None:
    with platform.inject(Fault.status(503, times=1)):
        run = fetch(kind, SETTINGS, source(running), [ORG])
    assert run.error is None and run.records is not None


@pytest.mark.parametrize("kind", KINDS)
def test_429_with_retry_after_beyond_the_deadline_gives_up_at_once(
    kind: str, running: Any, platform: Any
) -> None:
    before = len(platform.requests_log)
    with platform.inject(Fault.rate_limited(retry_after=5)):
        run = fetch(kind, SETTINGS, source(running), [ORG])
    assert isinstance(run.error, DeadlineExceeded) and run.error.status == 429
    assert len(platform.requests_log) - before == 1  # no retry
    assert run.elapsed < 5  # not a budget: it did not sit out the Retry-After


@pytest.mark.parametrize("kind", KINDS)
def test_429_with_short_retry_after_then_success(kind: str, running: Any, platform: Any) -> None:
    settings = RemoteSettings(deadline_s=2.0)
    with platform.inject(Fault.rate_limited(retry_after=1, times=1)):
        run = fetch(kind, settings, source(running), [ORG])
    assert run.error is None
    assert run.elapsed >= 1.0  # waited the full Retry-After, never sooner


@pytest.mark.parametrize("kind", KINDS)
def test_gateway_html_is_reported_with_an_excerpt(kind: str, running: Any, platform: Any) -> None:
    with platform.inject(Fault.garbage(502)):
        run = fetch(kind, SETTINGS, source(running), [ORG])
    assert isinstance(run.error, SourceUnavailable) and run.error.status == 502
    assert "502 Bad Gateway" in (run.error.excerpt or "")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", ["truncated", "reset"])
def test_broken_connections_are_retried(kind: str, fault: str, running: Any, platform: Any) -> None:
    with platform.inject(getattr(Fault, fault)(times=1)):
        run = fetch(kind, SETTINGS, source(running), [ORG])
    assert run.error is None, run.error
    assert run.records is not None and run.records[ORG].found


@pytest.mark.parametrize("kind", KINDS)
def test_slow_drip_is_cut_at_the_deadline(kind: str, running: Any, platform: Any) -> None:
    settings = RemoteSettings(deadline_s=0.4)
    with platform.inject(Fault.drip(20)):
        run = fetch(kind, settings, source(running), [ORG])
    assert isinstance(run.error, SourceUnavailable), run.error
    assert run.elapsed < 3.0  # not a budget: the whole answer at 20 bytes/s takes far longer


@pytest.mark.parametrize("kind", KINDS)
def test_oversize_body_is_refused(kind: str, running: Any, platform: Any) -> None:
    settings = RemoteSettings(deadline_s=3.0)
    with platform.inject(Fault.oversize(64 * 1024 * 1024)):
        run = fetch(kind, settings, source(running), [ORG])
    assert isinstance(run.error, SourceUnavailable) and run.error.code == RESPONSE_TOO_LARGE
    assert run.elapsed < 2.0  # stopped near 8 MiB, long before 64 MiB


@pytest.mark.parametrize("kind", KINDS)
def test_dead_platform_opens_the_breaker(kind: str, running: Any, platform: Any) -> None:
    settings = RemoteSettings(
        deadline_s=0.3, max_attempts=1, breaker_threshold=2, breaker_reset_s=0.2
    )
    driver = SyncDriver(settings) if kind == "sync" else None
    src = source(running)
    with platform.down():
        if driver is None:
            # one AsyncDriver per event loop: drive the whole story in one loop
            async def story() -> list[Run]:
                d = AsyncDriver(settings)
                out = []
                for _ in range(3):
                    start = time.monotonic()
                    try:
                        await d.fetch(src, [ORG], deadline=start + 0.3)
                        out.append(Run({}, None, time.monotonic() - start))
                    except SourceError as exc:
                        out.append(Run(None, exc, time.monotonic() - start))
                await d.aclose()
                return out

            runs = asyncio.run(story())
        else:
            runs = [fetch(kind, settings, src, [ORG], driver) for _ in range(3)]
    assert all(isinstance(r.error, SourceUnavailable) for r in runs)
    assert runs[2].error is not None and runs[2].error.code == "CIRCUIT_OPEN"  # failed fast
    if driver is not None:
        time.sleep(0.25)
        probe = fetch(kind, settings, src, [ORG], driver)  # half-open probe, platform is up again
        assert probe.error is None and driver.breaker("ref").state == "closed"


@pytest.mark.parametrize("kind", KINDS)
def test_bad_credentials_are_refused_not_retried(kind: str, running: Any, platform: Any) -> None:
    src = platform_mod.PlatformSource("ref", running.url, testing.DEFAULT_APP_KEY, "wrong")
    before = len(platform.requests_log)
    run = fetch(kind, SETTINGS, src, [ORG])
    assert isinstance(run.error, SourceRefused) and run.error.status == 401
    assert len(platform.requests_log) - before == 1


@pytest.mark.parametrize("kind", KINDS)
def test_ten_thousand_subjects_against_a_20ms_platform(
    kind: str, running: Any, platform: Any
) -> None:
    codes = [uscc(i) for i in range(10_000)]
    settings = RemoteSettings(deadline_s=30.0)
    before = len(platform.requests_log)
    with platform.inject(Fault.latency(0.02, path="/v1/subjects")):
        run = fetch(kind, settings, source(running), codes)
    assert run.error is None, run.error
    assert run.records is not None and len(run.records) == 10_000
    # batched, not one request per subject (the 2 s budget is benchmarks/bench_screen.py's)
    assert len(platform.requests_log) - before <= 10_000 // 100


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_sync_driver_works_in_a_forked_child(running: Any, platform: Any) -> None:
    import os

    driver = SyncDriver(SETTINGS)
    src = source(running)
    # the parent now holds a pooled keep-alive connection
    assert fetch("sync", SETTINGS, src, [ORG], driver).error is None
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's connection or client
        code = 1
        try:
            run = fetch("sync", SETTINGS, src, [ORG], driver)
            code = 0 if run.error is None and run.records and run.records[ORG].found else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert fetch("sync", SETTINGS, src, [ORG], driver).error is None  # parent's pool still fine
    driver.close()
