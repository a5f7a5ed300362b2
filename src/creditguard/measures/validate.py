"""Validation of measure lists: every problem at once, each naming file, line, measure and field.

Three layers, each usable alone (each in its own module):

- :func:`check_data` — the shape: unknown top-level fields, wrong types,
  unknown effect/category values, a withdrawal without a reason. Each measure
  is checked on its own so one bad measure does not hide the others' problems.
- :func:`check_list` — one list on its own: duplicate codes, inverted
  effective windows, step patterns, domains, legal-basis levels.
- :func:`check_layers` — lists together: missing or cyclic parents, two
  versions in force at once, withdrawals of measures no parent has, and a
  child widening an inherited ``rights_limiting`` measure.

:func:`validate_files` and :func:`validate_lists` run all three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from creditguard.errors import Problem
from creditguard.measures._common import Checked, errors_of
from creditguard.measures.basis import BasisPolicy
from creditguard.measures.layers import check_layers
from creditguard.measures.locate import Locator
from creditguard.measures.onelist import (
    KNOWN_STEP_PREFIXES,
    KNOWN_STEPS,
    check_list,
    check_step_pattern,
)
from creditguard.measures.shape import check_data, check_file, check_text
from creditguard.models import MeasureList

__all__ = [
    "KNOWN_STEPS",
    "KNOWN_STEP_PREFIXES",
    "Checked",
    "Locator",
    "check_data",
    "check_file",
    "check_layers",
    "check_list",
    "check_step_pattern",
    "check_text",
    "errors_of",
    "validate_files",
    "validate_lists",
]


def validate_files(
    paths: Iterable[str | Path],
    *,
    context: Iterable[MeasureList] = (),
    policy: BasisPolicy | None = None,
) -> list[Problem]:
    """Every problem of the files, alone and together (``context``: installed lists as parents)."""
    checked = [check_file(p, policy=policy) for p in paths]
    problems = [p for c in checked for p in c.problems]
    problems += check_layers(checked, context=context)
    return _ordered(problems, [c.name for c in checked])


def validate_lists(
    lists: Iterable[MeasureList],
    *,
    names: Mapping[int, str] | None = None,
    policy: BasisPolicy | None = None,
) -> list[Problem]:
    """Every problem of already-loaded lists (for instance those a guard installs)."""
    checked = []
    for lst in lists:
        name = (names or {}).get(id(lst), f"<list {lst.region} {lst.version}>")
        checked.append(Checked(name, lst, check_list(lst, name=name, policy=policy)))
    problems = [p for c in checked for p in c.problems]
    problems += check_layers(checked)
    return _ordered(problems, [c.name for c in checked])


def _ordered(problems: list[Problem], names: list[str]) -> list[Problem]:
    rank = {n: i for i, n in enumerate(names)}
    return sorted(
        problems,
        key=lambda p: (rank.get(p.file or "", len(rank)), p.line or 0, p.severity != "error"),
    )
