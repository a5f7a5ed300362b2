"""Validation of measure lists: every problem at once, each naming file, line, measure and field.

Three layers, each usable alone:

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

import difflib
import fnmatch
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from creditguard.errors import ConfigError, Problem
from creditguard.measures.basis import SUFFICIENT_FOR_RIGHTS_LIMITING, basis_kind
from creditguard.models import (
    EFFECT_RANK,
    KNOWN_DOMAINS,
    LegalBasis,
    Measure,
    MeasureList,
)
from creditguard.steps import KNOWN_STEPS

__all__ = [
    "KNOWN_STEPS",
    "KNOWN_STEP_PREFIXES",
    "Checked",
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

# KNOWN_STEPS (spec §8) lives in creditguard.steps, the one vocabulary checks also use.

#: First words of the well-known steps; an integrator's own step under one of
#: these (``procurement.contract``) is fine.
KNOWN_STEP_PREFIXES: frozenset[str] = frozenset(s.split(".", 1)[0] for s in KNOWN_STEPS)

# Dotted lower-case words, each possibly holding glob characters.
_STEP_SYNTAX = re.compile(r"^[a-z0-9_*?\[\]!-]+(\.[a-z0-9_*?\[\]!-]+)*$")
_GLOB_CHARS = re.compile(r"[*?\[]")

_CHOICES: dict[str, tuple[str, ...]] = {
    "effect": tuple(EFFECT_RANK),
    "category": ("rights_limiting", "management", "market_social"),
    "list_kinds": ("blacklist", "focus"),
    "extends_to": ("legal_representative", "responsible_person"),
    "level": (
        "law",
        "administrative_regulation",
        "local_regulation",
        "departmental_rule",
        "local_rule",
        "normative_document",
        "policy_document",
    ),
}


def _suggest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    s = _suggest(word, choices)
    return f' (did you mean "{s}"?)' if s else ""


# --- where things are in the source text ------------------------------------------------


class Locator:
    """Finds the line of a top-level field, a measure or a measure's field in TOML or JSON text.

    Best effort: a line is only reported when it is found unambiguously; a
    problem without a line still names the measure code and field path.
    """

    def __init__(self, text: str | None) -> None:
        self.lines = text.splitlines() if text else []
        self._blocks: dict[str, list[int]] = {}
        for i, line in enumerate(self.lines):
            m = re.match(r"\s*\[\[\s*([A-Za-z_]+)\s*\]\]", line)
            if m:
                self._blocks.setdefault(m.group(1), []).append(i)
        self._first_table = next(
            (i for i, line in enumerate(self.lines) if re.match(r"\s*\[", line)), len(self.lines)
        )

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*[.=:]')
        for i in range(start, min(end, len(self.lines))):
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def top(self, key: str) -> int | None:
        """Line of a top-level key (TOML: before the first table; JSON: anywhere)."""
        line = self._key_line(key, 0, self._first_table)
        return line if line is not None else self._key_line(key, 0, len(self.lines))

    def item(self, array: str, index: int, code: str | None, path: str | None = None) -> int | None:
        """Line of item ``index`` of ``[[array]]`` (or of its ``path``'s first key)."""
        heads = self._blocks.get(array, [])
        if index < len(heads):
            start = heads[index]
            end = heads[index + 1] if index + 1 < len(heads) else len(self.lines)
            # A following table of another kind ends the block too.
            sub = re.compile(rf"\s*\[\s*{re.escape(array)}\.")
            for j in range(start + 1, end):
                if self.lines[j].lstrip().startswith("[") and not sub.match(self.lines[j]):
                    end = j
                    break
            if path:
                key = path.split(".", 1)[0]
                found = self._key_line(key, start + 1, end)
                if found is None:  # a sub-table: [measures.applies_to]
                    for j in range(start + 1, end):
                        if re.match(
                            rf"\s*\[\s*{re.escape(array)}\.{re.escape(key)}\s*\]", self.lines[j]
                        ):
                            return j + 1
                if found is not None:
                    return found
            return start + 1
        if code is not None:  # inline tables or JSON: find the code's own line
            pattern = re.compile(rf"""["']?code["']?\s*[=:]\s*["']{re.escape(code)}["']""")
            hits = [i for i, line in enumerate(self.lines) if pattern.search(line)]
            if len(hits) >= 1:
                return hits[0] + 1
        return None

    def measure(self, index: int, code: str | None, path: str | None = None) -> int | None:
        """Line of measure ``index`` (or of one of its fields)."""
        return self.item("measures", index, code, path)

    def measure_by_code(
        self, lst: MeasureList, code: str, path: str | None = None, nth: int = 0
    ) -> int | None:
        """Line of the ``nth`` measure with ``code`` in ``lst``."""
        seen = 0
        for i, m in enumerate(lst.measures):
            if m.code == code:
                if seen == nth:
                    return self.measure(i, code, path)
                seen += 1
        return None


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


# --- shape ----------------------------------------------------------------------------------


def _message(err: Mapping[str, Any], fld: str) -> str:
    kind = err.get("type", "")
    value = err.get("input")
    last = fld.rsplit(".", 1)[-1] if fld else ""
    if last.isdigit() and "." in fld:
        last = fld.rsplit(".", 2)[-2]
    if kind == "literal_error" and last in _CHOICES:
        choices = _CHOICES[last]
        return (
            f"unknown {last.rstrip('s') if last == 'list_kinds' else last} {value!r}; "
            f"expected one of {', '.join(choices)}" + (_did_you_mean(str(value), choices))
        )
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field" + _did_you_mean(
            last, ("list_kinds", "domains", "steps", "code", "reason")
        )
    if kind == "string_too_short" and last == "reason":
        return "a withdrawal needs a stated reason"
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{err.get('msg', 'invalid value')} (got {shown})"


def _innermost(exc: ValidationError) -> list[Any]:
    """The errors, minus those about a container whose item already has an error
    ("list_kinds.0: unknown list kind" makes "list_kinds: too short" noise)."""
    errs = exc.errors()
    locs = [tuple(e["loc"]) for e in errs]
    return [
        e
        for e, loc in zip(errs, locs, strict=True)
        if not any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs)
    ]


def _loc_path(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc)


def check_data(data: Any, *, name: str = "<list>", text: str | None = None) -> Checked:
    """Check decoded data as a measure list; the list is returned only when it has no shape error."""
    loc = Locator(text)
    problems: list[Problem] = []
    if not isinstance(data, dict):
        problems.append(Problem("a measure list must be a table/object at top level", file=name))
        return Checked(name, None, problems, loc)

    known = set(MeasureList.model_fields)
    for key in data:
        if key not in known:
            problems.append(
                Problem(
                    f"unknown field {key!r}" + _did_you_mean(key, known),
                    file=name,
                    line=loc.top(key),
                    field=key,
                )
            )

    # Top-level fields and withdrawals, measures checked one by one below.
    head = {k: v for k, v in data.items() if k in known and k != "measures"}
    head_ok = True
    head_list: MeasureList | None = None
    try:
        head_list = MeasureList.model_validate({**head, "measures": []})
    except ValidationError as exc:
        head_ok = False
        for err in _innermost(exc):
            path = _loc_path(err["loc"])
            line: int | None = None
            measure = None
            if err["loc"] and err["loc"][0] == "withdraws" and len(err["loc"]) > 1:
                idx = err["loc"][1]
                items = data.get("withdraws")
                code = None
                if isinstance(idx, int) and isinstance(items, list) and idx < len(items):
                    item = items[idx]
                    code = (
                        str(item.get("code"))
                        if isinstance(item, dict) and item.get("code")
                        else None
                    )
                line = loc.item("withdraws", idx, code) if isinstance(idx, int) else None
                measure = code
            else:
                line = loc.top(str(err["loc"][0])) if err["loc"] else None
            problems.append(
                Problem(_message(err, path), file=name, line=line, measure=measure, field=path)
            )

    raw_measures = data.get("measures", [])
    measures: list[Measure] = []
    skip: dict[int, frozenset[str]] = {}
    measures_ok = True
    if not isinstance(raw_measures, list):
        measures_ok = False
        problems.append(
            Problem(
                "measures must be an array of tables ([[measures]])",
                file=name,
                line=loc.top("measures"),
                field="measures",
            )
        )
        raw_measures = []
    measure_fields = set(Measure.model_fields)
    basis_fields = set(LegalBasis.model_fields)
    for i, item in enumerate(raw_measures):
        if not isinstance(item, dict):
            measures_ok = False
            measures.append(Measure.model_validate({**_PLACEHOLDER, "code": f"#{i + 1}"}))
            skip[i] = frozenset({"*"})
            problems.append(
                Problem(
                    "a measure must be a table",
                    file=name,
                    line=loc.measure(i, None),
                    field=f"measures.{i}",
                )
            )
            continue
        code = (
            str(item["code"]) if isinstance(item.get("code"), str) and item["code"] else f"#{i + 1}"
        )
        # Unknown measure fields are ignored on the wire (spec §5.1) but in a file
        # they are almost always typos ("extend_to"), which would silently drop a rule.
        for key in item:
            if key not in measure_fields:
                problems.append(
                    Problem(
                        f"unknown field {key!r} is ignored" + _did_you_mean(key, measure_fields),
                        file=name,
                        line=loc.measure(i, code, key),
                        measure=code,
                        field=key,
                        severity="warning",
                    )
                )
        bases = item.get("legal_basis")
        for j, b in enumerate(bases if isinstance(bases, list) else []):
            if isinstance(b, dict):
                for key in b:
                    if key not in basis_fields:
                        problems.append(
                            Problem(
                                f"unknown field {key!r} is ignored"
                                + _did_you_mean(key, basis_fields),
                                file=name,
                                line=loc.measure(i, code, "legal_basis"),
                                measure=code,
                                field=f"legal_basis.{j}.{key}",
                                severity="warning",
                            )
                        )
        try:
            measures.append(Measure.model_validate(item))
        except ValidationError as exc:
            measures_ok = False
            # Stand in placeholders for the broken fields so the rest of the
            # measure (its steps, its basis) is still checked.
            bad = frozenset(str(err["loc"][0]) for err in exc.errors() if err["loc"])
            fixed = {k: v for k, v in item.items() if k in measure_fields and k not in bad}
            try:
                measures.append(
                    Measure.model_validate({**_PLACEHOLDER, "code": f"#{i + 1}", **fixed})
                )
                skip[i] = bad
            except ValidationError:
                measures.append(Measure.model_validate({**_PLACEHOLDER, "code": f"#{i + 1}"}))
                skip[i] = frozenset({"*"})
            for err in _innermost(exc):
                path = _loc_path(err["loc"])
                problems.append(
                    Problem(
                        _message(err, path),
                        file=name,
                        line=loc.measure(i, code, path),
                        measure=code,
                        field=path,
                    )
                )
    shape_ok = head_ok and measures_ok
    if head_list is None:
        # Without a valid head only the measures can be judged.
        stand_in = MeasureList.model_construct(
            region="000000", version="?", measures=tuple(measures)
        )
        problems.extend(
            p
            for p in check_list(stand_in, name=name, locator=loc, skip=skip)
            if p.measure is not None
        )
        return Checked(name, None, problems, loc)
    lst = head_list.model_copy(update={"measures": tuple(measures)})
    problems.extend(check_list(lst, name=name, locator=loc, skip=skip))
    if shape_ok:
        return Checked(name, lst, problems, loc)
    return Checked(name, None, problems, loc, partial=lst, skip=skip)


# Values standing in for a broken measure's broken fields (never reported on).
_PLACEHOLDER: dict[str, Any] = {
    "title": "?",
    "category": "management",
    "legal_basis": [{"title": "?", "article": "?", "level": "policy_document"}],
    "applies_to": {"list_kinds": ["blacklist"]},
    "effect": "notify",
}


def _index(raw: Sequence[Any], code: str) -> int:
    for i, item in enumerate(raw):
        if isinstance(item, dict) and item.get("code") == code:
            return i
    return len(raw)


_TOML_POS = re.compile(r"at line (\d+), column (\d+)")


def check_text(text: str, *, name: str = "<list>", fmt: str = "toml") -> Checked:
    """Parse ``text`` (``fmt`` "toml" or "json") and check it."""
    data: Any
    try:
        data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        return Checked(
            name,
            None,
            [
                Problem(
                    f"not valid JSON: {exc.msg} (column {exc.colno})", file=name, line=exc.lineno
                )
            ],
        )
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS.search(str(exc))
        line = int(m.group(1)) if m else None
        if line is None and "end of document" in str(exc):
            line = max(1, len(text.splitlines()))
        return Checked(name, None, [Problem(f"not valid TOML: {exc}", file=name, line=line)])
    return check_data(data, name=name, text=text)


def check_file(path: str | Path) -> Checked:
    """Read and check one file (``.json`` is JSON, anything else TOML)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Checked(str(p), None, [Problem("file is not UTF-8 text", file=str(p))])
    except OSError as exc:
        return Checked(str(p), None, [Problem(f"cannot read file: {exc.strerror}", file=str(p))])
    return check_text(text, name=str(p), fmt="json" if p.suffix.lower() == ".json" else "toml")


# --- one list -------------------------------------------------------------------------------


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
        near = _suggest(pattern, KNOWN_STEPS + tuple(f"{p}.*" for p in KNOWN_STEP_PREFIXES), 0.85)
        if near and near != pattern:
            return ("warning", f'"{pattern}" matches no known step (did you mean "{near}"?)')
        return None  # an integrator's own step under a known heading
    if not _GLOB_CHARS.search(first):
        near_prefix = _suggest(first, KNOWN_STEP_PREFIXES, 0.75)
        if near_prefix:
            fixed = near_prefix + pattern[len(first) :]
            return ("error", f'"{pattern}" matches no known step (did you mean "{fixed}"?)')
    return (
        "warning",
        f'"{pattern}" matches no known step; fine for a step of your own, a typo otherwise',
    )


def _measure_problems(m: Measure, *, name: str, line: Any) -> list[Problem]:
    """Problems of one well-formed measure; ``line(path)`` locates a field."""
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
                f'domain "{d}" is not one of the spec\'s domains' + _did_you_mean(d, KNOWN_DOMAINS),
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

    kinds = [basis_kind(b) for b in m.legal_basis]
    for j, (b, kind) in enumerate(zip(m.legal_basis, kinds, strict=True)):
        if kind is None:
            add(
                f"cannot tell the level of {b.title}: give it explicitly "
                f'({{ title = "…", article = "…", level = "…" }})',
                f"legal_basis.{j}.level",
                "warning",
            )
        if not b.article and "第" not in b.title:
            add(f"{b.title} cites no article", f"legal_basis.{j}.article", "warning")
    if m.category == "rights_limiting" and not any(
        k in SUFFICIENT_FOR_RIGHTS_LIMITING for k in kinds
    ):
        if all(k is not None for k in kinds):
            levels = ", ".join(sorted({str(k) for k in kinds}))
            add(
                f"rights_limiting measure rests only on {levels}; it needs a law or administrative regulation",
                "legal_basis",
            )
        else:
            add(
                "rights_limiting measure: no basis is known to be a law or administrative regulation",
                "legal_basis",
                "warning",
            )
    return out


def check_list(
    lst: MeasureList,
    *,
    name: str = "<list>",
    locator: Locator | None = None,
    skip: Mapping[int, frozenset[str]] | None = None,
) -> list[Problem]:
    """Problems of one well-formed list that need no other list.

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
        found = _measure_problems(m, name=name, line=lambda p, i=i, c=m.code: loc.measure(i, c, p))
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


# --- lists together ------------------------------------------------------------------------


def _steps_covered(child: Sequence[str], parent: Sequence[str]) -> list[str]:
    """Child patterns that reach beyond every parent pattern."""
    wider = []
    for p in child:
        # A pattern is covered when the parent's glob matches it as text:
        # "procurement.bid" and "procurement.*" are under "procurement.*",
        # "*" and "procurement.*" are not under "procurement.bid".
        if not any(fnmatch.fnmatchcase(p, q) for q in parent):
            wider.append(p)
    return wider


def _widening(child: Measure, parent: Measure) -> list[tuple[str, str]]:
    """``(field, message)`` for each way ``child`` reaches further than ``parent``."""
    out: list[tuple[str, str]] = []
    c, p = child.applies_to, parent.applies_to
    extra_kinds = sorted(set(c.list_kinds) - set(p.list_kinds))
    if extra_kinds:
        out.append(("applies_to.list_kinds", f"adds list kinds {', '.join(extra_kinds)}"))
    if "*" not in p.domains:
        extra = sorted(set(c.domains) - set(p.domains))
        if extra:
            out.append(("applies_to.domains", f"adds domains {', '.join(extra)}"))
    wider = _steps_covered(c.steps, p.steps)
    if wider:
        out.append(
            ("applies_to.steps", f"adds steps {', '.join(wider)} beyond {', '.join(p.steps)}")
        )
    extra_persons = sorted(set(child.extends_to) - set(parent.extends_to))
    if extra_persons:
        out.append(("extends_to", f"extends to {', '.join(extra_persons)} as well"))
    if EFFECT_RANK[child.effect] > EFFECT_RANK[parent.effect]:
        out.append(("effect", f"raises the effect from {parent.effect} to {child.effect}"))
    if child.category != parent.category:
        out.append(("category", f"changes the category from {parent.category} to {child.category}"))
    return out


def check_layers(
    entries: Sequence[Checked], *, context: Iterable[MeasureList] = ()
) -> list[Problem]:
    """Problems between lists: parents, cycles, versions, withdrawals and widening.

    Problems are reported only for ``entries`` (the lists being validated);
    ``context`` lists (installed packs) serve as parents and are not judged.
    """
    from creditguard.measures.catalog import MeasureCatalog

    ctx = list(context)
    loaded = [e for e in entries if e.usable is not None]
    every: list[MeasureList] = [lst for e in loaded if (lst := e.usable) is not None]
    ids = {id(x) for x in every}
    every += [x for x in ctx if id(x) not in ids]
    regions: dict[str, list[MeasureList]] = {}
    for x in every:
        regions.setdefault(x.region, []).append(x)
    out: list[Problem] = []

    # Versions: the same version twice with other content; two versions starting the same day.
    for e in loaded:
        lst = e.usable
        assert lst is not None
        for other in regions[lst.region]:
            if other is lst:
                continue
            if other.version == lst.version and other != lst:
                out.append(
                    Problem(
                        f"region {lst.region} version {lst.version} exists twice with different content; give the new one a new version",
                        file=e.name,
                        line=e.locator.top("version"),
                        field="version",
                    )
                )
            elif other.version != lst.version and other.effective_from == lst.effective_from:
                out.append(
                    Problem(
                        f"versions {lst.version} and {other.version} of region {lst.region} both take effect on "
                        f"{lst.effective_from or 'every date'}; which one is in force is ambiguous",
                        file=e.name,
                        line=e.locator.top("effective_from"),
                        field="effective_from",
                    )
                )

    catalog = MeasureCatalog()
    for x in every:
        try:
            catalog.add(x)
        except Exception:  # duplicate version, reported above
            continue

    for e in loaded:
        lst = e.usable
        assert lst is not None
        if lst.extends is None or lst.extends == lst.region:
            continue
        line = e.locator.top("extends")
        # Parent present and no cycle, following every version's extends.
        chain = [lst.region]
        parent: str | None = lst.extends
        broken = False
        while parent is not None:
            if parent not in regions:
                out.append(
                    Problem(
                        f"parent list {parent} is not installed or given"
                        + (f" (needed by {chain[-1]})" if len(chain) > 1 else ""),
                        file=e.name,
                        line=line,
                        field="extends",
                    )
                )
                broken = True
                break
            if parent in chain:
                out.append(
                    Problem(
                        f"lists extend each other in a cycle: {' → '.join([*chain, parent])}",
                        file=e.name,
                        line=line,
                        field="extends",
                    )
                )
                broken = True
                break
            chain.append(parent)
            nxt = sorted(x.extends for x in regions[parent] if x.extends)
            parent = nxt[0] if nxt else None
        if broken:
            continue
        if lst.extends not in _ancestors(lst.region):
            out.append(
                Problem(
                    f"extends {lst.extends}, which is not above {lst.region} in the division hierarchy",
                    file=e.name,
                    line=line,
                    field="extends",
                    severity="warning",
                )
            )
        on = lst.effective_from or date.max
        try:
            inherited = catalog.resolve(lst.extends, on)
        except ConfigError as exc:
            out.append(Problem(f"on {on}: {exc}", file=e.name, line=line, field="extends"))
            continue
        by_code = {rm.measure.code: rm for rm in inherited.measures}
        for k, w in enumerate(lst.withdraws):
            if w.code not in by_code:
                out.append(
                    Problem(
                        f"withdraws {w.code}, which no parent list in force on {on} has"
                        + _did_you_mean(w.code, by_code),
                        file=e.name,
                        line=e.locator.item("withdraws", k, w.code),
                        measure=w.code,
                        field=f"withdraws.{k}.code",
                    )
                )
        for i, m in enumerate(lst.measures):
            if e.skip.get(i):
                continue  # a placeholder for a broken measure
            rm = by_code.get(m.code)
            if rm is None or rm.measure.category != "rights_limiting":
                continue
            for path, what in _widening(m, rm.measure):
                out.append(
                    Problem(
                        f"widens rights_limiting measure {m.code} of list {rm.list_region} {rm.list_version}: {what}; "
                        "a region may narrow an inherited rights-limiting measure, never widen it",
                        file=e.name,
                        line=e.locator.measure(i, m.code, path),
                        measure=m.code,
                        field=path,
                    )
                )
    return out


def _ancestors(region: str) -> list[str]:
    from creditguard.measures.catalog import parent_regions

    return parent_regions(region)


# --- everything ------------------------------------------------------------------------------


def validate_files(
    paths: Iterable[str | Path], *, context: Iterable[MeasureList] = ()
) -> list[Problem]:
    """Every problem of the files, alone and together (``context``: installed lists as parents)."""
    checked = [check_file(p) for p in paths]
    problems = [p for c in checked for p in c.problems]
    problems += check_layers(checked, context=context)
    return _ordered(problems, [c.name for c in checked])


def validate_lists(
    lists: Iterable[MeasureList], *, names: Mapping[int, str] | None = None
) -> list[Problem]:
    """Every problem of already-loaded lists (for instance those a guard installs)."""
    checked = []
    for lst in lists:
        name = (names or {}).get(id(lst), f"<list {lst.region} {lst.version}>")
        checked.append(Checked(name, lst, check_list(lst, name=name)))
    problems = [p for c in checked for p in c.problems]
    problems += check_layers(checked)
    return _ordered(problems, [c.name for c in checked])


def _ordered(problems: list[Problem], names: list[str]) -> list[Problem]:
    rank = {n: i for i, n in enumerate(names)}
    return sorted(
        problems,
        key=lambda p: (rank.get(p.file or "", len(rank)), p.line or 0, p.severity != "error"),
    )
