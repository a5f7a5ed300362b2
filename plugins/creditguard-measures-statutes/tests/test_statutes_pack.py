"""The statute-grounded pack: loads, validates clean, cites an article with a level for every basis."""

from __future__ import annotations

from datetime import date

from creditguard_measures_statutes.plugin import LISTS

from creditguard.measures import MeasureCatalog, installed_pack_lists, validate_lists
from creditguard.measures.basis import JUDICIAL_INTERPRETATION, basis_kind


def test_validates_without_errors_or_warnings() -> None:
    assert validate_lists(LISTS) == []


def test_every_basis_cites_an_article_and_a_level() -> None:
    for lst in LISTS:
        for m in lst.measures:
            assert m.source == "statute"
            for b in m.legal_basis:
                assert b.article.startswith("第"), m.code
                # Explicit, except the judicial interpretation the spec has no level for.
                assert b.level is not None or basis_kind(b) == JUDICIAL_INTERPRETATION, m.code


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


def test_registered_through_the_entry_point() -> None:
    regions = {(x.region, x.version) for x in installed_pack_lists()}
    assert ("000000", "2025.1") in regions
