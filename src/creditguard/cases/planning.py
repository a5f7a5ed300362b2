"""What to feed back for a decision: one entry per applied measure (spec §6.3 actions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from creditguard.cases.facts import ACTION_BY_EFFECT, ACTIONS
from creditguard.errors import InputError
from creditguard.models import CreditRecord, Decision

__all__ = ["FeedbackEntry", "given_entry", "plan_feedback"]


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    """What was done about one applied measure."""

    measure_code: str
    action: str
    detail: str = ""


def given_entry(code: str, given: str | tuple[str, str], detail: str = "") -> FeedbackEntry:
    """The entry for an action the integrator names (``action`` or ``(action, detail)``), checked."""
    action, text = (given, detail) if isinstance(given, str) else given
    if action not in ACTIONS:
        raise InputError(
            f"feedback for {code}: unknown action {action!r} (one of {', '.join(sorted(ACTIONS))})"
        )
    if action == "not_applied" and not text:
        raise InputError(f"feedback for {code}: not_applied needs a detail saying why")
    return FeedbackEntry(code, action, text)


def plan_feedback(
    decision: Decision,
    *,
    on: date,
    actions: Mapping[str, str | tuple[str, str]] | None = None,
    detail: str = "",
    current_records: Mapping[str, CreditRecord] | None = None,
) -> list[FeedbackEntry]:
    """One entry per applied measure: what the workflow did, or ``not_applied`` with the reason.

    ``actions`` maps a measure code to an action (or ``(action, detail)``)
    the integrator reports; measures not named get the action of their
    effect. A measure whose records all lost effect by ``on`` (the step's
    day), judged on ``current_records`` where given (fresher versions by
    record id) and else on the decision's records, yields ``not_applied``.
    """
    actions = actions or {}
    codes = {m.code for m in decision.measures}
    unknown = sorted(set(actions) - codes)
    if unknown:
        raise InputError(
            f"feedback names measures the decision did not apply: {', '.join(unknown)}"
        )
    known = {r.record.record_id: r.record for r in decision.records}
    if current_records:
        known.update(current_records)
    out: list[FeedbackEntry] = []
    for m in decision.measures:
        given = actions.get(m.code)
        if given is not None:
            out.append(given_entry(m.code, given, detail))
            continue
        records = [known[rid] for rid in m.record_ids if rid in known]
        reasons = [r.why_no_effect(on) for r in records]
        if records and all(reasons):
            out.append(FeedbackEntry(m.code, "not_applied", "; ".join(r for r in reasons if r)))
        else:
            out.append(FeedbackEntry(m.code, ACTION_BY_EFFECT[m.effect], detail))
    return out
