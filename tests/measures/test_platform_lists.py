"""Lists from the platform (spec §5.1): measure by measure, the list's own fields all or nothing,
string bases judged against the instruments table, the last good list kept on disk."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from creditguard.errors import MeasureListError
from creditguard.measures.platform_lists import PlatformListStore, accept_platform_list


def spec_list(**head: Any) -> dict[str, Any]:
    """The spec §5.1 example (corrected S-01) plus measures that must be refused."""
    return {
        "region": "320000",
        "version": "2026.2",
        "effective_from": "2026-03-01",
        "issued_by": "江苏省社会信用体系建设领导小组办公室",
        "future_field": {"ignored": True},
        "measures": [
            {
                "code": "S-01",
                "title": "列入政府采购严重违法失信行为记录名单期间禁止参加政府采购活动",
                "category": "rights_limiting",
                "legal_basis": ["《中华人民共和国政府采购法》第七十七条"],
                "source": "statute",
                "applies_to": {
                    "list_kinds": ["blacklist"],
                    "domains": ["procurement"],
                    "steps": ["procurement.*"],
                },
                "effect": "deny",
                "extends_to": [],
                "effective_from": "2026-03-01",
                "effective_to": None,
                "wire_only": 1,
            },
            {
                "code": "S-02",
                "title": "未知效果",
                "category": "management",
                "legal_basis": ["《中华人民共和国政府采购法》第七十七条"],
                "applies_to": {"list_kinds": ["blacklist"]},
                "effect": "ban_forever",
            },
            {
                "code": "S-03",
                "title": "依据不明的限制",
                "category": "rights_limiting",
                "legal_basis": ["《随便什么法》第一条"],
                "applies_to": {"list_kinds": ["blacklist"], "steps": ["subsidy.*"]},
                "effect": "restrict",
            },
            {
                "code": "S-04",
                "title": "过期依据",
                "category": "management",
                "legal_basis": ["《国家发展改革委办公厅关于对失信主体加强信用监管的通知》七"],
                "applies_to": {"list_kinds": ["focus"], "steps": ["subsidy.*"]},
                "effect": "strict_review",
            },
        ],
        **head,
    }


def test_bad_measures_refused_the_rest_applied() -> None:
    accepted = accept_platform_list(spec_list(), name="platform 320000")
    assert [m.code for m in accepted.measure_list.measures] == ["S-01"]
    refused = {p.measure for p in accepted.rejected}
    assert refused == {"S-02", "S-03", "S-04"}
    by = {p.measure: p.message for p in accepted.rejected}
    assert "ban_forever" in by["S-02"]
    assert "not in the instruments table" in by["S-03"] or "rests only on" in by["S-03"]
    assert "not in force" in by["S-04"]


@pytest.mark.parametrize("field", ["region", "version", "effective_from"])
def test_list_with_missing_own_field_is_never_activated(field: str) -> None:
    data = spec_list()
    del data[field]
    with pytest.raises(MeasureListError) as info:
        accept_platform_list(data, name="platform 320000")
    assert any(p.field == field for p in info.value.problems)


def test_invalid_region_is_never_activated() -> None:
    with pytest.raises(MeasureListError):
        accept_platform_list(spec_list(region="32"), name="platform")


def test_last_good_list_kept_on_disk(tmp_path: Path) -> None:
    store = PlatformListStore(tmp_path / "lists")
    accepted = accept_platform_list(spec_list(), name="platform 320000", etag='W/"1"')
    store.save(accepted)
    again = store.load("320000")
    assert again is not None and again.measure_list == accepted.measure_list
    assert again.etag == 'W/"1"' and {p.measure for p in again.rejected} == {"S-02", "S-03", "S-04"}
    assert stat.S_IMODE((tmp_path / "lists" / "320000.json").stat().st_mode) == 0o600
    assert store.regions() == ["320000"] and store.load("320100") is None
    # A list that is refused as a whole leaves the kept one in force.
    with pytest.raises(MeasureListError):
        accept_platform_list(spec_list(version=""), name="platform 320000")
    kept = store.load("320000")
    assert kept is not None and kept.measure_list.version == "2026.2"
