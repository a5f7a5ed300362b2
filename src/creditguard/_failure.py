"""What a step does when records cannot be obtained: its failure policy (hold, allow, stale, raise).

The rule above all: a check never fails open. A source that did not answer
is named in the decision's ``degraded_reason`` and leaves it unverified;
policy ``stale`` may use cached records younger than ``max_stale``, marked stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from creditguard.cache import RecordCache
from creditguard.errors import RecordsUnavailable, SourceError
from creditguard.rules import step_matches

if TYPE_CHECKING:
    from creditguard.engine import Plan

__all__ = ["FailurePolicy", "apply_policy", "failure_text"]


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """What a step does when records cannot be obtained: hold, allow, stale or raise."""

    default: str = "hold"
    steps: Mapping[str, str] = field(default_factory=dict)
    stale_fallback: str = "hold"
    max_stale: float = 86400.0

    def for_step(self, step: str) -> str:
        """The policy of ``step``: an exact entry, else the first matching glob, else the default."""
        exact = self.steps.get(step)
        if exact is not None:
            return exact
        for pattern, policy in self.steps.items():
            if step_matches(step, (pattern,)):
                return policy
        return self.default


def apply_policy(
    failure: FailurePolicy,
    cache: RecordCache,
    plan: Plan,
    failures: list[tuple[str, SourceError]],
) -> tuple[list[tuple[str, SourceError]], str, str | None, float | None]:
    """Apply the step's failure policy (``failure``): the failures left, the policy, the reason, stale age.

    Policy ``stale`` adds cached records (younger than ``max_stale``) of the
    failed sources to ``plan.gathered``, marked stale; ``raise`` raises
    :class:`~creditguard.errors.RecordsUnavailable`.
    """
    sc = plan.sc
    notes: list[str] = []
    stale_age: float | None = None
    policy = failure.for_step(plan.step)
    if policy == "stale":
        still: list[tuple[str, SourceError]] = []
        for name, err in failures:
            entry = cache.stale(name, sc.code, plan.related, failure.max_stale)
            if entry is None:
                still.append((name, err))
            else:
                prov = entry.provenance.model_copy(update={"stale": True})
                plan.gathered.append((name, entry.records, entry.fetched_at, True, prov))
                age = cache.age(entry)
                stale_age = age if stale_age is None else max(stale_age, age)
                at = entry.fetched_at.strftime("%Y-%m-%d %H:%M")
                notes.append(f"{failure_text(name, err)} (used records fetched at {at})")
        failures = still
        policy = failure.stale_fallback
    if failures:
        notes.extend(failure_text(name, err) for name, err in failures)
    reason = "; ".join(notes) or None
    if failures and policy == "raise":
        raise RecordsUnavailable(f"credit records unavailable ({reason})", cause=failures[0][1])
    # Milliseconds are enough (and a float's long tail would read like an ID number in output).
    return failures, policy, reason, None if stale_age is None else round(stale_age, 3)


def failure_text(name: str, err: SourceError) -> str:
    """``err``'s text, prefixed by the source ``name`` unless it already is."""
    text = str(err)
    return text if text.startswith(f"{name}: ") else f"{name}: {text}"
