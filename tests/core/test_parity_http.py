"""Guard and AsyncGuard give the same decision over HTTP: the reference platform on loopback.

test_parity.py runs every scenario over local sources; this runs the HTTP path
of both guards (httpx.Client and httpx.AsyncClient, retries, deadline, failure
policy) against one real server, faults included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, REGION
from test_parity import comparable

platform_mod = pytest.importorskip("creditguard_platform")
testing = pytest.importorskip("creditguard.testing")
Fault = testing.Fault

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(scope="module")
def running() -> Iterator[Any]:
    ref = testing.ReferencePlatform()
    ref.add_record(ORG_BLACK, list_kind="blacklist", domain="court_enforcement")
    ref.add_record(ORG_FOCUS, list_kind="focus", domain="tax")
    ref.add_subject(ORG_CLEAN)
    with testing.serve(ref) as server:
        yield server


@dataclass
class Scenario:
    name: str
    code: str
    step: str
    outcome: str
    verified: bool = True
    fault: Any = None
    config: dict[str, Any] = field(default_factory=dict)


DEADLINE = {"guard": {"deadline_ms": 400, "cache_ttl_s": 0}}

SCENARIOS: list[Any] = [
    Scenario("clean", ORG_CLEAN, "procurement.bid", "allow"),
    Scenario("deny", ORG_BLACK, "procurement.bid", "deny"),
    Scenario("restrict", ORG_BLACK, "subsidy.apply", "restrict"),
    Scenario("review", ORG_FOCUS, "licensing.accept", "review"),
    Scenario(
        "503 held for review",
        ORG_BLACK,
        "procurement.bid",
        "review",
        verified=False,
        fault=lambda: Fault.status(503),
        config={**DEADLINE, "failure": {"default": "hold"}},
    ),
    Scenario(
        "slow platform cut at the deadline, allowed unverified",
        ORG_BLACK,
        "subsidy.apply",
        "allow",
        verified=False,
        fault=lambda: Fault.latency(2.0),
        config={**DEADLINE, "failure": {"default": "allow"}},
    ),
    Scenario(
        "429 beyond the deadline held",
        ORG_CLEAN,
        "procurement.bid",
        "review",
        verified=False,
        fault=lambda: Fault.rate_limited(retry_after=30),
        config={**DEADLINE, "failure": {"default": "hold"}},
    ),
    Scenario(
        "gateway HTML held",
        ORG_FOCUS,
        "licensing.accept",
        "review",
        verified=False,
        fault=lambda: Fault.garbage(502),
        config={**DEADLINE, "failure": {"default": "hold"}},
    ),
]


_VOLATILE = [
    (re.compile(r"\[request r-\d+\]"), "[request r-*]"),  # the server numbers its requests
    (re.compile(r"after \d+\.\d+ s"), "after T s"),  # measured durations
]


# Retries of a failing platform end at the check's deadline: whether that falls while an
# attempt reads its body or between attempts is timing, not behaviour.
_AT_DEADLINE = re.compile(r"timed out reading the response body|deadline exceeded")
_HTTP_STATUS = re.compile(r"HTTP \d{3}")


def _deadline_error(text: str) -> str:
    if not _AT_DEADLINE.search(text):
        return text
    status = _HTTP_STATUS.search(text)
    return f"ended at the deadline ({status.group() if status else 'no status'})"


def comparable_http(d: Any) -> dict[str, Any]:
    """The decision without ids, times, request numbers and measured durations."""
    data = comparable(d)
    for p in data["provenance"]:
        for pattern, fixed in _VOLATILE:
            p["error"] = p["error"] and pattern.sub(fixed, p["error"])
        p["error"] = p["error"] and _deadline_error(p["error"])
    data["degraded_reason"] = data["degraded_reason"] and _deadline_error(data["degraded_reason"])
    for key in ("degraded_reason", "explanation"):
        for pattern, fixed in _VOLATILE:
            data[key] = data[key] and pattern.sub(fixed, data[key])
    return data


@pytest.mark.parametrize(
    "sc", SCENARIOS, ids=[s.name if isinstance(s, Scenario) else None for s in SCENARIOS]
)
async def test_sync_and_async_agree_over_http(
    sc: Scenario, running: Any, make_guard: Any, make_async_guard: Any
) -> None:
    def source() -> Any:
        return platform_mod.PlatformSource(
            "platform", running.url, testing.DEFAULT_APP_KEY, testing.DEFAULT_SECRET
        )

    g = make_guard(sc.config, sources=[source()])
    ag = make_async_guard(sc.config, sources=[source()])
    ref = running.platform
    ref.faults.clear()
    try:
        if sc.fault is not None:
            with ref.inject(sc.fault()):
                ds = g.check(sc.code, step=sc.step, region=REGION)
                da = await ag.check(sc.code, step=sc.step, region=REGION)
        else:
            ds = g.check(sc.code, step=sc.step, region=REGION)
            da = await ag.check(sc.code, step=sc.step, region=REGION)
    finally:
        ref.faults.clear()
    assert (ds.outcome, ds.verified) == (sc.outcome, sc.verified), ds.degraded_reason
    left, right = comparable_http(ds), comparable_http(da)
    for key in left:
        assert left[key] == right[key], key
    assert ds.decision_id != da.decision_id
