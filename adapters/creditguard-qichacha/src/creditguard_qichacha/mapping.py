"""Qichacha ``ShixinCheck`` items → core records and possible matches.

An item (``Id``, ``Liandate``, ``Anno``, ``Executegov``, ``Executestatus``,
``Publicdate``, ``Executeno``) names no debtor and carries no identifier:
Qichacha associated it with the search key by its own matching, which we
cannot check. So an item is a possible match for human review, never a
record with effect — unless it carries an identifier in one of the
configured ``identifier_fields`` that equals the subject's code exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from creditguard.agency_dates import listing_date, parse_date
from creditguard.agency_http import item_text as _text
from creditguard.models import CreditRecord, PossibleMatch

__all__ = ["DOMAIN", "LIST_NAME", "RECORD_PREFIX", "record_id", "to_possible_match", "to_record"]

LIST_NAME: Final = "失信被执行人名单"
DOMAIN: Final = "court_enforcement"
#: record ids are ``QCC-`` + Qichacha's item ``Id`` (else the case number, else a digest)
RECORD_PREFIX: Final = "QCC-"

_UNCONFIRMED: Final = (
    "Qichacha links this listing to the search key by its own matching; "
    "the listing carries no identifier to confirm it"
)


def to_record(item: Mapping[str, Any], *, fetched_on: date) -> CreditRecord:
    """The core record of an item whose identifier matched the subject exactly.

    ``listed_on`` is the publication date, else the filing date, else
    ``fetched_on`` (the extra field ``listed_on_from`` says which).
    """
    listed_on, listed_from = listing_date(item, ("Publicdate", "Liandate"), fetched_on)
    filed = parse_date(item.get("Liandate"))
    return CreditRecord.model_validate(
        {
            "record_id": record_id(item),
            "list_kind": "blacklist",
            "domain": DOMAIN,
            "list_name": LIST_NAME,
            "authority": {"name": _text(item, "Executegov")},
            "basis": _text(item, "Anno"),
            "listed_on": listed_on,
            "expires_on": None,
            "status": "listed",
            "public": True,
            "region": "",
            "role": "self",
            "listed_on_from": listed_from,
            "filed_on": filed.isoformat() if filed else None,
            "performance": _text(item, "Executestatus"),
            "gist_id": _text(item, "Executeno"),
        }
    )


def to_possible_match(
    item: Mapping[str, Any] | None, *, source: str, name: str, identifier: str | None = None
) -> PossibleMatch:
    """A possible match for human review; ``item`` is ``None`` when Qichacha gave no details."""
    if item is None:
        detail = "Qichacha reports a dishonest-debtor listing (VerifyResult 1) but gave no details"
        return PossibleMatch(source=source, name=name, identifier=None, detail=detail)
    parts = [
        "identifier masked by the agency, visible characters agree" if identifier else _UNCONFIRMED,
        _text(item, "Executegov"),
        _text(item, "Anno"),
    ]
    published = parse_date(item.get("Publicdate")) or parse_date(item.get("Liandate"))
    if published is not None:
        parts.append(f"published {published.isoformat()}")
    performance = _text(item, "Executestatus")
    if performance:
        parts.append(performance)
    return PossibleMatch(
        source=source,
        name=name,
        identifier=identifier,
        detail="; ".join(part for part in parts if part),
    )


def record_id(item: Mapping[str, Any]) -> str:
    """``QCC-`` + the item's ``Id``, else its case number, else a digest of the listing."""
    for key in ("Id", "Anno"):
        value = _text(item, key)
        if value:
            return RECORD_PREFIX + value
    stable = "|".join(
        _text(item, key) for key in ("Executeno", "Executegov", "Liandate", "Publicdate")
    )
    return RECORD_PREFIX + hashlib.sha256(stable.encode()).hexdigest()[:20]
