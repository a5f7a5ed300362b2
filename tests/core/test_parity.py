"""Every scenario gives the same decision through Guard and AsyncGuard."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from _coredata import (
    ORG_BLACK,
    ORG_CLEAN,
    ORG_EXPIRED,
    ORG_FOCUS,
    ORG_MULTI,
    REGION,
    REP,
    TODAY,
    DownSource,
    FlakySource,
)

from creditguard import hookimpl
from creditguard.models import Decision, Measure
from creditguard.rules import applied

pytestmark = pytest.mark.anyio


class ExtraDeny:
    """A plugin adding a deny at subsidy steps for focus-list records."""

    measure = Measure.model_validate(
        {
            "code": "X-SUB",
            "title": "限制申请专项资金",
            "category": "rights_limiting",
            "legal_basis": [
                {
                    "title": "《企业信息公示暂行条例》",
                    "article": "第十八条",
                    "level": "administrative_regulation",
                }
            ],
            "applies_to": {"list_kinds": ["focus"], "steps": ["subsidy.*"]},
            "effect": "deny",
        }
    )

    @hookimpl
    def creditguard_extra_measures(self, step: str, records: Any) -> Any:
        hits = [er for er in records if er.record.list_kind == "focus"]
        return (
            [applied(self.measure, hits, origin="plugin:extra")]
            if hits and step.startswith("subsidy.")
            else None
        )


@dataclass
class Scenario:
    name: str
    code: str
    step: str
    outcome: str
    config: dict[str, Any] = field(default_factory=dict)
    sources: Callable[[Any], list[Any]] = lambda mirror: [mirror]
    plugins: Callable[[], list[object]] = lambda: []
    as_of: int | None = None
    warm_then_fail: bool = False  # check once, then make every FlakySource fail


SCENARIOS = [
    Scenario("clean", ORG_CLEAN, "procurement.bid", "allow"),
    Scenario("deny", ORG_BLACK, "procurement.bid", "deny"),
    Scenario("restrict", ORG_BLACK, "subsidy.apply", "restrict"),
    Scenario("review", ORG_FOCUS, "licensing.accept", "review"),
    Scenario("notify", ORG_FOCUS, "market.entry", "allow"),
    Scenario("commitment", ORG_FOCUS, "licensing.commitment", "review"),
    Scenario("non-public record", ORG_MULTI, "procurement.bid", "deny"),
    Scenario("related person", REP, "appointment.qualify", "deny"),
    Scenario(
        "stale",
        ORG_BLACK,
        "procurement.bid",
        "deny",
        config={"failure": {"default": "stale"}, "guard": {"cache_ttl_s": 0}},
        sources=lambda m: [FlakySource(m)],
        warm_then_fail=True,
    ),
    Scenario(
        "stale fallback",
        ORG_BLACK,
        "procurement.bid",
        "review",
        config={"failure": {"default": "stale", "stale_fallback": "hold"}},
        sources=lambda m: [FlakySource(m, failing=True)],
    ),
    Scenario(
        "hold",
        ORG_CLEAN,
        "procurement.bid",
        "review",
        config={"failure": {"default": "hold"}},
        sources=lambda m: [m, DownSource()],
    ),
    Scenario(
        "allow policy",
        ORG_BLACK,
        "subsidy.apply",
        "allow",
        config={"failure": {"default": "allow"}},
        sources=lambda m: [DownSource()],
    ),
    Scenario("as_of replay", ORG_EXPIRED, "procurement.bid", "deny", as_of=-15),
    Scenario(
        "plugin extra measure", ORG_FOCUS, "subsidy.apply", "deny", plugins=lambda: [ExtraDeny()]
    ),
]


def comparable(d: Decision) -> dict[str, Any]:
    data = d.model_dump(mode="json")
    for key in ("decision_id", "decided_at"):
        data.pop(key)
    for p in data["provenance"]:
        p.pop("fetched_at")
    # The age of stale records is a duration measured by each guard: compare its presence.
    data["stale_age_s"] = data["stale_age_s"] is not None
    data["explanation"] = re.sub(r"数据截至 [^）]*", "数据截至 T", data["explanation"])
    data["explanation"] = re.sub(r"已缓存[^）]*", "已缓存 T", data["explanation"])
    return data


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_sync_and_async_agree(
    sc: Scenario, make_guard: Any, make_async_guard: Any, mirror: Any
) -> None:
    as_of = TODAY + timedelta(days=sc.as_of) if sc.as_of is not None else None
    sync_sources, async_sources = sc.sources(mirror), sc.sources(mirror)
    g = make_guard(sc.config, sources=sync_sources, plugins=sc.plugins())
    ag = make_async_guard(sc.config, sources=async_sources, plugins=sc.plugins())
    if sc.warm_then_fail:
        warm_sync = g.check(sc.code, step=sc.step, region=REGION, as_of=as_of)
        warm_async = await ag.check(sc.code, step=sc.step, region=REGION, as_of=as_of)
        assert comparable(warm_sync) == comparable(warm_async)
        for src in (*sync_sources, *async_sources):
            src.failing = True
    ds = g.check(sc.code, step=sc.step, region=REGION, as_of=as_of)
    da = await ag.check(sc.code, step=sc.step, region=REGION, as_of=as_of)
    assert ds.outcome == sc.outcome
    left, right = comparable(ds), comparable(da)
    for key in left:
        assert left[key] == right[key], key
    assert left == right
    assert ds.decision_id != da.decision_id


async def test_async_raise_policy_and_input_errors(make_async_guard: Any) -> None:
    from creditguard.errors import InputError, InvalidCodeError, RecordsUnavailable

    ag = make_async_guard({"failure": {"default": "raise"}}, sources=[DownSource()])
    with pytest.raises(RecordsUnavailable):
        await ag.check(ORG_BLACK, step="procurement.bid", region=REGION)
    with pytest.raises(InputError):
        await ag.check(ORG_BLACK, step="Procurement", region=REGION)
    with pytest.raises(InvalidCodeError):
        await ag.check(ORG_BLACK[:-1], step="procurement.bid", region=REGION)


async def test_async_guard_context_manager(make_async_guard: Any) -> None:
    ag = make_async_guard()
    async with ag:
        d = await ag.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert d.outcome == "deny"


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_screening_agrees_with_check(
    sc: Scenario, make_guard: Any, make_async_guard: Any, mirror: Any
) -> None:
    """A screened row's decision is the check's, through both guards' screen and iter_screen."""
    as_of = TODAY + timedelta(days=sc.as_of) if sc.as_of is not None else None
    sources = [sc.sources(mirror) for _ in range(5)]
    guards = [
        (make_async_guard if i >= 3 else make_guard)(sc.config, sources=s, plugins=sc.plugins())
        for i, s in enumerate(sources)
    ]
    kw: dict[str, Any] = {"step": sc.step, "region": REGION, "as_of": as_of}

    async def decide_all() -> list[Decision | None]:
        checker, listed, streamed, alisted, astreamed = guards
        rows = [
            *listed.screen([sc.code], **kw),
            *streamed.iter_screen(iter([sc.code]), **kw),
            *await alisted.screen([sc.code], **kw),
            *[r async for r in astreamed.iter_screen(iter([sc.code]), **kw)],
        ]
        assert [r.row for r in rows] == [1, 1, 1, 1] and all(r.error is None for r in rows)
        return [checker.check(sc.code, **kw), *(r.decision for r in rows)]

    if sc.warm_then_fail:
        # Warmed by a check: screening keeps its answers out of the record cache.
        for i, g in enumerate(guards):
            if i >= 3:
                await g.check(sc.code, **kw)
            else:
                g.check(sc.code, **kw)
        for src in (s for group in sources for s in group):
            src.failing = True
    decisions = await decide_all()
    assert all(d is not None for d in decisions)
    assert decisions[0] is not None and decisions[0].outcome == sc.outcome
    expected = comparable(decisions[0])
    for d in decisions[1:]:
        assert d is not None and comparable(d) == expected
