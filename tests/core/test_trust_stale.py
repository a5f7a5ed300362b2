"""Stale records are never presented as verified; when the data was loaded is shown.

Driven through the engine with an injected cache clock, so ages are exact
and nothing depends on the wall clock.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from _coredata import ORG_BLACK, REGION

from creditguard.cache import RecordCache
from creditguard.cli.check_cmd import render
from creditguard.clock import CST
from creditguard.engine import Engine, FailurePolicy, Fetched
from creditguard.errors import SourceUnavailable
from creditguard.explain import data_time
from creditguard.models import Decision, SubjectRecords

GuardFactory = Any
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def setup(guard: Any, mirror: Any) -> tuple[Engine, Clock, Any]:
    clock = Clock()
    engine = Engine(
        catalog=guard.catalog,
        sources=["mirror"],
        cache=RecordCache(ttl=0, clock=clock),
        hooks=guard.hooks,
        failure=FailurePolicy("stale", stale_fallback="hold", max_stale=3600),
        now=lambda: T0,
    )
    return engine, clock, mirror


def run(engine: Engine, answer: Fetched) -> Decision:
    plan = engine.plan(ORG_BLACK, step="procurement.bid", region=REGION)
    assert len(plan.missing) == 1  # ttl 0: always asked again
    return engine.finish(plan, [answer])


def fresh(mirror: Any) -> Fetched:
    return Fetched(dict(mirror.lookup([ORG_BLACK])), None, T0)


DOWN = Fetched(None, SourceUnavailable("answered 503", source="mirror"), T0)


def test_stale_decision_is_unverified_with_its_age(setup: tuple[Engine, Clock, Any]) -> None:
    engine, clock, mirror = setup
    first = run(engine, fresh(mirror))
    assert first.verified and not first.stale and first.stale_age_s is None
    clock.t += 600
    d = run(engine, DOWN)
    assert d.outcome == "deny"  # the cached records still decide
    assert (d.verified, d.stale, d.stale_age_s) == (False, True, 600.0)
    data = json.loads(d.model_dump_json())
    assert (data["verified"], data["stale"], data["stale_age_s"]) == (False, True, 600.0)
    assert "缓存" in d.explanation and "约 10 分钟" in d.explanation
    assert "核验" in d.explanation  # says it was not verified
    text = render(d)
    assert "STALE" in text and "600 s old" in text


def test_too_old_for_stale_falls_back_to_hold(setup: tuple[Engine, Clock, Any]) -> None:
    engine, clock, mirror = setup
    run(engine, fresh(mirror))
    clock.t += 3601
    d = run(engine, DOWN)
    assert (d.outcome, d.verified, d.stale, d.stale_age_s) == ("review", False, False, None)


def test_data_time_is_the_last_load_not_the_lookup(setup: tuple[Engine, Clock, Any]) -> None:
    engine, _clock, mirror = setup
    loaded = datetime(2026, 3, 1, 23, 30, tzinfo=CST)
    got = dict(mirror.lookup([ORG_BLACK]))
    sr: SubjectRecords = got[ORG_BLACK].model_copy(update={"data_as_of": loaded})
    d = run(engine, Fetched({ORG_BLACK: sr}, None, T0))
    [p] = d.provenance
    assert p.data_as_of == loaded and p.fetched_at == T0
    assert data_time(d) == loaded
    assert "数据截至 2026-03-01 23:30" in d.explanation
    assert "data as of 2026-03-01 23:30" in render(d)


def test_live_source_data_time_is_its_fetch_time(setup: tuple[Engine, Clock, Any]) -> None:
    engine, _clock, mirror = setup
    got = dict(mirror.lookup([ORG_BLACK]))
    sr = got[ORG_BLACK].model_copy(update={"data_as_of": None})
    d = run(engine, Fetched({ORG_BLACK: sr}, None, T0))
    assert data_time(d) == T0 and "数据截至 2026-03-02 09:00" in d.explanation
