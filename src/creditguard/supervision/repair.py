"""Credit repair (notice 893 §13): may a subject apply now, what is missing, and from when.

:func:`assess_repair` reads a listing's events against the repair pack in
force; it stores nothing. :class:`~creditguard.supervision.lifecycle.Lifecycle`
picks the pack and records the application and the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from creditguard.supervision.events import SupervisionEvent
from creditguard.supervision.packs import RepairPack
from creditguard.supervision.store import Listing

__all__ = ["RepairAssessment", "assess_repair", "court_route", "training_hours"]

_COURT_ROUTE = (
    "失信被执行人名单信息由人民法院依法删除（履行义务或向法院申请纠正），不通过信用修复程序"
)


@dataclass(frozen=True, slots=True)
class RepairAssessment:
    """Whether a subject may apply for repair of a record now, what is missing, and from when.

    ``may_apply`` is None when the rules in force leave it open (a period not
    confirmed, a tier not given): never read None as yes.
    """

    record_id: str
    as_of: date
    rules: str | None
    may_apply: bool | None
    missing: tuple[str, ...] = ()
    from_date: date | None = None
    route: str = "credit_china"  # or "court" for 失信被执行人 records
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "record_id": self.record_id,
            "as_of": self.as_of.isoformat(),
            "rules": self.rules,
            "may_apply": self.may_apply,
            "missing": list(self.missing),
            "from_date": None if self.from_date is None else self.from_date.isoformat(),
            "route": self.route,
            "notes": list(self.notes),
        }


def _add_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def training_hours(events: Sequence[SupervisionEvent]) -> float:
    """Class hours (学时) of the ``training.completed`` events among ``events``."""
    return sum(float(e.data.get("hours", 0)) for e in events if e.type == "training.completed")


def court_route(record_id: str, as_of: date) -> RepairAssessment:
    """A court-enforcement record (失信被执行人): the court removes it, not credit repair."""
    return RepairAssessment(record_id, as_of, None, False, (_COURT_ROUTE,), route="court")


def assess_repair(
    listing: Listing,
    events: Sequence[SupervisionEvent],
    pack: RepairPack,
    *,
    as_of: date,
    tier: str | None = None,
) -> RepairAssessment:
    """The assessment of ``listing`` on ``as_of`` under ``pack``, from its ``events`` (oldest first).

    Publication periods count from the record's ``listed_on``; ``may_apply``
    is None where the pack leaves the answer open.
    """
    if any(e.type == "repair.granted" for e in events) or listing.platform_status == "repaired":
        return RepairAssessment(
            listing.record.record_id, as_of, pack.name, False, ("the record is already repaired",)
        )
    missing: list[str] = []
    notes: list[str] = []
    if pack.needs_commitment:
        last_made = max(
            (i for i, e in enumerate(events) if e.type == "commitment.made"), default=None
        )
        last_breach = max(
            (i for i, e in enumerate(events) if e.type == "commitment.breached"), default=None
        )
        if last_made is None:
            missing.append("commitment: a public credit commitment (信用承诺书)")
        elif last_breach is not None and last_breach > last_made:
            missing.append("commitment: the last commitment was breached; a new one is needed")
    if pack.min_training_hours is not None:
        hours = training_hours(events)
        if hours < pack.min_training_hours:
            missing.append(f"training: {hours:g} of {pack.min_training_hours:g} class hours (学时)")
    if pack.needs_correction:
        corrected = (
            any(e.type == "rectification.confirmed" for e in events)
            or listing.platform_status == "rectified"
        )
        if not corrected:
            missing.append(
                "correction: the dishonest conduct corrected and confirmed (失信行为纠正)"
            )
    if pack.report_is_reference:
        has_report = any(e.type == "report.submitted" for e in events)
        notes.append(
            "credit report: an important reference, not a precondition (notice 893 §11)"
            + ("; submitted" if has_report else "; none submitted")
        )
    from_date: date | None = None
    decided: bool | None = not missing
    if pack.periods_months:
        if tier is None or tier not in pack.periods_months:
            decided = None if not missing else False
            notes.append(
                f"tier unknown: give one of {', '.join(pack.periods_months)} to know the period"
            )
        else:
            from_date = _add_months(listing.record.listed_on, pack.periods_months[tier][0])
            if as_of < from_date:
                missing.append(f"period: the minimum publication period runs until {from_date}")
                decided = False
    elif pack.periods_open:
        # Order 58's periods per severity were not confirmed (FACTS §5 [open]): never claim them.
        notes.append(
            f"minimum periods under {pack.name} are not confirmed here; the date is not claimed"
        )
        decided = None if not missing else False
    if decided and from_date is None:
        from_date = as_of
    return RepairAssessment(
        listing.record.record_id,
        as_of,
        pack.name,
        decided,
        tuple(missing),
        from_date,
        notes=tuple(notes),
    )
