"""One listed subject from order to repair: refused at each rule-breaking step, every event sent once.

Real SQLite files (store and outbox), a loopback reference platform, the
platform adapter's channel. Every test runs twice: over the SQLite store and
over the PostgreSQL store (a schema of its own per test): same rules, same
results.
"""

from __future__ import annotations

import stat
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from creditguard.clock import CST
from creditguard.config import SupervisionConfig, config_from_dict
from creditguard.models import CreditRecord
from creditguard.outbox import Backoff, Deliverer, SqliteOutbox
from creditguard.supervision import (
    Lifecycle,
    NoRuleSetConfigured,
    RuleBroken,
    SqliteSupervisionStore,
    SupervisionStore,
)
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET

pytest.importorskip("creditguard_platform")
from creditguard_platform.channel import PlatformChannel

ORG = "91320100MA1W2K7D41"
AUTH = "320100-SJ"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=CST)


def record(**kw: Any) -> CreditRecord:
    base: dict[str, Any] = {
        "record_id": "JS-2026-000123",
        "list_kind": "blacklist",
        "domain": "market_regulation",
        "list_name": "严重违法失信名单",
        "authority": {"code": AUTH, "name": "南京市市场监督管理局"},
        "basis": "宁市监〔2026〕1号",
        "listed_on": "2026-01-05",
        "status": "listed",
        "region": "320100",
    }
    base.update(kw)
    return CreditRecord.model_validate(base)


ADOPT_893 = config_from_dict(
    {
        "supervision": {
            "rules": {"320100": [{"pack": "notice-893-2018", "from": date(2021, 1, 1)}]},
            "repair_rules": {"320100": [{"pack": "notice-893-2018", "from": date(2021, 1, 1)}]},
        }
    }
).supervision


_STORES: dict[Path, str] = {}  # a test's tmp_path -> its store (a file or a DSN)


@pytest.fixture(
    autouse=True, params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store every lifecycle of the test shares: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        _STORES[tmp_path] = str(tmp_path / "supervision.db")
        yield _STORES[tmp_path]
        _STORES.pop(tmp_path, None)
        return
    from core._pgmirror import pg_schema_dsn

    with pg_schema_dsn() as dsn:
        _STORES[tmp_path] = dsn
        yield dsn
        _STORES.pop(tmp_path, None)


def lifecycle(tmp_path: Path, unit: str = AUTH, config: SupervisionConfig = ADOPT_893) -> Lifecycle:
    return Lifecycle(
        SupervisionStore(_STORES[tmp_path]),
        SqliteOutbox(str(tmp_path / "outbox.db")),
        unit_code=unit,
        config=config,
    )


def refused(rule: str, fn: Any, *args: Any, **kw: Any) -> None:
    with pytest.raises(RuleBroken) as info:
        fn(*args, **kw)
    assert info.value.rule == rule, str(info.value)


def test_order_to_repair_with_each_rule_enforced_and_each_event_delivered_once(
    tmp_path: Path, creditguard_platform_server: Any
) -> None:
    lc = lifecycle(tmp_path)
    other = lifecycle(tmp_path, unit="320100-SW")  # a different department, same store
    lc.register(ORG, record())
    rid = "JS-2026-000123"
    principal = {"name": "张三", "role": "responsible_person"}

    refused(
        "rectification.by_identifying_department",
        other.order_rectification,
        rid,
        requirements="补缴",
        deadline=date(2026, 3, 16),
        public=True,
        at=at("2026-03-02"),
    )
    refused(
        "rectification.deadline_after_order",
        lc.order_rectification,
        rid,
        requirements="补缴",
        deadline=date(2026, 3, 2),
        public=True,
        at=at("2026-03-02"),
    )
    lc.order_rectification(
        rid,
        requirements="补缴罚款并公开说明",
        deadline=date(2026, 3, 16),
        public=True,
        at=at("2026-03-02"),
    )
    refused(
        "rectification.one_order",
        lc.order_rectification,
        rid,
        requirements="x",
        deadline=date(2026, 4, 1),
        public=True,
        at=at("2026-03-03"),
    )
    # Interviews: not before the deadline passed (the deadline day itself is still in time).
    refused(
        "interview.after_missed_deadline",
        lc.hold_interview,
        rid,
        kind="warning",
        attendee=principal,
        at=at("2026-03-16", 17),
    )
    assert lc.mark_overdue(at=at("2026-03-16", 23)) == []
    refused(
        "interview.kind_by_list",
        lc.hold_interview,
        rid,
        kind="prompt",
        attendee=principal,
        at=at("2026-03-17"),
    )
    refused(
        "interview.who_identifies_interviews",
        other.hold_interview,
        rid,
        kind="warning",
        attendee=principal,
        at=at("2026-03-17"),
    )
    refused(
        "interview.principal_responsible_person",
        lc.hold_interview,
        rid,
        kind="warning",
        attendee={"name": "李四", "role": "related_person"},
        at=at("2026-03-17"),
    )
    lc.hold_interview(rid, kind="warning", attendee=principal, at=at("2026-03-17"))
    refused(
        "interview.once_per_listing",
        lc.hold_interview,
        rid,
        kind="warning",
        attendee=principal,
        at=at("2026-03-18"),
    )
    refused(
        "interview.once_per_listing",
        lc.record_interview_refusal,
        rid,
        kind="warning",
        detail="拒绝",
        at=at("2026-03-18"),
    )
    assert lc.mark_overdue(at=at("2026-03-20")) == []  # the interview already marked it overdue

    # Repair needs a commitment and 3 class hours of training (notice 893 §§9, 10).
    with pytest.raises(RuleBroken) as info:
        lc.apply_repair(rid, at=at("2026-03-19"))
    assert info.value.rule == "repair.requirements"
    assert "commitment" in str(info.value) and "0 of 3 class hours" in str(info.value)
    made = lc.make_commitment(
        rid,
        text="本单位承诺依法诚信经营……",
        published_url="https://www.creditchina.gov.cn/c/1",
        at=at("2026-03-19"),
    )
    refused(
        "training.principal_responsible_person",
        lc.record_training,
        rid,
        hours=3,
        organizer="南京市信用办",
        attendee={"name": "王五", "role": "related_person"},
        at=at("2026-03-20"),
    )
    lc.record_training(
        rid, hours=2, organizer="南京市信用办", attendee=principal, at=at("2026-03-20")
    )
    with pytest.raises(RuleBroken, match="2 of 3 class hours"):
        lc.apply_repair(rid, at=at("2026-03-21"))
    lc.record_training(
        rid, hours=1.5, organizer="南京市信用办", attendee=principal, at=at("2026-03-23")
    )
    lc.record_report(rid, agency_code="CSA-01", report_no="R-2026-9", at=at("2026-03-23"))
    lc.record_consulting(
        rid, topic="内部信用管理制度", organizer="某信用服务机构", hours=2, at=at("2026-03-23")
    )
    assessment = lc.repair_status(rid, as_of=date(2026, 3, 24))
    assert assessment.may_apply is True and assessment.missing == ()
    assert any("not a precondition" in n for n in assessment.notes)
    refused(
        "repair.decide_after_application",
        lc.decide_repair,
        rid,
        granted=True,
        detail="x",
        at=at("2026-03-24"),
    )
    lc.apply_repair(rid, at=at("2026-03-24"))
    refused("repair.one_open_application", lc.apply_repair, rid, at=at("2026-03-24", 11))
    refused(
        "repair.by_identifying_department",
        other.decide_repair,
        rid,
        granted=True,
        detail="符合条件",
        at=at("2026-03-25"),
    )
    lc.decide_repair(rid, granted=True, detail="符合条件，准予修复", at=at("2026-03-25"))
    assert lc.repair_status(rid, as_of=date(2026, 3, 26)).may_apply is False

    stored = [ev for ev, _, _ in lc.store.events(record_id=rid)]
    assert [e.type for e in stored] == [
        "rectification.ordered",
        "rectification.overdue",
        "interview.held",
        "commitment.made",
        "training.completed",
        "training.completed",
        "report.submitted",
        "consulting.given",
        "repair.applied",
        "repair.granted",
    ]
    assert stored[3].event_id == made.event_id

    # Deliver through the outbox to a loopback reference platform, twice over: once in effect.
    server = creditguard_platform_server
    channel = PlatformChannel("platform", server.url, DEFAULT_APP_KEY, DEFAULT_SECRET)
    deliverer = Deliverer(
        lc.outbox, channel, timeout_s=2, lease_s=5, backoff=Backoff(base_s=0.01, max_s=0.05)
    )
    try:
        attempts = deliverer.deliver_due()
        assert attempts and all(a.result == "delivered" for a in attempts), attempts
        assert deliverer.deliver_due() == []
    finally:
        deliverer.close()
    received = server.platform.supervision_events
    counts = Counter(e["event_id"] for e in received)
    assert counts == Counter(e.event_id for e in stored)
    assert [e["type"] for e in received] == [e.type for e in stored]  # one record: in order
    assert received[2]["data"] == {
        "interview_kind": "warning",
        "attendee": {"name": "张三", "role": "responsible_person"},
    }
    if isinstance(lc.store, SqliteSupervisionStore):
        assert stat.S_IMODE((tmp_path / "supervision.db").stat().st_mode) == 0o600
    lc.close()
    other.close()


def test_without_a_rule_set_for_the_date_nothing_is_enforced_or_recorded(tmp_path: Path) -> None:
    lc = lifecycle(tmp_path, config=SupervisionConfig())
    lc.register(ORG, record())
    with pytest.raises(NoRuleSetConfigured) as info:
        lc.order_rectification(
            "JS-2026-000123",
            requirements="x",
            deadline=date(2026, 3, 16),
            public=True,
            at=at("2026-03-02"),
        )
    assert "no rule set is configured" in str(info.value) and "320100" in str(info.value)
    assert lc.store.events() == []
    assert lc.outbox.status(now=0).pending == 0
    assert lc.mark_overdue(at=at("2026-06-01")) == []
    lc.close()


def test_notice_893_applies_by_itself_while_in_force(tmp_path: Path) -> None:
    lc = lifecycle(tmp_path, config=SupervisionConfig())
    lc.register(ORG, record(record_id="JS-2019-1", listed_on="2019-05-06", list_kind="focus"))
    lc.order_rectification(
        "JS-2019-1", requirements="x", deadline=date(2019, 6, 3), public=False, at=at("2019-05-20")
    )
    refused(
        "interview.kind_by_list",
        lc.hold_interview,
        "JS-2019-1",
        kind="warning",
        attendee={"name": "张三", "role": "legal_representative"},
        at=at("2019-06-04"),
    )
    ev = lc.record_interview_refusal(
        "JS-2019-1", kind="prompt", detail="未到场", at=at("2019-06-04")
    )
    assert ev.data == {"interview_kind": "prompt", "detail": "未到场"}
    lc.close()


def test_confirmation_stops_interviews_and_stays_pending_until_the_platform_says_rectified(
    tmp_path: Path,
) -> None:
    lc = lifecycle(tmp_path)
    lc.register(ORG, record())
    rid = "JS-2026-000123"
    lc.order_rectification(
        rid, requirements="x", deadline=date(2026, 3, 16), public=True, at=at("2026-03-02")
    )
    lc.confirm_rectification(rid, confirmed_on=date(2026, 3, 12), at=at("2026-03-12"))
    refused(
        "rectification.confirm_once",
        lc.confirm_rectification,
        rid,
        confirmed_on=date(2026, 3, 12),
        at=at("2026-03-13"),
    )
    refused(
        "interview.after_missed_deadline",
        lc.hold_interview,
        rid,
        kind="warning",
        attendee={"name": "张三", "role": "responsible_person"},
        at=at("2026-03-20"),
    )
    assert lc.mark_overdue(at=at("2026-03-20")) == []
    assert lc.store.listing(rid).platform_status is None  # the event changed no status
    lc.note_platform_status(rid, "rectified", date(2026, 3, 14))
    assert lc.store.listing(rid).platform_status == "rectified"
    lc.close()


def test_a_breach_needs_a_new_commitment_before_repair(tmp_path: Path) -> None:
    lc = lifecycle(tmp_path)
    lc.register(ORG, record())
    rid = "JS-2026-000123"
    made = lc.make_commitment(
        rid, text="承诺", published_url="https://example.gov.cn/c", at=at("2026-03-02")
    )
    refused(
        "commitment.breach_of_known_commitment",
        lc.report_breach,
        rid,
        commitment_event_id="nope",
        detail="x",
    )
    lc.report_breach(rid, commitment_event_id=made.event_id, detail="再次违法", at=at("2026-03-05"))
    lc.record_training(
        rid,
        hours=3,
        organizer="信用办",
        attendee={"name": "张三", "role": "responsible_person"},
        at=at("2026-03-06"),
    )
    a = lc.repair_status(rid, as_of=date(2026, 3, 9))
    assert a.may_apply is False and any("breached" in m for m in a.missing)
    assert [e.type for e in lc.breaches(ORG)] == ["commitment.breached"]
    lc.close()


def test_court_enforcement_records_route_to_the_court(tmp_path: Path) -> None:
    lc = lifecycle(tmp_path)
    lc.register(
        ORG, record(record_id="FY-1", domain="court_enforcement", list_name="失信被执行人名单")
    )
    a = lc.repair_status("FY-1", as_of=date(2026, 5, 6))
    assert a.route == "court" and a.may_apply is False and "人民法院" in a.missing[0]
    refused("repair.court_route", lc.apply_repair, "FY-1", at=at("2026-05-06"))
    lc.close()


def test_repair_packs_by_date(tmp_path: Path) -> None:
    lc = lifecycle(tmp_path, config=SupervisionConfig())
    lc.register(ORG, record(listed_on="2025-01-06"))
    rid = "JS-2026-000123"
    # Order 58 (2023-05-01 … 2026-03-31): correction and commitment; its periods are not claimed.
    a58 = lc.repair_status(rid, as_of=date(2025, 6, 2))
    assert a58.rules == "ndrc-order-58-2023" and a58.may_apply is False
    assert any("correction" in m for m in a58.missing)
    # Order 36 (from 2026-04-01): tiers with a minimum period from the listing date.
    a36 = lc.repair_status(rid, as_of=date(2026, 4, 1), tier="serious")
    assert a36.rules == "ndrc-order-36-2026" and a36.from_date == date(2026, 1, 6)
    unknown_tier = lc.repair_status(rid, as_of=date(2026, 4, 1))
    assert unknown_tier.may_apply is False  # correction missing anyway; never "yes" without a tier
    # 2021-01-01 … 2023-04-30: no national pack, none configured: said so.
    with pytest.raises(NoRuleSetConfigured, match="credit repair"):
        lc.repair_status(rid, as_of=date(2022, 3, 1))
    lc.close()


def test_responsible_persons_are_named_by_the_identifying_department(tmp_path: Path) -> None:
    lc = lifecycle(tmp_path)
    lc.register(ORG, record())
    rid = "JS-2026-000123"
    person = "110101199003074573"
    ev = lc.name_responsible_person(
        rid, code=person, name="赵六", role="related_person", at=at("2026-03-02")
    )
    assert ev.data["person"]["role"] == "related_person"
    assert lc.responsible_persons(rid) == [
        {"code": person, "name": "赵六", "role": "related_person"}
    ]
    with pytest.raises(Exception, match="role must be"):
        lc.name_responsible_person(rid, code=person, name="赵六", role="boss", at=at("2026-03-02"))
    other = lifecycle(tmp_path, unit="320100-SW")
    refused(
        "responsible_person.by_identifying_department",
        other.name_responsible_person,
        rid,
        code=person,
        name="赵六",
        role="related_person",
        at=at("2026-03-02"),
    )
    other.close()
    lc.close()
