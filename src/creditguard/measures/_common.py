"""Pieces every validation layer shares: the result of checking one list, suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from creditguard.errors import Problem
from creditguard.measures.locate import Locator
from creditguard.models import EFFECT_RANK, MeasureList

__all__ = ["CHOICES", "Checked", "did_you_mean", "errors_of", "suggest"]

CHOICES: dict[str, tuple[str, ...]] = {
    "effect": tuple(EFFECT_RANK),
    "category": ("rights_limiting", "management", "market_social"),
    "list_kinds": ("blacklist", "focus"),
    "extends_to": ("legal_representative", "responsible_person", "related_person"),
    "level": (
        "law",
        "administrative_regulation",
        "local_regulation",
        "departmental_rule",
        "local_rule",
        "normative_document",
        "policy_document",
    ),
    "standing": ("official", "compilation", "example"),
}


def suggest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest of ``choices`` to ``word``, or ``None``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` when a choice is close, else an empty string."""
    s = suggest(word, choices)
    return f' (did you mean "{s}"?)' if s else ""


@dataclass
class Checked:
    """One list as validation saw it: the list (None when its shape is broken) and its problems."""

    name: str
    measure_list: MeasureList | None
    problems: list[Problem] = field(default_factory=list)
    locator: Locator = field(default_factory=lambda: Locator(None))
    #: When the shape is broken: the list with placeholders for broken measures,
    #: so checks between lists can still run; ``skip`` marks the placeholders.
    partial: MeasureList | None = None
    skip: dict[int, frozenset[str]] = field(default_factory=dict)

    @property
    def usable(self) -> MeasureList | None:
        """The list, or its partial stand-in when the shape is broken."""
        return self.measure_list if self.measure_list is not None else self.partial

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not errors_of(self.problems)


def errors_of(problems: Iterable[Problem]) -> list[Problem]:
    """Only the errors (not the warnings) among ``problems``."""
    return [p for p in problems if p.severity == "error"]
