"""Decisions end to end through the guard on the test mirror: what they say and why."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _coredata import (
    COURT,
    MARKET,
    ORG_BLACK,
    ORG_CLEAN,
    ORG_EXPIRED,
    ORG_FOCUS,
    ORG_FUTURE,
    ORG_MULTI,
    ORG_REPAIRED,
    PERSON_CLEAN,
    PRIVATE_BASIS,
    REP,
    TAXES,
    TODAY,
    mirror_rows,
    write_jsonl,
)

from creditguard.engine import CST
from creditguard.explain import explain
from creditguard.mirror import SqliteMirror
from creditguard.models import Decision

GuardFactory = Any


def test_blacklisted_org_is_denied_procurement(guard: Any) -> None:
    before = datetime.now(CST)
    d = guard.check(ORG_BLACK, step="procurement.bid", region="320100")
    after = datetime.now(CST)
    assert d.outcome == "deny"
    assert d.subject_code == ORG_BLACK and d.subject_kind == "organization"
    assert d.subject_name == "南京某某建设工程有限公司"
    assert d.as_of == TODAY
    [m] = d.measures
    assert (m.code, m.title, m.effect, m.category) == (
        "NJ-01",
        "限制参加政府采购活动",
        "deny",
        "rights_limiting",
    )
    basis, notice = m.legal_basis
    assert (basis.title, basis.article, basis.level) == (
        "《中华人民共和国政府采购法》",
        "第七十七条",
        "law",
    )
    assert "财库〔2016〕125号" in notice.title
    assert m.record_ids == ("JS-BL-1",) and m.list_region == "320100" and m.via is None
    assert (d.list_region, d.list_version) == ("320100", "2026.1")
    [p] = d.provenance
    assert p.source == "mirror" and p.found and not p.stale and p.error is None
    assert before <= p.fetched_at <= after and p.fetched_at.utcoffset() == timedelta(hours=8)
    assert d.fetched_at == p.fetched_at
    assert d.verified and not d.stale and d.degraded_reason is None
    assert [er.record.record_id for er in d.records] == ["JS-BL-1"]
    assert d.records[0].source == "mirror"
    assert d.decision_id.startswith("d-")


@pytest.mark.parametrize(
    ("code", "step", "outcome", "measures", "conditions"),
    [
        (ORG_BLACK, "subsidy.apply", "restrict", ["NJ-02"], []),
        (ORG_BLACK, "licensing.accept", "allow", [], []),  # focus-only measures
        (ORG_FOCUS, "licensing.accept", "review", ["NJ-03"], ["NJ-04"]),
        (ORG_FOCUS, "licensing.commitment", "review", ["NJ-04", "NJ-03"], []),
        (ORG_FOCUS, "procurement.bid", "allow", [], []),  # blacklist-only measure
        (ORG_FOCUS, "inspection.plan", "review", ["JS-01"], []),  # inherited from the province
        (ORG_BLACK, "market.entry", "allow", ["NJ-05"], []),  # notify
        (ORG_MULTI, "procurement.bid", "deny", ["NJ-01"], []),
        (ORG_MULTI, "appointment.qualify", "allow", [], []),  # domain court_enforcement only
        (ORG_REPAIRED, "procurement.bid", "allow", [], []),
        (ORG_EXPIRED, "procurement.bid", "allow", [], []),
        (ORG_FUTURE, "procurement.bid", "allow", [], []),
        (ORG_CLEAN, "procurement.bid", "allow", [], []),
    ],
)
def test_outcomes(
    guard: Any, code: str, step: str, outcome: str, measures: list[str], conditions: list[str]
) -> None:
    d = guard.check(code, step=step, region="320100")
    assert d.outcome == outcome
    assert [m.code for m in d.measures] == measures
    assert [m.code for m in d.conditions] == conditions


def test_inherited_measure_names_its_list(guard: Any) -> None:
    d = guard.check(ORG_FOCUS, step="inspection.plan", region="320100")
    assert d.measures[0].list_region == "320000"
    assert (d.list_region, d.list_version) == ("320100", "2026.1")


def test_district_falls_back_to_city_list(guard: Any) -> None:
    d = guard.check(ORG_BLACK, step="procurement.bid", region="320102")
    assert d.region == "320102" and d.list_region == "320100" and d.outcome == "deny"


def test_multi_domain_records(guard: Any) -> None:
    d = guard.check(ORG_MULTI, step="procurement.bid", region="320100")
    assert {er.record.domain for er in d.records} == {
        "procurement",
        "market_regulation",
        "tax",
    }
    assert d.measures[0].record_ids == ("PC-BL-1", "SP-BL-1")


@pytest.mark.parametrize(
    ("code", "offset", "outcome"),
    [
        (ORG_EXPIRED, -20, "deny"),  # before it expired
        (ORG_EXPIRED, -10, "deny"),  # its last day
        (ORG_EXPIRED, -9, "allow"),
        (ORG_FUTURE, 29, "allow"),
        (ORG_FUTURE, 30, "deny"),  # its first day
        (ORG_BLACK, -301, "allow"),
    ],
)
def test_as_of_replay(guard: Any, code: str, offset: int, outcome: str) -> None:
    on = TODAY + timedelta(days=offset)
    d = guard.check(code, step="procurement.bid", region="320100", as_of=on)
    assert d.as_of == on and d.outcome == outcome


def test_explanation_content(guard: Any) -> None:
    text = guard.check(ORG_BLACK, step="procurement.bid", region="320100").explanation
    for part in (
        "NJ-01",
        "限制参加政府采购活动",
        "《中华人民共和国政府采购法》第七十七条",
        COURT["name"],
        "（2025）苏01执1234号",
        "不予通过",
        "异议",
        "信用修复",
        "江苏省南京市",  # region, step and source by their Chinese names (issue 9)
        "2026.1",
        "本地信用信息库",
    ):
        assert part in text, part


def test_explanation_of_clean_subject(guard: Any) -> None:
    text = guard.check(ORG_CLEAN, step="procurement.bid", region="320100").explanation
    assert "无有效的失信记录" in text and "予以通过" in text
    assert "信用信息来源中无该主体的信息" in text


def test_explanation_names_conditions(guard: Any) -> None:
    text = guard.check(ORG_FOCUS, step="licensing.accept", region="320100").explanation
    assert "NJ-04" in text and "告知承诺" in text and "《上海市社会信用条例》第三十条" in text


def test_non_public_record_not_disclosed(guard: Any) -> None:
    d = guard.check(ORG_MULTI, step="procurement.bid", region="320100")
    assert any(not er.record.public for er in d.records)  # it still counts
    text = d.explanation
    assert PRIVATE_BASIS not in text
    assert TAXES["name"] not in text and TAXES["code"] not in text
    assert MARKET["name"] in text
    assert "依法不予公开的记录 1 条" in text


def test_explanation_numbers_only_shown_records(guard: Any) -> None:
    d = guard.check(ORG_MULTI, step="procurement.bid", region="320100")
    private_first = d.model_copy(update={"records": (d.records[2], d.records[0], d.records[1])})
    text = explain(private_first)
    assert "1. " in text and "2. " in text and "3. " not in text


def test_related_person_through_legal_representative(guard: Any) -> None:
    d = guard.check(REP, step="appointment.qualify", region="320100")
    assert d.subject_kind == "person" and d.outcome == "deny"
    [m] = d.measures
    assert m.code == "NJ-06" and m.via == f"legal_representative:{ORG_BLACK}"
    [er] = d.records
    assert er.record.role == "legal_representative" and er.record.via == ORG_BLACK
    assert er.subject_code == ORG_BLACK
    assert "法定代表人" in d.explanation and ORG_BLACK in d.explanation


def test_related_record_only_through_extending_measures(guard: Any) -> None:
    # procurement measures do not extend to the legal representative
    assert guard.check(REP, step="procurement.bid", region="320100").outcome == "allow"
    assert guard.check(PERSON_CLEAN, step="appointment.qualify", region="320100").outcome == "allow"


def test_explanation_never_shows_the_person_number(guard: Any) -> None:
    d = guard.check(REP, step="appointment.qualify", region="320100")
    assert REP not in d.explanation
    assert REP not in d.subject_display and d.subject_display.startswith("320102")


def test_duplicates_from_two_sources_collapse(
    make_guard: GuardFactory, mirror: SqliteMirror, tmp_path: Path
) -> None:
    rows = mirror_rows()
    black = rows[0]
    same_id = black
    same_basis = {
        "subject": black["subject"],
        "record": {**black["record"], "record_id": "PLATFORM-77"},
    }
    other = {
        "subject": black["subject"],
        "record": {**black["record"], "record_id": "PLATFORM-78", "basis": "（2026）苏01执9号"},
    }
    second = SqliteMirror(tmp_path / "second.db", name="platform")
    second.import_jsonl(write_jsonl(tmp_path / "second.jsonl", [same_id, same_basis, other]))
    g = make_guard(sources=[mirror, second])
    d = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert [(er.record.record_id, er.source) for er in d.records] == [
        ("JS-BL-1", "mirror"),
        ("PLATFORM-78", "platform"),
    ]
    assert d.measures[0].record_ids == ("JS-BL-1", "PLATFORM-78")
    assert [p.source for p in d.provenance] == ["mirror", "platform"]
    second.close()


def test_decision_is_frozen_and_serialisable(guard: Any) -> None:
    d = guard.check(ORG_BLACK, step="procurement.bid", region="320100")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        d.outcome = "allow"
    again = Decision.model_validate_json(d.model_dump_json())
    assert again.outcome == "deny" and again.measures[0].code == "NJ-01"


def test_decision_ids_are_unique(guard: Any) -> None:
    ids = {
        guard.check(ORG_CLEAN, step="procurement.bid", region="320100").decision_id
        for _ in range(50)
    }
    assert len(ids) == 50
