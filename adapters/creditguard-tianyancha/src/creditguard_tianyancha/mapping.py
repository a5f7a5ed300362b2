"""Tianyancha dishonest-debtor items → core records and possible matches."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any, Final, Literal

from creditguard.agency_dates import listing_date, parse_date
from creditguard.agency_http import item_text as _text
from creditguard.identifiers import Match
from creditguard.models import CreditRecord, PossibleMatch, RecordStatus

__all__ = ["DOMAIN", "LIST_NAME", "RECORD_PREFIX", "region_of", "to_possible_match", "to_record"]

LIST_NAME: Final = "失信被执行人名单"
DOMAIN: Final = "court_enforcement"
#: record ids are ``TYC-`` + the enforcement case number (or a digest when absent)
RECORD_PREFIX: Final = "TYC-"

# GB/T 2260 province-level codes. Tianyancha's ``areaname`` is the province of
# the listing court, written with or without its suffix ("江苏" / "江苏省").
_PROVINCES: Final[tuple[tuple[str, str], ...]] = (
    ("北京", "110000"), ("天津", "120000"), ("河北", "130000"), ("山西", "140000"),
    ("内蒙古", "150000"), ("辽宁", "210000"), ("吉林", "220000"), ("黑龙江", "230000"),
    ("上海", "310000"), ("江苏", "320000"), ("浙江", "330000"), ("安徽", "340000"),
    ("福建", "350000"), ("江西", "360000"), ("山东", "370000"), ("河南", "410000"),
    ("湖北", "420000"), ("湖南", "430000"), ("广东", "440000"), ("广西", "450000"),
    ("海南", "460000"), ("重庆", "500000"), ("四川", "510000"), ("贵州", "520000"),
    ("云南", "530000"), ("西藏", "540000"), ("陕西", "610000"), ("甘肃", "620000"),
    ("青海", "630000"), ("宁夏", "640000"), ("新疆", "650000"),
)  # fmt: skip


def region_of(areaname: object) -> str:
    """The 6-digit province code of ``areaname``, or ``""`` when it is not a known province."""
    if not isinstance(areaname, str):
        return ""
    name = areaname.strip()
    for prefix, code in _PROVINCES:
        if name.startswith(prefix):
            return code
    return ""


def to_record(item: Mapping[str, Any], *, status: RecordStatus, fetched_on: date) -> CreditRecord:
    """The core record of an item whose identifier matched the subject exactly.

    ``listed_on`` is the publication date, else the case filing date, else
    (neither given nor readable) ``fetched_on``: the listing was on the
    agency's list when fetched, which is the one date we know; the extra field
    ``listed_on_from`` says which was used. Case details the core model has no
    field for are kept as extra fields; the debtor's name and number are not
    (the subject already identifies them).
    """
    registered = parse_date(item.get("regdate"))
    listed_on, listed_from = listing_date(item, ("publishdate", "regdate"), fetched_on)
    return CreditRecord.model_validate(
        {
            "record_id": record_id(item),
            "list_kind": "blacklist",
            "domain": DOMAIN,
            "list_name": LIST_NAME,
            "authority": {"name": _text(item, "courtname")},
            "basis": _text(item, "casecode"),
            "listed_on": listed_on,
            "expires_on": None,
            "status": status,
            "public": True,
            "region": region_of(item.get("areaname")),
            "role": "self",
            "listed_on_from": listed_from,
            "filed_on": registered.isoformat() if registered else None,
            "performance": _text(item, "performance"),
            "performed_part": _text(item, "performedPart"),
            "unperformed_part": _text(item, "unperformPart"),
            "duty": _text(item, "duty"),
            "disrupt_type": _text(item, "disrupttypename"),
            "gist_id": _text(item, "gistid"),
            "gist_unit": _text(item, "gistunit"),
        }
    )


def to_possible_match(
    item: Mapping[str, Any], *, source: str, match: Literal["masked", "name_only"]
) -> PossibleMatch:
    """A possible match for human review (never an effect by itself)."""
    identifier = _text(item, "cardnum") if match == "masked" else ""
    why = _WHY[match]
    published = parse_date(item.get("publishdate")) or parse_date(item.get("regdate"))
    parts = [why, _text(item, "courtname"), _text(item, "casecode")]
    if published is not None:
        parts.append(f"published {published.isoformat()}")
    return PossibleMatch(
        source=source,
        name=_text(item, "iname"),
        identifier=identifier or None,
        detail="; ".join(part for part in parts if part),
    )


_WHY: Final[dict[Match, str]] = {
    "masked": "identifier masked by the agency, visible characters agree",
    "name_only": "no identifier in the listing (name-only match)",
}


def record_id(item: Mapping[str, Any]) -> str:
    """``TYC-`` + the enforcement case number; a digest of the listing when it has none."""
    case = _text(item, "casecode")
    if case:
        return RECORD_PREFIX + case
    stable = "|".join(
        str(item.get(key) or "") for key in ("gistid", "courtname", "cardnum", "iname", "regdate")
    )
    return RECORD_PREFIX + hashlib.sha256(stable.encode()).hexdigest()[:20]
