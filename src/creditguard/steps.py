"""The vocabulary of workflow steps: spec §8's well-known steps plus the integrator's own.

A step a check is asked about must be in the vocabulary. A misspelt step
(``procurment.bid``) would otherwise match no measure and answer ``allow``;
it is a programming error, not an outage, so it raises
:class:`~creditguard.errors.UnknownStepError` with a suggestion instead of
giving a decision. Integrators declare steps of their own in the
configuration (``[guard] steps = ["housing.allocate"]``), without wildcards.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable

from creditguard.errors import ConfigError, UnknownStepError

__all__ = ["KNOWN_STEPS", "STEP_SYNTAX", "StepVocabulary"]

#: Well-known workflow steps (spec §8); shipped lists use only these.
KNOWN_STEPS: tuple[str, ...] = (
    "licensing.accept",
    "licensing.approve",
    "licensing.commitment",
    "procurement.register",
    "procurement.bid",
    "procurement.award",
    "tendering.bid",
    "subsidy.apply",
    "subsidy.grant",
    "honors.nominate",
    "appointment.qualify",
    "land.transfer",
    "bond.issue",
    "market.entry",
    "inspection.plan",
    "public_service.apply",
)

#: Spec §8: a step is dotted lower-case words (no wildcard, no capital).
STEP_SYNTAX = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")


class StepVocabulary:
    """The steps a guard accepts: :data:`KNOWN_STEPS` plus ``extra`` (the integrator's own)."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        own = tuple(extra)
        for step in own:
            if not isinstance(step, str) or STEP_SYNTAX.fullmatch(step) is None:
                raise ValueError(
                    f"{step!r} is not a step name: dotted lower-case words such as "
                    "'housing.allocate', without wildcards"
                )
        self.steps: frozenset[str] = frozenset(KNOWN_STEPS) | frozenset(own)

    def __contains__(self, step: object) -> bool:
        return step in self.steps

    def require(self, step: object) -> str:
        """Return ``step`` when it is in the vocabulary, else raise :class:`UnknownStepError`."""
        if isinstance(step, str) and step in self.steps:
            return step
        if not isinstance(step, str):
            raise UnknownStepError(
                f"step must be text such as 'procurement.bid', got {type(step).__name__}",
                step=None,
            )
        near = self.suggest(step)
        hint = f' (did you mean "{near}"?)' if near else ""
        if STEP_SYNTAX.fullmatch(step) is None:
            raise UnknownStepError(
                f"step must be dotted lower-case words such as 'procurement.bid', "
                f"got {step!r}{hint}",
                step=step,
                suggestion=near,
            )
        raise UnknownStepError(
            f"unknown step {step!r}{hint}; steps are those of spec §8 and those declared "
            "in the configuration ([guard] steps = [...])",
            step=step,
            suggestion=near,
        )

    def matches_any(self, pattern: str) -> bool:
        """True when the glob ``pattern`` matches at least one step of the vocabulary."""
        return any(fnmatch.fnmatchcase(step, pattern) for step in self.steps)

    def check_patterns(self, patterns: Iterable[str], where: str) -> None:
        """Raise :class:`~creditguard.errors.ConfigError` for a pattern that matches no step.

        A misspelt pattern in ``[failure] steps`` or ``commitment_steps`` would
        silently never apply (a step meant to hold would fall to the default).
        """
        for pattern in patterns:
            if not self.matches_any(pattern):
                near = self.suggest(pattern.replace("*", "").rstrip("."))
                hint = f' (did you mean "{near}"?)' if near else ""
                raise ConfigError(
                    f"{where}: {pattern!r} matches no known step{hint}; declare steps of "
                    "your own in [guard] steps"
                )

    def suggest(self, step: str) -> str | None:
        """The closest known step to ``step``, if one is close enough."""
        close = difflib.get_close_matches(step.lower().strip(), sorted(self.steps), n=1, cutoff=0.6)
        return close[0] if close else None
