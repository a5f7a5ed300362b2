"""AsyncDriver: requests wait for one of ``max_connections`` slots before httpx's pool.

httpcore's pool rescans every waiting request on each state change, so hundreds
of concurrent checks queued inside it cost milliseconds of CPU each; the driver
keeps them waiting on a semaphore instead, and that wait counts against the
check's deadline.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from remote_helpers import FakeSource

from creditguard.errors import SourceUnavailable
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
