"""The shape of a measure-list file: syntax, types, unknown fields and values.

Each measure is checked on its own so one bad measure does not hide the
others' problems; broken fields get placeholders so the rest of the measure
is still judged by :func:`~creditguard.measures.onelist.check_list`.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from creditguard.errors import Problem
from creditguard.measures._common import CHOICES, Checked, did_you_mean
from creditguard.measures.basis import BasisPolicy
from creditguard.measures.locate import Locator
from creditguard.measures.onelist import check_list
from creditguard.models import LegalBasis, Measure, MeasureList

__all__ = ["check_data", "check_file", "check_text"]


def _message(err: Mapping[str, Any], fld: str) -> str:
    kind = err.get("type", "")
    value = err.get("input")
    last = fld.rsplit(".", 1)[-1] if fld else ""
    if last.isdigit() and "." in fld:
        last = fld.rsplit(".", 2)[-2]
    if kind == "literal_error" and last in CHOICES:
        choices = CHOICES[last]
        return (
            f"unknown {last.rstrip('s') if last == 'list_kinds' else last} {value!r}; "
            f"expected one of {', '.join(choices)}" + (did_you_mean(str(value), choices))
        )
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field" + did_you_mean(
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


def check_data(
    data: Any,
    *,
    name: str = "<list>",
    text: str | None = None,
    policy: BasisPolicy | None = None,
) -> Checked:
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
                    f"unknown field {key!r}" + did_you_mean(key, known),
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
                        f"unknown field {key!r} is ignored" + did_you_mean(key, measure_fields),
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
                                + did_you_mean(key, basis_fields),
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
            for p in check_list(stand_in, name=name, locator=loc, skip=skip, policy=policy)
            if p.measure is not None
        )
        return Checked(name, None, problems, loc)
    lst = head_list.model_copy(update={"measures": tuple(measures)})
    problems.extend(check_list(lst, name=name, locator=loc, skip=skip, policy=policy))
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


def check_text(
    text: str, *, name: str = "<list>", fmt: str = "toml", policy: BasisPolicy | None = None
) -> Checked:
    """Parse ``text`` (``fmt`` "toml" or "json") and check it."""
    data: Any
    try:
        data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except RecursionError:
        # Deeply nested arrays or tables: the decoders recurse (issue 8 item 12).
        return Checked(
            name, None, [Problem(f"not valid {fmt.upper()}: nested too deeply", file=name)]
        )
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
    return check_data(data, name=name, text=text, policy=policy)


def check_file(path: str | Path, *, policy: BasisPolicy | None = None) -> Checked:
    """Read and check one file (``.json`` is JSON, anything else TOML)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Checked(str(p), None, [Problem("file is not UTF-8 text", file=str(p))])
    except OSError as exc:
        return Checked(str(p), None, [Problem(f"cannot read file: {exc.strerror}", file=str(p))])
    return check_text(
        text, name=str(p), fmt="json" if p.suffix.lower() == ".json" else "toml", policy=policy
    )
