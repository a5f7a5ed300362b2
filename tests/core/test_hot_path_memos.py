"""The warm check's memos and cached flags never outlive what they stand for.

The warm path keeps three things between checks (docs/design.md, "The hot
path"): whether any plugin implements the per-check hooks (kept per plugin
manager generation), the fields of the usual decision (keyed by the
identities of its immutable inputs) and parsed codes (per day of the
engine's clock). Each test changes what one of them depends on after warm
checks have filled it, and shows the next check sees the change.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pluggy
import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, REGION

from creditguard import hookimpl, hookspecs
from creditguard.cache import RecordCache
from creditguard.clock import CST
from creditguard.engine import Engine, FailurePolicy, Fetched
from creditguard.errors import SourceUnavailable
from creditguard.models import AppliedMeasure, Decision, Measure
from creditguard.plugins import Hooks, PluginManager, build_plugin_manager
from creditguard.rules import applied

GuardFactory = Any
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


class Observer:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def creditguard_decision_made(self, decision: Decision, context: Any) -> None:
        self.seen.append(decision.decision_id)


LATE = Measure.model_validate(
    {
        "code": "X-LATE",
        "title": "后注册的措施",
        "category": "rights_limiting",
        "legal_basis": [
            {"title": "《中华人民共和国政府采购法》", "article": "第二十二条", "level": "law"}
        ],
        "applies_to": {"list_kinds": ["blacklist", "focus"], "steps": ["*"]},
        "effect": "deny",
    }
)


class AlwaysDeny:
    @hookimpl
    def creditguard_extra_measures(self, records: Any) -> list[AppliedMeasure]:
        return [applied(LATE, records, origin="plugin:late")]


# -- the plugin manager's generation --------------------------------------------------


def test_generation_counts_registrations_and_removals() -> None:
    pm = build_plugin_manager(load_entrypoints=False)
    assert isinstance(pm, PluginManager)
    start = pm.generation
    obs = Observer()
    pm.register(obs)
    assert pm.generation == start + 1
    pm.unregister(obs)
    assert pm.generation == start + 2
    pm.set_blocked("someone")  # pluggy blocks through unregister: counted too
    assert pm.generation > start + 2


def test_hooks_see_an_observer_registered_and_removed_after_they_were_read() -> None:
    pm = build_plugin_manager(load_entrypoints=False)
    hooks = Hooks(pm)
    assert not hooks.has_observers and not hooks.has_extra_measures
    obs, deny = Observer(), AlwaysDeny()
    pm.register(obs)
    assert hooks.has_observers and not hooks.has_extra_measures
    pm.register(deny)
    assert hooks.has_extra_measures
    pm.unregister(obs)
    pm.unregister(deny)
    assert not hooks.has_observers and not hooks.has_extra_measures


def test_hooks_over_a_plain_pluggy_manager_ask_pluggy_each_time() -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    hooks = Hooks(pm)
    assert not hooks.has_observers
    pm.register(Observer())
    assert hooks.has_observers


def test_late_observer_and_late_removal_after_warm_checks(make_guard: GuardFactory) -> None:
    g = make_guard()
    for _ in range(3):  # warm: the decision memo and the flags are filled
        g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    obs = Observer()
    g.plugin_manager.register(obs)
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert obs.seen == [d.decision_id]
    g.plugin_manager.unregister(obs)
    g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert obs.seen == [d.decision_id]


def test_late_extra_measure_applies_to_a_memoised_decision(make_guard: GuardFactory) -> None:
    g = make_guard()
    before = [g.check(ORG_BLACK, step="procurement.bid", region=REGION) for _ in range(3)]
    assert all("X-LATE" not in [m.code for m in d.measures] for d in before)
    deny = AlwaysDeny()
    g.plugin_manager.register(deny)
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert "X-LATE" in [m.code for m in d.measures] and d.outcome == "deny"
    g.plugin_manager.unregister(deny)
    again = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert [m.code for m in again.measures] == [m.code for m in before[0].measures]


# -- the memoised decision fields -------------------------------------------------------


def test_warm_decisions_are_separate_objects_with_their_own_id_and_time(
    make_guard: GuardFactory,
) -> None:
    g = make_guard()
    ticks = iter(T0 + timedelta(seconds=i) for i in range(100))
    g.engine.now = lambda: next(ticks)
    cold = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    a = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    b = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert len({cold.decision_id, a.decision_id, b.decision_id}) == 3
    # A check that fetched reads the clock again after the fetch; a warm one reads it once.
    seconds = [int((d.decided_at - T0).total_seconds()) for d in (cold, a, b)]
    assert seconds == [1, 2, 3]
    assert a.as_of == b.as_of == T0.date()
    # Reading the explanation (a cached property stored on the instance) touches one only.
    assert a.explanation and "explanation" not in vars(b)
    same = {
        k: v for k, v in vars(a).items() if k not in ("decision_id", "decided_at", "explanation")
    }
    assert same == {k: v for k, v in vars(b).items() if k in same}
    assert list(vars(b)) == list(Decision.model_fields)  # the model's order (repr, dumps)
    assert Decision.model_validate(b.model_dump()) == b
    assert b.model_copy(update={"step": "x"}).step == "x" and b.step == "procurement.bid"


def test_a_warm_decision_never_lends_verified_to_a_stale_one(guard: Any, mirror: Any) -> None:
    ticks = [1000.0]
    engine = Engine(
        catalog=guard.catalog,
        sources=["mirror"],
        cache=RecordCache(ttl=60, clock=lambda: ticks[0]),
        hooks=guard.hooks,
        failure=FailurePolicy("stale", stale_fallback="hold", max_stale=3600),
        now=lambda: T0,
    )
    plan = engine.plan(ORG_BLACK, step="procurement.bid", region=REGION)
    first = engine.finish(plan, [Fetched(dict(mirror.lookup([ORG_BLACK])), None, T0)])
    for _ in range(3):  # warm, from the cache: the memo holds the verified fields
        warm = engine.finish(engine.plan(ORG_BLACK, step="procurement.bid", region=REGION))
        assert warm.verified and warm.outcome == first.outcome
    ticks[0] += 600  # past the TTL; the source is down: the same entry is used stale
    plan = engine.plan(ORG_BLACK, step="procurement.bid", region=REGION)
    down = Fetched(None, SourceUnavailable("answered 503", source="mirror"), T0)
    d = engine.finish(plan, [down])
    assert (d.verified, d.stale, d.stale_age_s) == (False, True, 600.0)
    assert d.degraded_reason and "503" in d.degraded_reason
    assert d.outcome == first.outcome


def test_a_clean_subject_gets_its_own_decision(make_guard: GuardFactory) -> None:
    g = make_guard()
    black = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    clean = [g.check(ORG_CLEAN, step="procurement.bid", region=REGION) for _ in range(2)]
    assert all(d.subject_code == ORG_CLEAN and d.outcome == "allow" for d in clean)
    assert black.subject_code == ORG_BLACK and black.outcome != "allow"


def test_another_region_or_day_is_not_served_from_the_memo(make_guard: GuardFactory) -> None:
    g = make_guard()
    today = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    other = g.check(ORG_BLACK, step="procurement.bid", region="320102")
    assert (today.region, other.region) == (REGION, "320102")
    earlier = g.check(ORG_BLACK, step="procurement.bid", region=REGION, as_of=date(2020, 1, 1))
    assert earlier.as_of == date(2020, 1, 1) and earlier.as_of != today.as_of


# -- one clock ------------------------------------------------------------------------------


@pytest.mark.parametrize("hour", [9, 23])
def test_the_engine_clock_decides_day_and_time(make_guard: GuardFactory, hour: int) -> None:
    g = make_guard()
    at = datetime(2026, 3, 2, hour, 30, tzinfo=CST)
    g.engine.now = lambda: at.astimezone(CST).astimezone()  # any zone: the day is CST's
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert d.as_of == date(2026, 3, 2) and d.decided_at == at
    g.engine.now = lambda: at + timedelta(days=1)
    nxt = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert nxt.as_of == date(2026, 3, 3)
