"""The guard over real loopback HTTP under every fault: within its deadline, and honest.

Each check must return within the configured deadline (plus a small margin)
with a decision that says what happened: verified records, or the step's
failure policy applied and ``verified=False`` — never a silent allow.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from creditguard.config import config_from_dict
from creditguard.errors import RecordsUnavailable
from creditguard.guard import Guard
from creditguard.testing import Fault, ReferencePlatform
from creditguard.testing.measures import procurement_refusal
from creditguard.testing.server import RunningServer, serve

CODE = "91320100MA1W2K7D41"
DEADLINE_MS = 400
# Not a budget: ending before the slowest fault (2 s latency, 30 s Retry-After, a 20 B/s drip)
# would have let the check end proves the deadline cut it, with room for a loaded machine.
MARGIN_S = 1.2

LIST = procurement_refusal("320100")

FAULTS = {
    "latency": Fault.latency(2.0),
    "500": Fault.status(500),
    "503-retry-after-long": Fault.status(503, retry_after=30),
    "429-retry-after-long": Fault.status(429, retry_after=30),
    "garbage": Fault.garbage(),
    "truncated": Fault.truncated(),
    "drip": Fault.drip(20),
    "reset": Fault.reset(),
    "oversize": Fault.oversize(),
    "down": Fault.down(),
}


@pytest.fixture
def platform() -> ReferencePlatform:
    ref = ReferencePlatform()
    ref.add_record(CODE, list_kind="blacklist", domain="court_enforcement")
    return ref


@pytest.fixture
def server(platform: ReferencePlatform) -> Iterator[RunningServer]:
    with serve(platform) as running:
        yield running


def make_guard(server: RunningServer, tmp_path: Path, **failure: Any) -> Guard:
    cfg = config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path), "deadline_ms": DEADLINE_MS, "cache_ttl_s": 0},
            "sources": [
                {
                    "name": "platform",
                    "type": "platform",
                    "base_url": server.url,
                    "app_key": "test-key",
                    "secret": "test-secret",
                }
            ],
            "measures": {"packs": False},
            "failure": failure or {"default": "hold"},
        }
    )
    return Guard(cfg, measure_lists=[LIST])


def timed_check(guard: Guard) -> tuple[Any, float]:
    t0 = time.monotonic()
    d = guard.check(CODE, step="procurement.bid", region="320100")
    return d, time.monotonic() - t0


@pytest.mark.integration
@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_every_fault_ends_within_the_deadline_in_an_honest_hold(
    fault: str, platform: ReferencePlatform, server: RunningServer, tmp_path: Path
) -> None:
    guard = make_guard(server, tmp_path)
    with platform.inject(FAULTS[fault]):
        d, elapsed = timed_check(guard)
    guard.close()
    assert elapsed < DEADLINE_MS / 1000 + MARGIN_S, f"{fault}: {elapsed:.2f} s"
    assert d.verified is False and d.outcome == "review"
    assert d.degraded_reason and "platform" in d.degraded_reason
    assert "test-secret" not in d.degraded_reason


@pytest.mark.integration
def test_policies_allow_stale_and_raise(
    platform: ReferencePlatform, server: RunningServer, tmp_path: Path
) -> None:
    allow = make_guard(server, tmp_path / "a", default="allow")
    stale = make_guard(server, tmp_path / "s", default="stale", stale_fallback="hold")
    strict = make_guard(server, tmp_path / "r", default="raise")
    assert (
        stale.check(CODE, step="procurement.bid", region="320100").outcome == "deny"
    )  # fills the cache
    with platform.inject(Fault.status(503)):
        d = allow.check(CODE, step="procurement.bid", region="320100")
        assert (d.outcome, d.verified) == ("allow", False)  # allowed, but flagged: never silent
        d = stale.check(CODE, step="procurement.bid", region="320100")
        # Stale records decide the outcome, but are never presented as verified.
        assert (d.outcome, d.stale, d.verified) == ("deny", True, False)
        assert d.stale_age_s is not None
        assert "used records fetched at" in (d.degraded_reason or "")
        with pytest.raises(RecordsUnavailable):
            strict.check(CODE, step="procurement.bid", region="320100")
    for g in (allow, stale, strict):
        g.close()


@pytest.mark.integration
def test_a_dead_platform_opens_the_breaker_and_then_costs_almost_nothing(
    platform: ReferencePlatform, server: RunningServer, tmp_path: Path
) -> None:
    guard = make_guard(server, tmp_path)
    with platform.inject(Fault.status(503)):
        for _ in range(6):
            guard.check(CODE, step="procurement.bid", region="320100")
        served_before = len(platform.requests_log)
        d, _ = timed_check(guard)
    guard.close()
    assert d.verified is False and "circuit" in (d.degraded_reason or "").lower()
    assert len(platform.requests_log) == served_before  # no request at all


@pytest.mark.integration
def test_the_cache_spares_the_platform(
    platform: ReferencePlatform, server: RunningServer, tmp_path: Path
) -> None:
    cfg_guard = make_guard(server, tmp_path)
    cfg_guard.cache.ttl = 300
    for _ in range(5):
        assert cfg_guard.check(CODE, step="procurement.bid", region="320100").outcome == "deny"
    lookups = [e for e in platform.requests_log if e.path.startswith("/v1/subjects")]
    cfg_guard.close()
    assert len(lookups) == 1
