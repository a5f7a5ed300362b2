"""The deliverer against the reference platform in process (httpx.MockTransport)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import httpx
import pytest
from outbox_helpers import BASE, UNIT, FakeClock, make_decision, make_deliverer

from creditguard.cases import CaseFeedback, CaseOpened, CaseRecorder
from creditguard.channels import PushEvent
from creditguard.outbox import Backoff, OutboxItem, SqliteOutbox, encode_payload, idempotency_key
from creditguard.testing import Fault, ReferencePlatform


def opened(**changes: Any) -> CaseOpened:
    fact = CaseOpened(
        case_id=f"{UNIT}-X",
        unit_code=UNIT,
        subject_code="91320100MA1W2K7D41",
        record_ids=(),
        step="s.t",
        region="320100",
        initiated_at="2026-03-02T09:15:00+08:00",
    )
    return dataclasses.replace(fact, **changes)


def item(key: str, fact: Any, kind: str = "case") -> OutboxItem:
    return OutboxItem(
        key=key, kind=kind, payload=encode_payload(dataclasses.asdict(fact)), group=fact.case_id
    )  # type: ignore[arg-type]


def record_case(outbox: SqliteOutbox, *effects: tuple[str, str]) -> str:
    case_id = CaseRecorder(outbox, UNIT).record_step(make_decision(*effects), workflow_ref="WF-1")
    assert case_id is not None
    return case_id


def test_delivers_case_then_feedback_signed_with_prefix(
    outbox: SqliteOutbox, platform: ReferencePlatform
) -> None:
    case_id = record_case(outbox, ("S-01", "deny"), ("S-02", "notify"))
    d = make_deliverer(outbox, platform)
    attempts = d.deliver_due()
    assert [a.result for a in attempts] == ["delivered"] * 3
    assert attempts[0].kind == "case"
    assert case_id in platform.cases
    assert sorted((f["measure_code"], f["action"]) for f in platform.feedback) == [
        ("S-01", "denied"),
        ("S-02", "notified"),
    ]
    keys = [r.idempotency_key for r in platform.requests_log]
    assert keys[0] == idempotency_key(UNIT, case_id, "case") and len(set(keys)) == 3
    st = outbox.status(now=0)
    assert (st.pending, st.delivered, st.dead) == (0, 3, 0)
    assert d.deliver_one() is None


def test_conflict_is_dead_lettered_with_the_platforms_message(
    outbox: SqliteOutbox, platform: ReferencePlatform
) -> None:
    d = make_deliverer(outbox, platform)
    outbox.enqueue(item("k1", opened()))
    assert d.deliver_due()[0].result == "delivered"
    # Same key as k1 but another body: what a buggy producer might do.
    conflicting = item("k1", opened(step="other.step"))
    other = SqliteOutbox(outbox.path.with_name("second.db"))
    other.enqueue(conflicting)
    (attempt,) = make_deliverer(other, platform).deliver_due()
    assert attempt.result == "dead" and attempt.status == 409
    (dead,) = other.items("dead")
    assert dead.last_status == 409 and "IDEMPOTENCY_CONFLICT" in (dead.last_error or "")


def test_bad_request_is_dead_not_dropped(outbox: SqliteOutbox, platform: ReferencePlatform) -> None:
    outbox.enqueue(item("bad", opened(subject_code="not-a-code")))
    (a,) = make_deliverer(outbox, platform).deliver_due()
    assert (a.result, a.status) == ("dead", 400)
    assert "INVALID_ARGUMENT" in a.message and outbox.status(now=0).dead == 1


def test_an_item_without_a_fact_is_dead_with_the_reason(
    outbox: SqliteOutbox, platform: ReferencePlatform
) -> None:
    # What creditguard 0.1 stored: a request body, not a fact. Never dropped, never sent.
    legacy = OutboxItem(key="old", kind="case", payload=b'{"case_id": "x", "step": "s"}')
    outbox.enqueue(legacy)
    (a,) = make_deliverer(outbox, platform).deliver_due()
    assert (a.result, a.status) == ("dead", None)
    assert "no readable case fact" in a.message and platform.requests_log == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault.status(503, times=2),
        Fault.status(500, times=2),
        Fault.garbage(502, times=2),
        Fault.rate_limited(retry_after=0, times=2),
        Fault.reset(times=2),
        Fault.truncated(times=2),
    ],
    ids=["503", "500", "garbage", "429", "reset", "truncated"],
)
def test_temporary_failures_are_retried(
    outbox: SqliteOutbox, platform: ReferencePlatform, fault: Fault
) -> None:
    clock = FakeClock()
    record_case(outbox, ("S-01", "deny"))
    d = make_deliverer(outbox, platform, clock=clock, backoff=Backoff(base_s=1, max_s=4))
    platform.inject(fault)
    results = []
    for _ in range(10):
        got = d.deliver_due()
        results += [a.result for a in got]
        clock.advance(10)
    assert results.count("retry") == 2 and results.count("delivered") == 2
    assert len(platform.feedback) == 1 and outbox.status(now=clock.now).pending == 0


def test_retry_after_is_honoured(outbox: SqliteOutbox, platform: ReferencePlatform) -> None:
    clock = FakeClock()
    record_case(outbox, ("S-01", "deny"))
    d = make_deliverer(outbox, platform, clock=clock, backoff=Backoff(base_s=0.1, max_s=0.2))
    platform.inject(Fault.rate_limited(retry_after=7, times=1))
    (a,) = d.deliver_due()
    assert a.result == "retry" and a.next_at is not None and a.next_at >= clock.now + 7
    clock.advance(6.9)
    assert d.deliver_due() == []
    clock.advance(0.2)
    assert [x.result for x in d.deliver_due()] == ["delivered", "delivered"]


def test_backoff_grows_with_jitter_and_cap() -> None:
    b = Backoff(base_s=1, factor=2, max_s=10)
    rng = random.Random(1)
    delays = [b.delay(n, rng) for n in range(1, 8)]
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and 2 <= delays[2] <= 4
    assert all(5 <= d <= 10 for d in delays[4:])
    assert len({round(b.delay(3, rng), 6) for _ in range(5)}) > 1, "jittered"


def test_case_not_found_means_not_yet(outbox: SqliteOutbox, platform: ReferencePlatform) -> None:
    clock = FakeClock()
    case_id = record_case(outbox, ("S-01", "deny"))
    d = make_deliverer(outbox, platform, clock=clock)
    (init,) = d.deliver_due(limit=1)
    assert init.kind == "case" and init.result == "delivered"
    platform.reset()  # the platform lost the case: feedback gets 404 CASE_NOT_FOUND
    (fb,) = d.deliver_due(limit=1)
    assert (fb.result, fb.status) == ("retry", 404) and "initiation requeued" in fb.message
    clock.advance(5)
    rest = d.deliver_due()
    assert [(a.kind, a.result) for a in rest] == [("case", "delivered"), ("feedback", "delivered")]
    assert case_id in platform.cases and len(platform.feedback) == 1


def test_unknown_platform_case_is_dead(outbox: SqliteOutbox, platform: ReferencePlatform) -> None:
    event = PushEvent(
        event_id="E-1",
        type="case.initiated",
        case_id="P-404",
        subject_code="91320100MA1W2K7D41",
        measures=("S-01",),
    )
    CaseRecorder(outbox, UNIT).respond(event, {"S-01"})
    (a,) = make_deliverer(outbox, platform).deliver_due()
    assert (a.result, a.status) == ("dead", 404)


def test_unauthenticated_retries_then_dead(
    outbox: SqliteOutbox, platform: ReferencePlatform
) -> None:
    clock = FakeClock()
    record_case(outbox, ("S-01", "deny"))
    platform.app_keys = {"test-key": "another-secret"}  # the platform holds another secret
    d = make_deliverer(outbox, platform, clock=clock, max_refusal_attempts=3)
    results = []
    for _ in range(5):
        results += [a.result for a in d.deliver_due()]
        clock.advance(10)
    assert results[:3] == ["retry", "retry", "dead"], "initiation first, then its feedback"
    assert results.count("dead") == 2 and outbox.status(now=clock.now).dead == 2
    assert "gave up after 3 attempts" in (outbox.items("dead")[0].last_error or "")


def test_non_receipt_2xx_is_retried_not_marked(outbox: SqliteOutbox) -> None:
    clock = FakeClock()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(200, content=b"<html>ok</html>")
        return httpx.Response(
            201, json={"receipt_id": "R1", "received_at": "2026-03-02T09:15:00+08:00"}
        )

    fb = CaseFeedback(
        case_id="X",
        unit_code=UNIT,
        measure_code="S-01",
        step="s.t",
        action="denied",
        detail="",
        decided_at="2026-03-02T09:15:00+08:00",
    )
    outbox.enqueue(item("k", fb, kind="feedback"))
    d = make_deliverer(outbox, transport=httpx.MockTransport(handler), clock=clock)
    assert d.deliver_due()[0].result == "retry"
    clock.advance(1)
    assert d.deliver_due()[0].result == "delivered"
    assert calls[0].headers["Idempotency-Key"] == calls[1].headers["Idempotency-Key"] == "k"
    assert calls[0].content == calls[1].content
    assert calls[0].headers["X-CG-Nonce"] != calls[1].headers["X-CG-Nonce"], "signed afresh"


def test_secret_is_not_in_repr(outbox: SqliteOutbox, platform: ReferencePlatform) -> None:
    d = make_deliverer(outbox, platform)
    assert "test-secret" not in repr(d) and "test-secret" not in repr(d.channel)
    assert BASE in repr(d)


def test_lease_must_exceed_timeout(outbox: SqliteOutbox) -> None:
    with pytest.raises(ValueError, match="lease_s"):
        make_deliverer(
            outbox,
            transport=httpx.MockTransport(lambda r: httpx.Response(200)),
            timeout_s=10,
            lease_s=5,
        )
