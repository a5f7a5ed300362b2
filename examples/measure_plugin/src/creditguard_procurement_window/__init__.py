"""Example measure plugin: procurement barred for 3 years after a supplier is listed.

A supplier on a serious dishonesty list is barred from government procurement;
this agency bars it for the 3 years after it was listed (a record listed
earlier no longer counts here, even if still on the list). Whether that holds
depends on the record's date compared with the check's date, which a measure
list (data only) cannot say; a plugin can.

Each measure cites what carries it (docs/measure-lists.md rule 11f, FACTS §4):

- EX-PW-01 refuses suppliers on procurement's own list (《中华人民共和国政府采购法》
  第七十七条 bars them for 1 to 3 years) and on the 重大税收违法案件当事人名单
  (财库〔2016〕125号: purchasers 应当拒绝 them);
- EX-PW-02 restricts enterprises on the market regulator's serious list
  (《企业信息公示暂行条例》第十八条 restricts them in procurement; it does not
  refuse them).

《中华人民共和国政府采购法》第二十二条 (no 重大违法记录 in the 3 years before) is
not cited: it concerns penalties as 实施条例 Art 19 defines them, not list
entries. Which domains count is the agency's choice (:data:`DOMAINS`); change
them only to domains a cited article carries, and test the change (see
``tests/``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from creditguard.hookspecs import hookimpl
from creditguard.models import AppliedMeasure, EffectiveRecord, Measure
from creditguard.rules import applied, record_matches, step_matches

__all__ = [
    "DENY_DOMAINS",
    "DOMAINS",
    "MEASURE",
    "MEASURES",
    "RESTRICT_DOMAINS",
    "RESTRICT_MEASURE",
    "WINDOW_YEARS",
    "creditguard_extra_measures",
    "window_start",
]

#: How far back a listing bars procurement (the agency's choice, within Art 77's 1-3 years).
WINDOW_YEARS = 3

#: Record domains refused (EX-PW-01) and restricted (EX-PW-02).
DENY_DOMAINS: tuple[str, ...] = ("procurement", "tax")
RESTRICT_DOMAINS: tuple[str, ...] = ("market_regulation",)
DOMAINS: tuple[str, ...] = DENY_DOMAINS + RESTRICT_DOMAINS

_STEPS = ["procurement.*"]

#: The refusal; built once (validated) at import.
MEASURE = Measure.model_validate(
    {
        "code": "EX-PW-01",
        "title": "列入严重失信主体名单未满三年的，拒绝其参加政府采购活动",
        "category": "rights_limiting",
        "source": "plugin",
        "effect": "deny",
        "legal_basis": [
            {"title": "《中华人民共和国政府采购法》", "article": "第七十七条", "level": "law"},
            {
                "title": "《关于在政府采购活动中查询及使用信用记录有关问题的通知》（财库〔2016〕125号）"
            },
        ],
        "applies_to": {
            "list_kinds": ["blacklist"],
            "domains": list(DENY_DOMAINS),
            "steps": _STEPS,
        },
    }
)

#: The restriction of the market regulator's serious list.
RESTRICT_MEASURE = Measure.model_validate(
    {
        "code": "EX-PW-02",
        "title": "列入严重违法失信企业名单未满三年的，限制其参加政府采购活动",
        "category": "rights_limiting",
        "source": "plugin",
        "effect": "restrict",
        "legal_basis": [
            {
                "title": "《企业信息公示暂行条例》",
                "article": "第十八条",
                "level": "administrative_regulation",
            }
        ],
        "applies_to": {
            "list_kinds": ["blacklist"],
            "domains": list(RESTRICT_DOMAINS),
            "steps": _STEPS,
        },
    }
)

#: Every measure this plugin may apply, most severe first.
MEASURES: tuple[Measure, ...] = (MEASURE, RESTRICT_MEASURE)


def window_start(as_of: date, years: int = WINDOW_YEARS) -> date:
    """The first day of the window: ``as_of`` minus ``years`` (29 February → 28 February)."""
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:
        return as_of.replace(year=as_of.year - years, day=28)


@hookimpl
def creditguard_extra_measures(
    subject: Any,
    step: str,
    region: str,
    as_of: date,
    records: tuple[EffectiveRecord, ...],
    context: Mapping[str, Any],
) -> Iterable[AppliedMeasure] | None:
    """Bar procurement steps when a matching record was listed in the last 3 years."""
    # Cheap test first: this runs on every check with records.
    if not step_matches(step, _STEPS):
        return None
    start = window_start(as_of)
    recent = [er for er in records if start <= er.record.listed_on <= as_of]
    out = []
    for m in MEASURES:
        hits = [er for er in recent if record_matches(m, er)]
        if hits:
            out.append(applied(m, hits, list_region=region, origin="plugin:procurement-window"))
    return out or None
