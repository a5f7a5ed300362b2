"""The workflow logic around a guarded step, shared by :class:`Guard` and :class:`AsyncGuard`.

As the engine holds the check's logic and the guards only perform its
lookups, this module holds what ``check``, ``checked``, ``step`` and
``feedback`` decide: when a case is opened, when a step's end is fed back,
how a decorated step finds its subject and reference, when it is refused,
and which records are current when feedback is written. The guards keep only
the I/O (lookups, durable writes, running the step), each in its own style.
Internal: see docs/api.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from creditguard.case_desk import StepDenied

if TYPE_CHECKING:
    from creditguard.case_desk import CaseDesk
    from creditguard.engine import Engine, Fetched, Plan
    from creditguard.models import CreditRecord, Decision
    from creditguard.outbox import OutboxItem

__all__ = [
    "StepBinding",
    "feed_back_denied",
    "feedback_plan",
    "feeds_back",
    "opens_case",
    "write_feedback",
]

#: A value, or a function of the step's arguments that returns it.
ValueOrFunction = Callable[..., str] | str


def opens_case(
    cases: CaseDesk | None, decision: Decision, *, open_case: bool, workflow_ref: str | None = None
) -> bool:
    """Whether a check goes to the case desk: the outbox is on, no preview, and either it
    applies measures, or it names an application (whose open case it may close)."""
    if not open_case or cases is None:
        return False
    return bool(decision.measures) or workflow_ref is not None


def feeds_back(cases: CaseDesk | None, decision: Decision, error: BaseException | None) -> bool:
    """Whether the end of a checked block is fed back.

    A block that completed (``error`` None) or refused the step with
    :class:`StepDenied` ends the step: its measures are fed back. Any other
    exception means the step did not complete: nothing is fed back and the
    case stays open (to be resumed or listed as waiting for feedback).
    """
    if cases is None or not decision.measures:
        return False
    return error is None or isinstance(error, StepDenied)


@dataclass(frozen=True, slots=True)
class StepBinding:
    """How a decorated step function is checked: its step, region, subject and reference."""

    step: str
    region: str
    subject: ValueOrFunction
    workflow_ref: ValueOrFunction | None
    wants_decision: bool

    @classmethod
    def of(
        cls,
        fn: Callable[..., object],
        *,
        step: str,
        region: str,
        subject: ValueOrFunction,
        workflow_ref: ValueOrFunction | None,
    ) -> StepBinding:
        """The binding of ``fn``; it receives ``decision=`` when it has such a parameter."""
        wants = "decision" in inspect.signature(fn).parameters
        return cls(step, region, subject, workflow_ref, wants)

    def resolve(
        self, args: Sequence[object], kwargs: Mapping[str, object]
    ) -> tuple[str, str | None]:
        """The subject code and workflow reference of one call of the step."""
        code = self.subject(*args, **kwargs) if callable(self.subject) else self.subject
        ref = self.workflow_ref
        return code, (ref(*args, **kwargs) if callable(ref) else ref)

    def admit(self, decision: Decision, kwargs: dict[str, object]) -> None:
        """Refuse a ``deny`` with :class:`StepDenied`; else hand the decision to the step."""
        if decision.outcome == "deny":
            raise StepDenied(decision)
        if self.wants_decision:
            kwargs["decision"] = decision


def feed_back_denied(
    desk: CaseDesk, decision: Decision, *, workflow_ref: str | None
) -> list[OutboxItem]:
    """Feed back a step refused with :class:`StepDenied` as it was decided.

    The refusal rests on the facts at decision time: each measure gets the
    action of its effect (deny → ``denied`` …) even if a record was repaired
    or removed since, so nothing is looked up again (a record repaired after
    the refusal does not undo it; the next check will see the repair).
    """
    from creditguard.cases.facts import ACTION_BY_EFFECT

    actions = {m.code: ACTION_BY_EFFECT[m.effect] for m in decision.measures}
    return desk.feedback(decision, actions=actions, workflow_ref=workflow_ref)


def feedback_plan(engine: Engine, decision: Decision) -> Plan | None:
    """The lookups that tell which of the decision's records still have effect; None: nothing to feed back."""
    if not decision.measures:
        return None
    return engine.plan(decision.subject_code, step=decision.step, region=decision.region)


def current_records(
    decision: Decision, plan: Plan, answers: Sequence[Fetched]
) -> dict[str, CreditRecord] | None:
    """Current records by id from a plan's cached parts and fresh answers; None if a source failed.

    A record of the decision that no source holds any more comes back as
    ``removed``, so its measures are fed back ``not_applied``.
    """
    out: dict[str, CreditRecord] = {}
    for g in plan.gathered:
        out.update((r.record_id, r) for r in g[1].records)
    for answer in answers:
        if answer.error is not None or answer.records is None:
            return None
        got = answer.records.get(plan.sc.code)
        if got is None:
            return None  # the answer says nothing of the subject: no proof of removal
        out.update((r.record_id, r) for r in got.records)
    for er in decision.records:
        out.setdefault(er.record.record_id, er.record.model_copy(update={"status": "removed"}))
    return out


def write_feedback(
    desk: CaseDesk,
    decision: Decision,
    plan: Plan,
    answers: Sequence[Fetched],
    *,
    actions: Mapping[str, str | tuple[str, str]] | None,
    detail: str,
    workflow_ref: str | None,
    connection: object | None,
) -> list[OutboxItem]:
    """Write the feedback of ``decision`` durably, given the answers to ``plan.missing``."""
    return desk.feedback(
        decision,
        actions=actions,
        detail=detail,
        workflow_ref=workflow_ref,
        current_records=current_records(decision, plan, answers),
        connection=connection,
    )
