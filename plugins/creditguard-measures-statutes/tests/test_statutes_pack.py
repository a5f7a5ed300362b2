"""The statute-grounded compilation: validates clean, cites instruments in force with articles."""

from __future__ import annotations

from datetime import date

from creditguard_measures_statutes.plugin import LISTS

from creditguard.measures import MeasureCatalog, installed_pack_lists, validate_lists
from creditguard.measures.basis import judge_basis

#: 财库〔2016〕125号 is cited without a part number: the part holding "应当拒绝"
#: was not verified here (README), so no article is claimed for it.
_NO_ARTICLE = "财库〔2016〕125号"


def test_validates_without_errors_and_only_the_documented_warning() -> None:
    problems = validate_lists(LISTS)
    assert [p for p in problems if p.severity == "error"] == []
    assert all(_NO_ARTICLE in p.message and "cites no article" in p.message for p in problems)


def test_every_basis_is_a_known_instrument_in_force() -> None:
    [lst] = LISTS
    assert lst.effective_from is not None
    for m in lst.measures:
        for b in m.legal_basis:
            judged = judge_basis(b, lst.effective_from)
            assert judged.instrument is not None, (m.code, b.title)
            assert judged.instrument.in_force(lst.effective_from), (m.code, b.title)
            assert b.article.startswith(("第", "二")) or _NO_ARTICLE in b.title, m.code


def test_no_expired_or_replaced_instrument() -> None:
    text = str(LISTS[0].model_dump())
    assert "2013" not in text and "893" not in text


def test_procurement_refusals_deny() -> None:
    # 财库〔2016〕125号: purchasers refuse (应当拒绝) these suppliers.
    [lst] = LISTS
    by_code = {m.code: m for m in lst.measures}
    assert by_code["ST-01"].effect == "deny" and by_code["ST-11"].effect == "deny"
    assert by_code["ST-11"].applies_to.steps == ("procurement.*",)


def test_marked_as_a_compilation() -> None:
    [lst] = LISTS
    assert lst.standing == "compilation"


def test_national_region_and_not_called_the_basic_list() -> None:
    [lst] = LISTS
    assert lst.region == "000000" and lst.extends is None
    assert "基础清单" not in lst.issued_by and "非官方" in lst.issued_by


def test_procurement_ban_resolves_for_any_region() -> None:
    resolved = MeasureCatalog(LISTS).resolve("320102", date(2026, 3, 2))
    assert [rm.measure.code for rm in resolved.candidates("procurement.bid")] == [
        "ST-01",
        "ST-02",
        "ST-03",
        "ST-11",
    ]
    assert [rm.measure.code for rm in resolved.candidates("tendering.bid")] == [
        "ST-02",
        "ST-03",
        "ST-14",
    ]


def test_registered_through_the_entry_point() -> None:
    regions = {(x.region, x.version) for x in installed_pack_lists()}
    assert ("000000", "2025.1") in regions
