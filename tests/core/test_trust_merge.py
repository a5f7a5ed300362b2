"""Merge first, judge effect after (spec §4.0), and replays by status history (spec §4).

A listing repaired at the platform must not come back through an agency or a
file-loaded mirror that still shows it listed; the same listing from several
sources is one listing and the decision names every source that returned it;
a replay honours ``status_history`` and says when it rests on today's status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from _coredata import COURT, ORG_BLACK, REGION, TODAY, day

from creditguard.clock import CST
from creditguard.models import CreditRecord, Subject, SubjectRecords

GuardFactory = Any
BASIS = "（2025）苏01执1234号"


class StaticSource:
    """A LocalSource answering fixed records for ORG_BLACK; ``speaks_for_platform`` as given."""

    def __init__(self, name: str, records: Sequence[dict[str, Any]], *, platform: bool = False):
        self.name = name
        self.speaks_for_platform = platform
        self.records = tuple(CreditRecord.model_validate(r) for r in records)

    def lookup(self, codes: Any, *, include_related: bool = False) -> dict[str, SubjectRecords]:
        subject = Subject(code=ORG_BLACK, kind="organization", name="南京某某建设工程有限公司")
        return {c: SubjectRecords(code=c, subject=subject, records=self.records) for c in codes}


def listing(record_id: str, status: str = "listed", **extra: Any) -> dict[str, Any]:
    """The court's blacklist listing of ORG_BLACK (NJ-01 denies procurement for it)."""
    return {
        "record_id": record_id,
        "list_kind": "blacklist",
        "domain": "court_enforcement",
        "list_name": "失信被执行人名单",
        "authority": COURT,
        "basis": BASIS,
        "listed_on": day(-300),
        "expires_on": day(430),
        "status": status,
        "region": REGION,
        **extra,
    }


def check(make_guard: GuardFactory, sources: list[StaticSource], **kw: Any) -> Any:
    g = make_guard(sources=sources)
    return g.check(ORG_BLACK, step="procurement.bid", region=REGION, **kw)


@pytest.mark.parametrize("platform_first", [True, False])
def test_repaired_at_the_platform_listed_at_an_agency_has_no_effect(
    make_guard: GuardFactory, platform_first: bool
) -> None:
    platform = StaticSource("platform", [listing("JS-1", "repaired")], platform=True)
    # The agency writes its own id, half-width parentheses and a stray space.
    agency = StaticSource("tianyancha", [listing("TYC-9", basis="(2025)苏01执 1234号")])
    order = [platform, agency] if platform_first else [agency, platform]
    d = check(make_guard, order)
    assert d.outcome == "allow" and d.verified
    assert d.records == () and d.measures == ()


def test_listed_at_the_platform_repaired_at_an_agency_still_binds(
    make_guard: GuardFactory,
) -> None:
    platform = StaticSource("platform", [listing("JS-1")], platform=True)
    agency = StaticSource(
        "tianyancha",
        [listing("TYC-9", "repaired", status_history=[{"status": "repaired", "on": day(-1)}])],
    )
    d = check(make_guard, [agency, platform])
    assert d.outcome == "deny"
    [er] = d.records
    assert er.source == "platform" and er.record.record_id == "JS-1"
    assert er.sources == ("platform", "tianyancha")  # every source that returned it


def test_same_listing_from_several_sources_is_one_record_naming_all(
    make_guard: GuardFactory,
) -> None:
    mirror = StaticSource("mirror", [listing("JS-1")])
    agency = StaticSource("qichacha", [listing("QCC-1", basis="（2025） 苏01执1234号")])
    d = check(make_guard, [mirror, agency])
    [er] = d.records
    assert (er.source, er.sources) == ("mirror", ("mirror", "qichacha"))
    [m] = d.measures
    assert m.record_ids == ("JS-1",)


def test_different_list_kind_is_another_listing(make_guard: GuardFactory) -> None:
    mirror = StaticSource("mirror", [listing("JS-1")])
    agency = StaticSource("qichacha", [listing("QCC-1", list_kind="focus", list_name="重点关注")])
    d = check(make_guard, [mirror, agency])
    assert sorted(er.record.record_id for er in d.records) == ["JS-1", "QCC-1"]


def test_without_the_platform_the_latest_status_change_wins(make_guard: GuardFactory) -> None:
    files = StaticSource("mirror", [listing("JS-1")])  # loaded from files: no say for the platform
    agency = StaticSource(
        "tianyancha",
        [
            listing(
                "TYC-9",
                "repaired",
                status_history=[
                    {"status": "listed", "on": day(-300)},
                    {"status": "repaired", "on": day(-5)},
                ],
            )
        ],
    )
    d = check(make_guard, [files, agency])
    assert d.outcome == "allow" and d.records == ()


def test_equal_evidence_falls_back_to_configuration_order(make_guard: GuardFactory) -> None:
    first = StaticSource("mirror", [listing("JS-1", "repaired")])
    second = StaticSource("tianyancha", [listing("TYC-9")])
    assert check(make_guard, [first, second]).outcome == "allow"
    d = check(make_guard, [second, first])
    assert d.outcome == "deny" and d.records[0].sources == ("tianyancha", "mirror")


def test_a_mirror_kept_from_the_push_feed_speaks_for_the_platform(
    make_guard: GuardFactory,
) -> None:
    fed = StaticSource("mirror", [listing("JS-1", "removed")], platform=True)
    agency = StaticSource("tianyancha", [listing("TYC-9")])
    assert check(make_guard, [agency, fed]).outcome == "allow"


# --- status over time (spec §4) -------------------------------------------------------------


def history_listing() -> dict[str, Any]:
    return listing(
        "JS-1",
        "repaired",
        status_history=[
            {"status": "listed", "on": day(-300)},
            {"status": "repaired", "on": day(-30)},
        ],
    )


def test_replay_uses_the_status_in_force_on_the_day(make_guard: GuardFactory) -> None:
    src = StaticSource("platform", [history_listing()], platform=True)
    g = make_guard(sources=[src])
    then = g.check(ORG_BLACK, step="procurement.bid", region=REGION, as_of=TODAY - timedelta(60))
    assert then.outcome == "deny" and not then.replay_uses_current_status
    now = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert now.outcome == "allow"
    before = g.check(ORG_BLACK, step="procurement.bid", region=REGION, as_of=TODAY - timedelta(301))
    assert before.outcome == "allow"  # not yet listed


def test_replay_without_history_says_it_rests_on_todays_status(make_guard: GuardFactory) -> None:
    src = StaticSource("platform", [listing("JS-1", "repaired")], platform=True)
    g = make_guard(sources=[src])
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION, as_of=TODAY - timedelta(60))
    assert d.outcome == "allow" and d.replay_uses_current_status is True
    assert "回溯" in d.explanation and "当前状态" in d.explanation
    assert d.model_dump(mode="json")["replay_uses_current_status"] is True
    today = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert today.replay_uses_current_status is False and "回溯" not in today.explanation


def test_record_effect_follows_its_history() -> None:
    rec = CreditRecord.model_validate(history_listing())
    assert rec.status_on(TODAY - timedelta(301)) is None
    assert rec.has_effect(TODAY - timedelta(60)) and not rec.has_effect(TODAY)
    assert rec.why_no_effect(TODAY) == "record JS-1 is repaired"
    assert "not yet listed" in (rec.why_no_effect(TODAY - timedelta(301)) or "")


def test_the_engine_clock_decides_the_default_day(make_guard: GuardFactory) -> None:
    src = StaticSource("platform", [history_listing()], platform=True)
    g = make_guard(sources=[src])
    sixty_days_ago = datetime.combine(TODAY - timedelta(60), datetime.min.time(), CST)
    g.engine.now = lambda: sixty_days_ago.replace(hour=12)
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert d.as_of == TODAY - timedelta(60) and d.outcome == "deny"
    assert d.decided_at == sixty_days_ago.replace(hour=12)
    assert isinstance(d.as_of, date)
