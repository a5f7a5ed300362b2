"""The fictional Jiangsu/Nanjing demo pack: validates clean, replays by date."""

from __future__ import annotations

from datetime import date

from creditguard_measures_jiangsu_example.plugin import LISTS
from creditguard_measures_statutes.plugin import LISTS as NATIONAL

from creditguard.measures import MeasureCatalog, installed_pack_lists, validate_lists
from creditguard.measures.applicability import explain_step


def catalog() -> MeasureCatalog:
    return MeasureCatalog([*NATIONAL, *LISTS])


def test_validates_clean() -> None:
    problems = validate_lists([*NATIONAL, *LISTS])
    assert [p for p in problems if p.severity == "error"] == []
    assert [p for p in problems if "32" in (p.file or "")] == []


def test_marked_as_example() -> None:
    for lst in LISTS:
        assert "虚构" in lst.issued_by and lst.standing == "example"
        assert all(m.source == "example" for m in lst.measures)


def test_s01_no_wider_than_the_law_it_cites() -> None:
    # 政府采购法 Art 77 bars the suppliers it penalised: the procurement list only.
    [s01] = [m for lst in LISTS for m in lst.measures if m.code == "S-01"]
    assert s01.applies_to.domains == ("procurement",)
    assert [(b.title, b.article) for b in s01.legal_basis] == [
        ("《中华人民共和国政府采购法》", "第七十七条")
    ]


def test_no_list_cites_notice_893_or_the_2013_provisions() -> None:
    for lst in LISTS:
        text = str(lst.model_dump())
        assert "893" not in text and "2013" not in text, lst.version


def test_nanjing_denies_procurement_through_the_province() -> None:
    resolved = catalog().resolve("320100", date(2026, 3, 2))
    assert resolved.chain == (("320100", "2026.1"), ("320000", "2025.1"), ("000000", "2025.1"))
    [s01] = [rm for rm in resolved.candidates("procurement.bid") if rm.measure.code == "S-01"]
    assert s01.list_region == "320000" and s01.measure.effect == "deny"


def test_replay_uses_the_version_in_force() -> None:
    c = catalog()
    assert c.resolve("320100", date(2026, 2, 28)).version == "2025.1"
    assert c.resolve("320100", date(2026, 3, 1)).version == "2026.1"
    # NJ-02 exists only from 2026.1.
    assert "NJ-02" not in {
        rm.measure.code for rm in c.resolve("320100", date(2026, 2, 28)).measures
    }


def test_explain_subsidy() -> None:
    resolved = catalog().resolve("320100", date(2026, 3, 2))
    v = {
        x.code: x for x in explain_step(resolved, "subsidy.apply", "blacklist", "court_enforcement")
    }
    assert v["NJ-01"].applies and v["ST-13"].applies
    assert v["S-01"].status == "no"
    v = {x.code: x for x in explain_step(resolved, "procurement.bid", "blacklist", "procurement")}
    assert v["S-01"].applies and v["ST-01"].applies
    # S-01 no longer reaches a court-enforcement blacklist record (Art 77 does not).
    v = {
        x.code: x
        for x in explain_step(resolved, "procurement.bid", "blacklist", "court_enforcement")
    }
    assert v["S-01"].status == "no" and v["ST-11"].applies


def test_registered_through_the_entry_point() -> None:
    found = {(x.region, x.version) for x in installed_pack_lists()}
    assert {("320000", "2025.1"), ("320100", "2025.1"), ("320100", "2026.1")} <= found
