"""The memoised pure part of a decision, and the templates of usual decisions.

Warm checks see the very same cached SubjectRecords objects again and again, so
the pure part of a decision (records with effect, matched measures, outcome) is
memoised by the identity of its immutable inputs, and so are the fields of a
usual decision. Each entry keeps its inputs alive, so an id() is never reused
while it is a key. :class:`AssessmentMemo` is a base of
:class:`~creditguard.engine.Engine`: its methods are the engine's own (no
extra object or call per check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from creditguard._merge import merge
from creditguard.explain import WORDING_VERSION
from creditguard.models import AppliedMeasure, EffectiveRecord, Outcome, PossibleMatch, Provenance
from creditguard.rules import combine, match_measure, outcome_of

if TYPE_CHECKING:
    from creditguard.engine import Plan, _Gathered

__all__ = ["MEMO_SIZE", "AssessmentMemo", "decision_fields"]

#: Entries per memo; a full memo is cleared (a warm working set refills it at once).
MEMO_SIZE = 8192


@dataclass(frozen=True, slots=True)
class _Assessment:
    """The pure part of a decision, shared by repeated checks on the same data."""

    records: tuple[EffectiveRecord, ...]
    name: str | None
    possible: tuple[PossibleMatch, ...]
    found: tuple[AppliedMeasure, ...]
    measures: tuple[AppliedMeasure, ...]
    conditions: tuple[AppliedMeasure, ...]
    outcome: Outcome
    #: a replay judged a record without ``status_history`` by today's status
    replay_current: bool = False


_CLEAN = _Assessment((), None, (), (), (), (), "allow")


class AssessmentMemo:
    """The engine's memos: assessments, usual decisions' fields and clean templates."""

    # Set by Engine.__init__.
    _memo: dict[Any, Any]
    _decided: dict[Any, Any]
    _rank: dict[str, int]
    platform_sources: frozenset[str]
    commitment_steps: tuple[str, ...]
    now: Callable[[], datetime]

    def _usual(
        self, plan: Plan, gathered: list[_Gathered], decided_at: datetime
    ) -> tuple[dict[str, Any], _Assessment, object]:
        """The fields of the usual decision (every source answered) and its assessment.

        They are fixed by the request, the list in force and the cached answers,
        so for a check that fetched nothing they are memoised by those
        (identities of immutable objects, each entry keeping them alive); each
        decision copies them and sets only its id and time. A check that
        fetched has new answers, never seen again unless cached: the next warm
        check of them fills the memo.
        """
        key = None
        if not plan.missing:
            key = (
                plan.day,
                plan.replay,
                plan.step,
                plan.region,
                plan.sc.code,
                id(plan.candidates),
                plan.list_region,
                plan.list_version,
                plan.list_issued_by,
                plan.list_standing,
                *[i for g in gathered for i in (id(g[1]), id(g[4]))],
            )
            hit: tuple[dict[str, Any], _Assessment, object] | None = self._decided.get(key)
            if hit is not None:
                return hit
        a = self._assess(plan, gathered)
        fields = decision_fields(
            plan,
            a,
            outcome=a.outcome,
            measures=a.measures,
            conditions=a.conditions,
            provenance=tuple([g[4] for g in gathered]),
            verified=True,
            stale=False,
            stale_age_s=None,
            degraded_reason=None,
            decision_id="",
            decided_at=decided_at,
        )
        made = (fields, a, (plan.candidates, tuple(gathered)))
        if key is not None:
            self._remember(self._decided, key, made)
        return made

    def _clean_template(self, plan: Plan) -> dict[str, Any]:
        """The fields of a clean decision (every source answered, none knows the subject).

        Such a decision is fixed by the step, region, day and list in force: no
        record to merge, no measure to match, no plugin asked for extra
        measures (they only see records). Only the subject, the provenance, the
        id and the time differ between checks, so the rest is kept per
        (day, replay, step, region, list in force); the entry holds the
        candidates alive, whose identity is part of the key.
        """
        key = (
            "clean",
            plan.day,
            plan.replay,
            plan.step,
            plan.region,
            id(plan.candidates),
            plan.list_region,
            plan.list_version,
            plan.list_issued_by,
            plan.list_standing,
        )
        hit = self._decided.get(key)
        if hit is not None:
            return hit[0]  # type: ignore[no-any-return]
        fields = decision_fields(
            plan,
            _CLEAN,
            outcome=_CLEAN.outcome,
            measures=(),
            conditions=(),
            provenance=(),
            verified=True,
            stale=False,
            stale_age_s=None,
            degraded_reason=None,
            decision_id="",
            decided_at=plan.now or self.now(),
        )
        self._remember(self._decided, key, (fields, plan.candidates))
        return fields

    def _assess(self, plan: Plan, gathered: list[_Gathered]) -> _Assessment:
        if not any(g[1].records or g[1].possible_matches for g in gathered):
            # A clean subject: nothing to match, and not worth a memo slot.
            name = next((g[1].subject.name for g in gathered if g[1].subject is not None), None)
            if name is None:
                return _CLEAN
            # One object per name, so the decision memo (keyed by its identity) hits too.
            clean = self._memo.get(("clean", name))
            if clean is None:
                clean = _Assessment((), name, (), (), (), (), "allow")
                self._remember(self._memo, ("clean", name), clean)
            return clean
        key = (
            plan.day,
            plan.replay,
            plan.step,
            id(plan.candidates),
            plan.sc.code,
            *[(g[0], id(g[1])) for g in gathered],
        )
        hit = self._memo.get(key)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        records, replay_current = merge(
            gathered, plan.sc.code, plan.day, self._rank, self.platform_sources, plan.replay
        )
        name = next((g[1].subject.name for g in gathered if g[1].subject is not None), None)
        possible = tuple(pm for g in gathered for pm in g[1].possible_matches)
        found: list[AppliedMeasure] = []
        if records:
            for rm in plan.candidates:
                am = match_measure(rm.measure, records, plan.day, list_region=rm.list_region)
                if am is not None:
                    found.append(am)
        measures, conditions = combine(found, plan.step, self.commitment_steps)
        result = _Assessment(
            records,
            name,
            possible,
            tuple(found),
            measures,
            conditions,
            outcome_of(measures),
            replay_current,
        )
        if plan.remember:
            # Answers kept out of the record cache (screening) are never seen again:
            # remembering their assessment would only churn the memo.
            self._remember(
                self._memo, key, ((plan.candidates, tuple(g[1] for g in gathered)), result)
            )
        return result

    @staticmethod
    def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
        if len(memo) >= MEMO_SIZE:
            memo.clear()  # cheap bound; a warm working set refills it at once
        memo[key] = value


def decision_fields(
    plan: Plan,
    a: _Assessment,
    *,
    outcome: Outcome,
    measures: tuple[AppliedMeasure, ...],
    conditions: tuple[AppliedMeasure, ...],
    provenance: tuple[Provenance, ...],
    verified: bool,
    stale: bool,
    stale_age_s: float | None,
    degraded_reason: str | None,
    decision_id: str,
    decided_at: datetime,
) -> dict[str, Any]:
    """Every field of a :class:`Decision`, in the model's order (see :func:`models.adopt`)."""
    sc = plan.sc
    return {
        "decision_id": decision_id,
        "subject_code": sc.code,
        "subject_kind": sc.kind,
        "subject_name": a.name,
        "step": plan.step,
        "region": plan.region,
        "as_of": plan.day,
        "outcome": outcome,
        "records": a.records,
        "measures": measures,
        "conditions": conditions,
        "list_region": plan.list_region,
        "list_version": plan.list_version,
        "list_issued_by": plan.list_issued_by,
        "list_standing": plan.list_standing,
        "list_refused": plan.list_refused,
        "wording_version": WORDING_VERSION,
        "provenance": provenance,
        "possible_matches": a.possible,
        "verified": verified,
        "stale": stale,
        "stale_age_s": stale_age_s,
        "replay_uses_current_status": a.replay_current,
        "degraded_reason": degraded_reason,
        "decided_at": decided_at,
    }
