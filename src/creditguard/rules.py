"""The pure rules of a check: which measures apply to which records, and the outcome.

Nothing here does I/O or depends on plugin order; the engine and the
``measures explain`` command share these functions, so what a list officer
sees is what a check does.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from datetime import date

from creditguard.models import (
    EFFECT_RANK,
    AppliedMeasure,
    EffectiveRecord,
    Measure,
    Outcome,
    trusted,
)

__all__ = [
    "DEFAULT_COMMITMENT_STEPS",
    "applied",
    "combine",
    "match_measure",
    "outcome_of",
    "record_matches",
    "step_matches",
    "stricter",
    "why_not",
]

#: Steps that use approval by notification and commitment (告知承诺制).
DEFAULT_COMMITMENT_STEPS: tuple[str, ...] = ("licensing.commitment",)

_OUTCOME_OF_EFFECT: dict[str, Outcome] = {
    "notify": "allow",
    "increase_inspection": "review",
    "strict_review": "review",
    "no_commitment": "review",
    "restrict": "restrict",
    "deny": "deny",
}
_OUTCOME_RANK: dict[str, int] = {"allow": 0, "review": 1, "restrict": 2, "deny": 3}


def record_matches(measure: Measure, er: EffectiveRecord) -> bool:
    """True when ``measure`` covers this record's list kind, domain and role."""
    rec = er.record
    at = measure.applies_to
    if rec.list_kind not in at.list_kinds:
        return False
    if "*" not in at.domains and rec.domain not in at.domains:
        return False
    # An organization's record reaches a related person only through extends_to.
    return rec.role == "self" or rec.role in measure.extends_to


def match_measure(
    measure: Measure,
    records: Sequence[EffectiveRecord],
    on: date,
    *,
    list_region: str = "",
    origin: str = "list",
) -> AppliedMeasure | None:
    """The measure as applied to the matching records, or ``None`` when none match.

    The caller has already checked the step pattern (see ``ResolvedList.candidates``).
    """
    if not measure.in_force(on):
        return None
    hits = [er for er in records if record_matches(measure, er)]
    if not hits:
        return None
    return applied(measure, hits, list_region=list_region, origin=origin)


def applied(
    measure: Measure,
    records: Iterable[EffectiveRecord],
    *,
    list_region: str = "",
    origin: str = "list",
) -> AppliedMeasure:
    """Build an :class:`AppliedMeasure` for ``measure`` resting on ``records``.

    When the records reach the subject through a related organization (role
    ``legal_representative`` or ``responsible_person``), ``via`` says through whom.
    """
    recs = list(records)
    via = None
    for er in recs:
        if er.record.role != "self":
            via = f"{er.record.role}:{er.record.via or er.subject_code}"
            break
    return trusted(
        AppliedMeasure,
        code=measure.code,
        title=measure.title,
        effect=measure.effect,
        category=measure.category,
        legal_basis=measure.legal_basis,
        list_region=list_region,
        record_ids=tuple(er.record.record_id for er in recs),
        via=via,
        origin=origin,
    )


def step_matches(step: str, patterns: Sequence[str]) -> bool:
    """True when ``step`` matches one of the glob ``patterns``."""
    return any(fnmatch.fnmatchcase(step, p) for p in patterns)


def combine(
    candidates: Iterable[AppliedMeasure],
    step: str,
    commitment_steps: Sequence[str] = DEFAULT_COMMITMENT_STEPS,
) -> tuple[tuple[AppliedMeasure, ...], tuple[AppliedMeasure, ...]]:
    """Split applicable measures into those that bite at ``step`` and mere conditions.

    Duplicates by code are merged (records united), and the result is sorted
    by severity then code, so the order in which lists or plugins produced
    them never matters. ``no_commitment`` bites only on commitment steps.
    """
    cands = list(candidates)
    if not any(a.effect == "no_commitment" for a in cands):
        return _merged(cands), ()
    # Split before merging by code, so a condition never hides a biting copy of the same code.
    commitment = step_matches(step, commitment_steps)
    biting = [a for a in cands if a.effect != "no_commitment" or commitment]
    conditions = [a for a in cands if a.effect == "no_commitment" and not commitment]
    return _merged(biting), _merged(conditions)


def _merged(candidates: Iterable[AppliedMeasure]) -> tuple[AppliedMeasure, ...]:
    by_code: dict[str, list[AppliedMeasure]] = {}
    for am in candidates:
        by_code.setdefault(am.code, []).append(am)
    merged = [
        group[0] if len(group) == 1 else _merge_same_code(group) for group in by_code.values()
    ]
    return tuple(sorted(merged, key=lambda a: (-EFFECT_RANK[a.effect], a.code)))


def _merge_same_code(group: Sequence[AppliedMeasure]) -> AppliedMeasure:
    # A total order picks the kept copy (most severe, list before plugins) and the
    # record ids are united and sorted, so candidate order cannot change the result.
    keep = min(
        group,
        key=lambda a: (
            -EFFECT_RANK[a.effect],
            a.origin != "list",
            a.origin,
            a.list_region,
            a.via or "",
            a.title,
        ),
    )
    ids = tuple(sorted({rid for a in group for rid in a.record_ids}))
    return keep if ids == keep.record_ids else keep.model_copy(update={"record_ids": ids})


def outcome_of(measures: Iterable[AppliedMeasure]) -> Outcome:
    """The outcome of the most severe biting effect (``allow`` when none)."""
    best: Outcome = "allow"
    for am in measures:
        o = _OUTCOME_OF_EFFECT[am.effect]
        if _OUTCOME_RANK[o] > _OUTCOME_RANK[best]:
            best = o
    return best


def stricter(a: Outcome, b: Outcome) -> Outcome:
    """The more severe of two outcomes."""
    return a if _OUTCOME_RANK[a] >= _OUTCOME_RANK[b] else b


def why_not(
    measure: Measure, step: str, list_kind: str, domain: str | None, on: date
) -> str | None:
    """Plain reason ``measure`` would not apply to a record of this kind at ``step``; None if it would."""
    at = measure.applies_to
    if not step_matches(step, at.steps):
        return f"step {step} is not {' / '.join(at.steps)}"
    if list_kind not in at.list_kinds:
        return f"list kind {list_kind} is not {' / '.join(at.list_kinds)}"
    if domain is not None and "*" not in at.domains and domain not in at.domains:
        return f"domain {domain} is not {' / '.join(at.domains)}"
    if measure.published_on is not None and on < measure.published_on:
        return f"not published until {measure.published_on}"
    if measure.effective_from is not None and on < measure.effective_from:
        return f"not in force until {measure.effective_from}"
    if measure.effective_to is not None and on > measure.effective_to:
        return f"no longer in force since {measure.effective_to}"
    return None
