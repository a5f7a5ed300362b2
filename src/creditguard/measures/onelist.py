"""Rules for one list on its own: codes, windows, steps, domains, categories and legal bases."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from creditguard.errors import Problem
from creditguard.measures._common import did_you_mean, suggest
from creditguard.measures.basis import BasisPolicy, judge_basis
from creditguard.measures.carry import carry_problems
from creditguard.measures.instruments import WHOLE, Instrument, article_keys
from creditguard.measures.locate import Locator
from creditguard.models import KNOWN_DOMAINS, LegalBasis, Measure, MeasureList
from creditguard.steps import KNOWN_STEPS

__all__ = ["KNOWN_STEPS", "KNOWN_STEP_PREFIXES", "check_list", "check_step_pattern"]

#: First words of the well-known steps; an integrator's own step under one of
#: these (``procurement.contract``) is fine.
KNOWN_STEP_PREFIXES: frozenset[str] = frozenset(s.split(".", 1)[0] for s in KNOWN_STEPS)

# Dotted lower-case words, each possibly holding glob characters.
_STEP_SYNTAX = re.compile(r"^[a-z0-9_*?\[\]!-]+(\.[a-z0-9_*?\[\]!-]+)*$")
_GLOB_CHARS = re.compile(r"[*?\[]")


def check_step_pattern(pattern: str) -> tuple[str, str] | None:
    """``(severity, message)`` for a doubtful step pattern, or ``None`` when it is fine.

    A pattern matching a well-known step, or under a well-known first word,
    is fine. A near miss of a well-known first word (``procurment.*``) is an
    error with a suggestion; an integrator's own first word (``housing.*``)
    is only a warning, because custom steps are allowed (spec §8).
    """
    if not pattern or not _STEP_SYNTAX.match(pattern):
        return (
            "error",
            f"{pattern!r} is not a step pattern: dotted lower-case words, with * ? [] as wildcards",
        )
    if any(fnmatch.fnmatchcase(step, pattern) for step in KNOWN_STEPS):
        return None
    first = pattern.split(".", 1)[0]
    if first in KNOWN_STEP_PREFIXES:
        near = suggest(pattern, KNOWN_STEPS + tuple(f"{p}.*" for p in KNOWN_STEP_PREFIXES), 0.85)
        if near and near != pattern:
            return ("warning", f'"{pattern}" matches no known step (did you mean "{near}"?)')
        return None  # an integrator's own step under a known heading
    if not _GLOB_CHARS.search(first):
        near_prefix = suggest(first, KNOWN_STEP_PREFIXES, 0.75)
        if near_prefix:
            fixed = near_prefix + pattern[len(first) :]
            return ("error", f'"{pattern}" matches no known step (did you mean "{fixed}"?)')
    return (
        "warning",
        f'"{pattern}" matches no known step; fine for a step of your own, a typo otherwise',
    )


def _measure_problems(
    m: Measure,
    *,
    name: str,
    line: Any,
    region: str = "000000",
    on: date | None = None,
    policy: BasisPolicy | None = None,
    ignore: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Problems of one well-formed measure; ``line(path)`` locates a field.

    ``ignore`` names fields already reported as broken (``check_list``'s ``skip``).

    ``on`` is the first day the measure can apply (the later of the list's and
    the measure's ``effective_from``); cited instruments must be in force then.
    """
    out: list[Problem] = []

    def add(msg: str, path: str | None, severity: str = "error") -> None:
        out.append(
            Problem(msg, file=name, line=line(path), measure=m.code, field=path, severity=severity)
        )

    if m.effective_from and m.effective_to and m.effective_from > m.effective_to:
        add(
            f"effective window is inverted: effective_from {m.effective_from} is after effective_to {m.effective_to}",
            "effective_to",
        )
    if m.published_on and m.effective_from and m.published_on > m.effective_from:
        add(
            f"published_on {m.published_on} is after effective_from {m.effective_from}: "
            "the measure applies only once published",
            "published_on",
            "warning",
        )
    at = m.applies_to
    if not at.steps:
        add(
            'applies to no step: give at least one pattern ("*" for every step)', "applies_to.steps"
        )
    for pattern in at.steps:
        verdict = check_step_pattern(pattern)
        if verdict:
            add(verdict[1], "applies_to.steps", verdict[0])
    if not at.domains:
        add('applies to no domain: give at least one ("*" for every domain)', "applies_to.domains")
    for d in at.domains:
        if d != "*" and d not in KNOWN_DOMAINS:
            add(
                f'domain "{d}" is not one of the spec\'s domains' + did_you_mean(d, KNOWN_DOMAINS),
                "applies_to.domains",
                "warning",
            )
    if "*" in at.domains and len(at.domains) > 1:
        add(
            '"*" already covers every domain; the others are redundant',
            "applies_to.domains",
            "warning",
        )
    if len(set(at.list_kinds)) != len(at.list_kinds):
        add("a list kind is named twice", "applies_to.list_kinds", "warning")

    # Whether the basis carries the measure is judged only on a measure whose
    # effect and targets are sound: a typo there is reported as itself, once.
    sound = not (ignore & _CARRY_FIELDS) and not any(
        p.severity == "error" and (p.field or "").split(".", 1)[0] in _CARRY_FIELDS for p in out
    )
    out.extend(_basis_problems(m, region, on, policy or BasisPolicy(), add, carry=sound))
    return out


#: The fields rules 11f–11g judge the basis against.
_CARRY_FIELDS = frozenset({"effect", "category", "applies_to"})


#: Effects that reduce rights: only a rights-limiting measure may carry them.
_RIGHTS_EFFECTS = frozenset({"restrict", "deny"})


def _basis_problems(
    m: Measure, region: str, on: date | None, policy: BasisPolicy, add: Any, *, carry: bool = True
) -> list[Problem]:
    """The category and legal-basis rules (国办发〔2020〕49号; FACTS §4).

    Calls ``add(message, path, severity)``; returns nothing of its own so
    the caller keeps one list of problems. ``carry=False`` skips whether the
    cited articles carry the measure (rules 11f–11g; a missing article, 11h,
    is still reported).
    """
    if m.effect in _RIGHTS_EFFECTS and m.category != "rights_limiting":
        add(
            f"effect {m.effect} reduces rights: the category must be rights_limiting, "
            f"not {m.category} (rule: restrict/deny need rights_limiting)",
            "category",
        )
    rights = m.category == "rights_limiting"
    allowed = policy.allowed(region)
    table = policy.instruments()
    levels: list[str | None] = []
    editions: list[tuple[LegalBasis, Instrument | None]] = []
    for j, b in enumerate(m.legal_basis):
        judged = judge_basis(b, on, table)
        levels.append(judged.level)
        editions.append((b, judged.instrument))
        path = f"legal_basis.{j}"
        inst = judged.instrument
        if inst is not None and b.level is not None and b.level != inst.level:
            add(
                f"{b.title} is a {inst.level} ({inst.cited}), not a {b.level} "
                "(rule: level must match the instruments table)",
                f"{path}.level",
            )
        if inst is None and judged.level is None:
            add(
                f"cannot tell the level of {b.title}: it is not in the instruments table "
                "and no level is given (rule: unknown level"
                + (" is an error for a rights_limiting measure)" if rights else ")"),
                f"{path}.level",
                "error" if rights else "warning",
            )
        elif inst is None and rights:
            add(
                f"{b.title} is not in the instruments table; its level {judged.level} "
                "and its dates rest on this file alone",
                f"{path}.level",
                "warning",
            )
        if inst is not None and on is not None and not inst.in_force(on):
            until = (
                f"in force {inst.in_force_from} … {inst.in_force_to}"
                if inst.in_force_to
                else f"in force only from {inst.in_force_from}"
            )
            add(
                f"{inst.cited} was not in force on {on} ({until}) "
                "(rule: cite instruments in force on the list's effective date)",
                f"{path}.title",
            )
        if not b.article and "第" not in b.title:
            # A document the table knows to be cited as a whole (财库〔2016〕125号) is fine.
            if inst is None or WHOLE not in inst.articles:
                add(f"{b.title} cites no article", f"{path}.article", "warning")
        elif b.article and not article_keys(b.article):
            add(
                f"article {b.article!r} of {b.title} names no article the instruments table can "
                "look up (write 第二十二条, or a part number such as 二)",
                f"{path}.article",
                "warning",
            )
    if rights and not any(level in allowed for level in levels):
        known = sorted({lv for lv in levels if lv is not None})
        add(
            "rights_limiting measure rests only on "
            + (", ".join(known) if known else "bases of unknown level")
            + f"; in region {region} it needs one of: {', '.join(sorted(allowed))} "
            "(rule: 国办发〔2020〕49号 basis levels)",
            "legal_basis",
        )
    # Rules 11f–11h: the cited articles must exist and carry the measure.
    for message, path, severity in carry_problems(m, editions):
        if carry or "does not exist" in message:
            add(message, path, severity)
    return []


def check_list(
    lst: MeasureList,
    *,
    name: str = "<list>",
    locator: Locator | None = None,
    skip: Mapping[int, frozenset[str]] | None = None,
    policy: BasisPolicy | None = None,
) -> list[Problem]:
    """Problems of one well-formed list that need no other list.

    ``policy`` says which basis levels may carry a rights-limiting measure
    in the list's region (default: 国办发〔2020〕49号).

    ``skip`` maps a measure's index to fields not to judge (placeholders for
    fields whose shape was already reported as broken; ``"*"`` for all).
    """
    loc = locator or Locator(None)
    skip = skip or {}
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for i, m in enumerate(lst.measures):
        ignore = skip.get(i, frozenset())
        if "*" in ignore:
            continue
        found = _measure_problems(
            m,
            name=name,
            line=lambda p, i=i, c=m.code: loc.measure(i, c, p),
            region=lst.region,
            on=_first_day(lst, m),
            policy=policy,
            ignore=ignore,
        )
        out.extend(p for p in found if (p.field or "").split(".", 1)[0] not in ignore)
        if "code" in ignore:
            continue
        if m.code in seen:
            out.append(
                Problem(
                    f"duplicate code: also measure #{seen[m.code] + 1}",
                    file=name,
                    line=loc.measure(i, m.code, "code"),
                    measure=m.code,
                    field="code",
                )
            )
        else:
            seen[m.code] = i
    if lst.extends == lst.region:
        out.append(
            Problem(
                f"list {lst.region} extends itself (cycle)",
                file=name,
                line=loc.top("extends"),
                field="extends",
            )
        )
    if lst.published_on and lst.effective_from and lst.published_on > lst.effective_from:
        out.append(
            Problem(
                f"published_on {lst.published_on} is after effective_from {lst.effective_from}: "
                "the list takes effect only once published",
                file=name,
                line=loc.top("published_on"),
                field="published_on",
                severity="warning",
            )
        )
    for key in ("published_on", "effective_from"):
        if getattr(lst, key) is None:
            out.append(
                Problem(
                    f"no {key}: the list counts as {'published' if key == 'published_on' else 'in force'} on every date, so replays of past checks are wrong",
                    file=name,
                    field=key,
                    severity="warning",
                )
            )
    withdrawn: set[str] = set()
    for k, w in enumerate(lst.withdraws):
        line = loc.item("withdraws", k, w.code)
        if not w.reason.strip():
            out.append(
                Problem(
                    "a withdrawal needs a stated reason",
                    file=name,
                    line=line,
                    measure=w.code,
                    field=f"withdraws.{k}.reason",
                )
            )
        if w.code in seen:
            out.append(
                Problem(
                    "withdraws a measure this list defines itself; remove the measure instead",
                    file=name,
                    line=line,
                    measure=w.code,
                    field=f"withdraws.{k}.code",
                )
            )
        if w.code in withdrawn:
            out.append(
                Problem(
                    "withdrawn twice",
                    file=name,
                    line=line,
                    measure=w.code,
                    field=f"withdraws.{k}.code",
                    severity="warning",
                )
            )
        withdrawn.add(w.code)
    if not lst.measures and not lst.withdraws:
        out.append(
            Problem("the list has no measures", file=name, field="measures", severity="warning")
        )
    return out


def _first_day(lst: MeasureList, m: Measure) -> date | None:
    days = [d for d in (lst.effective_from, m.effective_from) if d is not None]
    return max(days) if days else None
