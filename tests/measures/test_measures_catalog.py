"""Layering, withdrawals, dating and replay of installed lists."""

from __future__ import annotations

from datetime import date

import pytest
from _measure_lists import head, measure

from creditguard.errors import ConfigError, MeasureListError
from creditguard.measures import MeasureCatalog, parse_measure_list
from creditguard.models import CreditRecord, EffectiveRecord
from creditguard.rules import match_measure

NATIONAL = parse_measure_list(
    head("000000", "n1", published="2025-01-01", effective="2025-01-01")
    + measure("ST-01", steps='["procurement.*"]')
    + measure("ST-02", category="management", steps='["licensing.*"]', effect="strict_review")
)
PROVINCE = parse_measure_list(
    head("320000", "p1", extends="000000", published="2025-01-01", effective="2025-01-01")
    + measure("JS-01", steps='["subsidy.*"]', effect="restrict")
)


def city(version: str, effective: str, body: str, published: str | None = None) -> str:
    return (
        head(
            "320100",
            version,
            extends="320000",
            published=published or effective,
            effective=effective,
        )
        + body
    )


def codes(catalog: MeasureCatalog, region: str, on: date) -> list[str]:
    return [rm.measure.code for rm in catalog.resolve(region, on).measures]


def test_list_in_force_is_own_plus_ancestors() -> None:
    c = MeasureCatalog(
        [NATIONAL, PROVINCE, parse_measure_list(city("c1", "2025-06-01", measure("NJ-01")))]
    )
    resolved = c.resolve("320100", date(2026, 1, 1))
    assert [(rm.measure.code, rm.list_region) for rm in resolved.measures] == [
        ("NJ-01", "320100"),
        ("JS-01", "320000"),
        ("ST-01", "000000"),
        ("ST-02", "000000"),
    ]
    assert resolved.chain == (("320100", "c1"), ("320000", "p1"), ("000000", "n1"))


def test_region_without_list_falls_back_up() -> None:
    c = MeasureCatalog([NATIONAL, PROVINCE])
    assert c.resolve("320102", date(2026, 1, 1)).region == "320000"
    assert c.resolve("110000", date(2026, 1, 1)).region == "000000"


def test_alias() -> None:
    c = MeasureCatalog([NATIONAL, PROVINCE], aliases={"310000": "320000"})
    assert c.resolve("310000", date(2026, 1, 1)).region == "320000"


def test_child_code_shadows_parent() -> None:
    narrowed = measure("ST-01", steps='["procurement.bid"]')
    c = MeasureCatalog([NATIONAL, PROVINCE, parse_measure_list(city("c1", "2025-06-01", narrowed))])
    resolved = c.resolve("320100", date(2026, 1, 1))
    st01 = [rm for rm in resolved.measures if rm.measure.code == "ST-01"]
    assert len(st01) == 1 and st01[0].list_region == "320100"
    assert resolved.candidates("procurement.award") == ()


def test_withdrawal_with_reason_removes_inherited_measure() -> None:
    body = '\n[[withdraws]]\ncode = "ST-02"\nreason = "本市许可已全部改为告知承诺"\n' + measure(
        "NJ-01"
    )
    c = MeasureCatalog([NATIONAL, PROVINCE, parse_measure_list(city("c1", "2025-06-01", body))])
    resolved = c.resolve("320100", date(2026, 1, 1))
    assert "ST-02" not in codes(c, "320100", date(2026, 1, 1))
    assert resolved.withdrawn == {"ST-02": "本市许可已全部改为告知承诺"}
    assert resolved.withdrawn_by == {"ST-02": "320100"}
    # Only for that region: the province still has it.
    assert "ST-02" in codes(c, "320000", date(2026, 1, 1))


def test_withdrawal_without_reason_is_refused() -> None:
    body = '\n[[withdraws]]\ncode = "ST-02"\nreason = " "\n' + measure("NJ-01")
    with pytest.raises(MeasureListError, match="withdrawal needs a stated reason"):
        parse_measure_list(city("c1", "2025-06-01", body))


def test_replay_picks_the_version_in_force() -> None:
    v1 = parse_measure_list(city("c1", "2025-06-01", measure("NJ-01")))
    v2 = parse_measure_list(
        city("c2", "2026-03-01", measure("NJ-01") + measure("NJ-02"), "2026-02-20")
    )
    c = MeasureCatalog([v2, NATIONAL, v1, PROVINCE])  # order of installation does not matter
    assert c.resolve("320100", date(2026, 2, 28)).version == "c1"
    assert c.resolve("320100", date(2026, 3, 1)).version == "c2"
    assert "NJ-02" not in codes(c, "320100", date(2026, 2, 28))
    # Before the city's first list, the province governs it.
    assert c.resolve("320100", date(2025, 5, 31)).region == "320000"
    with pytest.raises(ConfigError):
        c.resolve("320100", date(2024, 12, 31))


def test_unpublished_list_is_never_used() -> None:
    early = parse_measure_list(city("c1", "2026-03-01", measure("NJ-01"), published="2026-03-10"))
    c = MeasureCatalog([NATIONAL, PROVINCE, early])
    assert c.resolve("320100", date(2026, 3, 5)).region == "320000"
    assert c.resolve("320100", date(2026, 3, 10)).region == "320100"


def test_unpublished_measure_is_never_applied() -> None:
    body = measure("NJ-01") + measure("NJ-02", extra="published_on = 2026-04-01\n")
    c = MeasureCatalog([NATIONAL, PROVINCE, parse_measure_list(city("c1", "2025-06-01", body))])
    assert "NJ-02" not in codes(c, "320100", date(2026, 3, 31))
    assert "NJ-02" in codes(c, "320100", date(2026, 4, 1))


def test_measure_outside_its_window_does_not_match() -> None:
    lst = parse_measure_list(
        head("000000", "n", published="2025-01-01", effective="2025-01-01")
        + measure(extra="effective_from = 2026-01-01\neffective_to = 2026-06-30\n")
    )
    rec = CreditRecord(
        record_id="R",
        list_kind="blacklist",
        domain="procurement",
        listed_on=date(2025, 1, 1),
        status="listed",
    )
    er = (EffectiveRecord(record=rec, source="t", subject_code="X"),)
    m = MeasureCatalog([lst]).resolve("000000", date(2026, 3, 1)).measures[0].measure
    assert match_measure(m, er, date(2025, 12, 31)) is None
    assert match_measure(m, er, date(2026, 3, 1)) is not None
    assert match_measure(m, er, date(2026, 7, 1)) is None


def test_candidates_are_memoised() -> None:
    resolved = MeasureCatalog([NATIONAL]).resolve("000000", date(2026, 1, 1))
    first = resolved.candidates("procurement.bid")
    assert [rm.measure.code for rm in first] == ["ST-01"]
    assert resolved.candidates("procurement.bid") is first


def test_same_version_twice() -> None:
    c = MeasureCatalog([NATIONAL])
    c.add(NATIONAL)  # identical: fine
    other = parse_measure_list(
        head("000000", "n1", published="2025-01-01", effective="2025-01-01") + measure("X")
    )
    with pytest.raises(MeasureListError):
        c.add(other)


def test_catalog_problems() -> None:
    orphan = parse_measure_list(city("c1", "2025-06-01", measure("NJ-01")))
    assert [p.field for p in MeasureCatalog([NATIONAL, orphan]).problems()] == ["extends"]
    assert MeasureCatalog([NATIONAL, PROVINCE, orphan]).problems() == []
