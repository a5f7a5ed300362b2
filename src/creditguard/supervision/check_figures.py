"""Evaluation figures of the check itself (notice 893 §19), per region: from the journal and the outbox.

- **checks**: journaled decisions decided in the period (days in China Standard Time);
  **hits**: those that found records with effect; **unverified**: those made without
  every source answering; **outcomes**: decisions by outcome;
- **measures**: measures applied, by effect and by step (a measure's effect is read
  from the measure list in force for the decision's region and day; a code no list
  knows, e.g. a plugin's, counts under ``unknown`` unless it is the supervision
  plugin's own);
- **feedback**: feedback items (spec §6.3) in the outbox created in the period,
  ``delivered`` and ``pending`` (plus ``dead``). A unit-initiated case's region is
  the one its initiation in the outbox names (or, once that is pruned, its
  decision's: case id ``{unit_code}-{decision_id}``). A platform-initiated case
  (``P-…``) has no initiation here: its feedback names the case's region itself
  (kept when fed back, since the case book forgets a case once fed back); feedback
  that names none (written before it was kept) counts under ``unattributed``, so
  that nothing is silently dropped;
- **cases**: cases of this unit open now (measures applied, no feedback yet), by the
  region of their initiation: ``awaiting_feedback``, and of those ``overdue`` (opened
  more than ``[outbox] feedback_due_s`` ago).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any

from creditguard.cases.facts import CaseFeedback, CaseOpened, case_id_for, fact_of
from creditguard.cases.recorder import CaseRecorder
from creditguard.clock import CST
from creditguard.errors import CreditGuardError
from creditguard.journal import JournalEntry, read_journal
from creditguard.outbox import Outbox, OutboxItem

__all__ = [
    "UNATTRIBUTED",
    "case_figures",
    "catalog_effects",
    "check_figures",
    "feedback_figures",
    "journal_entries",
]

#: The region key of feedback whose case belongs to no known region.
UNATTRIBUTED = "unattributed"

#: How many outbox items of one state are read at most (delivered items may be pruned anyway).
_MAX_ITEMS = 1_000_000


def _blank() -> dict[str, Any]:
    return {
        "checks": 0,
        "hits": 0,
        "unverified": 0,
        "outcomes": {"allow": 0, "review": 0, "restrict": 0, "deny": 0},
        "measures_by_effect": {},
        "measures_by_step": {},
    }


def _day_of(entry: JournalEntry) -> date:
    return datetime.fromisoformat(entry.decided_at).astimezone(CST).date()


def journal_entries(path: str, *, start: date, end: date) -> list[JournalEntry]:
    """Journaled decisions decided ``start`` … ``end`` (both included, China Standard Time)."""
    since = datetime.combine(start, time.min, CST)
    return [e for e in read_journal(path, since=since) if _day_of(e) <= end]


def check_figures(
    entries: list[JournalEntry],
    *,
    effect_of: Callable[[JournalEntry, str], str],
    region: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Per region: checks, hits, unverified, outcomes, measures by effect and by step.

    ``effect_of(entry, code)`` names the effect of measure ``code`` as applied by
    ``entry`` (``"unknown"`` when it cannot say).
    """
    out: dict[str, dict[str, Any]] = defaultdict(_blank)
    for e in entries:
        if region is not None and e.region != region:
            continue
        f = out[e.region]
        f["checks"] += 1
        f["hits"] += bool(e.records)
        f["unverified"] += not e.verified
        f["outcomes"][e.outcome] = f["outcomes"].get(e.outcome, 0) + 1
        for code in e.measures:
            effect = effect_of(e, code)
            by_effect = f["measures_by_effect"]
            by_effect[effect] = by_effect.get(effect, 0) + 1
            step = f["measures_by_step"].setdefault(e.step, {})
            step[effect] = step.get(effect, 0) + 1
    return dict(out)


def feedback_figures(
    outbox: Outbox,
    *,
    start: date,
    end: date,
    unit_code: str,
    entries: list[JournalEntry],
    region: str | None = None,
) -> dict[str, dict[str, int]]:
    """Per region: feedback items created in the period, ``delivered``, ``pending`` and ``dead``."""
    case_region = {case_id_for(unit_code, e.decision_id): e.region for e in entries}
    lo = datetime.combine(start, time.min, CST).timestamp()
    hi = datetime.combine(end, time.max, CST).timestamp()
    out: dict[str, dict[str, int]] = {}
    for state in ("delivered", "pending", "dead"):
        for info in outbox.items(state, limit=_MAX_ITEMS):
            if info.kind != "feedback" or not lo <= info.created_at <= hi:
                continue
            reg = _region_of(outbox, info.group or "", case_region)
            if reg == UNATTRIBUTED:
                reg = _fed_back_region(outbox, info.id, info.group or "", case_region)
            if region is not None and reg != region:
                continue
            f = out.setdefault(reg, {"delivered": 0, "pending": 0, "dead": 0})
            f[state] += 1
    return out


def case_figures(
    outbox: Outbox, *, now: float, due_s: float, region: str | None = None
) -> dict[str, dict[str, int]]:
    """Per region: cases open now with no feedback (``awaiting_feedback``) and, of those,
    opened more than ``due_s`` seconds before ``now`` (``overdue``)."""
    out: dict[str, dict[str, int]] = {}
    # The unit code only names facts a recorder writes; reading open cases needs none.
    for case in CaseRecorder(outbox, "-").open_cases(limit=_MAX_ITEMS):
        if region is not None and case.region != region:
            continue
        f = out.setdefault(case.region, {"awaiting_feedback": 0, "overdue": 0})
        f["awaiting_feedback"] += 1
        f["overdue"] += case.opened_at <= now - due_s
    return out


def _region_of(outbox: Outbox, case_id: str, known: dict[str, str]) -> str:
    """The region of a case: from its initiation in the outbox, else its decision (memoised)."""
    reg = known.get(case_id)
    if reg is None:
        reg = UNATTRIBUTED
        entry = outbox.case_entry(case_id) if case_id else None
        if entry is not None:
            try:
                fact = fact_of(entry.item())
            except CreditGuardError:
                fact = None
            if isinstance(fact, CaseOpened) and fact.region:
                reg = fact.region
        known[case_id] = reg
    return reg


def _fed_back_region(outbox: Outbox, item_id: int, case_id: str, known: dict[str, str]) -> str:
    """The region a feedback fact itself names (a platform case's, kept when fed back)."""
    payload = outbox.payload(item_id)
    try:
        fact = None if payload is None else fact_of(OutboxItem("report", "feedback", payload))
    except CreditGuardError:
        fact = None
    if isinstance(fact, CaseFeedback) and fact.region:
        known[case_id] = fact.region  # one feedback item names the case's region
        return fact.region
    return UNATTRIBUTED


def catalog_effects(
    catalog: Any, extra: Mapping[str, str] | None = None
) -> Callable[[JournalEntry, str], str]:
    """``effect_of`` for :func:`check_figures`: the effect in the list in force for the decision.

    ``catalog`` is a :class:`~creditguard.measures.catalog.MeasureCatalog`;
    ``extra`` maps codes no list holds (a plugin's) to their effect.
    """
    known: dict[tuple[str, str], dict[str, str]] = {}
    fixed = dict(extra or {})

    def effect_of(entry: JournalEntry, code: str) -> str:
        key = (entry.region, entry.as_of)
        table = known.get(key)
        if table is None:
            try:
                resolved = catalog.resolve(entry.region, date.fromisoformat(entry.as_of))
                table = {rm.measure.code: rm.measure.effect for rm in resolved.measures}
            except (CreditGuardError, ValueError):  # no list in force: its codes stay unknown
                table = {}
            known[key] = table
        return table.get(code) or fixed.get(code, "unknown")

    return effect_of
