"""Applicability: why each measure of a resolved list does or does not apply at a step.

Uses the same rules as a check (:func:`creditguard.rules.why_not`,
:func:`creditguard.rules.combine`), so what ``creditguard measures explain``
shows is what the engine does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from creditguard.measures.catalog import ResolvedList, ResolvedMeasure
from creditguard.models import EFFECT_RANK, Measure
from creditguard.rules import DEFAULT_COMMITMENT_STEPS, step_matches, why_not

__all__ = ["Verdict", "describe_scope", "explain_step"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One measure's verdict at a step: ``status`` is applies, condition, no or withdrawn."""

    code: str
    title: str
    effect: str
    status: str
    reason: str
    list_region: str
    list_version: str
    measure: Measure | None = None

    @property
    def applies(self) -> bool:
        """True when the measure bites at this step."""
        return self.status == "applies"


def describe_scope(m: Measure) -> str:
    """``blacklist, any domain, procurement.*`` — what a measure covers, in a few words."""
    at = m.applies_to
    domains = "any domain" if "*" in at.domains else " / ".join(at.domains)
    bits = [" / ".join(at.list_kinds), domains, " / ".join(at.steps)]
    if m.extends_to:
        bits.append("also " + " / ".join(m.extends_to))
    return ", ".join(bits)


def explain_step(
    resolved: ResolvedList,
    step: str,
    list_kind: str,
    domain: str | None = None,
    on: date | None = None,
    *,
    role: str = "self",
    commitment_steps: Sequence[str] = DEFAULT_COMMITMENT_STEPS,
) -> list[Verdict]:
    """A verdict for every measure of ``resolved`` (and every withdrawn one), applying first.

    ``role`` is the subject's role in the record (``self``, or
    ``legal_representative``/``responsible_person`` for an organization's
    record reaching a person): only measures with that ``extends_to`` reach it.
    """
    day = on or resolved.on
    out: list[Verdict] = []
    for rm in resolved.measures:
        out.append(_verdict(rm, step, list_kind, domain, day, role, commitment_steps))
    for code, reason in sorted(resolved.withdrawn.items()):
        by = resolved.withdrawn_by.get(code, resolved.region)
        out.append(Verdict(code, "", "", "withdrawn", f"withdrawn by {by}: {reason}", by, ""))
    order = {"applies": 0, "condition": 1, "no": 2, "withdrawn": 3}
    out.sort(key=lambda v: (order[v.status], -EFFECT_RANK.get(v.effect, -1), v.code))
    return out


def _verdict(
    rm: ResolvedMeasure,
    step: str,
    list_kind: str,
    domain: str | None,
    on: date,
    role: str,
    commitment_steps: Sequence[str],
) -> Verdict:
    m = rm.measure

    def make(status: str, reason: str) -> Verdict:
        return Verdict(
            m.code, m.title, m.effect, status, reason, rm.list_region, rm.list_version, m
        )

    reason = why_not(m, step, list_kind, domain, on)
    if reason is not None:
        return make("no", f"does not apply: {reason}")
    if role != "self" and role not in m.extends_to:
        return make("no", f"does not apply: does not extend to the {role.replace('_', ' ')}")
    scope = describe_scope(m)
    if m.effect == "no_commitment" and not step_matches(step, commitment_steps):
        return make(
            "condition",
            f"applies as a condition only ({scope}): no approval by commitment, "
            f"which bites at {' / '.join(commitment_steps)}",
        )
    return make("applies", f"applies ({scope})")
