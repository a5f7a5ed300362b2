"""Dates as remote agencies write them, read as China Standard Time calendar days.

Agency payloads carry listing and judgment dates as epoch milliseconds or
seconds, as ``2019-05-20`` style strings (also ``2019年05月20日``,
``20190520``) or as ISO 8601 date-times; every court date is a CST day.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from creditguard.clock import CST

__all__ = ["CST", "listing_date", "parse_date"]

_SEPARATED: Final = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_COMPACT: Final = re.compile(r"(\d{4})(\d{2})(\d{2})")
# Epoch values below this are seconds, above it milliseconds: 1e11 ms is March
# 1973 and 1e11 s is the year 5138, so no real listing date is ambiguous.
_MS_THRESHOLD: Final = 100_000_000_000


def parse_date(value: object) -> date | None:
    """The calendar day (China Standard Time) of ``value``, or ``None`` when absent or unreadable.

    Accepts epoch milliseconds or seconds (number or digit string), ``2019-05-20``
    (also with ``/`` or ``.``, or followed by a time), ``2019年05月20日``,
    ``20190520`` and ISO 8601 date-times (with an offset: converted to CST;
    without: taken as written). ``0`` and negative epochs mean "no date".
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit() and len(text) > 8:
        return _from_epoch(int(text))
    if "T" in text:
        return _from_iso(text)
    try:
        if match := _SEPARATED.match(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _COMPACT.fullmatch(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:  # 2019-02-30 and the like
        return None
    return None


def listing_date(
    item: Mapping[str, Any], fields: Sequence[str], fetched_on: date
) -> tuple[date, str]:
    """The first readable date among ``item[fields]``, and the field it came from.

    When none is readable the listing was on the agency's list when fetched,
    which is the one date known: ``(fetched_on, "fetched")``.
    """
    for field in fields:
        found = parse_date(item.get(field))
        if found is not None:
            return found, field
    return fetched_on, "fetched"


def _from_epoch(value: float) -> date | None:
    if value <= 0:  # 0 stands for "no date" in several agency payloads
        return None
    seconds = value / 1000 if value >= _MS_THRESHOLD else value
    try:
        return datetime.fromtimestamp(seconds, CST).date()
    except (OverflowError, OSError, ValueError):
        return None


def _from_iso(text: str) -> date | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(CST).date()
