"""How an agency tests a measure plugin: the hook alone, through pluggy, and with a list."""

from __future__ import annotations

from datetime import date

import creditguard_procurement_window as plugin
import pluggy
import pytest

from creditguard import hookspecs
from creditguard.measures import MeasureCatalog, parse_measure_list
from creditguard.measures.onelist import check_list
from creditguard.models import CreditRecord, EffectiveRecord, LegalBasis, MeasureList
from creditguard.rules import combine, match_measure, outcome_of

AS_OF = date(2026, 3, 2)


def record(
    listed_on: date, *, domain: str = "procurement", kind: str = "blacklist", role: str = "self"
) -> EffectiveRecord:
    rec = CreditRecord(
        record_id=f"R-{listed_on}",
        list_kind=kind,
        domain=domain,
        listed_on=listed_on,
        status="listed",
        role=role,
        via="91320100MA1W2K7D41" if role != "self" else None,
    )
    return EffectiveRecord(record=rec, source="test", subject_code="91320100MA1W2K7D41")


def call(step: str, *records: EffectiveRecord, as_of: date = AS_OF) -> list:
    result = plugin.creditguard_extra_measures(
        subject=None, step=step, region="320100", as_of=as_of, records=records, context={}
    )
    return list(result or [])


# --- the hook function called directly --------------------------------------------------------


def test_record_inside_three_years_denies_procurement() -> None:
    [m] = call("procurement.bid", record(date(2024, 5, 1)))
    assert (m.code, m.effect, m.origin) == ("EX-PW-01", "deny", "plugin:procurement-window")
    assert m.record_ids == ("R-2024-05-01",)
    assert str(m.legal_basis[0]) == "《中华人民共和国政府采购法》第七十七条"
    assert "财库〔2016〕125号" in str(m.legal_basis[1])


def test_tax_list_is_refused_and_market_regulators_list_restricted() -> None:
    recent = date(2025, 1, 1)
    [tax] = call("procurement.bid", record(recent, domain="tax"))
    assert (tax.code, tax.effect) == ("EX-PW-01", "deny")
    [market] = call("procurement.bid", record(recent, domain="market_regulation"))
    assert (market.code, market.effect) == ("EX-PW-02", "restrict")
    assert str(market.legal_basis[0]) == "《企业信息公示暂行条例》第十八条"


def test_every_measure_passes_validation_with_its_basis() -> None:
    # The same rules as a list file (docs/measure-lists.md): each cited article
    # must carry its measure (rule 11f) -- 政府采购法 Art 22 alone would not.
    lst = MeasureList.model_validate(
        {
            "region": "320100",
            "version": "t",
            "published_on": "2026-01-01",
            "effective_from": "2026-01-01",
            "measures": [m.model_dump(mode="json") for m in plugin.MEASURES],
        }
    )
    assert [p for p in check_list(lst) if p.severity == "error"] == []
    art22 = plugin.MEASURE.model_copy(
        update={
            "legal_basis": (
                LegalBasis(title="《中华人民共和国政府采购法》", article="第二十二条", level="law"),
            )
        }
    )
    wrong = lst.model_copy(update={"measures": (art22,)})
    assert any("basis does not carry the measure" in p.message for p in check_list(wrong))


@pytest.mark.parametrize(
    ("listed_on", "applies"),
    [(date(2023, 3, 2), True), (date(2023, 3, 1), False), (AS_OF, True), (date(2026, 3, 3), False)],
)
def test_window_edges(listed_on: date, applies: bool) -> None:
    assert bool(call("procurement.award", record(listed_on))) is applies


def test_leap_day() -> None:
    assert plugin.window_start(date(2028, 2, 29)) == date(2025, 2, 28)


def test_other_steps_domains_and_kinds_are_untouched() -> None:
    recent = date(2025, 1, 1)
    assert call("subsidy.apply", record(recent)) == []
    assert call("procurement.bid", record(recent, domain="court_enforcement")) == []
    assert call("procurement.bid", record(recent, kind="focus")) == []


def test_does_not_reach_related_persons() -> None:
    # No extends_to: an organization's record does not bar its legal representative.
    assert call("procurement.bid", record(date(2025, 1, 1), role="legal_representative")) == []


# --- through pluggy, as the guard calls it ----------------------------------------------------------


def test_registered_with_pluggy() -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(plugin)
    pm.check_pending()  # a misspelt hook name fails here
    results = pm.hook.creditguard_extra_measures(
        subject=None,
        step="procurement.bid",
        region="320100",
        as_of=AS_OF,
        records=(record(date(2025, 6, 1)),),
        context={},
    )
    assert [m.code for r in results for m in r] == ["EX-PW-01"]


# --- with a region's list: the most severe effect wins ---------------------------------------------


LIST = """
region = "320100"
version = "t"
published_on = 2020-01-01
effective_from = 2020-01-01

[[measures]]
code = "T-01"
title = "加强审查"
category = "management"
legal_basis = [{ title = "《中华人民共和国政府采购法》", article = "第二十二条", level = "law" }]
applies_to = { list_kinds = ["blacklist"], domains = ["*"], steps = ["procurement.*"] }
effect = "strict_review"
"""


def test_combined_with_list_measures() -> None:
    catalog = MeasureCatalog([parse_measure_list(LIST)])
    records = (record(date(2025, 6, 1)),)
    from_list = [
        am
        for rm in catalog.resolve("320100", AS_OF).candidates("procurement.bid")
        if (am := match_measure(rm.measure, records, AS_OF, list_region=rm.list_region)) is not None
    ]
    biting, _ = combine(from_list + call("procurement.bid", *records), "procurement.bid")
    assert [m.code for m in biting] == ["EX-PW-01", "T-01"]
    assert outcome_of(biting) == "deny"
