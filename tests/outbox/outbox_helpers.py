"""Helpers shared by the outbox, cases, sync and webhook tests."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
from creditguard_platform import PlatformChannel

from creditguard.models import AppliedMeasure, CreditRecord, Decision, EffectiveRecord, LegalBasis
from creditguard.outbox import Backoff, Deliverer
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, ReferencePlatform

UNIT = "320100-CG"
ORG = "91320100MA1W2K7D41"
ORG2 = "91320100MA1W2K7D54"
BASE = "http://platform.test/api"

_ids = itertools.count(1)


def record(record_id: str = "JS-2026-000123", **changes: Any) -> CreditRecord:
    data: dict[str, Any] = {
        "record_id": record_id,
        "list_kind": "blacklist",
        "domain": "court_enforcement",
        "listed_on": date(2025, 11, 3),
        "expires_on": date(2028, 11, 2),
        "status": "listed",
        "region": "320100",
    }
    data.update(changes)
    return CreditRecord.model_validate(data)


def measure(
    code: str, effect: str, record_ids: tuple[str, ...] = ("JS-2026-000123",)
) -> AppliedMeasure:
    return AppliedMeasure(
        code=code,
        title=f"measure {code}",
        effect=effect,  # type: ignore[arg-type]
        category="rights_limiting",
        legal_basis=(LegalBasis(title="《中华人民共和国政府采购法》", article="第二十二条"),),
        record_ids=record_ids,
    )


def make_decision(
    *effects: tuple[str, str],
    subject: str = ORG,
    records: tuple[CreditRecord, ...] | None = None,
    decision_id: str | None = None,
) -> Decision:
    """A decision applying measures ``(code, effect)`` for one record with effect."""
    recs = records if records is not None else (record(),)
    return Decision(
        decision_id=decision_id or f"D{next(_ids):06d}",
        subject_code=subject,
        subject_kind="organization",
        step="procurement.bid",
        region="320100",
        as_of=date(2026, 3, 2),
        outcome="deny" if effects else "allow",
        records=tuple(
            EffectiveRecord(record=r, source="mirror", subject_code=subject) for r in recs
        ),
        measures=tuple(measure(c, e, tuple(r.record_id for r in recs)) for c, e in effects),
        decided_at=datetime(2026, 3, 2, 1, 15, tzinfo=UTC),
    )


class FakeClock:
    """A settable clock so backoff and leases can be tested without sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def channel(base_url: str = BASE, **kw: Any) -> PlatformChannel:
    """The platform adapter's channel to a reference platform with its default key."""
    return PlatformChannel("platform", base_url, DEFAULT_APP_KEY, DEFAULT_SECRET, **kw)


def make_deliverer(
    outbox: Any,
    platform: ReferencePlatform | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    base_url: str = BASE,
    clock: Callable[[], float] | None = None,
    **kw: Any,
) -> Deliverer:
    if transport is None:
        assert platform is not None
        transport = platform.mock_transport()
    kw.setdefault("backoff", Backoff(base_s=0.01, max_s=0.05))
    kw.setdefault("timeout_s", 5.0)
    kw.setdefault("lease_s", 10.0)
    return Deliverer(
        outbox,
        channel(base_url),
        transport=transport,
        clock=clock or __import__("time").time,
        **kw,
    )


PG_DSN = os.environ.get("CREDITGUARD_TEST_PG_DSN")


def loopback_deliverer(outbox: Any, url: str, **kw: Any) -> Deliverer:
    """A deliverer to a loopback platform, with short timeouts and backoff for tests."""
    kw.setdefault("backoff", Backoff(base_s=0.05, max_s=0.3))
    kw.setdefault("timeout_s", 1.0)
    kw.setdefault("lease_s", 3.0)
    return Deliverer(outbox, channel(url), **kw)


def check_exactly_once(platform: ReferencePlatform, expected_keys: set[str]) -> dict[str, int]:
    """Every expected key reached the platform, each key only ever with one body; sends per key."""
    import json

    bodies: dict[str, set[str]] = {}
    sends: dict[str, int] = {}
    for req in platform.requests_log:
        if req.idempotency_key is None or req.status is None or not 200 <= req.status < 300:
            continue
        bodies.setdefault(req.idempotency_key, set()).add(json.dumps(req.body, sort_keys=True))
        sends[req.idempotency_key] = sends.get(req.idempotency_key, 0) + 1
    missing = expected_keys - set(bodies)
    assert not missing, f"{len(missing)} items never reached the platform"
    assert all(len(b) == 1 for b in bodies.values()), "a key was sent with two different bodies"
    n_fb = sum(1 for k in expected_keys if k in bodies)
    assert n_fb == len(expected_keys)
    return sends
