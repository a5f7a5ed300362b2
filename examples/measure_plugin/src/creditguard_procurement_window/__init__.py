"""Example measure plugin: no government procurement within 3 years of a major illegal record.

《中华人民共和国政府采购法》第二十二条 requires a supplier to have had no
major illegal record in its business in the 3 years before taking part in
procurement. Whether that holds depends on the record's date compared with the
check's date, which a measure list (data only) cannot say; a plugin can.

Which records count as "major illegal records" is the agency's judgement:
here, blacklist records of the domains in :data:`DOMAINS`. Change them for
your agency, and test the change (see ``tests/``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from creditguard.hookspecs import hookimpl
from creditguard.models import AppliedMeasure, EffectiveRecord, Measure
from creditguard.rules import applied, record_matches, step_matches

__all__ = ["DOMAINS", "MEASURE", "WINDOW_YEARS", "creditguard_extra_measures", "window_start"]

#: How far back a record bars procurement (政府采购法 Art 22: "前三年内").
WINDOW_YEARS = 3

#: Record domains this agency treats as major illegal records.
DOMAINS: tuple[str, ...] = ("procurement", "market_regulation", "tax")

#: The measure this plugin applies; built once (validated) at import.
MEASURE = Measure.model_validate(
    {
        "code": "EX-PW-01",
        "title": "参加政府采购活动前三年内有重大违法记录的，不得参加政府采购活动",
        "category": "rights_limiting",
        "source": "plugin",
        "effect": "deny",
        "legal_basis": [
            {"title": "《中华人民共和国政府采购法》", "article": "第二十二条", "level": "law"}
        ],
        "applies_to": {
            "list_kinds": ["blacklist"],
            "domains": list(DOMAINS),
            "steps": ["procurement.*"],
        },
    }
)


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
    """Deny procurement steps when a matching record was listed in the last 3 years."""
    # Cheap test first: this runs on every check with records.
    if not step_matches(step, MEASURE.applies_to.steps):
        return None
    start = window_start(as_of)
    hits = [
        er
        for er in records
        if record_matches(MEASURE, er) and start <= er.record.listed_on <= as_of
    ]
    if not hits:
        return None
    return [applied(MEASURE, hits, list_region=region, origin="plugin:procurement-window")]
