"""Reading measure-list files (TOML or JSON in the spec §5.1 shape).

Loading is all or nothing: a file with any error (syntax, wrong type, unknown
top-level field, or a rule of :func:`~creditguard.measures.validate.check_list`)
raises :class:`~creditguard.errors.MeasureListError` listing every problem,
and nothing of it is used. Warnings do not stop a load; ``creditguard
measures validate`` shows them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from creditguard.errors import MeasureListError
from creditguard.measures.validate import Checked, check_data, check_file, check_text, errors_of
from creditguard.models import MeasureList

__all__ = ["load_measure_list", "load_package_lists", "parse_measure_list", "validate_data"]


def _result(checked: Checked) -> MeasureList:
    errors = errors_of(checked.problems)
    if errors or checked.measure_list is None:
        raise MeasureListError(errors or checked.problems)
    return checked.measure_list


def load_measure_list(path: str | Path) -> MeasureList:
    """Load and validate one measure-list file; raise MeasureListError naming file, line and field."""
    return _result(check_file(path))


def parse_measure_list(text: str, *, name: str = "<list>", fmt: str = "toml") -> MeasureList:
    """Parse and validate a measure list from text (``fmt`` is "toml" or "json")."""
    return _result(check_text(text, name=name, fmt=fmt))


def validate_data(data: dict[str, Any], *, name: str) -> MeasureList:
    """Validate decoded data as a measure list, reporting every problem at once."""
    return _result(check_data(data, name=name))


def load_package_lists(package: str, folder: str = "lists") -> list[MeasureList]:
    """Every ``*.toml``/``*.json`` list in ``package``'s ``folder``, sorted by file name.

    For measure packs: ``load_package_lists(__package__)`` in the pack's hook
    module loads the lists shipped as package data.
    """
    root = resources.files(package).joinpath(folder)
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        suffix = entry.name.rsplit(".", 1)[-1].lower()
        if entry.is_file() and suffix in ("toml", "json"):
            name = f"{package}/{folder}/{entry.name}"
            out.append(parse_measure_list(entry.read_text(encoding="utf-8"), name=name, fmt=suffix))
    return out
