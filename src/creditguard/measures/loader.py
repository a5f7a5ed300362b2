"""Reading measure-list files (TOML or JSON in the spec §5.1 shape)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from creditguard.errors import MeasureListError, Problem
from creditguard.models import MeasureList

__all__ = ["load_measure_list", "parse_measure_list"]


def load_measure_list(path: str | Path) -> MeasureList:
    """Load and validate one measure-list file; raise MeasureListError naming file and field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise MeasureListError([Problem(f"cannot read file: {exc.strerror}", file=str(p))]) from exc
    return parse_measure_list(text, name=str(p), fmt="json" if p.suffix.lower() == ".json" else "toml")


def parse_measure_list(text: str, *, name: str = "<list>", fmt: str = "toml") -> MeasureList:
    """Parse a measure list from text (``fmt`` is "toml" or "json")."""
    data: Any
    try:
        data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise MeasureListError([Problem(f"not valid JSON: {exc.msg}", file=name, line=exc.lineno)]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise MeasureListError([Problem(f"not valid TOML: {exc}", file=name)]) from exc
    if not isinstance(data, dict):
        raise MeasureListError([Problem("a measure list must be a table/object at top level", file=name)])
    return validate_data(data, name=name)


def validate_data(data: dict[str, Any], *, name: str) -> MeasureList:
    """Validate decoded data as a measure list, reporting every field problem at once."""
    problems: list[Problem] = []
    known = set(MeasureList.model_fields)
    for key in data:
        if key not in known:
            problems.append(Problem(f"unknown field {key!r}", file=name, field=key))
    try:
        lst = MeasureList.model_validate(data)
    except ValidationError as exc:
        measures = data.get("measures")
        for err in exc.errors():
            loc = err["loc"]
            measure_code = None
            if len(loc) >= 2 and loc[0] == "measures" and isinstance(loc[1], int) and isinstance(measures, list):
                item = measures[loc[1]] if loc[1] < len(measures) else None
                if isinstance(item, dict):
                    measure_code = str(item.get("code", f"#{loc[1] + 1}"))
                field = ".".join(str(p) for p in loc[2:])
            else:
                field = ".".join(str(p) for p in loc)
            problems.append(Problem(err["msg"], file=name, measure=measure_code, field=field or None))
        raise MeasureListError(problems) from None
    if problems:
        raise MeasureListError(problems)
    return lst
