"""The check reads the supervision store: commitment breaches and persons named for a listing.

Real SQLite files (supervision store, outbox, journal); Guard and AsyncGuard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from creditguard.clock import CST
from creditguard.config import Config, config_from_dict
from creditguard.errors import PluginError
from creditguard.guard import AsyncGuard, Guard
from creditguard.models import CreditRecord, MeasureList, SubjectRecords
from creditguard.outbox import SqliteOutbox
from creditguard.supervision import Lifecycle, SupervisionStore
from creditguard.supervision.measures import BREACH_MEASURE_CODE, CommitmentBreaches
from creditguard.supervision.source import SupervisionSource, supervision_source

ORG = "91320100MA1W2K7D41"
PERSON = "110101199003074573"
OTHER = "11010519491231002X"
AUTH = "320100-SJ"
RID = "JS-2026-000123"
TODAY = datetime(2026, 3, 20, 10, 0, tzinfo=CST)

RECORD = CreditRecord.model_validate(
    {
        "record_id": RID,
        "list_kind": "blacklist",
        "domain": "market_regulation",
        "list_name": "严重违法失信名单",
        "authority": {"code": AUTH, "name": "南京市市场监督管理局"},
        "basis": "宁市监〔2026〕1号",
        "listed_on": "2026-01-05",
        "status": "listed",
        "region": "320100",
    }
)

ADOPT = {"320100": [{"pack": "notice-893-2018", "from": date(2021, 1, 1)}]}


def _list(extends_to: Sequence[str]) -> MeasureList:
    return MeasureList.model_validate(
        {
            "region": "320100",
            "version": "t1",
            "effective_from": "2026-01-01",
            "measures": [
                {
                    "code": "T-01",
                    "title": "限制参加政府采购活动",
                    "category": "rights_limiting",
                    # 企业信息公示暂行条例 Art 18 restricts the market regulator's serious-violations
                    # list in procurement (FACTS §4): it carries this measure (rule 11f).
                    "legal_basis": [
                        {
                            "title": "《企业信息公示暂行条例》",
                            "article": "第十八条",
                            "level": "administrative_regulation",
                        }
                    ],
                    "applies_to": {
                        "list_kinds": ["blacklist"],
                        "domains": ["market_regulation"],
                        "steps": ["procurement.*"],
                    },
                    "effect": "restrict",
                    "extends_to": list(extends_to),
                }
            ],
        }
    )


class Platform:
    """A local source holding the organisation's record, as the platform gave it."""

    name = "platform"
    speaks_for_platform = True

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        return {
            c: SubjectRecords(code=c, records=(RECORD,) if c == ORG else (), found=c == ORG)
            for c in codes
        }


def _config(tmp_path: Path, *, check: bool = True, rules: Any = ADOPT) -> Config:
    return config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path / "var"), "unit_code": AUTH},
            "measures": {"packs": False},
            "outbox": {"enabled": False},
            "supervision": {"check": check, "rules": rules, "path": str(tmp_path / "sv.db")},
        },
        base_dir=tmp_path,
    )


def _lifecycle(tmp_path: Path) -> Lifecycle:
    lc = Lifecycle(
        SupervisionStore(tmp_path / "sv.db"),
        SqliteOutbox(str(tmp_path / "outbox.db")),
        unit_code=AUTH,
        config=_config(tmp_path).supervision,
    )
    lc.register(ORG, RECORD)
    return lc


def _breach(lc: Lifecycle, day: str = "2026-03-10") -> None:
    made = lc.make_commitment(
        RID,
        text="依法诚信经营，违背承诺自愿接受联合惩戒",
        published_url="https://www.creditchina.gov.cn/c/1",
        at=datetime.fromisoformat("2026-03-02T10:00:00+08:00"),
    )
    lc.report_breach(
        RID,
        commitment_event_id=made.event_id,
        detail="承诺后仍无证经营",
        at=datetime.fromisoformat(f"{day}T10:00:00+08:00"),
    )


def _guard(cls: type[Any], tmp_path: Path, extends_to: Sequence[str] = (), **kw: Any) -> Any:
    sources = [Platform(), SupervisionSource(tmp_path / "sv.db")]
    guard = cls(
        _config(tmp_path, **kw),
        sources=sources,
        measure_lists=[_list(extends_to)],
        load_entrypoints=False,
        journal=False,
    )
    guard.engine.now = lambda: TODAY
    return guard


def _check(guard: Any, code: str, step: str, **kw: Any) -> Any:
    if isinstance(guard, AsyncGuard):
        return asyncio.run(guard.check(code, step=step, region="320100", **kw))
    return guard.check(code, step=step, region="320100", **kw)


@pytest.mark.parametrize("cls", [Guard, AsyncGuard])
def test_a_breach_is_seen_by_the_next_check_and_bars_approval_by_commitment(
    tmp_path: Path, cls: type[Any]
) -> None:
    lc = _lifecycle(tmp_path)
    guard = _guard(cls, tmp_path)
    try:
        before = _check(guard, ORG, "licensing.commitment")
        assert before.outcome == "allow" and before.records
        _breach(lc)
        after = _check(guard, ORG, "licensing.commitment")
        assert after.outcome == "review"
        (m,) = after.measures
        assert m.code == BREACH_MEASURE_CODE and m.effect == "no_commitment"
        assert m.record_ids == (RID,) and m.origin == "plugin:creditguard-supervision"
        assert "不适用告知承诺制" in after.explanation
        # Elsewhere the breach is a condition: visible, not biting.
        bid = _check(guard, ORG, "procurement.bid")
        assert bid.outcome == "restrict"
        assert [c.code for c in bid.conditions] == [BREACH_MEASURE_CODE]
        # A replay before the breach does not see it.
        old = _check(guard, ORG, "licensing.commitment", as_of=date(2026, 3, 9))
        assert old.outcome == "allow" and not old.measures
    finally:
        guard.close()
        lc.close()


def test_a_breach_whose_rules_are_no_longer_configured_still_bars(tmp_path: Path) -> None:
    lc = _lifecycle(tmp_path)
    _breach(lc)
    lc.close()
    guard = _guard(Guard, tmp_path, rules={})  # the region's adoption was removed since
    try:
        d = _check(guard, ORG, "licensing.commitment")
        assert d.outcome == "review" and d.measures[0].effect == "no_commitment"
    finally:
        guard.close()


def test_without_check_the_guard_does_not_read_breaches(tmp_path: Path) -> None:
    lc = _lifecycle(tmp_path)
    _breach(lc)
    lc.close()
    guard = _guard(Guard, tmp_path, check=False)
    try:
        assert _check(guard, ORG, "licensing.commitment").outcome == "allow"
    finally:
        guard.close()


def test_an_unreadable_store_fails_the_check_instead_of_reading_no_breach(tmp_path: Path) -> None:
    lc = _lifecycle(tmp_path)
    store = SupervisionStore(tmp_path / "sv.db")
    plugin = CommitmentBreaches(store)
    guard = Guard(
        _config(tmp_path, check=False),
        sources=[Platform()],
        measure_lists=[_list(())],
        plugins=[plugin],
        load_entrypoints=False,
        journal=False,
    )
    guard.engine.now = lambda: TODAY
    try:
        store.close()
        with pytest.raises(PluginError, match="supervision store"):
            _check(guard, ORG, "licensing.commitment")
    finally:
        guard.close()
        lc.close()


@pytest.mark.parametrize("cls", [Guard, AsyncGuard])
def test_the_principal_named_for_a_listing_is_reached_by_extends_to(
    tmp_path: Path, cls: type[Any]
) -> None:
    lc = _lifecycle(tmp_path)
    guard = _guard(cls, tmp_path, extends_to=["responsible_person"])
    try:
        assert _check(guard, PERSON, "procurement.bid").outcome == "allow"
        lc.name_responsible_person(
            RID,
            code=PERSON,
            name="张三",
            role="responsible_person",
            at=datetime(2026, 3, 5, 10, tzinfo=CST),
        )
        lc.name_responsible_person(
            RID,
            code=OTHER,
            name="李四",
            role="related_person",
            at=datetime(2026, 3, 5, 11, tzinfo=CST),
        )
        guard.invalidate(PERSON)
        d = _check(guard, PERSON, "procurement.bid")
        assert d.outcome == "restrict"
        (er,) = d.records
        assert er.record.role == "responsible_person" and er.record.via == ORG
        assert d.measures[0].via == f"responsible_person:{ORG}"
        assert "主要负责人" in d.explanation and PERSON not in d.explanation
        # A related person is not reached by a measure extending to principals only.
        assert _check(guard, OTHER, "procurement.bid").outcome == "allow"
        # Once the platform reports the listing repaired, it reaches nobody.
        lc.note_platform_status(RID, "repaired", date(2026, 3, 18))
        guard.invalidate(PERSON)
        assert _check(guard, PERSON, "procurement.bid").outcome == "allow"
    finally:
        guard.close()
        lc.close()


def test_related_persons_are_reached_where_the_measure_says_so(tmp_path: Path) -> None:
    lc = _lifecycle(tmp_path)
    lc.name_responsible_person(
        RID, code=OTHER, name="李四", role="related_person", at=datetime(2026, 3, 5, 11, tzinfo=CST)
    )
    guard = _guard(Guard, tmp_path, extends_to=["related_person"])
    try:
        d = _check(guard, OTHER, "procurement.bid")
        assert d.outcome == "restrict" and d.records[0].record.role == "related_person"
        assert "负有责任的相关人员" in d.explanation
    finally:
        guard.close()
        lc.close()


def test_a_missing_store_makes_the_check_unverified_not_clean(tmp_path: Path) -> None:
    guard = Guard(
        _config(tmp_path, check=False),
        sources=[Platform(), SupervisionSource(tmp_path / "nowhere.db")],
        measure_lists=[_list(["responsible_person"])],
        load_entrypoints=False,
        journal=False,
    )
    guard.engine.now = lambda: TODAY
    try:
        d = _check(guard, PERSON, "procurement.bid")
        assert not d.verified and d.outcome == "review"
        assert "does not exist" in (d.degraded_reason or "")
    finally:
        guard.close()
    assert not (tmp_path / "nowhere.db").exists()


def test_the_source_type_is_configurable(tmp_path: Path) -> None:
    src = supervision_source(name="sv", path="x/sv.db", base_dir=str(tmp_path))
    assert src.path == tmp_path / "x" / "sv.db"
    assert supervision_source(name="sv", data_dir=str(tmp_path)).path == tmp_path / "supervision.db"
    from creditguard.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown option"):
        supervision_source(name="sv", pth="x")
