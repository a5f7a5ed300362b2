"""China Standard Time: the platform's dates and the check's default day are CST dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

__all__ = ["CST", "today_cst"]

#: UTC+8, China Standard Time (no daylight saving).
CST = timezone(timedelta(hours=8), "CST")


def today_cst() -> date:
    """Today's date in China Standard Time."""
    return datetime.now(CST).date()
